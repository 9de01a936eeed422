from odoo import fields, models


class ProductTemplate(models.Model):
    """Products that can be subscribed, and where their deferred revenue waits."""

    _inherit = "product.template"

    deferred_revenue_account_id = fields.Many2one(
        "account.account",
        company_dependent=True,
        domain="[('account_type', 'in', ('liability_current', 'liability_non_current'))]",
        help="Revenue of this product for later service months waits here until it is recognised; the "
        "company's deferred revenue account when empty.",
    )

    subscription_ok = fields.Boolean(
        string="Can be Subscribed",
        help="The product can be sold on subscription plans and subscriptions.",
    )
