import dataclasses
import logging
from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL, format_date

from ..billing_core import fx, invoicing, pricing, proration, schedule, tax_regime, terms
from ..billing_core import periods as period_math
from . import bounds_checks

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
USAGE_ONLY = schedule.USAGE_ONLY

#: index of the charges-only item: pending one-time charges of a subscription with no period due
CHARGES_ONLY = -2

#: how many subscriptions one billing batch (one commit) handles
BILLING_BATCH_SIZE = 200

#: first key of the advisory locks by which a billing worker claims a grouping customer
CUSTOMER_LOCK_NAMESPACE = 0x5B111  # "SuBscription BILLing"


class SubscriptionSubscription(models.Model):
    """A customer's subscription contract on a plan, invoiced period by period."""

    _name = "subscription.subscription"
    _description = "Subscription"
    _inherit = ["portal.mixin", "mail.thread", "mail.activity.mixin", "subscription.input.guard.mixin"]
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
        "start_date",
        "trial_end_date",
        "line_ids.usage_billed_until",
        "line_ids.line_type",
        "charge_ids.state",
        "charge_ids.date",
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
            # billed service is not read here (one query per subscription); the run skips it anyway
            sub.next_invoice_date = schedule.next_invoice_date(
                sub._get_timeline(billed=()), sub._get_plan_rules(), has_usage=sub._has_usage_lines()
            ) or min((c.date for c in sub.charge_ids if c.state == "pending"), default=False)

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
        res = super()._compute_access_url()
        for sub in self:
            sub.access_url = f"/my/subscriptions/{sub.id}"
        return res

    @api.depends("invoice_line_ids.parent_state")
    def _compute_has_released_periods(self):
        for sub in self:
            sub.has_released_periods = bool(sub._origin.id and sub._get_oldest_released_period_start())

    def _compute_deferred_revenue_amount(self):
        pending = self.env["deferred.revenue.schedule"].search([("subscription_id", "in", self.ids)])
        amounts = dict.fromkeys(self.ids, 0.0)
        for deferral in pending:
            amounts[deferral.subscription_id.id] += deferral.residual_amount
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
                    self.env._(
                        "Subscription %(sub)s: the end date %(end)s lies before the start date %(start)s.",
                        sub=sub.display_name,
                        end=format_date(self.env, sub.end_date),
                        start=format_date(self.env, sub.start_date),
                    )
                )

    @api.constrains("start_date", "end_date", "trial_end_date")
    def _check_date_bounds(self):
        """Contract dates within the plausible horizon; a trial does not end before the subscription starts."""
        bounds_checks.check_dates(self, ("start_date", "end_date", "trial_end_date"))
        for sub in self:
            # the day before the start means "no trial" (a trial ended on its first day)
            if sub.trial_end_date and sub.start_date and sub.trial_end_date < sub.start_date - timedelta(days=1):
                raise ValidationError(
                    self.env._(
                        "Subscription %(sub)s: the trial end date %(end)s lies before the start date %(start)s.",
                        sub=sub.display_name,
                        end=format_date(self.env, sub.trial_end_date),
                        start=format_date(self.env, sub.start_date),
                    )
                )

    def _get_date_horizon_years(self):
        return bounds_checks.get_date_horizon_years(self.env)

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
                    self.env._(
                        "Subscription %(sub)s is paid by SEPA direct debit: choose its mandate.", sub=sub.display_name
                    )
                )
            if mandate.commercial_partner_id != sub.commercial_partner_id:
                raise ValidationError(
                    self.env._(
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
                    self.env._(
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

    # super().write() is called by _write_trial_aware
    def write(self, vals):  # pylint: disable=method-required-super
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

    def _get_protected_fields(self):
        """Lifecycle, schedule and billing bookkeeping: written only by the lifecycle and billing methods."""
        return (
            "state",
            "billing_anchor_date",
            "next_period_start",
            "current_period_start",
            "current_period_end",
            "next_invoice_date",
            "pause_date",
            "cancellation_request_date",
            "billing_error",
            "billing_error_date",
            "has_billing_error",
            "dunning_suspended",
            "dunning_suspension_date",
            "dunning_suspension_reason",
        )

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
                    self.env._(
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

    def action_rebuild_mrr_ledger(self):
        """Rebuild the MRR movements of the selected subscriptions from their history."""
        self.check_access("write")
        self._rebuild_mrr_ledger()
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
            "name": self.env._("Cancel Subscription"),
            "res_model": "subscription.cancel.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_subscription_id": self.id},
        }

    def action_open_change_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Change Subscription"),
            "res_model": "subscription.change.wizard",
            "view_mode": "form",
            "target": "new",
            "context": {"default_subscription_id": self.id, "default_new_plan_id": self.plan_id.id},
        }

    def action_open_coupon_wizard(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Apply Coupon"),
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
                    "title": self.env._("Billing failed"),
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
        self._write_system_fields({"billing_error": False, "billing_error_date": False})
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
                    self.env._(
                        "Subscription %(sub)s cannot go from %(old)s to %(new)s.",
                        sub=sub.display_name,
                        old=labels[sub.state],
                        new=labels[new_state],
                    )
                )
            old_state = sub.state
            sub._write_system_fields({"state": new_state})
            body = Markup("%s") % self.env._(
                "%(old)s → %(new)s, effective %(date)s, by %(user)s.",
                old=labels[old_state],
                new=labels[new_state],
                date=format_date(self.env, date_ref),
                user=self.env.user.name,
            )
            if reason:
                body += Markup("<br/>") + reason
            sub.message_post(body=body, subtype_xmlid="mail.mt_note")
            sub._record_mrr_movement(date_ref)

    def _start(self, date_ref=None):
        """Start the contract: into the trial if the plan has one that has not ended by
        ``date_ref`` (default today), else active at once (a back-dated start whose trial is
        over is active, and its paid periods are due)."""
        self.ensure_one()
        if self.state != "draft":
            raise UserError(self.env._("Subscription %(sub)s has already been started.", sub=self.display_name))
        if not self.line_ids:
            raise UserError(self.env._("Subscription %(sub)s has no lines to bill.", sub=self.display_name))
        date_ref = date_ref or fields.Date.context_today(self)
        plan = self.plan_id
        trial = plan._get_trial_interval()
        trial_end = self.trial_end_date
        if trial and not trial_end:
            trial_end = period_math.add_interval(self.start_date, trial) - timedelta(days=1)
        timeline = schedule.start(self._get_timeline(), trial_end)
        vals = {"trial_end_date": trial_end, **self._prepare_schedule_values(timeline)}
        rules = plan._get_term_rules()
        if rules.min_term and not rules.auto_renew and not self.end_date:
            vals["end_date"] = terms.initial_term_end(self.start_date, rules)
        self._write_system_fields(vals)
        self._change_state("trial" if trial_end else "active", self.start_date)
        self._update_state_from_dates(date_ref)

    def _record_mrr_movement(self, date_ref, reason="state"):
        """Bring the MRR movement ledger to the current MRR, effective ``date_ref`` (see subscription.mrr.movement)."""
        return self.env["subscription.mrr.movement"].sudo()._record(self.sudo(), date_ref, reason)

    def _rebuild_mrr_ledger(self, date_ref=None):
        """Rebuild these subscriptions' MRR movements from their history (install, upgrade, the action)."""
        date_ref = date_ref or fields.Date.context_today(self)
        return self.env["subscription.mrr.movement"].sudo()._rebuild(self.sudo(), date_ref)

    def _get_plan_rules(self):
        """The plan's schedule rules for :mod:`billing_core.schedule`."""
        self.ensure_one()
        plan = self.plan_id
        return schedule.PlanRules(plan._get_billing_interval(), plan.period_alignment, plan.billing_timing == "advance")

    def _get_timeline(self, billed=None):
        """This subscription's :class:`billing_core.schedule.Timeline`.

        :param billed: the service periods already invoiced, if the caller read them
            (default: read from the live invoice lines of the recurring lines)
        """
        self.ensure_one()
        usage_until = [d for d in self._get_usage_lines().mapped("usage_billed_until") if d]
        return schedule.Timeline(
            start=self.start_date,
            trial_end=self.trial_end_date or None,
            end_date=self.end_date or None,
            pause_date=self.pause_date or None,
            anchor=self.billing_anchor_date or None,
            next_start=self.next_period_start or None,
            usage_billed_until=min(usage_until) if usage_until else None,
            billed=tuple(self._get_billed_ranges() if billed is None else billed),
        )

    def _prepare_schedule_values(self, timeline):
        """Values writing a timeline's schedule back (anchor, first unbilled day, pause)."""
        return {
            "billing_anchor_date": timeline.anchor,
            "next_period_start": timeline.next_start,
            "pause_date": timeline.pause_date or False,
        }

    def _get_usage_lines(self):
        self.ensure_one()
        return self.with_context(active_test=False).line_ids.filtered(
            lambda line: line.line_type == "usage" and (line.active or line.date_end)
        )

    def _has_usage_lines(self):
        return bool(self._get_usage_lines())

    def _get_billed_ranges(self, since=None):
        """(start, end) of the service periods of the recurring lines on live invoices.

        :param since: only the periods that end on or after this day
        """
        self.ensure_one()
        return self._get_billed_ranges_by_subscription(since_next_period=False, since=since).get(self.id, [])

    def _get_billed_ranges_by_subscription(self, since_next_period=True, since=None):
        """{subscription id: [(start, end)]} of live invoiced service periods of recurring lines,
        in one query (the billing run reads only those from each first unbilled day on)."""
        if not self.ids:
            return {}
        self.env["account.move.line"].flush_model(
            [
                "subscription_id",
                "subscription_line_id",
                "parent_state",
                "subscription_period_start",
                "subscription_period_end",
            ]
        )
        self.env["subscription.line"].flush_model(["line_type"])
        self.flush_recordset(["next_period_start"])
        conditions = [
            SQL("aml.subscription_id = ANY(%s)", self.ids),
            SQL("aml.parent_state != 'cancel'"),
            SQL("line.line_type = 'recurring'"),
            SQL("aml.subscription_period_start IS NOT NULL"),
        ]
        if since_next_period:
            conditions.append(SQL("aml.subscription_period_end >= sub.next_period_start"))
        if since:
            conditions.append(SQL("aml.subscription_period_end >= %s", since))
        self.env.cr.execute(
            SQL(
                """SELECT aml.subscription_id, aml.subscription_period_start, aml.subscription_period_end
                     FROM account_move_line aml
                     JOIN subscription_line line ON line.id = aml.subscription_line_id
                     JOIN subscription_subscription sub ON sub.id = aml.subscription_id
                    WHERE %s""",
                SQL(" AND ").join(conditions),
            )
        )
        ranges = defaultdict(list)
        for sub_id, start, end in self.env.cr.fetchall():
            ranges[sub_id].append((start, end or date.max))
        return ranges

    def _write_timeline(self, timeline):
        self.ensure_one()
        self._write_system_fields(self._prepare_schedule_values(timeline))

    def _update_state_from_dates(self, date_ref):
        """Bring the state in line with the dates on ``date_ref``: a trial that has ended
        converts (or ends without a payment method), a contract past its end date ends.

        Called by every lifecycle method, so the state follows the dates on every path;
        the daily cron does the same for all subscriptions as a safety net.
        """
        for sub in self:
            if sub.state == "trial" and sub.trial_end_date and sub.trial_end_date < date_ref:
                if sub._needs_payment_method():
                    # the plan requires a payment method: the trial ends instead of converting
                    sub.end_date = sub.trial_end_date
                    sub._change_state(
                        "ended",
                        sub.trial_end_date + timedelta(days=1),
                        reason=self.env._("No payment method at the end of the trial."),
                    )
                else:
                    sub._change_state("active", sub.trial_end_date + timedelta(days=1))
            if sub.state in ("trial", "active", "notice", "paused") and sub.end_date and sub.end_date < date_ref:
                sub._change_state("ended", sub.end_date + timedelta(days=1))
                if sub.plan_id.credit_unused_on_cancel:
                    sub._credit_unused_time(date_ref)

    def _credit_unused_time(self, date_ref):
        """Credit the days after the end date that live invoices already billed in advance.

        Each invoiced recurring line (and the discount lines of the same periods) is credited by
        the share of its amount that falls after the end date, as a one-time charge invoiced at
        once on a credit note dated ``date_ref``. The credit note carries the product and the
        credited service period, so the deferred revenue of those days is no longer recognised.
        """
        self.ensure_one()
        end = self.end_date
        lines = self.env["account.move.line"].search(
            [
                ("subscription_id", "=", self.id),
                ("move_id.move_type", "=", "out_invoice"),
                ("parent_state", "!=", "cancel"),
                ("subscription_period_end", ">", end),
                "|",
                ("subscription_line_id.line_type", "=", "recurring"),
                ("subscription_discount_id", "!=", False),
            ]
        )
        step = Decimal(str(self.currency_id.rounding))
        values = []
        for line in lines:
            start = max(line.subscription_period_start, end + timedelta(days=1))
            unused = (line.subscription_period_end - start).days + 1
            billed = (line.subscription_period_end - line.subscription_period_start).days + 1
            amount = pricing.round_to(proration.prorated(Decimal(str(line.price_subtotal)), unused, billed), step)
            if not amount:
                continue
            values.append(
                {
                    "subscription_id": self.id,
                    "product_id": line.product_id.id,
                    "name": self.env._(
                        "Unused time on %(name)s from %(start)s to %(end)s (cancelled)",
                        name=(line.name or line.product_id.display_name).split("\n")[0],
                        start=format_date(self.env, start),
                        end=format_date(self.env, line.subscription_period_end),
                    ),
                    "date": date_ref,
                    "price_unit": float(-amount),
                    "service_start": start,
                    "service_end": line.subscription_period_end,
                    "is_cancellation_credit": True,
                    "credited_line_id": line.id,
                }
            )
        if not values:
            return self.env["account.move"]
        charges = self.env["subscription.charge"].create(values)
        return self._invoice_pending_charges(date_ref, charges)

    def _end_trial(self, date_ref):
        """End the trial on ``date_ref``: the first billable day is the day after (or the day
        after the service already billed, which is never billed again)."""
        self.ensure_one()
        if self.state != "trial":
            raise UserError(self.env._("Subscription %(sub)s is not in its trial.", sub=self.display_name))
        timeline = schedule.end_trial(self._get_timeline(), date_ref)
        self._write_system_fields({"trial_end_date": timeline.trial_end, **self._prepare_schedule_values(timeline)})
        self._change_state("active", date_ref)

    def _pause(self, date_ref):
        """Pause from ``date_ref`` on: no period from that day on is billed until resumed."""
        self.ensure_one()
        self._change_state("paused", date_ref)
        self._write_timeline(schedule.pause(self._get_timeline(billed=()), date_ref))

    def _resume(self, date_ref):
        """Resume on ``date_ref``: billing restarts with a new period anchored there (or after
        the service already billed). Usage recorded before the pause rides on the next invoice."""
        self.ensure_one()
        if self.state != "paused":
            raise UserError(self.env._("Subscription %(sub)s is not paused.", sub=self.display_name))
        self._bill_before_reanchoring(date_ref)
        timeline = schedule.resume(self._get_timeline(), date_ref)
        self._change_state("notice" if self.cancellation_request_date else "active", date_ref)
        self._write_timeline(timeline)
        self._update_state_from_dates(date_ref)

    def _bill_before_reanchoring(self, date_ref):
        """Invoice what is still due under the current schedule before it is replaced.

        Resuming or restarting anchors a new schedule; days used before the
        pause or the end (in arrears, or a run that has not happened yet)
        would otherwise never be billed.
        """
        self.ensure_one()
        if not self.next_period_start or not self._get_due_periods(date_ref):
            return
        self._run_billing(date_ref)
        due = [p for p in self._get_due_periods(date_ref) if p.index != USAGE_ONLY]
        if due:
            raise UserError(
                self.env._(
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
                self.env._(
                    "Subscription %(sub)s cannot end before %(earliest)s under its term and notice period "
                    "(requested: %(requested)s).",
                    sub=self.display_name,
                    earliest=format_date(self.env, earliest),
                    requested=format_date(self.env, end_date),
                )
            )
        end = end_date or earliest
        note = self.env._("Ends on %(date)s.", date=format_date(self.env, end))
        if reason:
            note = self.env._("Ends on %(date)s. Reason: %(reason)s", date=format_date(self.env, end), reason=reason)
        self._change_state("notice", request_date, reason=note)
        self._write_system_fields(
            {"cancellation_request_date": request_date, "cancellation_reason": reason, "end_date": end}
        )
        return end

    def _reactivate(self, date_ref):
        """Withdraw a cancellation, or restart an ended subscription on ``date_ref``."""
        self.ensure_one()
        vals = {"cancellation_request_date": False, "cancellation_reason": False, "end_date": False}
        rules = self.plan_id._get_term_rules()
        new_state = "active"
        if self.state == "ended":
            self._bill_before_reanchoring(date_ref)
            self._charge_back_credited_time(date_ref)
            timeline = schedule.reactivate(self._get_timeline(), date_ref)
            vals.update(self._prepare_schedule_values(timeline))
        else:
            if rules.min_term and not rules.auto_renew:
                vals["end_date"] = terms.initial_term_end(self.start_date, rules)
            if self.pause_date:
                # notice was given while paused: withdrawing it leaves the subscription paused
                new_state = "paused"
        self._change_state(new_state, date_ref)
        self._write_system_fields(vals)

    def _charge_back_credited_time(self, date_ref):
        """A contract reactivated on ``date_ref`` inside time credited at its cancellation pays
        that time again: a one-time charge for the credited days from ``date_ref`` on, at the
        rate they were credited, billed with the next invoice."""
        self.ensure_one()
        step = Decimal(str(self.currency_id.rounding))
        values = []
        for credit in self.charge_ids.filtered(
            lambda c: c.is_cancellation_credit and c.state == "invoiced" and c.service_end >= date_ref
        ):
            start = max(date_ref, credit.service_start)
            days = (credit.service_end - start).days + 1
            credited_days = (credit.service_end - credit.service_start).days + 1
            amount = pricing.round_to(proration.prorated(Decimal(str(-credit.price_unit)), days, credited_days), step)
            values.append(
                {
                    "subscription_id": self.id,
                    "product_id": credit.product_id.id,
                    "name": self.env._(
                        "Reactivated: time from %(start)s to %(end)s credited at the cancellation",
                        start=format_date(self.env, start),
                        end=format_date(self.env, credit.service_end),
                    ),
                    "date": date_ref,
                    "price_unit": float(amount),
                    "service_start": start,
                    "service_end": credit.service_end,
                }
            )
        return self.env["subscription.charge"].create(values)

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
                body=self.env._(
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
                    # odoo._, as env._ takes the text as its argument `source`, which this text's
                    # placeholder %(source)s would collide with (the text is kept for the translations)
                    _(  # pylint: disable=prefer-env-translation
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
            raise ValidationError(self.env._("Coupon code %(code)s does not exist.", code=code))
        coupon._check_redeemable(self, date_ref)
        return self.env["subscription.discount"].create(
            {
                "subscription_id": self.id,
                "coupon_id": coupon.id,
                "name": self.env._("%(coupon)s (coupon %(code)s)", coupon=coupon.name, code=coupon.code),
                "discount_type": coupon.discount_type,
                "percent": coupon.percent,
                "amount": coupon.amount,
                "apply_on": coupon.apply_on,
                "duration_periods": coupon.duration_periods,
            }
        )

    # not an override: its super() call is the parent's write, past the trial guard of this class
    def _extend_trial(self, new_trial_end):  # pylint: disable=missing-return
        """Move the end of the trial to ``new_trial_end``; billing starts the day after."""
        self.ensure_one()
        if self.state != "trial":
            raise UserError(self.env._("Subscription %(sub)s is not in its trial.", sub=self.display_name))
        if new_trial_end < self.start_date:
            raise ValidationError(
                self.env._("The trial of %(sub)s cannot end before it starts.", sub=self.display_name)
            )
        timeline = schedule.move_trial_end(self._get_timeline(), new_trial_end)
        super(SubscriptionSubscription, self._as_system()).write(
            {"trial_end_date": new_trial_end, **self._prepare_schedule_values(timeline)}
        )
        self.message_post(body=self.env._("Trial now ends on %(date)s.", date=format_date(self.env, new_trial_end)))

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
        return self._get_timeline(billed=()).last_billable_day

    def _get_due_periods(self, date_ref, billed=None):
        """Periods not invoiced yet whose invoice date is on or before ``date_ref``, oldest first,
        each with the usage window billed with it (see :func:`billing_core.schedule.due`).

        :param billed: the live invoiced service periods, if the caller read them for a batch
        """
        self.ensure_one()
        if self.state not in BILLABLE_STATES or not self.billing_anchor_date:
            return []
        if self.state == "trial" and self._needs_payment_method():
            return []
        if billed is None:
            billed = self._get_billed_ranges(since=min(self.next_period_start, self.billing_anchor_date))
        return schedule.due(
            self._get_timeline(billed=billed), self._get_plan_rules(), date_ref, has_usage=self._has_usage_lines()
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
                raise UserError(
                    self.env._("Subscription %(sub)s has no cancelled period to bill again.", sub=sub.display_name)
                )
            try:
                timeline = schedule.rewind(sub._get_timeline(billed=()), released_start)
            except ValueError:
                raise UserError(
                    self.env._(
                        "Subscription %(sub)s: the cancelled period from %(date)s lies before billing was "
                        "restarted on %(anchor)s (a resume or reactivation); bill it with a one-time charge.",
                        sub=sub.display_name,
                        date=format_date(self.env, released_start),
                        anchor=format_date(self.env, sub.billing_anchor_date),
                    )
                ) from None
            sub._write_timeline(timeline)
            sub.message_post(
                body=self.env._(
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
            line.tier_ids = self._prepare_tier_commands(tiers)

    @api.model
    def _prepare_tier_commands(self, tiers):
        """Commands creating copies of the price ``tiers`` (of a plan line) on a subscription line."""
        return [
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
                self.env._(
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
            "tier_ids": self._prepare_tier_commands(tiers),
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
        """Bill every subscription due on or before ``date_ref`` (see ``subscription.billing.run``)."""
        return self.env["subscription.billing.run"]._run_billing_for_all(date_ref, commit=commit, batch_size=batch_size)

    def _run_billing(self, date_ref):
        """Invoice the due periods of these subscriptions up to ``date_ref`` (see ``subscription.billing.run``).

        :return: dict with ``invoices`` (account.move), ``errors`` and ``billed`` (subscriptions)
        """
        return self.env["subscription.billing.run"]._run_billing(self, date_ref)

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
                    body=self.env._(
                        "The customer's country, VAT number or company type changed: fiscal position "
                        "%(new)s instead of %(old)s from the next invoice (%(regime)s).",
                        new=new.display_name or self.env._("none"),
                        old=old.display_name or self.env._("none"),
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

    def _mark_usage_billed(self, period):
        """Close the usage periods billed with ``period``: later records for them are refused."""
        self.ensure_one()
        usage_periods = self._get_usage_periods(period)
        if not usage_periods:
            return
        until = max(usage_period.end for usage_period in usage_periods)
        for line in self.with_context(active_test=False).line_ids.filtered(lambda line: line.line_type == "usage"):
            if not line.usage_billed_until or line.usage_billed_until < until:
                line._write_system_fields({"usage_billed_until": until})

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
            if period.index == CHARGES_ONLY or (period.index == USAGE_ONLY and line.line_type != "usage"):
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
                    if part and line.usage_billed_until and part.start <= line.usage_billed_until:
                        # this line's usage is billed further than the others' (added later)
                        start = line.usage_billed_until + timedelta(days=1)
                        part = None if start > part.end else dataclasses.replace(part, start=start)
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
        """Usage windows billed with ``period`` (decided by :func:`billing_core.schedule.due`)."""
        self.ensure_one()
        return [period.usage] if period.usage else []

    def _get_item_invoice_date(self, period):
        """Invoice date of a billed period (the day after it for the closing usage-only item)."""
        self.ensure_one()
        if period.index == CHARGES_ONLY:
            return period.start
        if period.index == USAGE_ONLY:
            return period.end + timedelta(days=1)
        return period_math.invoice_date_of(period, self.plan_id.billing_timing == "advance")

    def _has_upcoming_period(self):
        """Whether a later period (or closing usage) will be invoiced under the current schedule."""
        self.ensure_one()
        return bool(
            schedule.next_invoice_date(
                self._get_timeline(billed=()), self._get_plan_rules(), has_usage=self._has_usage_lines()
            )
        )

    def _get_pending_charges_date(self, date_ref):
        """The latest date of the pending one-time charges dated on or before ``date_ref``
        (``None`` without any): an invoice of only charges is dated then."""
        self.ensure_one()
        dates = [c.date for c in self.charge_ids if c.state == "pending" and c.date <= date_ref]
        return max(dates) if dates else None

    def _prepare_charge_invoice_lines(self, charges=None):
        """Invoice line values of the pending one-time charges (ad hoc, proration credits and charges)."""
        self.ensure_one()
        values = []
        charges = self.charge_ids if charges is None else charges
        proration_discount = self._get_proration_discount_percent()
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
                    # a running percentage coupon discounts a plan change's proration like the period
                    "discount": float(proration_discount) if charge.change_id else 0.0,
                    # a credit of unused time shrinks the deferred revenue of the line it credits
                    "deferral_origin_line_id": charge.credited_line_id.id,
                }
            )
        return values

    def _get_proration_discount_percent(self):
        """The percentage by which running percentage discounts reduce the proration of a plan
        change (credit and charge alike, as Stripe and Chargebee do): several combine as
        1 − (1 − a)(1 − b). Fixed-amount and line-specific discounts do not apply to prorations."""
        self.ensure_one()
        remaining = Decimal(1)
        for discount in self.discount_ids:
            if discount.discount_type != "percent" or discount.subscription_line_id or discount.is_exhausted:
                continue
            remaining *= 1 - Decimal(str(discount.percent)) / 100
        return (1 - remaining) * 100

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
                tax_key = tuple(vals["tax_ids"][0][2])
                groups[tax_key] += invoicing.net_amount(
                    vals["price_unit"], vals["quantity"], vals.get("discount") or 0, step
                )
                products.setdefault(tax_key, vals["product_id"])
            reductions = invoicing.discount_reductions(
                list(groups.items()), discount.discount_type, discount.percent, discount.amount, step
            )
            for key, reduction in reductions:
                if not reduction:
                    continue
                result.append(
                    {
                        "product_id": products[key],
                        "name": self.env._(
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
            sub._write_system_fields({"billing_error": message, "billing_error_date": now})
            if warning_type not in sub.activity_ids.activity_type_id:
                sub.activity_schedule(
                    "mail.mail_activity_data_warning",
                    summary=self.env._("Billing failed"),
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
        self.search(
            [
                "|",
                "&",
                ("state", "=", "trial"),
                ("trial_end_date", "<", date_ref),
                "&",
                "&",
                ("state", "in", ("trial", "active", "notice", "paused")),
                ("end_date", "!=", False),
                ("end_date", "<", date_ref),
            ]
        )._update_state_from_dates(date_ref)

    @api.model
    def _cron_run_billing(self, date_ref=None):
        """Scheduled billing run: states first, then every due period, committed batch by batch."""
        date_ref = date_ref or fields.Date.context_today(self)
        self._cron_update_states(date_ref)
        return self._run_billing_for_all(date_ref, commit=True)

    # ------------------------------------------------------------------
    # Dunning (see subscription_dunning_run.py)
    # ------------------------------------------------------------------
    dunning_suspended = fields.Boolean(
        string="Suspended by Dunning",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="Paused by a dunning level: no service, not billed. Resumed automatically once the overdue items "
        "that caused it are paid in full.",
    )
    dunning_suspension_date = fields.Date(copy=False, readonly=True)
    dunning_suspension_reason = fields.Char(copy=False, readonly=True)
    dunning_suspension_invoice_ids = fields.Many2many(
        "account.move",
        "subscription_dunning_suspension_invoice_rel",
        "subscription_id",
        "move_id",
        string="Suspended for",
        copy=False,
        readonly=True,
    )
    dunning_entry_count = fields.Integer(compute="_compute_dunning_entry_count")

    def _compute_dunning_entry_count(self):
        Entry = self.env["subscription.dunning.entry"]
        for sub in self:
            sub.dunning_entry_count = Entry.search_count([("invoice_id", "in", sub.invoice_ids.ids)]) if sub.id else 0

    def action_view_dunning_entries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.subscription_dunning_entry_action")
        action["domain"] = [("invoice_id", "in", self.invoice_ids.ids)]
        return action

    def _dunning_suspend(self, date_ref, level, invoices):
        """Pause for dunning from ``date_ref`` on, until ``invoices`` are paid."""
        self.ensure_one()
        reason = self.env._(
            "%(level)s of %(date)s: %(invoices)s overdue.",
            level=level.name,
            date=format_date(self.env, date_ref),
            invoices=", ".join(invoices.mapped("name")),
        )
        self._pause(date_ref)
        self._write_system_fields(
            {
                "dunning_suspended": True,
                "dunning_suspension_date": date_ref,
                "dunning_suspension_reason": reason,
                "dunning_suspension_invoice_ids": [fields.Command.set(invoices.ids)],
            }
        )
        self.message_post(body=Markup("%s") % self.env._("Suspended by dunning: %(reason)s", reason=reason))

    def _dunning_resume(self, date_ref):
        """End the dunning suspension: resume on ``date_ref`` (if still paused) and clear the reason."""
        self.ensure_one()
        if self.state == "paused":
            self._resume(date_ref)
        self._write_system_fields(
            {
                "dunning_suspended": False,
                "dunning_suspension_date": False,
                "dunning_suspension_reason": False,
                "dunning_suspension_invoice_ids": [fields.Command.clear()],
            }
        )
        self.message_post(
            body=Markup("%s")
            % self.env._(
                "Dunning suspension ended on %(date)s: the overdue items are paid.",
                date=format_date(self.env, date_ref),
            )
        )
