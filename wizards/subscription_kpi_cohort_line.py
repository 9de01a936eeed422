from odoo import fields, models


class SubscriptionKpiCohortLine(models.TransientModel):
    """One cell of the cohort retention table: a signup month's customers and MRR some months later."""

    _name = "subscription.kpi.cohort.line"
    _description = "Cohort Retention Cell"
    _order = "cohort_month, month_offset"

    report_id = fields.Many2one("subscription.kpi.report", required=True, ondelete="cascade", index=True)
    currency_id = fields.Many2one(related="report_id.currency_id")
    cohort_month = fields.Date(string="Signup Month", required=True, help="First day of the customers' signup month.")
    month_offset = fields.Integer(string="Months After Signup", help="0: the signup month itself.")
    cohort_size = fields.Integer(string="Customers Signed Up")
    customers = fields.Integer(string="Customers Retained", aggregator="sum")
    customer_retention = fields.Float(string="Customer Retention (%)", digits=(16, 1), aggregator="avg")
    revenue = fields.Monetary(string="MRR Retained", aggregator="sum")
    revenue_retention = fields.Float(
        string="Revenue Retention (%)", digits=(16, 1), aggregator="avg", help="MRR retained ÷ the cohort's first MRR."
    )
