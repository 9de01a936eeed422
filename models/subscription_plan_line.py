from odoo import api, fields, models
from odoo.exceptions import ValidationError

from . import bounds_checks
from .subscription_line import LINE_TYPES, PRICING_MODELS


class SubscriptionPlanLine(models.Model):
    """A default line of a plan: copied onto each new subscription of the plan."""

    _name = "subscription.plan.line"
    _description = "Subscription Plan Line"
    _inherit = ["subscription.input.guard.mixin"]
    _order = "plan_id, sequence, id"
    _check_company_auto = True

    plan_id = fields.Many2one("subscription.plan", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="plan_id.company_id", store=True)
    sequence = fields.Integer(default=10)
    product_id = fields.Many2one(
        "product.product",
        required=True,
        check_company=True,
        domain="[('subscription_ok', '=', True)]",
    )
    name = fields.Text(string="Description")
    quantity = fields.Float(default=1.0, required=True, digits="Product Unit")
    currency_id = fields.Many2one(related="plan_id.currency_id")
    price_unit = fields.Monetary(string="Unit Price", currency_field="currency_id", required=True)
    price_ids = fields.One2many("subscription.plan.price", "plan_line_id", string="Prices per Currency", copy=True)
    line_type = fields.Selection(LINE_TYPES, required=True, default="recurring")
    optional = fields.Boolean(
        string="Optional Add-on", help="Offered with the plan but not on new subscriptions by default."
    )
    pricing_model = fields.Selection(PRICING_MODELS, required=True, default="per_unit")
    included_quantity = fields.Float(digits="Product Unit", help="Units free of charge before the price applies.")
    tier_ids = fields.One2many(
        "subscription.price.tier",
        "plan_line_id",
        string="Price Tiers",
        copy=True,
        help="One table per currency; the subscription uses the table in its currency.",
    )
    metric_id = fields.Many2one("subscription.usage.metric", check_company=True, ondelete="restrict")

    _quantity_not_negative = models.Constraint(
        "CHECK(quantity >= 0)",
        "The quantity of a plan line cannot be negative.",
    )

    @api.onchange("product_id")
    def _onchange_product_id(self):
        for line in self.filtered("product_id"):
            line.name = line.product_id.get_product_multiline_description_sale()
            line.price_unit = line.product_id.lst_price

    @api.constrains("price_unit")
    def _check_price_unit(self):
        for line in self:
            if line.price_unit < 0:
                raise ValidationError(
                    self.env._(
                        "The unit price of %(product)s on plan %(plan)s cannot be negative.",
                        product=line.product_id.display_name,
                        plan=line.plan_id.display_name,
                    )
                )

    @api.constrains("line_type", "metric_id", "pricing_model", "tier_ids")
    def _check_pricing_setup(self):
        for line in self:
            if line.line_type == "usage" and not line.metric_id:
                raise ValidationError(
                    self.env._("Metered plan line %(line)s needs a usage metric.", line=line.display_name)
                )
            if line.pricing_model in ("graduated", "volume") and not line.tier_ids:
                raise ValidationError(
                    self.env._("Tiered plan line %(line)s needs price tiers.", line=line.display_name)
                )

    def _get_tiers(self, currency):
        """This line's tier table in ``currency`` as :class:`pricing.Tier` rows (empty if none)."""
        self.ensure_one()
        return self.tier_ids._as_pricing_tiers(currency)

    def _is_priced_in(self, currency):
        """Whether this line has every price it needs in ``currency``."""
        self.ensure_one()
        if self.pricing_model in ("graduated", "volume"):
            return bool(self.tier_ids.filtered(lambda t: t.currency_id == currency))
        return self._get_price_unit(currency) is not None

    def _get_pricing_currency(self, currency):
        """Currency in which this line prices a subscription in ``currency``, or empty.

        ``currency`` itself when the line has its price (or tier table) in it; otherwise the plan's
        currency when the plan converts prices by exchange rate and the line is priced in it.
        """
        self.ensure_one()
        if self._is_priced_in(currency):
            return currency
        plan_currency = self.plan_id.currency_id
        if self.plan_id.allow_currency_conversion and self._is_priced_in(plan_currency):
            return plan_currency
        return self.env["res.currency"]

    def _get_price_unit(self, currency):
        """Unit price of this line in ``currency``; ``None`` when the plan has no price in it."""
        self.ensure_one()
        if currency == self.currency_id:
            return self.price_unit
        price = self.price_ids.filtered(lambda p: p.currency_id == currency)[:1]
        return price.price_unit if price else None

    @api.constrains("quantity", "price_unit", "included_quantity")
    def _check_bounds(self):
        """Finite numbers a float keeps exactly."""
        bounds_checks.check_numbers(
            self, ("quantity", "price_unit", "included_quantity"), refuse_negative=("included_quantity",)
        )
