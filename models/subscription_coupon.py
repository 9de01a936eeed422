from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_date

from . import bounds_checks


class SubscriptionCoupon(models.Model):
    """A code a customer enters to get a discount on a subscription."""

    _name = "subscription.coupon"
    _description = "Subscription Coupon"
    _inherit = ["subscription.input.guard.mixin"]
    _order = "code"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True, help="What the customer types; compared without regard to case.")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, index=True)
    active = fields.Boolean(default=True)
    discount_type = fields.Selection(
        [("percent", "Percentage"), ("fixed", "Fixed Amount")], required=True, default="percent"
    )
    percent = fields.Float(string="Discount (%)", digits="Discount")
    amount = fields.Monetary(string="Discount Amount", currency_field="currency_id")
    currency_id = fields.Many2one("res.currency", default=lambda self: self.env.company.currency_id)
    apply_on = fields.Selection(
        [("subscription", "Whole subscription"), ("recurring", "Recurring lines only")],
        required=True,
        default="subscription",
    )
    duration_periods = fields.Integer(string="For Billing Periods", help="0: forever.")
    valid_from = fields.Date()
    valid_to = fields.Date()
    max_redemptions = fields.Integer(help="0: unlimited.")
    discount_ids = fields.One2many("subscription.discount", "coupon_id", string="Redemptions")
    redemption_count = fields.Integer(compute="_compute_redemption_count")

    _code_company_unique = models.Constraint("UNIQUE(code, company_id)", "A coupon code must be unique per company.")
    _values_valid = models.Constraint(
        "CHECK(percent >= 0 AND percent <= 100 AND amount >= 0 AND duration_periods >= 0 AND max_redemptions >= 0)",
        "A coupon's percentage lies between 0 and 100; amounts, durations and limits cannot be negative.",
    )

    @api.depends("discount_ids")
    def _compute_redemption_count(self):
        for coupon in self:
            coupon.redemption_count = len(coupon.discount_ids)

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("code"):
                vals["code"] = vals["code"].strip().upper()
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("code"):
            vals["code"] = vals["code"].strip().upper()
        return super().write(vals)

    def _check_redeemable(self, subscription, date_ref):
        """Raise a clear error unless ``subscription`` may redeem this coupon on ``date_ref``."""
        self.ensure_one()
        if self.valid_from and date_ref < self.valid_from:
            raise ValidationError(
                self.env._(
                    "Coupon %(code)s is valid from %(date)s.",
                    code=self.code,
                    date=format_date(self.env, self.valid_from),
                )
            )
        if self.valid_to and date_ref > self.valid_to:
            raise ValidationError(
                self.env._(
                    "Coupon %(code)s expired on %(date)s.", code=self.code, date=format_date(self.env, self.valid_to)
                )
            )
        if self.max_redemptions and self.redemption_count >= self.max_redemptions:
            raise ValidationError(
                self.env._(
                    "Coupon %(code)s has been used %(count)s times, its limit.",
                    code=self.code,
                    count=self.redemption_count,
                )
            )
        if self.discount_type == "fixed" and self.currency_id != subscription.currency_id:
            raise ValidationError(
                self.env._(
                    "Coupon %(code)s gives an amount in %(coupon_currency)s and cannot apply to subscription "
                    "%(sub)s in %(currency)s.",
                    code=self.code,
                    coupon_currency=self.currency_id.name,
                    sub=subscription.display_name,
                    currency=subscription.currency_id.name,
                )
            )
        if self in subscription.discount_ids.coupon_id:
            raise ValidationError(
                self.env._(
                    "Coupon %(code)s is already applied to %(sub)s.", code=self.code, sub=subscription.display_name
                )
            )

    @api.constrains("percent", "amount", "valid_from", "valid_to", "duration_periods", "max_redemptions")
    def _check_bounds(self):
        """Finite numbers a float keeps exactly, dates within the plausible horizon."""
        bounds_checks.check_numbers(
            self,
            ("percent", "amount", "duration_periods", "max_redemptions"),
            refuse_negative=("duration_periods", "max_redemptions"),
        )
        bounds_checks.check_dates(self, ("valid_from", "valid_to"))
