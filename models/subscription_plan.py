from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..billing_core import periods, terms
from . import bounds_checks

INTERVAL_UNITS = [
    ("day", "Days"),
    ("week", "Weeks"),
    ("month", "Months"),
    ("year", "Years"),
]


class SubscriptionPlan(models.Model):
    """What a customer subscribes to: billing rhythm, term rules and default lines."""

    _name = "subscription.plan"
    _description = "Subscription Plan"
    _inherit = ["mail.thread", "analytic.mixin", "subscription.input.guard.mixin"]
    _order = "sequence, name, id"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    name = fields.Char(required=True, translate=True, tracking=True)
    code = fields.Char(required=True, tracking=True, help="Short unique code, used in references and the API.")
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, index=True)
    currency_id = fields.Many2one(
        "res.currency",
        string="Default Currency",
        required=True,
        default=lambda self: self.env.company.currency_id,
        help="Currency of the prices on the plan lines; other currencies take the per-currency prices.",
    )
    allow_currency_conversion = fields.Boolean(
        string="Convert prices by exchange rate",
        tracking=True,
        help="A subscription in a currency without a price on a plan line is billed at the plan currency's "
        "price converted with the company's rate of each invoice date (the rate is shown on the invoice line). "
        "Prices per currency always take precedence.",
    )
    description = fields.Html(translate=True)

    billing_period_count = fields.Integer(string="Billing Every", default=1, required=True, tracking=True)
    billing_period_unit = fields.Selection(INTERVAL_UNITS, default="month", required=True, tracking=True)
    billing_timing = fields.Selection(
        [("advance", "In advance"), ("arrears", "In arrears")],
        default="advance",
        required=True,
        tracking=True,
        help="In advance: a period is invoiced on its first day. In arrears: on the day after it ends.",
    )
    period_alignment = fields.Selection(
        [("anniversary", "Anniversary of the start date"), ("calendar", "Calendar (1st of the period)")],
        default="anniversary",
        required=True,
        help="Calendar: periods start on the 1st of the month/year (Monday for weeks); "
        "the first, partial period is prorated by days.",
    )

    trial_period_count = fields.Integer(string="Trial Length", default=0)
    trial_period_unit = fields.Selection(INTERVAL_UNITS, default="day", required=True)

    min_term_count = fields.Integer(string="Minimum Term", default=0, tracking=True, help="0: no minimum term.")
    min_term_unit = fields.Selection(INTERVAL_UNITS, default="month", required=True)
    auto_renew = fields.Boolean(string="Renews Automatically", default=True, tracking=True)
    renewal_term_count = fields.Integer(string="Renewal Term", default=0, help="0: renews by the minimum term.")
    renewal_term_unit = fields.Selection(INTERVAL_UNITS, default="month", required=True)
    notice_period_count = fields.Integer(string="Notice Period", default=0, tracking=True)
    notice_period_unit = fields.Selection(INTERVAL_UNITS, default="month", required=True)
    consumer_contract_rule = fields.Boolean(
        string="German Consumer Contract Rule (§ 309 Nr. 9 BGB)",
        tracking=True,
        help="For consumer contracts concluded since 1 March 2022: at most 24 months initial term; "
        "afterwards the contract continues for an indefinite period and can be cancelled at any time "
        "with at most one month's notice.",
    )

    line_ids = fields.One2many("subscription.plan.line", "plan_id", string="Default Lines", copy=True)
    journal_id = fields.Many2one(
        "account.journal",
        string="Invoice Journal",
        check_company=True,
        domain="[('type', '=', 'sale')]",
        help="Sales journal of the generated invoices; the company's first sales journal when empty.",
    )
    revenue_account_id = fields.Many2one(
        "account.account",
        check_company=True,
        domain="[('account_type', 'in', ('income', 'income_other'))]",
        tracking=True,
        help="Revenue account of every invoice line of this plan (account assignment); the product's income "
        "account when empty.",
    )
    deferred_revenue_account_id = fields.Many2one(
        "account.account",
        check_company=True,
        domain="[('account_type', 'in', ('liability_current', 'liability_non_current'))]",
        tracking=True,
        help="Where revenue for later service months waits until it is recognised; the product's, then the "
        "company's deferred revenue account when empty.",
    )
    auto_post_invoices = fields.Boolean(string="Post Invoices Automatically", default=True)
    send_invoices = fields.Boolean(string="Send Invoices by E-mail", help="Send each posted invoice to the customer.")
    issue_zero_invoices = fields.Boolean(help="Also create invoices whose total is zero (free plans).")
    credit_unused_on_cancel = fields.Boolean(
        string="Credit Unused Time on Cancellation",
        help="When a contract ends inside a period already invoiced in advance, credit the days after the "
        "end date automatically (a credit note); their deferred revenue stops being recognised.",
    )
    requires_payment_method = fields.Boolean(
        help="A trial ends instead of converting when no payment method is set on the subscription."
    )
    charge_retry_schedule = fields.Char(
        groups="account.group_account_manager",
        help="Days after the first failed charge of a saved payment method on which the invoice is charged "
        "again, e.g. 1,3,5,7. Empty: the company's schedule.",
    )
    family_id = fields.Many2one(
        "subscription.plan.family",
        string="Plan Family",
        help="Customers can change between plans of one family; the rank orders them.",
    )
    rank = fields.Integer(help="Within the family: moving to a higher rank is an upgrade, lower a downgrade.")
    downgrade_timing = fields.Selection(
        [("any", "Immediately or at period end"), ("period_end", "Only at the end of the period")],
        default="any",
        required=True,
        string="Downgrades",
    )
    change_invoicing = fields.Selection(
        [("next_invoice", "On the next invoice"), ("immediate", "Immediately (invoice or credit note)")],
        default="next_invoice",
        required=True,
        string="Bill Immediate Changes",
        help="Where the prorated credits and charges of an immediate change are billed.",
    )
    subscription_ids = fields.One2many("subscription.subscription", "plan_id", string="Subscriptions")
    subscription_count = fields.Integer(compute="_compute_subscription_count")

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    _code_company_unique = models.Constraint(
        "UNIQUE(code, company_id)",
        "The plan code must be unique per company.",
    )
    _billing_period_positive = models.Constraint(
        "CHECK(billing_period_count > 0)",
        "The billing period must be at least 1.",
    )
    _terms_not_negative = models.Constraint(
        "CHECK(trial_period_count >= 0 AND min_term_count >= 0 AND renewal_term_count >= 0 "
        "AND notice_period_count >= 0)",
        "Trial, minimum term, renewal term and notice period cannot be negative.",
    )

    # ------------------------------------------------------------------
    # Compute
    # ------------------------------------------------------------------
    @api.depends("subscription_ids")
    def _compute_subscription_count(self):
        counts = dict(
            self.env["subscription.subscription"]._read_group([("plan_id", "in", self.ids)], ["plan_id"], ["__count"])
        )
        for plan in self:
            plan.subscription_count = counts.get(plan, 0)

    # ------------------------------------------------------------------
    # Constraints (Python, for messages)
    # ------------------------------------------------------------------
    @api.constrains(
        "billing_period_count", "trial_period_count", "min_term_count", "renewal_term_count", "notice_period_count"
    )
    def _check_period_counts(self):
        for plan in self:
            if plan.billing_period_count < 1:
                raise ValidationError(
                    self.env._(
                        "Plan %(plan)s: the billing period must be at least 1 (got %(count)s).",
                        plan=plan.display_name,
                        count=plan.billing_period_count,
                    )
                )
            counts = (plan.trial_period_count, plan.min_term_count, plan.renewal_term_count, plan.notice_period_count)
            if any(count < 0 for count in counts):
                raise ValidationError(
                    self.env._(
                        "Plan %(plan)s: trial, minimum term, renewal term and notice period cannot be negative.",
                        plan=plan.display_name,
                    )
                )

    @api.constrains(
        "billing_period_count",
        "billing_period_unit",
        "trial_period_count",
        "trial_period_unit",
        "min_term_count",
        "min_term_unit",
        "renewal_term_count",
        "renewal_term_unit",
        "notice_period_count",
        "notice_period_unit",
    )
    def _check_interval_bounds(self):
        """Billing period, trial, terms and notice within a sane maximum (ten years)."""
        bounds_checks.check_intervals(
            self,
            (
                ("billing_period_count", "billing_period_unit"),
                ("trial_period_count", "trial_period_unit"),
                ("min_term_count", "min_term_unit"),
                ("renewal_term_count", "renewal_term_unit"),
                ("notice_period_count", "notice_period_unit"),
            ),
        )

    @api.constrains(
        "consumer_contract_rule", "min_term_count", "min_term_unit", "notice_period_count", "notice_period_unit"
    )
    def _check_consumer_contract_rule(self):
        for plan in self.filtered("consumer_contract_rule"):
            problems = terms.consumer_rule_violations(plan._get_term_rules())
            if "min_term" in problems:
                raise ValidationError(
                    self.env._(
                        "Plan %(plan)s: under § 309 Nr. 9 BGB the minimum term of a consumer contract "
                        "cannot exceed 24 months.",
                        plan=plan.display_name,
                    )
                )
            if "notice" in problems:
                raise ValidationError(
                    self.env._(
                        "Plan %(plan)s: under § 309 Nr. 9 BGB the notice period of a consumer contract "
                        "cannot exceed one month.",
                        plan=plan.display_name,
                    )
                )

    @api.constrains("charge_retry_schedule")
    def _check_charge_retry_schedule(self):
        for plan in self.sudo().filtered("charge_retry_schedule"):
            self.env["subscription.payment.charging"]._parse_retry_schedule(
                plan.sudo().charge_retry_schedule, plan, "charge_retry_schedule"
            )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_view_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.subscription_action")
        action["domain"] = [("plan_id", "=", self.id)]
        action["context"] = {"default_plan_id": self.id}
        return action

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _get_billing_interval(self):
        self.ensure_one()
        return periods.Interval(self.billing_period_count, self.billing_period_unit)

    @staticmethod
    def _interval_or_none(count, unit):
        return periods.Interval(count, unit) if count else None

    def _get_trial_interval(self):
        self.ensure_one()
        return self._interval_or_none(self.trial_period_count, self.trial_period_unit)

    def _get_term_rules(self):
        """The plan's term rules as a pure :class:`~..billing_core.terms.TermRules`."""
        self.ensure_one()
        return terms.TermRules(
            min_term=self._interval_or_none(self.min_term_count, self.min_term_unit),
            renewal_term=self._interval_or_none(self.renewal_term_count, self.renewal_term_unit),
            auto_renew=self.auto_renew,
            notice=self._interval_or_none(self.notice_period_count, self.notice_period_unit),
            consumer_rule=self.consumer_contract_rule,
        )

    def _get_months_per_period(self):
        """Length of one billing period in months (for MRR), as a Decimal."""
        self.ensure_one()
        count = Decimal(self.billing_period_count)
        return {
            "day": count * 12 / 365,
            "week": count * 12 / 52,
            "month": count,
            "year": count * 12,
        }[self.billing_period_unit]

    def _get_schedule_signature(self):
        """What must match for a subscription to move between plans without a new schedule."""
        self.ensure_one()
        return (self.billing_period_count, self.billing_period_unit, self.billing_timing, self.period_alignment)

    def _get_invoice_journal(self, company):
        """Journal for invoices of this plan in ``company``."""
        if self.journal_id:
            return self.journal_id
        return self.env["account.journal"].search(
            [*self.env["account.journal"]._check_company_domain(company), ("type", "=", "sale")], limit=1
        )

    def _get_period_label(self):
        """The billing period after an amount, e.g. "/ month", "/ 3 months", "/ year" (portal, documents)."""
        self.ensure_one()
        count, unit = self.billing_period_count, self.billing_period_unit
        env = self.env
        if count == 1:
            return {"day": env._("/ day"), "week": env._("/ week"), "month": env._("/ month"), "year": env._("/ year")}[
                unit
            ]
        return {
            "day": env._("/ %(count)s days", count=count),
            "week": env._("/ %(count)s weeks", count=count),
            "month": env._("/ %(count)s months", count=count),
            "year": env._("/ %(count)s years", count=count),
        }[unit]
