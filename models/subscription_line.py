from odoo import _, api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_date


class SubscriptionLine(models.Model):
    """One product billed every period of a subscription."""

    _name = "subscription.line"
    _description = "Subscription Line"
    _order = "subscription_id, sequence, id"
    _check_company_auto = True

    subscription_id = fields.Many2one("subscription.subscription", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="subscription_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    sequence = fields.Integer(default=10)
    product_id = fields.Many2one(
        "product.product",
        required=True,
        check_company=True,
        domain="[('subscription_ok', '=', True)]",
    )
    name = fields.Text(
        string="Description", required=True, compute="_compute_name", store=True, readonly=False, precompute=True
    )
    quantity = fields.Float(default=1.0, required=True, digits="Product Unit")
    price_unit = fields.Monetary(
        string="Unit Price",
        required=True,
        currency_field="currency_id",
        compute="_compute_price_unit",
        store=True,
        readonly=False,
        precompute=True,
    )
    discount = fields.Float(string="Discount (%)", digits="Discount")
    tax_ids = fields.Many2many(
        "account.tax",
        string="Taxes",
        compute="_compute_tax_ids",
        store=True,
        readonly=False,
        precompute=True,
        check_company=True,
        domain="[('type_tax_use', '=', 'sale')]",
    )
    price_subtotal = fields.Monetary(compute="_compute_price_subtotal", string="Subtotal", currency_field="currency_id")

    _quantity_not_negative = models.Constraint(
        "CHECK(quantity >= 0)",
        "The quantity of a subscription line cannot be negative.",
    )
    _discount_range = models.Constraint(
        "CHECK(discount >= 0 AND discount <= 100)",
        "The discount of a subscription line must lie between 0 and 100 %.",
    )

    @api.depends("product_id")
    def _compute_name(self):
        for line in self:
            if line.product_id and not line.name:
                line.name = line.product_id.get_product_multiline_description_sale() or line.product_id.display_name

    @api.depends("product_id", "subscription_id.currency_id")
    def _compute_price_unit(self):
        for line in self:
            if not line.product_id or line.price_unit:
                continue
            product = line.product_id
            plan_line = line.subscription_id.plan_id.line_ids.filtered(lambda pl, p=product: pl.product_id == p)[:1]
            price = plan_line._get_price_unit(line.currency_id) if plan_line else None
            if price is None:
                price = line.product_id.currency_id._convert(
                    line.product_id.lst_price,
                    line.currency_id or line.product_id.currency_id,
                    line.company_id or self.env.company,
                    line.subscription_id.start_date or fields.Date.context_today(line),
                )
            line.price_unit = price

    @api.depends("product_id", "subscription_id.fiscal_position_id", "subscription_id.company_id")
    def _compute_tax_ids(self):
        for line in self:
            company = line.subscription_id.company_id or self.env.company
            taxes = line.product_id.taxes_id._filter_taxes_by_company(company)
            line.tax_ids = line.subscription_id.fiscal_position_id.map_tax(taxes) if taxes else False

    @api.depends("quantity", "price_unit", "discount", "currency_id")
    def _compute_price_subtotal(self):
        for line in self:
            subtotal = line.quantity * line.price_unit * (1 - (line.discount or 0.0) / 100.0)
            line.price_subtotal = line.currency_id.round(subtotal) if line.currency_id else subtotal

    @api.constrains("quantity")
    def _check_quantity(self):
        for line in self:
            if line.quantity < 0:
                raise ValidationError(
                    _(
                        "Quantity of %(product)s on subscription %(sub)s cannot be negative (%(qty)s).",
                        product=line.product_id.display_name,
                        sub=line.subscription_id.display_name,
                        qty=line.quantity,
                    )
                )

    @api.constrains("price_unit")
    def _check_price_unit(self):
        for line in self:
            if line.price_unit < 0:
                raise ValidationError(
                    _(
                        "Unit price of %(product)s on subscription %(sub)s cannot be negative; "
                        "discounts and credits are separate lines.",
                        product=line.product_id.display_name,
                        sub=line.subscription_id.display_name,
                    )
                )

    def _get_invoice_line_description(self, period):
        """Invoice line text: the line's description and the service period it pays for."""
        self.ensure_one()
        return _(
            "%(description)s\nService period: %(start)s – %(end)s",
            description=self.name,
            start=format_date(self.env, period.start),
            end=format_date(self.env, period.end),
        )
