from odoo import fields, models


class SubscriptionBillingForecastLine(models.TransientModel):
    """One invoice (or credit note) the billing runs of the forecast period would create."""

    _name = "subscription.billing.forecast.line"
    _description = "Billing Forecast Invoice"
    _order = "invoice_date, id"

    report_id = fields.Many2one("subscription.billing.forecast.report", required=True, ondelete="cascade", index=True)
    run_date = fields.Date(string="Billing Run", help="Day of the billing run that creates the invoice.")
    invoice_date = fields.Date()
    move_type = fields.Selection([("out_invoice", "Invoice"), ("out_refund", "Credit Note")], string="Type")
    subscription_id = fields.Many2one("subscription.subscription")
    partner_id = fields.Many2one("res.partner", string="Customer")
    currency_id = fields.Many2one("res.currency")
    company_currency_id = fields.Many2one(related="report_id.currency_id", string="Company Currency")
    amount_untaxed = fields.Monetary(string="Untaxed", aggregator="sum")
    amount_tax = fields.Monetary(string="Taxes", aggregator="sum")
    amount_total = fields.Monetary(string="Total", aggregator="sum")
    amount_untaxed_company = fields.Monetary(
        string="Untaxed (Company Currency)", currency_field="company_currency_id", aggregator="sum"
    )
    has_usage = fields.Boolean(
        string="Usage To Be Rated",
        help="The subscription has metered usage: only the usage recorded so far is in the amounts; the rest is "
        "rated when the period is billed.",
    )
    description = fields.Text()
