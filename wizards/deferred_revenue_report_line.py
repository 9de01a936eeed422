from odoo import fields, models


class DeferredRevenueReportLine(models.TransientModel):
    """One month of the deferred revenue waterfall (exportable from the list)."""

    _name = "deferred.revenue.report.line"
    _description = "Deferred Revenue Report Month"
    _order = "month"

    report_id = fields.Many2one("deferred.revenue.report", required=True, ondelete="cascade")
    currency_id = fields.Many2one(related="report_id.currency_id")
    month = fields.Date(string="Month End", required=True, help="Last day of the month.")
    month_label = fields.Char(string="Month", help="MM/YYYY, with the year also for the current year.")
    opening = fields.Monetary(string="Opening Balance")
    added = fields.Monetary(string="Deferred", help="Revenue of later months invoiced in this month.")
    reduced = fields.Monetary(string="Credited", help="Deferred revenue reduced by credit notes in this month.")
    recognised = fields.Monetary()
    closing = fields.Monetary(string="Closing Balance")
    planned = fields.Monetary(
        string="Planned Recognition",
        help="Still to be recognised for this month by the schedules (a future month, or one not closed yet).",
    )
    planned_closing = fields.Monetary(
        string="Planned Closing Balance",
        help="The closing balance once every planned month up to this one is recognised.",
    )
