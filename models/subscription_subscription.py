import logging
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_date

from ..billing_core import fx, pricing, tax_regime, terms
from ..billing_core import periods as period_math

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

#: index of the usage-only item that bills the last period's usage of an advance plan
USAGE_ONLY = -1

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
    tax_partner_key = fields.Char(
        compute="_compute_tax_partner_key",
        store=True,
        readonly=False,
        precompute=True,
        copy=False,
        help="Customer country, VAT number and business flag when the fiscal position was last set; "
        "the billing run determines the position again when they changed.",
    )
    tax_regime = fields.Selection(
        [
            (tax_regime.DOMESTIC, "Domestic"),
            (tax_regime.EU_OSS_CONSUMER, "EU consumer (OSS)"),
            (tax_regime.EU_REVERSE_CHARGE, "EU business (reverse charge)"),
            (tax_regime.EXPORT, "Outside the EU (export)"),
        ],
        compute="_compute_tax_regime",
        help="VAT regime from the customer's current country, VAT number and company type.",
    )
    tax_vat_invalid = fields.Boolean(
        compute="_compute_tax_regime",
        string="Invalid VAT Number",
        help="The customer's VAT number fails the format or check-digit test or does not belong to its country: "
        "it is billed as a consumer (no reverse charge).",
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

    charge_ids = fields.One2many("subscription.charge", "subscription_id", string="One-time Charges")
    discount_ids = fields.One2many("subscription.discount", "subscription_id", string="Discounts")
    change_ids = fields.One2many("subscription.change", "subscription_id", string="Changes")
    scheduled_change_count = fields.Integer(compute="_compute_scheduled_change_count")
    usage_record_count = fields.Integer(compute="_compute_usage_record_count")
    sepa_mandate_id = fields.Many2one(
        "sepa.mandate",
        string="Direct Debit Mandate",
        tracking=True,
        check_company=True,
        domain="[('commercial_partner_id', '=', commercial_partner_id), ('state', '=', 'active')]",
    )
    payment_method = fields.Selection(
        [("manual", "Bank transfer / manual payment"), ("sepa_dd", "SEPA direct debit")],
        tracking=True,
        help="How the customer pays; a plan may require one before a trial converts.",
    )
    mrr = fields.Monetary(string="MRR", compute="_compute_mrr", help="Monthly recurring revenue of the lines.")
    invoice_line_ids = fields.One2many("account.move.line", "subscription_id", string="Invoice Lines", readonly=True)
    invoice_ids = fields.Many2many("account.move", compute="_compute_invoice_ids", string="Invoices")
    invoice_count = fields.Integer(compute="_compute_invoice_ids")
    recurring_total = fields.Monetary(
        compute="_compute_recurring_total", string="Recurring Amount", help="Untaxed amount of one full billing period."
    )
    customer_balance_currency_id = fields.Many2one(related="company_id.currency_id", string="Company Currency")
    has_released_periods = fields.Boolean(
        compute="_compute_has_released_periods",
        help="A period was invoiced, the invoice cancelled, and the period not billed again.",
    )
    deferred_revenue_amount = fields.Monetary(
        string="Deferred Revenue",
        compute="_compute_deferred_revenue_amount",
        currency_field="customer_balance_currency_id",
        groups="account.group_account_invoice",
        help="Revenue invoiced for this subscription that is not recognised yet (company currency).",
    )
    customer_receivable_balance = fields.Monetary(
        string="Customer Balance",
        compute="_compute_customer_receivable_balance",
        currency_field="customer_balance_currency_id",
        groups="account.group_account_invoice",
        help="Open receivable items of the invoiced customer (commercial partner) in this subscription's company.",
    )
    customer_overdue_amount = fields.Monetary(
        string="Customer Overdue",
        compute="_compute_customer_receivable_balance",
        currency_field="customer_balance_currency_id",
        groups="account.group_account_invoice",
        help="Part of the customer balance that is past its due date today.",
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
                sub.fiscal_position_id = self.env["account.fiscal.position"]._get_subscription_fiscal_position(
                    sub.partner_invoice_id, sub.company_id
                )
            else:
                sub.fiscal_position_id = False

    @api.depends("fiscal_position_id", "partner_invoice_id", "company_id")
    def _compute_tax_partner_key(self):
        # a position set by hand is taken as decided for the customer as it is now
        for sub in self:
            sub.tax_partner_key = sub._get_tax_partner_key()

    @api.depends(
        "partner_invoice_id.country_id",
        "partner_invoice_id.commercial_partner_id.vat",
        "partner_invoice_id.commercial_partner_id.is_company",
        "partner_invoice_id.commercial_partner_id.country_id",
        "company_id.account_fiscal_country_id",
    )
    def _compute_tax_regime(self):
        FiscalPosition = self.env["account.fiscal.position"]
        for sub in self:
            regime = sub.partner_invoice_id and FiscalPosition._get_subscription_tax_regime(
                sub.partner_invoice_id, sub.company_id
            )
            sub.tax_regime = regime.regime if regime else False
            sub.tax_vat_invalid = bool(regime and regime.vat_invalid)

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
        "line_ids.usage_billed_until",
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
            if in_advance and reference == anchor and anchor > sub.start_date:
                # re-anchored (resumed within a paid period) and nothing billed on the new schedule yet:
                # the period paid before runs until the day before the anchor, not the one starting there
                paid_until = anchor - timedelta(days=1)
                paid = sub.invoice_line_ids.filtered(
                    lambda line, end=paid_until: line.parent_state != "cancel" and line.subscription_period_end == end
                )
                if paid:
                    sub.current_period_start = min(paid.mapped("subscription_period_start"))
                    sub.current_period_end = paid_until
            upcoming = sub._get_upcoming_period(last_day)
            if upcoming:
                sub.next_invoice_date = period_math.invoice_date_of(upcoming, in_advance)
            elif closing := sub._get_closing_usage_period(date.max):
                sub.next_invoice_date = sub._get_item_invoice_date(closing)

    @api.depends("change_ids.state")
    def _compute_scheduled_change_count(self):
        for sub in self:
            sub.scheduled_change_count = len(sub.change_ids.filtered(lambda c: c.state == "scheduled"))

    def _compute_usage_record_count(self):
        counts = dict(
            self.env["subscription.usage.record"]._read_group(
                [("subscription_id", "in", self.ids)], ["subscription_id"], ["__count"]
            )
        )
        for sub in self:
            sub.usage_record_count = counts.get(sub, 0)

    @api.depends(
        "line_ids.price_subtotal", "line_ids.date_end", "plan_id.billing_period_unit", "plan_id.billing_period_count"
    )
    def _compute_mrr(self):
        for sub in self:
            sub.mrr = float(sub._get_mrr(sub.line_ids))

    def _get_mrr(self, lines, date_ref=None):
        """Monthly recurring revenue of ``lines`` (full-period amounts normalised to one month), in the
        subscription currency; lines priced in another currency are converted at ``date_ref``'s rate."""
        self.ensure_one()
        plan = self.plan_id
        if not plan or plan.billing_period_count < 1:
            return Decimal(0)
        months = plan._get_months_per_period()
        total = sum(
            (
                line._get_full_period_amount(date_ref)
                for line in lines
                if line.line_type == "recurring" and not line.date_end
            ),
            Decimal(0),
        )
        return pricing.round_to(total / months, Decimal(str(self.currency_id.rounding or 0.01)))

    @api.depends("billing_error")
    def _compute_has_billing_error(self):
        for sub in self:
            sub.has_billing_error = bool(sub.billing_error)

    @api.depends("invoice_line_ids.move_id")
    def _compute_invoice_ids(self):
        for sub in self:
            sub.invoice_ids = sub.invoice_line_ids.move_id
            sub.invoice_count = len(sub.invoice_ids)

    @api.depends("line_ids.price_subtotal", "line_ids.line_type", "line_ids.date_end")
    def _compute_recurring_total(self):
        for sub in self:
            recurring = sub.line_ids.filtered(lambda line: line.line_type == "recurring" and not line.date_end)
            sub.recurring_total = sum(recurring.mapped("price_subtotal"))

    def _compute_access_url(self):
        super()._compute_access_url()
        for sub in self:
            sub.access_url = f"/my/subscriptions/{sub.id}"

    @api.depends("invoice_line_ids.parent_state")
    def _compute_has_released_periods(self):
        for sub in self:
            sub.has_released_periods = bool(sub._origin.id and sub._get_oldest_released_period_start())

    def _compute_deferred_revenue_amount(self):
        pending = self.env["deferred.revenue.schedule"].search([("subscription_id", "in", self.ids)])
        amounts = dict.fromkeys(self.ids, 0.0)
        for schedule in pending:
            amounts[schedule.subscription_id.id] += schedule.residual_amount
        for sub in self:
            sub.deferred_revenue_amount = amounts.get(sub.id, 0.0)

    def action_view_deferred_revenue(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.deferred_revenue_schedule_action")
        action["domain"] = [("subscription_id", "=", self.id)]
        action["context"] = {}
        return action

    @api.depends("partner_invoice_id", "company_id")
    @api.depends_context("company")
    def _compute_customer_receivable_balance(self):
        for sub in self:
            customer = sub.partner_invoice_id.commercial_partner_id.with_company(sub.company_id)
            sub.customer_receivable_balance = customer.subscription_receivable_balance
            sub.customer_overdue_amount = customer.subscription_overdue_amount

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

    @api.constrains("payment_method", "sepa_mandate_id", "partner_id", "currency_id")
    def _check_sepa_mandate(self):
        for sub in self.filtered(lambda s: s.payment_method == "sepa_dd"):
            if sub.currency_id.name != "EUR":
                raise ValidationError(
                    self.env._(
                        "Subscription %(sub)s is billed in %(currency)s: SEPA direct debit collects euro only. "
                        "Choose another payment method or bill it in EUR.",
                        sub=sub.display_name,
                        currency=sub.currency_id.name,
                    )
                )
            mandate = sub.sepa_mandate_id
            if not mandate:
                raise ValidationError(
                    _("Subscription %(sub)s is paid by SEPA direct debit: choose its mandate.", sub=sub.display_name)
                )
            if mandate.commercial_partner_id != sub.commercial_partner_id:
                raise ValidationError(
                    _(
                        "Mandate %(ref)s belongs to %(owner)s, not to the customer of %(sub)s.",
                        ref=mandate.reference,
                        owner=mandate.partner_id.display_name,
                        sub=sub.display_name,
                    )
                )

    @api.constrains("currency_id", "plan_id", "line_ids")
    def _check_plan_prices_in_currency(self):
        for sub in self:
            currency = sub.currency_id
            missing = sub.plan_id.line_ids.filtered(lambda line, c=currency: not line._get_pricing_currency(c))
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

    @api.onchange("plan_id")
    def _onchange_plan_id_lines(self):
        """Form preview: a new or draft subscription shows the chosen plan's lines, and so its MRR, before
        it is saved (the same replacement happens in :meth:`write` for drafts changed without the form)."""
        for sub in self.filtered(lambda s: s.state in (False, "draft") and s.plan_id):
            plan_lines = sub.plan_id.line_ids.filtered(lambda pl: not pl.optional)
            values = [sub._prepare_line_values_from_plan(plan_line) for plan_line in plan_lines]
            for vals in values:
                vals.pop("subscription_id")
            sub.line_ids = [fields.Command.clear(), *(fields.Command.create(vals) for vals in values)]

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
        subscriptions._copy_missing_tiers_from_plan()
        return subscriptions

    def write(self, vals):
        replanned = self.browse()
        if "plan_id" in vals and "line_ids" not in vals:
            replanned = self.filtered(lambda sub: sub.state == "draft" and sub.plan_id.id != vals["plan_id"])
        result = self._write_trial_aware(vals)
        for sub in replanned:
            # a draft moved to another plan takes that plan's lines (the form previews them the same way)
            sub.line_ids.unlink()
            sub._create_lines_from_plan()
        if "line_ids" in vals:
            self._copy_missing_tiers_from_plan()
        if "currency_id" in vals:
            # a draft subscription moved to another currency takes the plan's prices of that currency
            self.filtered(lambda sub: sub.state == "draft")._reprice_lines_from_plan()
        return result

    def _reprice_lines_from_plan(self):
        """Give the lines copied from the plan the plan's prices (and tiers) in the subscription's currency."""
        for sub in self:
            for line in sub.with_context(active_test=False).line_ids.filtered("plan_line_id"):
                values = sub._prepare_line_values_from_plan(line.plan_line_id, line.quantity)
                line.write(
                    {
                        "price_currency_id": values["price_currency_id"],
                        "price_unit": values["price_unit"],
                        "tier_ids": [fields.Command.clear(), *values["tier_ids"]],
                    }
                )

    def _write_trial_aware(self, vals):
        in_trial = self.filtered(lambda sub: sub.state == "trial") if vals.get("trial_end_date") else self.browse()
        if not in_trial:
            return super().write(vals)
        # editing the end of a running trial extends (or shortens) it: billing starts the day after
        new_end = fields.Date.to_date(vals["trial_end_date"])
        rest = {key: value for key, value in vals.items() if key != "trial_end_date"}
        result = super(SubscriptionSubscription, self - in_trial).write(vals) if self - in_trial else True
        if rest:
            super(SubscriptionSubscription, in_trial).write(rest)
        for sub in in_trial:
            sub._extend_trial(new_end)
        return result

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

    def action_open_change_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Change Subscription"),
            "res_model": "subscription.change.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_subscription_id": self.id, "default_new_plan_id": self.plan_id.id},
        }

    def action_open_coupon_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": _("Apply Coupon"),
            "res_model": "subscription.coupon.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_subscription_id": self.id},
        }

    def action_view_usage_records(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.subscription_usage_record_action")
        action["domain"] = [("subscription_id", "=", self.id)]
        return action

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

    def action_view_customer_open_items(self):
        """Open items of the invoiced customer today, in this subscription's company."""
        self.ensure_one()
        return self.partner_invoice_id.with_company(self.company_id).action_view_subscription_open_items()

    def action_open_customer_statement_wizard(self):
        self.ensure_one()
        action = self.env["subscription.receivable.statement"]._get_wizard_action(self.partner_invoice_id)
        action["context"]["default_company_id"] = self.company_id.id
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
        note = _("Ends on %(date)s.", date=format_date(self.env, end))
        if reason:
            note = self.env._("Ends on %(date)s. Reason: %(reason)s", date=format_date(self.env, end), reason=reason)
        self._change_state("notice", request_date, reason=note)
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
    # Business methods: changes, coupons, charges
    # ------------------------------------------------------------------
    def _change(self, target, timing, date_ref):
        """Change plan, quantities or add-ons; ``timing`` is ``immediate`` or ``period_end``.

        :param target: ``{"plan_id": id, "lines": {plan_line_id: quantity}}``
        :return: the ``subscription.change`` record (applied, or scheduled)
        """
        self.ensure_one()
        Change = self.env["subscription.change"]
        values = Change._prepare_change(self, target, timing, date_ref)
        self.change_ids.filtered(lambda c: c.state == "scheduled").action_cancel()
        change = Change.create(values)
        if timing == "immediate":
            change._apply()
        else:
            self.message_post(
                body=_(
                    "Change scheduled for %(date)s: %(summary)s",
                    date=format_date(self.env, change.effective_date),
                    summary=change.summary,
                )
            )
        return change

    def _apply_scheduled_changes(self, date_ref):
        """Apply the scheduled changes that take effect on or before ``date_ref``, oldest first."""
        changes = self.env["subscription.change"].search(
            [("subscription_id", "in", self.ids), ("state", "=", "scheduled"), ("effective_date", "<=", date_ref)],
            order="effective_date, id",
        )
        changes._apply()
        return changes

    def _get_current_period_start(self, date_ref):
        """First day of the billing period running on ``date_ref``."""
        self.ensure_one()
        plan = self.plan_id
        anchor = self.billing_anchor_date or self.start_date
        return period_math.period_containing(
            anchor, plan._get_billing_interval(), plan.period_alignment, max(date_ref, anchor)
        ).start

    def _get_current_period_end(self, date_ref):
        """Last day of the billing period running on ``date_ref``."""
        self.ensure_one()
        plan = self.plan_id
        anchor = self.billing_anchor_date or self.start_date
        return period_math.period_containing(
            anchor, plan._get_billing_interval(), plan.period_alignment, max(date_ref, anchor)
        ).end

    def _get_changeable_lines(self):
        """Lines a change may replace: running lines that come from a plan."""
        self.ensure_one()
        return self.line_ids.filtered(
            lambda line: line.plan_line_id and not line.date_end and line.line_type != "setup"
        )

    def _get_target_line_amount(self, plan_line, quantity, date_ref=None):
        """Full-period untaxed amount of ``quantity`` of ``plan_line`` in this subscription's currency
        (a price in the plan currency converted at ``date_ref``'s rate, like on an invoice of that date)."""
        self.ensure_one()
        included = Decimal(str(plan_line.included_quantity or 0))
        quantity = Decimal(str(quantity))
        currency = plan_line._get_pricing_currency(self.currency_id) or self.currency_id
        if plan_line.pricing_model == "per_unit":
            price = Decimal(str(plan_line._get_price_unit(currency) or 0))
            rating = pricing.rate_per_unit(quantity, price, included=included)
        else:
            price = None
            rating = pricing.rate_tiered(
                quantity, plan_line._get_tiers(currency), plan_line.pricing_model, included=included
            )
        amount = rating.amount
        conversion = self._get_price_conversion(currency, date_ref or fields.Date.context_today(self))
        if conversion and price is not None and not included:
            amount = conversion.convert(conversion.round_source(price)) * quantity
        elif conversion:
            amount = conversion.convert(conversion.round_source(amount))
        return pricing.round_to(amount, Decimal(str(self.currency_id.rounding)))

    def _get_price_conversion(self, source_currency, date_ref):
        """The :class:`billing_core.fx.Conversion` from ``source_currency`` into this subscription's
        currency with the company's rate on ``date_ref`` (read once); ``None`` for the same currency.

        Refuses to convert with a currency that has no rate on or before ``date_ref`` (Odoo would
        silently fall back to a later rate or to 1).
        """
        self.ensure_one()
        target = self.currency_id
        if not source_currency or not target or source_currency == target:
            return None
        company = self.company_id or self.env.company
        for currency in (source_currency | target) - company.currency_id:
            has_rate = self.env["res.currency.rate"].search_count(
                [
                    ("currency_id", "=", currency.id),
                    ("name", "<=", date_ref),
                    ("company_id", "in", [False, company.root_id.id]),
                ],
                limit=1,
            )
            if not has_rate:
                raise UserError(
                    _(
                        "Subscription %(sub)s is billed in %(target)s at prices in %(source)s, but %(currency)s "
                        "has no exchange rate on or before %(date)s in company %(company)s: add the rate "
                        "(Accounting > Configuration > Currencies).",
                        sub=self.display_name,
                        target=target.name,
                        source=source_currency.name,
                        currency=currency.name,
                        date=format_date(self.env, date_ref),
                        company=company.name,
                    )
                )
        rate = self.env["res.currency"]._get_conversion_rate(source_currency, target, company, date_ref)
        return fx.Conversion(
            source=source_currency.name,
            target=target.name,
            rate=rate,
            rate_date=date_ref,
            source_step=Decimal(str(source_currency.rounding)),
            target_step=Decimal(str(target.rounding)),
        )

    def _get_mrr_of_target(self, new_plan, new_lines, current, date_ref=None):
        """MRR after a change keeping the untouched lines and adding ``new_lines`` [(plan line, qty)],
        in the subscription currency (prices in another currency converted at ``date_ref``'s rate)."""
        self.ensure_one()
        kept_ids = {pl.id for pl, _qty in new_lines}
        wanted = {pl.id: qty for pl, qty in new_lines}
        kept = self.line_ids.filtered(
            lambda line: (
                line not in current
                or (line.plan_line_id.id in kept_ids and wanted[line.plan_line_id.id] == line.quantity)
            )
        )
        kept_plan_lines = set(kept.plan_line_id.ids)
        total = sum(
            (
                line._get_full_period_amount(date_ref)
                for line in kept
                if line.line_type == "recurring" and not line.date_end
            ),
            Decimal(0),
        )
        total += sum(
            (
                self._get_target_line_amount(pl, qty, date_ref)
                for pl, qty in new_lines
                if pl.line_type == "recurring" and pl.id not in kept_plan_lines
            ),
            Decimal(0),
        )
        months = new_plan._get_months_per_period()
        return pricing.round_to(total / months, Decimal(str(self.currency_id.rounding)))

    def _invoice_pending_charges(self, date_ref, charges=None):
        """Bill pending one-time charges now (all, or ``charges``): an invoice, or a credit note."""
        self.ensure_one()
        lines = self._prepare_charge_invoice_lines(charges)
        if not lines:
            return self.env["account.move"]
        total = sum(vals["quantity"] * vals["price_unit"] for vals in lines)
        move_type = "out_invoice" if total >= 0 else "out_refund"
        if move_type == "out_refund":
            for vals in lines:
                vals["price_unit"] = -vals["price_unit"]
        lines = self._apply_account_assignment(lines)
        journal = self.plan_id._get_invoice_journal(self.company_id)
        move = (
            self.env["account.move"]
            .with_company(self.company_id)
            .create(
                {
                    "move_type": move_type,
                    "partner_id": self.partner_invoice_id.id,
                    "currency_id": self.currency_id.id,
                    "company_id": self.company_id.id,
                    "journal_id": journal.id,
                    "fiscal_position_id": self.fiscal_position_id.id,
                    "invoice_payment_term_id": self.payment_term_id.id,
                    "invoice_date": date_ref,
                    "invoice_origin": self.name,
                    "invoice_line_ids": [fields.Command.create(vals) for vals in lines],
                }
            )
        )
        if self.plan_id.auto_post_invoices:
            move._post()
        return move

    def _apply_coupon(self, code, date_ref):
        """Redeem the coupon ``code`` on this subscription from ``date_ref``; return the discount."""
        self.ensure_one()
        code = (code or "").strip().upper()
        coupon = self.env["subscription.coupon"].search(
            [("code", "=", code), ("company_id", "in", [self.company_id.id, False])], limit=1
        )
        if not coupon:
            raise ValidationError(_("Coupon code %(code)s does not exist.", code=code))
        coupon._check_redeemable(self, date_ref)
        return self.env["subscription.discount"].create(
            {
                "subscription_id": self.id,
                "coupon_id": coupon.id,
                "name": _("%(coupon)s (coupon %(code)s)", coupon=coupon.name, code=coupon.code),
                "discount_type": coupon.discount_type,
                "percent": coupon.percent,
                "amount": coupon.amount,
                "apply_on": coupon.apply_on,
                "duration_periods": coupon.duration_periods,
            }
        )

    def _extend_trial(self, new_trial_end):
        """Move the end of the trial to ``new_trial_end``; billing starts the day after."""
        self.ensure_one()
        if self.state != "trial":
            raise UserError(_("Subscription %(sub)s is not in its trial.", sub=self.display_name))
        if new_trial_end < self.start_date:
            raise ValidationError(_("The trial of %(sub)s cannot end before it starts.", sub=self.display_name))
        anchor = new_trial_end + timedelta(days=1)
        super().write({"trial_end_date": new_trial_end, "billing_anchor_date": anchor, "next_period_start": anchor})
        self.message_post(body=_("Trial now ends on %(date)s.", date=format_date(self.env, new_trial_end)))

    def _get_sepa_mandate_for_invoice(self):
        """The mandate that pays this subscription's invoices (empty unless paid by direct debit)."""
        self.ensure_one()
        if self.payment_method == "sepa_dd" and self.sepa_mandate_id.state == "active":
            return self.sepa_mandate_id
        return self.env["sepa.mandate"]

    def _needs_payment_method(self):
        self.ensure_one()
        return self.plan_id.requires_payment_method and not self.payment_method

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
        if self.state == "trial" and self._needs_payment_method():
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

    def _copy_missing_tiers_from_plan(self):
        """Tiered lines copied from a plan line in the form (whose list cannot carry the tier table) get the
        plan line's tiers in their price currency."""
        lines = self.line_ids.filtered(
            lambda line: line.plan_line_id and line.pricing_model != "per_unit" and not line.tier_ids
        )
        for line in lines:
            tiers = line.plan_line_id.tier_ids.filtered(lambda t, c=line.price_currency_id: t.currency_id == c)
            line.tier_ids = [
                fields.Command.create(
                    {
                        "currency_id": tier.currency_id.id,
                        "up_to": tier.up_to,
                        "up_to_unlimited": tier.up_to_unlimited,
                        "unit_price": tier.unit_price,
                        "flat_fee": tier.flat_fee,
                    }
                )
                for tier in tiers
            ]

    def _create_lines_from_plan(self, plan_lines=None):
        """Create this subscription's lines from the plan's default (non-optional) lines."""
        self.ensure_one()
        plan_lines = (
            plan_lines if plan_lines is not None else self.plan_id.line_ids.filtered(lambda pl: not pl.optional)
        )
        return self.env["subscription.line"].create(
            [self._prepare_line_values_from_plan(plan_line) for plan_line in plan_lines]
        )

    def _prepare_line_values_from_plan(self, plan_line, quantity=None):
        """Values of a subscription line copying ``plan_line`` in this subscription's currency."""
        self.ensure_one()
        price_currency = plan_line._get_pricing_currency(self.currency_id)
        if not price_currency:
            raise ValidationError(
                _(
                    "Plan %(plan)s has no price in %(currency)s for %(product)s.",
                    plan=plan_line.plan_id.display_name,
                    currency=self.currency_id.name,
                    product=plan_line.product_id.display_name,
                )
            )
        tiers = plan_line.tier_ids.filtered(lambda t: t.currency_id == price_currency)
        return {
            "subscription_id": self.id,
            "plan_line_id": plan_line.id,
            "sequence": plan_line.sequence,
            "product_id": plan_line.product_id.id,
            "name": plan_line.name or plan_line.product_id.display_name,
            "quantity": plan_line.quantity if quantity is None else quantity,
            "price_currency_id": price_currency.id,
            "price_unit": plan_line._get_price_unit(price_currency) or 0.0,
            "line_type": plan_line.line_type,
            "is_addon": plan_line.optional,
            "pricing_model": plan_line.pricing_model,
            "included_quantity": plan_line.included_quantity,
            "metric_id": plan_line.metric_id.id,
            "tier_ids": [
                fields.Command.create(
                    {
                        "currency_id": tier.currency_id.id,
                        "up_to": tier.up_to,
                        "up_to_unlimited": tier.up_to_unlimited,
                        "unit_price": tier.unit_price,
                        "flat_fee": tier.flat_fee,
                    }
                )
                for tier in tiers
            ],
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
        changing = (
            self.env["subscription.change"]
            .search(
                [("subscription_id", "in", subs.ids), ("state", "=", "scheduled"), ("effective_date", "<=", date_ref)]
            )
            .subscription_id
        )
        for sub in changing:
            try:
                with self.env.cr.savepoint():
                    sub._apply_scheduled_changes(date_ref)
            except Exception as error:  # noqa: BLE001 - stored on the subscription, which is not billed
                self.env.invalidate_all()
                sub._store_billing_error(error)
                result["errors"] |= sub
        subs -= result["errors"]
        subs._recheck_fiscal_position()
        units, failed = subs._get_billing_units(date_ref)
        result["errors"] |= failed
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

    def _recheck_fiscal_position(self):
        """Determine the fiscal position again where the customer changed its country, VAT number
        or company type since it was determined; a chatter note tells a change of position."""
        FiscalPosition = self.env["account.fiscal.position"]
        for sub in self:
            key = sub._get_tax_partner_key()
            if key == sub.tax_partner_key:
                continue
            old = sub.fiscal_position_id
            new = FiscalPosition._get_subscription_fiscal_position(sub.partner_invoice_id, sub.company_id)
            sub.write({"fiscal_position_id": new.id, "tax_partner_key": key})
            if new != old:
                sub.message_post(
                    body=_(
                        "The customer's country, VAT number or company type changed: fiscal position "
                        "%(new)s instead of %(old)s from the next invoice (%(regime)s).",
                        new=new.display_name or _("none"),
                        old=old.display_name or _("none"),
                        regime=dict(sub._fields["tax_regime"]._description_selection(self.env)).get(sub.tax_regime),
                    ),
                    subtype_xmlid="mail.mt_note",
                )

    def _get_tax_partner_key(self):
        """What the fiscal position depends on: invoice country, VAT number and business flag of the customer."""
        self.ensure_one()
        partner = self.partner_invoice_id
        commercial = partner.commercial_partner_id
        country = partner.country_id or commercial.country_id
        vat = tax_regime.compact_vat(commercial.vat)
        return f"{country.code or ''}|{vat}|{int(bool(commercial.is_company or vat))}" if partner else False

    def _get_billing_units(self, date_ref):
        """Group the due (subscription, period) pairs into invoices.

        One invoice per subscription and period; customers who ask for it get
        one invoice for all their subscriptions due the same day.

        :return: (list of dicts ``{"key", "subscriptions", "items": [(sub, period)]}``,
            subscriptions whose schedule could not be computed, with their error stored)
        """
        units = {}
        journals = {}
        failed = self.browse()
        for sub in self:
            journal_key = (sub.plan_id, sub.company_id)
            if journal_key not in journals:
                journals[journal_key] = sub.plan_id._get_invoice_journal(sub.company_id)
            try:
                due = sub._get_due_periods(date_ref)
                if not due:
                    closing = sub._get_closing_usage_period(date_ref)
                    due = [closing] if closing else []
            except (UserError, ValidationError, ValueError) as error:
                sub._store_billing_error(error)
                failed |= sub
                continue
            for period in due:
                key = sub._get_invoice_grouping_key(period, journals[journal_key])
                unit = units.setdefault(key, {"key": key, "subscriptions": self.browse(), "items": []})
                unit["subscriptions"] |= sub
                unit["items"].append((sub, period))
        # oldest first, so a catch-up bills the periods in order
        return sorted(units.values(), key=lambda u: (u["items"][0][1].start, u["items"][0][0].id)), failed

    def _get_invoice_grouping_key(self, period, journal):
        """Invoices are split by this key: (subscription, period) unless the customer groups."""
        self.ensure_one()
        invoice_date = self._get_item_invoice_date(period)
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
            self._get_sepa_mandate_for_invoice().id,
            journal.id,
        )

    def _bill_units(self, units):
        """Create (and post, when the plan says so) one invoice per unit; advance the subscriptions.

        An invoice whose lines are all zero is skipped unless the plan asks to
        issue it; its periods still count as billed (the schedule moves on).
        """
        vals_by_company = defaultdict(list)
        charged = set()
        for unit in units:
            vals = self._prepare_invoice_values(unit["items"], journal_id=unit["key"][-1], charged=charged)
            plans = unit["subscriptions"].plan_id
            is_zero = all(not command[2]["price_unit"] for command in vals["invoice_line_ids"])
            if is_zero and not plans.filtered("issue_zero_invoices"):
                continue
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
                sub._mark_usage_billed(period)
        for sub, last_end in next_starts.items():
            sub.next_period_start = last_end + timedelta(days=1)
        self._link_usage_records(moves)
        to_post = moves.filtered(lambda m: m.invoice_line_ids.subscription_id.plan_id.filtered("auto_post_invoices"))
        if to_post:
            to_post._post()
        return moves

    def _mark_usage_billed(self, period):
        """Close the usage periods billed with ``period``: later records for them are refused."""
        self.ensure_one()
        usage_periods = self._get_usage_periods(period)
        if not usage_periods:
            return
        until = max(usage_period.end for usage_period in usage_periods)
        for line in self.with_context(active_test=False).line_ids.filtered(lambda line: line.line_type == "usage"):
            if not line.usage_billed_until or line.usage_billed_until < until:
                line.usage_billed_until = until

    def _link_usage_records(self, moves):
        """Link each rated usage record to the invoice line that billed it."""
        for move_line in moves.invoice_line_ids.filtered(lambda aml: aml.subscription_line_id.line_type == "usage"):
            usage_period = period_math.Period(
                0,
                move_line.subscription_period_start,
                move_line.subscription_period_end,
                move_line.subscription_period_start,
                move_line.subscription_period_end,
            )
            move_line.subscription_line_id._get_usage_records(usage_period).invoice_line_id = move_line

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

    def _prepare_invoice_values(self, items, journal_id, charged=None):
        """Values of one customer invoice for ``items``, a list of (subscription, period).

        :param charged: set of subscriptions whose pending one-time charges are
            already on another invoice of this run (updated in place)
        """
        charged = set() if charged is None else charged
        first_sub, first_period = items[0]
        invoice_date = first_sub._get_item_invoice_date(first_period)
        line_vals = []
        for sub, period in items:
            sub_line_vals = sub._prepare_period_invoice_lines(period, charged)
            if sub not in charged:
                charged.add(sub)
                sub_line_vals += sub._prepare_charge_invoice_lines()
            line_vals += sub._apply_account_assignment(sub_line_vals)
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
            # without a payment term the invoice is due on its date (not on the day the run happens)
            **({} if first_sub.payment_term_id else {"invoice_date_due": invoice_date}),
            "invoice_origin": ", ".join(dict.fromkeys(sub.name for sub, _period in items)),
            "invoice_line_ids": [fields.Command.create(vals) for vals in line_vals],
            "sepa_mandate_id": first_sub._get_sepa_mandate_for_invoice().id,
        }

    def _apply_account_assignment(self, line_vals):
        """Set the plan's revenue account and analytic distribution on invoice line values (hook).

        Without them on the plan, Odoo's defaults apply: the product's income account and the analytic
        distribution models (which can match on product, customer or account). Whether a line's revenue
        waits on the deferred revenue account is decided when the invoice is posted.
        """
        self.ensure_one()
        plan = self.plan_id
        # the fiscal position still maps the plan's account (e.g. SKR03 8400 → 8338 for services abroad)
        revenue_account = plan.revenue_account_id and self.fiscal_position_id.map_account(plan.revenue_account_id)
        for vals in line_vals:
            if vals.get("display_type") in ("line_section", "line_note"):
                continue
            if revenue_account:
                vals["account_id"] = revenue_account.id
            if plan.analytic_distribution:
                vals["analytic_distribution"] = plan.analytic_distribution
        return line_vals

    def _get_deferred_revenue_account(self, product):
        """Where revenue of ``product`` for later months waits: plan, then product, then company."""
        self.ensure_one()
        return (
            self.plan_id.deferred_revenue_account_id
            or product.with_company(self.company_id).deferred_revenue_account_id
            or self.company_id.deferred_revenue_account_id
        )

    def _prepare_period_invoice_lines(self, period, billed_once=None):
        """Invoice line values of one billing period: recurring, setup and usage lines, then discounts.

        :param billed_once: set of records billed once per run (setup lines, charges), updated in place,
            so that a catch-up over several invoices bills a setup fee only on the first
        """
        self.ensure_one()
        billed_once = set() if billed_once is None else billed_once
        values = []
        for line in self.with_context(active_test=False).line_ids:
            if period.index == USAGE_ONLY and line.line_type != "usage":
                continue
            is_setup = line.line_type == "setup"
            if is_setup and (line in billed_once or not line._is_setup_due()):
                continue
            if is_setup:
                billed_once.add(line)
            if line.line_type == "recurring" or is_setup:
                if line.active or (line.date_end and line.date_end >= period.start):
                    values += self._prepare_invoice_line_values(line, period)
            elif line.line_type == "usage":
                for usage_period in self._get_usage_periods(period):
                    # a metered line added or removed by a change is rated for its own days only
                    part = line._get_billed_part(usage_period)
                    if part is None or (not line.active and not line.date_end):
                        continue
                    records = line._get_usage_records(part)
                    values.append(
                        line._prepare_usage_invoice_line_values(
                            part, records, date_ref=self._get_item_invoice_date(period)
                        )
                    )
        values += self._prepare_discount_invoice_lines(period, values, billed_once)
        return values

    def _prepare_invoice_line_values(self, line, period):
        """Values of the invoice line(s) billing ``line`` for ``period`` (hook)."""
        self.ensure_one()
        return line._prepare_invoice_line_values(period)

    def _get_usage_periods(self, period):
        """Usage periods billed with ``period``: the period itself in arrears (and for the
        closing usage-only item); in advance, the previous period."""
        self.ensure_one()
        plan = self.plan_id
        if plan.billing_timing == "arrears" or period.index == USAGE_ONLY:
            return [period]
        if period.start > self.billing_anchor_date:
            previous = period_math.period_containing(
                self.billing_anchor_date,
                plan._get_billing_interval(),
                plan.period_alignment,
                period.start - timedelta(days=1),
            )
            return [previous]
        return []

    def _get_item_invoice_date(self, period):
        """Invoice date of a billed period (the day after it for the closing usage-only item)."""
        self.ensure_one()
        if period.index == USAGE_ONLY:
            return period.end + timedelta(days=1)
        return period_math.invoice_date_of(period, self.plan_id.billing_timing == "advance")

    def _get_closing_usage_period(self, date_ref):
        """The last period's usage of an advance plan, due the day after the contract ended.

        In advance, usage rides on the next period's invoice; the last period
        has none, so it gets a usage-only invoice once the contract has ended.
        Returns a period with index :data:`USAGE_ONLY`, or ``None``.
        """
        self.ensure_one()
        last_day = self._get_last_billable_day()
        if (
            self.plan_id.billing_timing != "advance"
            or not last_day
            or not self.end_date
            or last_day != self.end_date
            or date_ref <= last_day
            or not self.billing_anchor_date
            or self.next_period_start <= last_day
        ):
            return None
        usage_lines = self.with_context(active_test=False).line_ids.filtered(
            lambda line: line.line_type == "usage" and (line.active or line.date_end)
        )
        if not usage_lines:
            return None
        plan = self.plan_id
        last = period_math.period_containing(
            self.billing_anchor_date, plan._get_billing_interval(), plan.period_alignment, last_day
        ).truncated(last_day)
        billed = [line.usage_billed_until for line in usage_lines if line.usage_billed_until]
        if billed and min(billed) >= last_day:
            return None
        return period_math.Period(USAGE_ONLY, last.start, last.end, last.full_start, last.full_end)

    def _prepare_charge_invoice_lines(self, charges=None):
        """Invoice line values of the pending one-time charges (ad hoc, proration credits and charges)."""
        self.ensure_one()
        values = []
        charges = self.charge_ids if charges is None else charges
        for charge in charges.filtered(lambda c: c.state == "pending"):
            taxes = charge.product_id.taxes_id._filter_taxes_by_company(self.company_id)
            values.append(
                {
                    "product_id": charge.product_id.id,
                    "name": charge.name,
                    "quantity": charge.quantity,
                    "price_unit": charge.price_unit,
                    "product_uom_id": charge.product_id.uom_id.id,
                    "tax_ids": [fields.Command.set(self.fiscal_position_id.map_tax(taxes).ids)],
                    "subscription_id": self.id,
                    "subscription_charge_id": charge.id,
                    "subscription_period_start": charge.service_start,
                    "subscription_period_end": charge.service_end,
                }
            )
        return values

    def _prepare_discount_invoice_lines(self, period, line_values, billed_once=None):
        """Negative invoice lines for the discounts running in ``period``, one per tax set reduced.

        A discount for N periods counts the periods already invoiced and those
        prepared earlier in this run (``billed_once`` holds ``(discount, period start)``).
        """
        self.ensure_one()
        billed_once = set() if billed_once is None else billed_once
        step = Decimal(str(self.currency_id.rounding))
        result = []
        for discount in self.discount_ids:
            in_this_run = sum(1 for key in billed_once if isinstance(key, tuple) and key[0] == discount)
            if discount.duration_periods and discount.applied_periods + in_this_run >= discount.duration_periods:
                continue
            billed_once.add((discount, period.start))
            groups = defaultdict(Decimal)
            products = {}
            for vals in line_values:
                if (
                    discount.subscription_line_id
                    and vals.get("subscription_line_id") != discount.subscription_line_id.id
                ):
                    continue
                line = self.env["subscription.line"].browse(vals.get("subscription_line_id"))
                if discount.apply_on == "recurring" and line.line_type != "recurring":
                    continue
                amount = (
                    Decimal(str(vals["price_unit"]))
                    * Decimal(str(vals["quantity"]))
                    * (1 - Decimal(str(vals.get("discount") or 0)) / 100)
                )
                tax_key = tuple(vals["tax_ids"][0][2])
                groups[tax_key] += pricing.round_to(amount, step)
                products.setdefault(tax_key, vals["product_id"])
            keys = [key for key, amount in groups.items() if amount > 0]
            if not keys:
                continue
            if discount.discount_type == "percent":
                reductions = [
                    pricing.round_to(pricing.discount_value(groups[key], percent=Decimal(str(discount.percent))), step)
                    for key in keys
                ]
            else:
                total = sum(groups[key] for key in keys)
                fixed = min(pricing.round_to(Decimal(str(discount.amount)), step), total)
                reductions = pricing.allocate(fixed, [groups[key] for key in keys], step)
            for key, reduction in zip(keys, reductions, strict=True):
                if not reduction:
                    continue
                result.append(
                    {
                        "product_id": products[key],
                        "name": _(
                            "%(discount)s\nService period: %(start)s – %(end)s",
                            discount=discount.name,
                            start=format_date(self.env, period.start),
                            end=format_date(self.env, period.end),
                        ),
                        "quantity": 1.0,
                        "price_unit": -float(reduction),
                        "tax_ids": [fields.Command.set(list(key))],
                        "subscription_id": self.id,
                        "subscription_discount_id": discount.id,
                        "subscription_period_start": period.start,
                        "subscription_period_end": period.end,
                    }
                )
        return result

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
            if sub._needs_payment_method():
                # the plan requires a payment method: the trial ends instead of converting
                sub.end_date = sub.trial_end_date
                sub._change_state(
                    "ended",
                    sub.trial_end_date + timedelta(days=1),
                    reason=_("No payment method at the end of the trial."),
                )
            else:
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
