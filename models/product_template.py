from odoo import fields, models


class ProductTemplate(models.Model):
    _inherit = "product.template"

    subscription_ok = fields.Boolean(
        string="Can be Subscribed",
        help="The product can be sold on subscription plans and subscriptions.",
    )
