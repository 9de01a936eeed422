from odoo import Command

from .common import SubscriptionCommon


class GermanCompanyCommon(SubscriptionCommon):
    """A German company (SKR03 chart, EUR) as the env's company, for tax and accounting tests.

    On top of :class:`SubscriptionCommon` (products, plans, customers):
    ``tax_19`` (the chart's 19 % sales tax, on the subscription products), USD
    and CHF active with rates, a company VAT number, and, when ``l10n_eu_oss``
    is installed, its One-Stop-Shop fiscal positions and taxes
    (``oss_installed`` tells). The chart is loaded once per test class.

    Rates (units of the currency per EUR): USD 1.10 from 2025-01-01 and 1.20
    from 2026-01-01; CHF 0.95 from 2025-01-01 and 0.90 from 2026-01-01.
    """

    country_code = "DE"
    chart_template = "de_skr03"
    company_vat = "DE123456788"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company.write({"name": "Abo Software GmbH", "vat": cls.company_vat})
        cls.eur = cls.company.currency_id
        cls.usd = cls.setup_other_currency("USD", rates=[("2025-01-01", 1.10), ("2026-01-01", 1.20)])
        cls.chf = cls.setup_other_currency("CHF", rates=[("2025-01-01", 0.95), ("2026-01-01", 0.90)])
        cls.tax_19 = cls.env["account.chart.template"].ref("tax_ust_19_skr03")
        cls.tax_7 = cls.env["account.chart.template"].ref("tax_ust_7_skr03")
        cls.account_revenue_19 = cls.env["account.chart.template"].ref("account_8400")
        (cls.product_hosting | cls.product_support).write({"taxes_id": [Command.set(cls.tax_19.ids)]})
        cls.oss_installed = cls.env["ir.module.module"]._get("l10n_eu_oss").state == "installed"
        if cls.oss_installed:
            cls.company._map_eu_taxes()

    @classmethod
    def _create_customer(cls, name, country_code, vat=None, is_company=False, **values):
        # no_vat_validation: base_vat (when installed) would refuse the invalid numbers tests need
        return (
            cls.env["res.partner"]
            .with_context(no_vat_validation=True)
            .create(
                {
                    "name": name,
                    "country_id": cls.env.ref(f"base.{country_code.lower()}").id,
                    "vat": vat,
                    "is_company": is_company,
                    "email": f"{name.split()[0].lower()}@example.com",
                    **values,
                }
            )
        )
