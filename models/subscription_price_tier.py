from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from . import bounds_checks


class SubscriptionPriceTier(models.Model):
    """One row of a tiered price table, on a plan line or a subscription line, in one currency."""

    _name = "subscription.price.tier"
    _description = "Subscription Price Tier"
    _inherit = ["subscription.input.guard.mixin"]
    _order = "currency_id, up_to_unlimited, up_to, id"

    plan_line_id = fields.Many2one("subscription.plan.line", ondelete="cascade", index="btree_not_null")
    subscription_line_id = fields.Many2one("subscription.line", ondelete="cascade", index="btree_not_null")
    company_id = fields.Many2one(
        "res.company",
        compute="_compute_company_id",
        store=True,
        index=True,
        help="The company of the plan line or subscription line: the tier follows its record rules.",
    )
    currency_id = fields.Many2one("res.currency", required=True)
    up_to = fields.Float(string="Up To (units)", digits="Product Unit", help="Last unit of this tier (inclusive).")
    up_to_unlimited = fields.Boolean(string="And Above", help="The last tier: no upper limit.")
    unit_price = fields.Monetary(currency_field="currency_id")
    flat_fee = fields.Monetary(currency_field="currency_id", help="Charged once when any unit falls in this tier.")

    _one_owner = models.Constraint(
        "CHECK((plan_line_id IS NULL) != (subscription_line_id IS NULL))",
        "A price tier belongs to exactly one plan line or subscription line.",
    )
    _not_negative = models.Constraint(
        "CHECK(unit_price >= 0 AND flat_fee >= 0 AND up_to >= 0)",
        "Tier limits, unit prices and flat fees cannot be negative.",
    )

    @api.depends("plan_line_id.company_id", "subscription_line_id.company_id")
    def _compute_company_id(self):
        for tier in self:
            tier.company_id = tier.plan_line_id.company_id or tier.subscription_line_id.company_id

    @api.constrains("up_to", "up_to_unlimited", "unit_price", "flat_fee", "currency_id")
    def _check_table(self):
        """The table of each owner and currency must rate (increasing limits, one open last tier)."""
        from ..billing_core import pricing

        for owner in [*self.plan_line_id, *self.subscription_line_id]:
            for currency in owner.tier_ids.currency_id:
                try:
                    pricing.validate_tiers(owner._get_tiers(currency))
                except ValueError as error:
                    raise ValidationError(
                        self.env._(
                            "The price tiers of %(line)s in %(currency)s are invalid: %(error)s",
                            line=owner.display_name,
                            currency=currency.name,
                            error=error,
                        )
                    ) from error

    def _as_pricing_tiers(self, currency):
        """The rows of ``currency``, in order, as :class:`billing_core.pricing.Tier`."""
        from ..billing_core import pricing

        rows = self.filtered(lambda t: t.currency_id == currency).sorted(lambda t: (t.up_to_unlimited, t.up_to))
        return [
            pricing.Tier(
                up_to=None if row.up_to_unlimited else Decimal(str(row.up_to)),
                unit_price=Decimal(str(row.unit_price)),
                flat_fee=Decimal(str(row.flat_fee)),
            )
            for row in rows
        ]

    @api.constrains("up_to", "unit_price", "flat_fee")
    def _check_bounds(self):
        """Finite numbers a float keeps exactly."""
        bounds_checks.check_numbers(self, ("up_to", "unit_price", "flat_fee"))
