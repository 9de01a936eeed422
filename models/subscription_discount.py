from odoo import api, fields, models
from odoo.exceptions import ValidationError

from . import bounds_checks


class SubscriptionDiscount(models.Model):
    """A discount on a subscription or one of its lines, forever or for N billing periods.

    Billed as separate negative invoice lines ("Discount 10 % (WELCOME)"), with
    the taxes of the lines they reduce.
    """

    _name = "subscription.discount"
    _description = "Subscription Discount"
    _inherit = ["subscription.input.guard.mixin"]
    _order = "subscription_id, id"
    _check_company_auto = True

    subscription_id = fields.Many2one("subscription.subscription", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="subscription_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    subscription_line_id = fields.Many2one(
        "subscription.line",
        string="On Line",
        check_company=True,
        domain="[('subscription_id', '=', subscription_id)]",
        help="Empty: the discount applies to the whole subscription.",
    )
    coupon_id = fields.Many2one("subscription.coupon", ondelete="restrict", index="btree_not_null")
    name = fields.Char(required=True)
    discount_type = fields.Selection(
        [("percent", "Percentage"), ("fixed", "Fixed Amount")], required=True, default="percent"
    )
    percent = fields.Float(string="Discount (%)", digits="Discount")
    amount = fields.Monetary(
        string="Discount Amount",
        currency_field="currency_id",
        help="Per billing period, spread over the discounted lines.",
    )
    apply_on = fields.Selection(
        [("subscription", "Whole subscription"), ("recurring", "Recurring lines only")],
        required=True,
        default="subscription",
    )
    duration_periods = fields.Integer(string="For Billing Periods", help="0: forever.")
    invoice_line_ids = fields.One2many("account.move.line", "subscription_discount_id", string="Invoice Lines")
    applied_periods = fields.Integer(compute="_compute_applied_periods", store=True)
    is_exhausted = fields.Boolean(compute="_compute_applied_periods", store=True)

    _values_valid = models.Constraint(
        "CHECK(percent >= 0 AND percent <= 100 AND amount >= 0 AND duration_periods >= 0)",
        "A discount's percentage lies between 0 and 100; its amount and duration cannot be negative.",
    )

    @api.depends("invoice_line_ids.parent_state", "invoice_line_ids.subscription_period_start", "duration_periods")
    def _compute_applied_periods(self):
        for discount in self:
            lines = discount.invoice_line_ids.filtered(lambda line: line.parent_state != "cancel")
            discount.applied_periods = len(set(lines.mapped("subscription_period_start")))
            discount.is_exhausted = bool(discount.duration_periods) and (
                discount.applied_periods >= discount.duration_periods
            )

    @api.constrains("discount_type", "percent", "amount")
    def _check_value(self):
        for discount in self:
            if discount.discount_type == "percent" and not discount.percent:
                raise ValidationError(self.env._("Discount %(name)s needs a percentage.", name=discount.name))
            if discount.discount_type == "fixed" and not discount.amount:
                raise ValidationError(self.env._("Discount %(name)s needs an amount.", name=discount.name))

    @api.constrains("percent", "amount", "duration_periods")
    def _check_bounds(self):
        """Finite numbers a float keeps exactly."""
        bounds_checks.check_numbers(
            self, ("percent", "amount", "duration_periods"), refuse_negative=("duration_periods",)
        )
