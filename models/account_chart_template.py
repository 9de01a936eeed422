from odoo import models

# The passive Rechnungsabgrenzung of the German charts (template xml id per chart template)
DEFERRED_REVENUE_ACCOUNTS = {
    "de_skr03": "account_0990",
    "de_skr04": "chart_skr04_3900",
}


#: Services to businesses in another EU country (reverse charge, § 13b UStG): the German charts only
#: bring a position for goods ("0% EU D", Kz 41). Loading them adds one for services: 19 %/7 % become
#: "0% EU" (Kz 21, Zusammenfassende Meldung: sonstige Leistungen) and revenue goes to 8336 / 4336.
REVERSE_CHARGE_SERVICES = {
    "de_skr03": {
        "zero_tax": "tax_free_eu_skr03",
        "taxes": ("tax_ust_19_skr03", "tax_ust_7_skr03"),
        "accounts": {"account_8400": "account_8336", "account_8300": "account_8336"},
    },
    "de_skr04": {
        "zero_tax": "tax_free_eu_skr04",
        "taxes": ("tax_ust_19_skr04", "tax_ust_7_skr04"),
        "accounts": {"chart_skr04_4400": "chart_skr04_4336", "chart_skr04_4300": "chart_skr04_4336"},
    },
}


class AccountChartTemplate(models.AbstractModel):
    """Loading a German chart sets the deferred-revenue account and the reverse-charge position for services."""

    _inherit = "account.chart.template"

    def _post_load_data(self, template_code, company, template_data):
        result = super()._post_load_data(template_code, company, template_data)
        company._set_default_deferred_revenue_account()
        company._create_reverse_charge_services_position()
        return result
