from odoo import models

# The passive Rechnungsabgrenzung of the German charts (template xml id per chart template)
DEFERRED_REVENUE_ACCOUNTS = {
    "de_skr03": "account_0990",
    "de_skr04": "chart_skr04_3900",
}


class AccountChartTemplate(models.AbstractModel):
    """Loading a chart with a known deferred-revenue account makes it the company's default."""

    _inherit = "account.chart.template"

    def _post_load_data(self, template_code, company, template_data):
        result = super()._post_load_data(template_code, company, template_data)
        company._set_default_deferred_revenue_account()
        return result
