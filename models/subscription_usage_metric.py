from odoo import fields, models


class SubscriptionUsageMetric(models.Model):
    """What a metered line counts (API calls, GB stored, active users) and how a period adds up."""

    _name = "subscription.usage.metric"
    _description = "Usage Metric"
    _inherit = ["subscription.input.guard.mixin"]
    _order = "name"
    _check_company_auto = True

    name = fields.Char(required=True, translate=True)
    code = fields.Char(required=True, help="Identifier used when usage is reported (API, imports).")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, index=True)
    uom_id = fields.Many2one("uom.uom", string="Unit", help="Unit in which usage is reported and invoiced.")
    aggregation = fields.Selection(
        [
            ("sum", "Sum of the quantities"),
            ("max", "Maximum in the period"),
            ("count_distinct", "Count of distinct values"),
            ("last", "Last value in the period"),
        ],
        required=True,
        default="sum",
    )
    allow_negative = fields.Boolean(
        string="Allow Corrections",
        help="Accept negative quantities (corrections of earlier records), for sum metrics.",
    )
    active = fields.Boolean(default=True)

    _code_company_unique = models.Constraint(
        "UNIQUE(code, company_id)",
        "The code of a usage metric must be unique per company.",
    )
