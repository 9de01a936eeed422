from odoo import api, fields, models
from odoo.exceptions import ValidationError


class AccountMoveLine(models.Model):
    """Invoice lines know which subscription line and service period they bill."""

    _inherit = "account.move.line"

    subscription_id = fields.Many2one("subscription.subscription", copy=False, index="btree_not_null", readonly=True)
    subscription_line_id = fields.Many2one(
        "subscription.line", copy=False, index="btree_not_null", readonly=True, ondelete="restrict"
    )
    subscription_period_start = fields.Date(
        string="Service Start", copy=False, help="First day of the service this line invoices."
    )
    subscription_period_end = fields.Date(
        string="Service End",
        copy=False,
        help="Last day of the service this line invoices. Revenue of service months after the invoice month is "
        "deferred and recognised month by month.",
    )
    deferral_revenue_account_id = fields.Many2one(
        "account.account",
        string="Recognised Into",
        copy=False,
        readonly=True,
        help="The revenue account this line's deferred revenue is recognised into; the line itself is booked on "
        "the deferred revenue account.",
    )
    deferral_origin_line_id = fields.Many2one(
        "account.move.line",
        string="Reversed Line",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="The invoice line this credit note line reverses (set by Odoo's Credit Note button).",
    )
    deferred_schedule_ids = fields.One2many(
        "deferred.revenue.schedule", "move_line_id", string="Deferred Revenue Schedule", readonly=True
    )
    subscription_charge_id = fields.Many2one(
        "subscription.charge", copy=False, index="btree_not_null", readonly=True, ondelete="restrict"
    )
    sepa_collection_line_id = fields.Many2one(
        "sepa.collection.line", copy=False, index="btree_not_null", readonly=True, ondelete="restrict"
    )
    subscription_discount_id = fields.Many2one(
        "subscription.discount", copy=False, index="btree_not_null", readonly=True, ondelete="restrict"
    )
    # a price converted from the plan currency by the billing run: the rate it used, for the audit trail
    subscription_exchange_rate = fields.Float(
        string="Exchange Rate",
        digits=0,
        copy=False,
        readonly=True,
        help="1 unit of the price currency = this many units of the invoice currency, at the rate date.",
    )
    subscription_rate_currency_id = fields.Many2one(
        "res.currency", string="Converted From", copy=False, readonly=True, help="Currency of the plan price."
    )
    subscription_rate_date = fields.Date(string="Rate Date", copy=False, readonly=True)

    # No day of a subscription line is billed twice: the service periods of the live invoice lines
    # of one subscription line never overlap, whatever path wrote them (billing run, a hand-made
    # invoice, two workers). Recurring, setup and usage lines each bill their own subscription line
    # (usage lines: the usage window); one-time charges and discounts carry no subscription line and
    # have their own rules. A cancelled invoice (parent_state = 'cancel') releases its days.
    _subscription_period_no_overlap = models.Constraint(
        "EXCLUDE USING gist (subscription_line_id WITH =, "
        "daterange(subscription_period_start, subscription_period_end, '[]') WITH &&) "
        "WHERE (subscription_line_id IS NOT NULL AND subscription_period_start IS NOT NULL "
        "AND parent_state != 'cancel')",
        "Some days of this subscription line's service period are already on another invoice.",
    )
    # A one-time charge is billed at most once (until its invoice is cancelled).
    _subscription_charge_unique = models.UniqueIndex(
        "(subscription_charge_id) WHERE subscription_charge_id IS NOT NULL AND parent_state != 'cancel'",
        "This one-time charge has already been invoiced.",
    )

    def _auto_init(self):
        # the exclusion constraint compares an integer with "=" inside a GiST index
        self.env.cr.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
        return super()._auto_init()

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    @api.constrains("subscription_period_start", "subscription_period_end")
    def _check_service_period(self):
        for line in self:
            start, end = line.subscription_period_start, line.subscription_period_end
            if start and end and end < start:
                raise ValidationError(
                    self.env._(
                        "Service End %(end)s of invoice line “%(line)s” is before its Service Start %(start)s.",
                        end=end,
                        start=start,
                        line=line.name or line.product_id.display_name,
                    )
                )

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _prepare_analytic_lines(self):
        """Deferred revenue reaches the analytic accounts when it is recognised, not when it is invoiced."""
        if self.deferral_revenue_account_id:
            return []
        return super()._prepare_analytic_lines()

    def copy_data(self, default=None):
        """A copy books on the revenue account: the deferred account is decided again when it is posted."""
        vals_list = super().copy_data(default=default)
        for line, vals in zip(self, vals_list, strict=True):
            if line.deferral_revenue_account_id and "account_id" not in (default or {}):
                vals["account_id"] = line.deferral_revenue_account_id.id
        return vals_list

    def _copy_data_extend_business_fields(self, values):
        """A credit note reversing an invoice credits the same service period of the same line."""
        res = super()._copy_data_extend_business_fields(values)
        values.update(
            {
                "subscription_id": self.subscription_id.id,
                "subscription_period_start": self.subscription_period_start,
                "subscription_period_end": self.subscription_period_end,
                "deferral_origin_line_id": self.id,
            }
        )
        return res

    def _get_deferred_revenue_account(self):
        """Where this invoice line's later months wait: plan, then product, then company (or nothing)."""
        self.ensure_one()
        if self.subscription_id:
            return self.subscription_id._get_deferred_revenue_account(self.product_id)
        return (
            self.product_id.with_company(self.company_id).deferred_revenue_account_id
            or self.company_id.deferred_revenue_account_id
        )
