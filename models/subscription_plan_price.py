from odoo import api, fields, models

from . import bounds_checks


class SubscriptionPlanPrice(models.Model):
    """The unit price of a plan line in another currency than the plan's."""

    _name = "subscription.plan.price"
    _description = "Subscription Plan Price per Currency"
    _inherit = ["subscription.input.guard.mixin"]
    _order = "plan_line_id, currency_id"

    plan_line_id = fields.Many2one("subscription.plan.line", required=True, ondelete="cascade", index=True)
    plan_id = fields.Many2one(related="plan_line_id.plan_id", store=True)
    company_id = fields.Many2one(related="plan_line_id.company_id", store=True)
    currency_id = fields.Many2one("res.currency", required=True)
    price_unit = fields.Monetary(string="Unit Price", currency_field="currency_id", required=True)

    _currency_unique = models.Constraint(
        "UNIQUE(plan_line_id, currency_id)",
        "A plan line has one price per currency.",
    )
    _price_not_negative = models.Constraint("CHECK(price_unit >= 0)", "A plan price cannot be negative.")

    @api.constrains("price_unit")
    def _check_bounds(self):
        """Finite numbers a float keeps exactly."""
        bounds_checks.check_numbers(self, ("price_unit",))
