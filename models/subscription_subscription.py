import logging
from collections import defaultdict
from datetime import timedelta

from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_date

from ..billing_core import periods as period_math
from ..billing_core import terms

_logger = logging.getLogger(__name__)

#: allowed lifecycle transitions: source state -> target states
STATE_TRANSITIONS = {
    "draft": ("trial", "active"),
    "trial": ("active", "paused", "notice", "ended"),
    "active": ("paused", "notice", "ended"),
    "paused": ("active", "notice", "ended"),
    "notice": ("active", "paused", "ended"),
    "ended": ("active",),
}

#: states in which periods can still be due for invoicing
BILLABLE_STATES = ("trial", "active", "paused", "notice", "ended")

#: how many subscriptions one billing batch (one commit) handles
BILLING_BATCH_SIZE = 200


class SubscriptionSubscription(models.Model):
    """A customer's subscription contract on a plan, invoiced period by period."""

    _name = "subscription.subscription"
    _description = "Subscription"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin"]
    _order = "id desc"
    _check_company_auto = True
    _rec_names_search = ["name", "partner_id.name", "plan_id.name"]

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    name = fields.Char(string="Reference", required=True, copy=False, readonly=True, default="/", index="trigram")
    state = fields.Selection(
        [
            ("draft", "Draft"),
            ("trial", "Trial"),
            ("active", "Active"),
            ("paused", "Paused"),
            ("notice", "Notice Given"),
            ("ended", "Ended"),
        ],
        default="draft",
        required=True,
        copy=False,
        readonly=True,
        index=True,
    )
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, index=True, tracking=True
    )
    partner_id = fields.Many2one(
        "res.partner", string="Customer", required=True, index=True, tracking=True, check_company=True
    )
    commercial_partner_id = fields.Many2one(related="partner_id.commercial_partner_id", store=True, index=True)
    partner_invoice_id = fields.Many2one(
        "res.partner",
        string="Invoice Address",
        compute="_compute_partner_invoice_id",
        store=True,
        readonly=False,
        required=True,
        precompute=True,
        tracking=True,
        check_company=True,
    )
    plan_id = fields.Many2one("subscription.plan", required=True, tracking=True, check_company=True, index=True)
    currency_id = fields.Many2one(
        "res.currency",
        required=True,
        tracking=True,
        compute="_compute_currency_id",
        store=True,
        readonly=False,
        precompute=True,
    )
    fiscal_position_id = fields.Many2one(
        "account.fiscal.position",
        compute="_compute_fiscal_position_id",
        store=True,
        readonly=False,
        precompute=True,
        check_company=True,
        tracking=True,
    )
    payment_term_id = fields.Many2one("account.payment.term", check_company=True, tracking=True)
    user_id = fields.Many2one("res.users", string="Responsible", default=lambda self: self.env.user, tracking=True)
    line_ids = fields.One2many("subscription.line", "subscription_id", string="Lines", copy=True)
    note = fields.Html(string="Terms and Conditions")

    start_date = fields.Date(required=True, default=fields.Date.context_today, tracking=True)
    trial_end_date = fields.Date(tracking=True, copy=False, help="Last day of the free trial.")
    billing_anchor_date = fields.Date(
        copy=False,
        readonly=True,
        help="First billable day: the start date, the day after the trial, or the day billing resumed.",
    )
    next_period_start = fields.Date(
        copy=False,
        readonly=True,
        help="First day that has not been invoiced yet.",
    )
    current_period_start = fields.Date(compute="_compute_schedule", store=True)
    current_period_end = fields.Date(compute="_compute_schedule", store=True)
    next_invoice_date = fields.Date(compute="_compute_schedule", store=True, index=True)
    end_date = fields.Date(tracking=True, copy=False, help="Last day of service.")
    pause_date = fields.Date(copy=False, readonly=True, tracking=True, help="First day of the pause.")
    cancellation_request_date = fields.Date(copy=False, readonly=True, tracking=True)
    cancellation_reason = fields.Text(copy=False)

    billing_error = fields.Text(copy=False, readonly=True)
    billing_error_date = fields.Datetime(copy=False, readonly=True)
    has_billing_error = fields.Boolean(compute="_compute_has_billing_error", store=True, string="In Error")

    invoice_line_ids = fields.One2many("account.move.line", "subscription_id", string="Invoice Lines", readonly=True)
    invoice_ids = fields.Many2many("account.move", compute="_compute_invoice_ids", string="Invoices")
    invoice_count = fields.Integer(compute="_compute_invoice_ids")
    recurring_total = fields.Monetary(
        compute="_compute_recurring_total", string="Recurring Amount", help="Untaxed amount of one full billing period."
    )

    # ------------------------------------------------------------------
    # Constraints and indexes
    # ------------------------------------------------------------------
    _end_after_start = models.Constraint(
        "CHECK(end_date IS NULL OR end_date >= start_date)",
        "The end date of a subscription cannot be before its start date.",
    )
    _name_company_unique = models.Constraint(
        "UNIQUE(name, company_id)",
        "The subscription reference must be unique per company.",
    )
    _due_idx = models.Index("(next_invoice_date, company_id) WHERE next_invoice_date IS NOT NULL")

    # ------------------------------------------------------------------
    # Compute methods
    # ------------------------------------------------------------------
    @api.depends("partner_id")
    def _compute_partner_invoice_id(self):
        for sub in self:
            if sub.partner_id and not sub.partner_invoice_id:
                sub.partner_invoice_id = sub.partner_id.address_get(["invoice"])["invoice"]

    @api.depends("plan_id", "company_id")
    def _compute_currency_id(self):
        for sub in self:
            if not sub.currency_id:
                sub.currency_id = sub.plan_id.currency_id or sub.company_id.currency_id

    @api.depends("partner_invoice_id", "company_id")
    def _compute_fiscal_position_id(self):
        for sub in self:
            if sub.partner_invoice_id:
                sub.fiscal_position_id = (
                    self.env["account.fiscal.position"]
                    .with_company(sub.company_id)
                    ._get_fiscal_position(sub.partner_invoice_id)
                )
            else:
                sub.fiscal_position_id = False

    @api.depends(
        "state",
        "billing_anchor_date",
        "next_period_start",
        "end_date",
        "pause_date",
        "plan_id.billing_period_count",
        "plan_id.billing_period_unit",
        "plan_id.period_alignment",
        "plan_id.billing_timing",
    )
    def _compute_schedule(self):
        for sub in self:
            sub.current_period_start = sub.current_period_end = sub.next_invoice_date = False
            if (
                sub.state == "draft"
                or not sub.billing_anchor_date
                or not sub.next_period_start
                or sub.plan_id.billing_period_count < 1
            ):
                continue
            in_advance = sub.plan_id.billing_timing == "advance"
            last_day = sub._get_last_billable_day()
            interval = sub.plan_id._get_billing_interval()
            alignment = sub.plan_id.period_alignment
            anchor = sub.billing_anchor_date
            # the running period: the last billed one in advance, the one being used in arrears
            reference = sub.next_period_start
            if in_advance and reference > anchor:
                reference -= timedelta(days=1)
            current = period_math.period_containing(anchor, interval, alignment, reference)
            if sub.end_date and current.start <= sub.end_date:
                current = current.truncated(sub.end_date)
            sub.current_period_start = current.start
            sub.current_period_end = current.end
            upcoming = sub._get_upcoming_period(last_day)
            if upcoming:
                sub.next_invoice_date = period_math.invoice_date_of(upcoming, in_advance)

    @api.depends("billing_error")
    def _compute_has_billing_error(self):
        for sub in self:
            sub.has_billing_error = bool(sub.billing_error)

    @api.depends("invoice_line_ids.move_id")
    def _compute_invoice_ids(self):
        for sub in self:
            sub.invoice_ids = sub.invoice_line_ids.move_id
            sub.invoice_count = len(sub.invoice_ids)

    @api.depends("line_ids.price_subtotal")
    def _compute_recurring_total(self):
        for sub in self:
            sub.recurring_total = sum(sub.line_ids.mapped("price_subtotal"))

    def _compute_access_url(self):
        super()._compute_access_url()
        for sub in self:
            sub.access_url = f"/my/subscriptions/{sub.id}"

    # ------------------------------------------------------------------
    # Constraints (Python, for messages)
    # ------------------------------------------------------------------
    @api.constrains("start_date", "end_date")
    def _check_dates(self):
        for sub in self:
            if sub.end_date and sub.start_date and sub.end_date < sub.start_date:
                raise ValidationError(
                    _(
                        "Subscription %(sub)s: the end date %(end)s lies before the start date %(start)s.",
                        sub=sub.display_name,
                        end=format_date(self.env, sub.end_date),
                        start=format_date(self.env, sub.start_date),
                    )
                )

    @api.constrains("currency_id", "plan_id", "line_ids")
    def _check_plan_prices_in_currency(self):
        for sub in self:
            currency = sub.currency_id
            missing = sub.plan_id.line_ids.filtered(lambda line, c=currency: line._get_price_unit(c) is None)
            if missing:
                raise ValidationError(
                    _(
                        "Plan %(plan)s has no price in %(currency)s for %(products)s: add a price per currency "
                        "on the plan or choose the currency %(plan_currency)s.",
                        plan=sub.plan_id.display_name,
                        currency=sub.currency_id.name,
                        products=", ".join(missing.product_id.mapped("display_name")),
                        plan_currency=sub.plan_id.currency_id.name,
                    )
                )

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                company = self.env["res.company"].browse(vals.get("company_id")) or self.env.company
                vals["name"] = (
                    self.env["ir.sequence"].with_company(company).next_by_code("subscription.subscription") or "/"
                )
        subscriptions = super().create(vals_list)
        for sub, vals in zip(subscriptions, vals_list, strict=True):
            if not vals.get("line_ids") and sub.plan_id.line_ids:
                sub._create_lines_from_plan()
        return subscriptions

    @api.ondelete(at_uninstall=False)
    def _unlink_only_draft(self):
        for sub in self:
            if sub.state != "draft":
                raise UserError(
                    _(
                        "Subscription %(sub)s has been started and cannot be deleted; end it instead.",
                        sub=sub.display_name,
                    )
                )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_start(self):
        """Start draft subscriptions: into the trial if the plan has one, else active."""
        for sub in self:
            sub._start()
        return True

    def action_pause(self):
        for sub in self:
            sub._pause(fields.Date.context_today(sub))
        return True

    def action_resume(self):
        for sub in self:
            sub._resume(fields.Date.context_today(sub))
        return True

    def action_reactivate(self):
        for sub in self:
            sub._reactivate(fields.Date.context_today(sub))
        return True

    def action_end_trial(self):
        """End the trial today: billing starts tomorrow."""
        for sub in self:
            sub._end_trial(fields.Date.context_today(sub))
        return True

    def action_open_cancel_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Cancel Subscription"),
            "res_model": "subscription.cancel.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_subscription_id": self.id},
        }

    def action_bill_now(self):
        """Invoice every period of these subscriptions that is due today."""
        result = self._run_billing(fields.Date.context_today(self))
        if result["errors"]:
            # no exception: it would roll back the error stored on the subscription
            return {
                "type": "ir.actions.client",
                "tag": "display_notification",
                "params": {
                    "title": _("Billing failed"),
                    "message": result["errors"][:1].billing_error,
                    "type": "danger",
                    "sticky": True,
                },
            }
        return self.action_view_invoices()

    def action_view_invoices(self):
        action = self.env["ir.actions.act_window"]._for_xml_id("account.action_move_out_invoice_type")
        action["domain"] = [("id", "in", self.invoice_ids.ids)]
        action["context"] = {"default_move_type": "out_invoice", "create": False}
        return action

    def action_clear_billing_error(self):
        self.write({"billing_error": False, "billing_error_date": False})
        self.activity_unlink(["mail.mail_activity_data_warning"])
        return True

    def action_rebill_released_periods(self):
        """Bill again, on purpose, the periods whose invoices were cancelled."""
        self._rewind_to_released_periods()
        return self.action_bill_now()

    def action_reset_lines_from_plan(self):
        for sub in self:
            sub.line_ids.unlink()
            sub._create_lines_from_plan()
        return True

    # ------------------------------------------------------------------
    # Lifecycle (one place changes the state)
    # ------------------------------------------------------------------
    def _change_state(self, new_state, date_ref, reason=None):
        """The only way a subscription changes state.

        Checks the transition against :data:`STATE_TRANSITIONS` and logs who
        moved it where, effective which day, in the chatter.
        """
        labels = dict(self._fields["state"]._description_selection(self.env))
        for sub in self:
            if new_state not in STATE_TRANSITIONS[sub.state]:
                raise UserError(
                    _(
                        "Subscription %(sub)s cannot go from %(old)s to %(new)s.",
                        sub=sub.display_name,
                        old=labels[sub.state],
                        new=labels[new_state],
                    )
                )
            old_state = sub.state
            sub.state = new_state
            body = Markup("%s") % _(
                "%(old)s → %(new)s, effective %(date)s, by %(user)s.",
                old=labels[old_state],
                new=labels[new_state],
                date=format_date(self.env, date_ref),
                user=self.env.user.name,
            )
            if reason:
                body += Markup("<br/>") + reason
            sub.message_post(body=body, subtype_xmlid="mail.mt_note")

    def _start(self):
        self.ensure_one()
        if not self.line_ids:
            raise UserError(_("Subscription %(sub)s has no lines to bill.", sub=self.display_name))
        plan = self.plan_id
        trial = plan._get_trial_interval()
        vals = {}
        if trial and not self.trial_end_date:
            vals["trial_end_date"] = period_math.add_interval(self.start_date, trial) - timedelta(days=1)
        trial_end = vals.get("trial_end_date", self.trial_end_date)
        anchor = trial_end + timedelta(days=1) if trial_end else self.start_date
        vals.update(billing_anchor_date=anchor, next_period_start=anchor)
        rules = plan._get_term_rules()
        if rules.min_term and not rules.auto_renew and not self.end_date:
            vals["end_date"] = terms.initial_term_end(self.start_date, rules)
        self.write(vals)
        self._change_state("trial" if trial_end else "active", self.start_date)

    def _end_trial(self, date_ref):
        """End the trial on ``date_ref``: the first billable day is the day after."""
        self.ensure_one()
        if self.state != "trial":
            raise UserError(_("Subscription %(sub)s is not in its trial.", sub=self.display_name))
        anchor = max(date_ref, self.start_date - timedelta(days=1)) + timedelta(days=1)
        self.write(
            {"trial_end_date": anchor - timedelta(days=1), "billing_anchor_date": anchor, "next_period_start": anchor}
        )
        self._change_state("active", date_ref)

    def _pause(self, date_ref):
        """Pause from ``date_ref`` on: no period from that day on is billed until resumed."""
        self.ensure_one()
        self._change_state("paused", date_ref)
        self.pause_date = max(date_ref, self.start_date)

    def _resume(self, date_ref):
        """Resume on ``date_ref``: billing restarts with a new period anchored there."""
        self.ensure_one()
        if self.state != "paused":
            raise UserError(_("Subscription %(sub)s is not paused.", sub=self.display_name))
        self._bill_before_reanchoring(date_ref)
        anchor = max(date_ref, self.next_period_start or date_ref)
        self._change_state("notice" if self.cancellation_request_date else "active", date_ref)
        self.write({"pause_date": False, "billing_anchor_date": anchor, "next_period_start": anchor})

    def _bill_before_reanchoring(self, date_ref):
        """Invoice what is still due under the current schedule before it is replaced.

        Resuming or restarting anchors a new schedule; days used before the
        pause or the end (in arrears, or a run that has not happened yet)
        would otherwise never be billed.
        """
        self.ensure_one()
        last_day = self._get_last_billable_day()
        if not self.next_period_start or (last_day and self.next_period_start > last_day):
            return
        self._run_billing(date_ref)
        if self.next_period_start <= (last_day or date_ref) and self._get_due_periods(date_ref):
            raise UserError(
                _(
                    "Subscription %(sub)s still has periods to bill before it can restart: %(error)s",
                    sub=self.display_name,
                    error=self.billing_error or "",
                )
            )

    def _request_cancellation(self, request_date, reason=None, end_date=None):
        """Give notice on ``request_date``; the contract ends at the earliest date its terms allow.

        :param end_date: a later end date the customer asked for (never an earlier one)
        :return: the end date
        """
        self.ensure_one()
        earliest = self._get_earliest_end_date(request_date)
        if end_date and end_date < earliest:
            raise ValidationError(
                _(
                    "Subscription %(sub)s cannot end before %(earliest)s under its term and notice period "
                    "(requested: %(requested)s).",
                    sub=self.display_name,
                    earliest=format_date(self.env, earliest),
                    requested=format_date(self.env, end_date),
                )
            )
        end = end_date or earliest
        self._change_state("notice", request_date, reason=_("Ends on %(date)s.", date=format_date(self.env, end)))
        self.write({"cancellation_request_date": request_date, "cancellation_reason": reason, "end_date": end})
        return end

    def _reactivate(self, date_ref):
        """Withdraw a cancellation, or restart an ended subscription on ``date_ref``."""
        self.ensure_one()
        vals = {"cancellation_request_date": False, "cancellation_reason": False, "end_date": False}
        rules = self.plan_id._get_term_rules()
        new_state = "active"
        if self.state == "ended":
            self._bill_before_reanchoring(date_ref)
            anchor = max(date_ref, self.next_period_start or date_ref)
            vals.update(billing_anchor_date=anchor, next_period_start=anchor, pause_date=False)
        else:
            if rules.min_term and not rules.auto_renew:
                vals["end_date"] = terms.initial_term_end(self.start_date, rules)
            if self.pause_date:
                # notice was given while paused: withdrawing it leaves the subscription paused
                new_state = "paused"
        self._change_state(new_state, date_ref)
        self.write(vals)

    def _get_earliest_end_date(self, request_date):
        """Earliest last day of service for a cancellation requested on ``request_date``."""
        self.ensure_one()
        if self.state == "trial" and self.trial_end_date:
            return max(request_date, self.start_date)
        plan = self.plan_id
        rules = plan._get_term_rules()
        earliest = terms.earliest_end_date(self.start_date, request_date, rules)
        indefinite = terms.term_end_on(self.start_date, rules, earliest) is None
        if indefinite and not rules.consumer_rule and self.billing_anchor_date and earliest >= self.billing_anchor_date:
            # indefinite B2B contracts run to the end of the billing period the notice reaches
            earliest = period_math.period_containing(
                self.billing_anchor_date, plan._get_billing_interval(), plan.period_alignment, earliest
            ).end
        return earliest

    def _get_current_term_end(self, date_ref):
        self.ensure_one()
        return terms.term_end_on(self.start_date, self.plan_id._get_term_rules(), date_ref)

    # ------------------------------------------------------------------
    # Business methods: schedule
    # ------------------------------------------------------------------
    def _get_last_billable_day(self):
        """Last day that may be invoiced: the end date, or the day before a pause."""
        self.ensure_one()
        candidates = [d for d in (self.end_date, self.pause_date and self.pause_date - timedelta(days=1)) if d]
        return min(candidates) if candidates else None

    def _get_upcoming_period(self, last_day):
        """The next period to invoice, or ``None`` when nothing is left to bill."""
        self.ensure_one()
        if last_day and self.next_period_start > last_day:
            return None
        plan = self.plan_id
        upcoming = period_math.due_periods(
            self.billing_anchor_date,
            plan._get_billing_interval(),
            plan.period_alignment,
            self.next_period_start,
            date_ref=self.next_period_start + timedelta(days=100000),
            in_advance=plan.billing_timing == "advance",
            last_day=last_day,
            limit=1,
        )
        return upcoming[0] if upcoming else None

    def _get_due_periods(self, date_ref):
        """Periods not invoiced yet whose invoice date is on or before ``date_ref``, oldest first."""
        self.ensure_one()
        if self.state not in BILLABLE_STATES or not self.billing_anchor_date:
            return []
        plan = self.plan_id
        return period_math.due_periods(
            self.billing_anchor_date,
            plan._get_billing_interval(),
            plan.period_alignment,
            self.next_period_start,
            date_ref=date_ref,
            in_advance=plan.billing_timing == "advance",
            last_day=self._get_last_billable_day(),
        )

    def _get_oldest_released_period_start(self):
        """Start of the oldest period whose invoice was cancelled and which is not billed again."""
        self.ensure_one()
        lines = self.invoice_line_ids
        live = {
            (line.subscription_line_id.id, line.subscription_period_start)
            for line in lines
            if line.parent_state != "cancel"
        }
        released = [
            line.subscription_period_start
            for line in lines
            if line.parent_state == "cancel"
            and (line.subscription_line_id.id, line.subscription_period_start) not in live
        ]
        return min(released) if released else None

    def _rewind_to_released_periods(self):
        """Move billing back to the oldest period released by a cancelled invoice."""
        for sub in self:
            released_start = sub._get_oldest_released_period_start()
            if not released_start:
                raise UserError(_("Subscription %(sub)s has no cancelled period to bill again.", sub=sub.display_name))
            sub.next_period_start = released_start
            sub.message_post(
                body=_(
                    "Billing rewound to %(date)s to bill the cancelled periods again.",
                    date=format_date(self.env, released_start),
                )
            )

    def _create_lines_from_plan(self):
        self.ensure_one()
        self.env["subscription.line"].create(
            [self._prepare_line_values_from_plan(plan_line) for plan_line in self.plan_id.line_ids]
        )

    def _prepare_line_values_from_plan(self, plan_line):
        price = plan_line._get_price_unit(self.currency_id)
        if price is None:
            raise ValidationError(
                _(
                    "Plan %(plan)s has no price in %(currency)s for %(product)s.",
                    plan=self.plan_id.display_name,
                    currency=self.currency_id.name,
                    product=plan_line.product_id.display_name,
                )
            )
        return {
            "subscription_id": self.id,
            "sequence": plan_line.sequence,
            "product_id": plan_line.product_id.id,
            "name": plan_line.name or plan_line.product_id.display_name,
            "quantity": plan_line.quantity,
            "price_unit": price,
        }

    # ------------------------------------------------------------------
    # Business methods: billing run
    # ------------------------------------------------------------------
    @api.model
    def _get_subscriptions_to_bill_domain(self, date_ref):
        """Domain of the subscriptions that have a period due on or before ``date_ref``."""
        return [
            ("state", "in", BILLABLE_STATES),
            ("next_invoice_date", "!=", False),
            ("next_invoice_date", "<=", date_ref),
        ]

    @api.model
    def _run_billing_for_all(self, date_ref, commit=False, batch_size=BILLING_BATCH_SIZE):
        """Bill every subscription due on or before ``date_ref``, in batches.

        With ``commit`` (cron only) each batch is committed through
        ``ir.cron._commit_progress``; a run stopped halfway resumes with the
        subscriptions still due, since billed ones moved their next invoice date.
        """
        domain = self._get_subscriptions_to_bill_domain(date_ref)
        totals = {"invoices": self.env["account.move"], "errors": self.browse()}
        last_id = 0
        while True:
            # keyset pagination: failed or locked subscriptions stay due but are not fetched again
            batch = self.search(domain + [("id", ">", last_id)], limit=batch_size, order="id")
            if not batch:
                break
            last_id = batch.ids[-1]
            result = batch._run_billing(date_ref)
            totals["invoices"] |= result["invoices"]
            totals["errors"] |= result["errors"]
            # keep memory flat over thousands of subscriptions: drop this batch from the cache
            self.env.invalidate_all()
            if commit:
                remaining = self.search_count(domain + [("id", ">", last_id)])
                # commit each batch so that a crash or a time-out loses at most one batch
                if not self.env["ir.cron"]._commit_progress(len(batch), remaining=remaining):
                    break
        return totals

    def _run_billing(self, date_ref):
        """Invoice the due periods of these subscriptions up to ``date_ref``.

        Subscriptions locked by another worker are skipped (that worker bills
        them). The batch is first tried at once; if anything fails, each
        billing unit is retried in its own savepoint so that one bad
        subscription only stores its error and the others are billed.

        :return: dict with ``invoices`` (account.move) and ``errors`` (subscriptions)
        """
        result = {"invoices": self.env["account.move"], "errors": self.browse()}
        subs = self.try_lock_for_update(allow_referencing=True)
        if not subs:
            return result
        # another worker may have billed them between our read and our lock
        subs.invalidate_recordset()
        units = subs._get_billing_units(date_ref)
        if not units:
            return result
        try:
            with self.env.cr.savepoint():
                result["invoices"] = self._bill_units(units)
        except Exception:  # noqa: BLE001 - isolate the faulty unit below, each in its own savepoint
            _logger.info("Billing batch failed, retrying subscription by subscription", exc_info=True)
            self.env.invalidate_all()
            for unit in units:
                try:
                    with self.env.cr.savepoint():
                        result["invoices"] |= self._bill_units([unit])
                except pg_errors.UniqueViolation:
                    # a concurrent run billed these periods: nothing to do
                    self.env.invalidate_all()
                    _logger.info("Periods of %s already billed by another run", unit["subscriptions"])
                except Exception as error:  # noqa: BLE001 - the error is stored on the subscription
                    self.env.invalidate_all()
                    unit["subscriptions"]._store_billing_error(error)
                    result["errors"] |= unit["subscriptions"]
        billed = subs - result["errors"]
        billed.filtered("billing_error").write({"billing_error": False, "billing_error_date": False})
        self._send_invoices(result["invoices"])
        return result

    def _get_billing_units(self, date_ref):
        """Group the due (subscription, period) pairs into invoices.

        One invoice per subscription and period; customers who ask for it get
        one invoice for all their subscriptions due the same day.

        :return: list of dicts ``{"key", "subscriptions", "items": [(sub, period)]}``
        """
        units = {}
        journals = {}
        for sub in self:
            journal_key = (sub.plan_id, sub.company_id)
            if journal_key not in journals:
                journals[journal_key] = sub.plan_id._get_invoice_journal(sub.company_id)
            for period in sub._get_due_periods(date_ref):
                key = sub._get_invoice_grouping_key(period, journals[journal_key])
                unit = units.setdefault(key, {"key": key, "subscriptions": self.browse(), "items": []})
                unit["subscriptions"] |= sub
                unit["items"].append((sub, period))
        # oldest first, so a catch-up bills the periods in order
        return sorted(units.values(), key=lambda u: (u["items"][0][1].start, u["items"][0][0].id))

    def _get_invoice_grouping_key(self, period, journal):
        """Invoices are split by this key: (subscription, period) unless the customer groups."""
        self.ensure_one()
        invoice_date = period_math.invoice_date_of(period, self.plan_id.billing_timing == "advance")
        group = self.commercial_partner_id.subscription_invoice_grouping
        return (
            self.id if not group else 0,
            period.start if not group else None,
            invoice_date,
            self.partner_invoice_id.id,
            self.currency_id.id,
            self.company_id.id,
            self.fiscal_position_id.id,
            self.payment_term_id.id,
            journal.id,
        )

    def _bill_units(self, units):
        """Create (and post, when the plan says so) one invoice per unit; advance the subscriptions."""
        vals_by_company = defaultdict(list)
        for unit in units:
            vals = self._prepare_invoice_values(unit["items"], journal_id=unit["key"][-1])
            vals_by_company[vals["company_id"]].append(vals)
        moves = self.env["account.move"]
        for company_id, vals_list in vals_by_company.items():
            # company-dependent defaults (receivable account, ...) must be read in the invoice's company
            moves |= (
                self.env["account.move"]
                .with_company(company_id)
                .with_context(default_move_type="out_invoice")
                .create(vals_list)
            )
        next_starts = {}
        for unit in units:
            for sub, period in unit["items"]:
                next_starts[sub] = max(next_starts.get(sub, period.end), period.end)
        for sub, last_end in next_starts.items():
            sub.next_period_start = last_end + timedelta(days=1)
        to_post = moves.filtered(lambda m: m.invoice_line_ids.subscription_id.plan_id.filtered("auto_post_invoices"))
        if to_post:
            to_post._post()
        return moves

    def _send_invoices(self, moves):
        """Send the posted invoices whose plan asks for it, each on its own.

        A failed sending (no e-mail address, a mail server error) never undoes
        the invoice: it is logged on the invoice, which stays to be sent by hand.
        """
        to_send = moves.filtered(
            lambda m: m.state == "posted" and m.invoice_line_ids.subscription_id.plan_id.filtered("send_invoices")
        )
        for move in to_send:
            try:
                with self.env.cr.savepoint():
                    move._generate_and_send(allow_fallback_pdf=True)
            except Exception as error:  # noqa: BLE001 - logged on the invoice, billing goes on
                self.env.invalidate_all()
                move.message_post(body=_("The invoice could not be sent automatically: %(error)s", error=error))

    def _prepare_invoice_values(self, items, journal_id):
        """Values of one customer invoice for ``items``, a list of (subscription, period)."""
        first_sub, first_period = items[0]
        invoice_date = period_math.invoice_date_of(first_period, first_sub.plan_id.billing_timing == "advance")
        lines = []
        for sub, period in items:
            for line in sub.line_ids:
                if line.quantity:
                    lines.append(fields.Command.create(sub._prepare_invoice_line_values(line, period)))
        return {
            "move_type": "out_invoice",
            "partner_id": first_sub.partner_invoice_id.id,
            "currency_id": first_sub.currency_id.id,
            "company_id": first_sub.company_id.id,
            "journal_id": journal_id,
            "fiscal_position_id": first_sub.fiscal_position_id.id,
            "invoice_payment_term_id": first_sub.payment_term_id.id,
            "invoice_user_id": first_sub.user_id.id,
            "invoice_date": invoice_date,
            "invoice_origin": ", ".join(dict.fromkeys(sub.name for sub, _period in items)),
            "invoice_line_ids": lines,
        }

    def _prepare_invoice_line_values(self, line, period):
        """Values of the invoice line billing ``line`` for ``period`` (prorated by days when partial)."""
        self.ensure_one()
        price_unit = line.price_unit
        if period.is_partial:
            price_unit = self.currency_id.round(price_unit * period.factor.numerator / period.factor.denominator)
        return {
            "product_id": line.product_id.id,
            "name": line._get_invoice_line_description(period),
            "quantity": line.quantity,
            "product_uom_id": line.product_id.uom_id.id,
            "price_unit": price_unit,
            "discount": line.discount,
            "tax_ids": [fields.Command.set(line.tax_ids.ids)],
            "subscription_id": self.id,
            "subscription_line_id": line.id,
            "subscription_period_start": period.start,
            "subscription_period_end": period.end,
        }

    def _store_billing_error(self, error):
        """Keep a failed billing visible on the subscription: error text, filter, activity."""
        message = str(error.args[0]) if getattr(error, "args", None) else repr(error)
        now = fields.Datetime.now()
        warning_type = self.env.ref("mail.mail_activity_data_warning")
        for sub in self:
            sub.write({"billing_error": message, "billing_error_date": now})
            if warning_type not in sub.activity_ids.activity_type_id:
                sub.activity_schedule(
                    "mail.mail_activity_data_warning",
                    summary=_("Billing failed"),
                    note=message,
                    user_id=sub.user_id.id or self.env.user.id,
                )
        _logger.warning("Billing of %s failed: %s", self.mapped("name"), message)

    # ------------------------------------------------------------------
    # Crons
    # ------------------------------------------------------------------
    @api.model
    def _cron_update_states(self, date_ref=None):
        """Move subscriptions whose trial or term has ended into their next state."""
        date_ref = date_ref or fields.Date.context_today(self)
        trials = self.search([("state", "=", "trial"), ("trial_end_date", "<", date_ref)])
        for sub in trials:
            sub._change_state("active", sub.trial_end_date + timedelta(days=1))
        ending = self.search(
            [
                ("state", "in", ("trial", "active", "notice", "paused")),
                ("end_date", "!=", False),
                ("end_date", "<", date_ref),
            ]
        )
        for sub in ending:
            sub._change_state("ended", sub.end_date + timedelta(days=1))

    @api.model
    def _cron_run_billing(self, date_ref=None):
        """Scheduled billing run: states first, then every due period, committed batch by batch."""
        date_ref = date_ref or fields.Date.context_today(self)
        self._cron_update_states(date_ref)
        return self._run_billing_for_all(date_ref, commit=True)
