from datetime import date

from odoo.tests import tagged

from .common_accounting import GermanCompanyCommon

FR_VAT_VALID = "FR40303265045"  # key (12 + 3 * (303265045 mod 97)) mod 97 = 40
FR_VAT_WRONG_KEY = "FR41303265045"


@tagged("post_install", "-at_install", "subscription_billing")
class TestTaxDetermination(GermanCompanyCommon):
    """A German SKR03 company bills a yearly plan of 1,200.00 EUR net through the real billing run."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chart = cls.env["account.chart.template"]
        # created when SKR03 was loaded: services to EU businesses, not the chart's position for goods
        cls.fpos_reverse_charge = cls.company.subscription_fpos_reverse_charge_id
        cls.fpos_export = cls.chart.ref("fiscal_position_non_eu_partner_service_skr03")

    def setUp(self):
        super().setUp()
        if not self.oss_installed:
            self.skipTest("l10n_eu_oss is not installed")

    def _bill_yearly(self, partner):
        subscription = self._start(plan=self.plan_yearly, partner=partner, start_date=date(2026, 1, 1))
        invoices = subscription._run_billing(date(2026, 1, 1))["invoices"]
        self.assertEqual(len(invoices), 1)
        self.assertEqual(invoices.state, "posted")
        return subscription, invoices

    def _render(self, invoice):
        html, _format = self.env["ir.actions.report"]._render_qweb_html("account.report_invoice", invoice.ids)
        return html.decode()

    def _oss_position(self, country_code):
        return self.env["account.fiscal.position"].search(
            [
                ("company_id", "=", self.company.id),
                ("country_id.code", "=", country_code),
                ("auto_apply", "=", True),
                ("vat_required", "=", False),
            ]
        )

    def test_common_world_is_a_german_skr03_company_in_eur(self):
        self.assertEqual(self.env.company, self.company)
        self.assertEqual(self.company.chart_template, "de_skr03")
        self.assertEqual(self.company.account_fiscal_country_id.code, "DE")
        self.assertEqual(self.company.currency_id.name, "EUR")
        self.assertEqual((self.tax_19.amount, self.tax_19.type_tax_use), (19.0, "sale"))
        self.assertTrue(self.usd.active and self.chf.active)
        # 1,100.00 EUR at 1.10 USD per EUR on 2025-06-30; 900.00 CHF at 0.90 CHF per EUR on 2026-03-31
        self.assertEqual(self.eur._convert(1000.0, self.usd, self.company, date(2025, 6, 30)), 1100.0)
        self.assertEqual(self.chf._convert(900.0, self.eur, self.company, date(2026, 3, 31)), 1000.0)

    # --- domestic ------------------------------------------------------------
    def test_german_consumer_pays_19_percent(self):
        customer = self._create_customer("Max Mustermann", "DE")
        subscription, invoice = self._bill_yearly(customer)
        self.assertEqual(subscription.tax_regime, "domestic")
        self.assertEqual(invoice.invoice_line_ids.tax_ids, self.tax_19)
        self.assertEqual(invoice.amount_untaxed, 1200.0)
        self.assertEqual(invoice.amount_tax, 228.0)  # 19 % of 1,200
        self.assertEqual(invoice.amount_total, 1428.0)
        self.assertNotIn("Reverse charge", self._render(invoice))

    # --- EU consumer (OSS) -----------------------------------------------------
    def test_french_consumer_pays_french_vat_through_oss(self):
        customer = self._create_customer("Jeanne Martin", "FR")
        subscription, invoice = self._bill_yearly(customer)
        oss_fr = self._oss_position("FR")
        self.assertEqual(len(oss_fr), 1, "l10n_eu_oss created one OSS position for France")
        self.assertEqual(subscription.tax_regime, "eu_oss_consumer")
        self.assertEqual(subscription.fiscal_position_id, oss_fr)
        self.assertEqual(invoice.fiscal_position_id, oss_fr)
        self.assertEqual(invoice.invoice_line_ids.tax_ids.mapped("amount"), [20.0])
        self.assertEqual(invoice.amount_tax, 240.0)  # 20 % of 1,200
        self.assertEqual(invoice.amount_total, 1440.0)
        self.assertFalse(subscription.tax_vat_invalid)

    # --- EU business (reverse charge) ----------------------------------------
    def test_french_business_with_valid_vat_gets_reverse_charge(self):
        customer = self._create_customer("Dupont SARL", "FR", vat=FR_VAT_VALID, is_company=True)
        subscription, invoice = self._bill_yearly(customer)
        self.assertEqual(subscription.tax_regime, "eu_reverse_charge")
        self.assertEqual(subscription.fiscal_position_id, self.fpos_reverse_charge)
        self.assertEqual(invoice.fiscal_position_id, self.fpos_reverse_charge)
        self.assertEqual(invoice.amount_tax, 0.0)
        self.assertEqual(invoice.amount_total, 1200.0)
        self.assertEqual(invoice.subscription_tax_regime, "eu_reverse_charge")
        # a service, not a delivery of goods: "0% EU" (VAT return line 21) on 8336, not "0% EU D" on 8125
        line = invoice.invoice_line_ids
        goods_tax = self.chart.ref("tax_eu_sale_skr03")
        services_tax = self.chart.ref("tax_free_eu_skr03")
        self.assertNotEqual(line.tax_ids, goods_tax)
        self.assertEqual(line.tax_ids.amount, 0.0)
        self.assertEqual(
            line.tax_ids.invoice_repartition_line_ids.tag_ids, services_tax.invoice_repartition_line_ids.tag_ids
        )
        self.assertEqual(line.deferral_revenue_account_id or line.account_id, self.chart.ref("account_8336"))
        html = self._render(invoice)
        self.assertIn("Steuerschuldnerschaft des Leistungsempfängers / Reverse charge", html)
        self.assertIn("DE123456788", html, "the supplier's VAT number is printed")
        self.assertIn(FR_VAT_VALID, html, "the customer's VAT number is printed")
        self.assertNotIn("Nicht im Inland steuerbare Leistung", html)

    def test_french_business_with_invalid_vat_is_billed_as_consumer_with_warning(self):
        customer = self._create_customer("Durand SA", "FR", vat=FR_VAT_WRONG_KEY, is_company=True)
        subscription, invoice = self._bill_yearly(customer)
        self.assertTrue(subscription.tax_vat_invalid)
        self.assertEqual(subscription.tax_regime, "eu_oss_consumer")
        self.assertEqual(invoice.fiscal_position_id, self._oss_position("FR"))
        self.assertEqual(invoice.amount_tax, 240.0)  # 20 % of 1,200, no reverse charge
        self.assertNotIn("Reverse charge", self._render(invoice))
        arch = self.env["subscription.subscription"].get_view(view_type="form")["arch"]
        self.assertIn('name="vat_invalid_alert"', arch, "the form shows the warning")

    def test_invalid_vat_overrides_a_manual_reverse_charge_position(self):
        customer = self._create_customer("Durand SA", "FR", vat=FR_VAT_WRONG_KEY, is_company=True)
        customer.with_company(self.company).property_account_position_id = self.fpos_reverse_charge
        subscription = self._create_subscription(plan=self.plan_yearly, partner=customer)
        self.assertEqual(subscription.fiscal_position_id, self._oss_position("FR"))
        # also a copy of it (any position that requires a VAT number)
        own_copy = self.fpos_reverse_charge.copy({"name": "Reverse charge (own copy)"})
        self.assertTrue(own_copy.vat_required)
        other = self._create_customer("Moreau SA", "FR", vat=FR_VAT_WRONG_KEY, is_company=True)
        other.with_company(self.company).property_account_position_id = own_copy
        subscription = self._create_subscription(plan=self.plan_yearly, partner=other)
        self.assertEqual(subscription.fiscal_position_id, self._oss_position("FR"))

    # --- outside the EU (export) -----------------------------------------------
    def test_swiss_business_pays_no_vat_and_gets_the_export_note(self):
        customer = self._create_customer("Bergbahn AG", "CH", vat="CHE-123.456.788", is_company=True)
        subscription, invoice = self._bill_yearly(customer)
        self.assertEqual(subscription.tax_regime, "export")
        self.assertFalse(subscription.tax_vat_invalid)
        self.assertEqual(invoice.fiscal_position_id, self.fpos_export)
        self.assertFalse(invoice.invoice_line_ids.tax_ids)
        self.assertEqual(invoice.amount_tax, 0.0)
        self.assertEqual(invoice.amount_total, 1200.0)
        line = invoice.invoice_line_ids
        self.assertEqual(
            line.deferral_revenue_account_id or line.account_id,  # a yearly line waits on 0990 first
            self.chart.ref("account_8338"),
            "revenue not taxable in Germany (SKR03 8338)",
        )
        html = self._render(invoice)
        self.assertIn("Nicht im Inland steuerbare Leistung / Not taxable in Germany", html)
        self.assertNotIn("Reverse charge", html)

    def test_us_consumer_pays_no_vat_and_gets_the_export_note(self):
        customer = self._create_customer("John Smith", "US")
        subscription, invoice = self._bill_yearly(customer)
        self.assertEqual(subscription.tax_regime, "export")
        self.assertEqual(invoice.fiscal_position_id, self.fpos_export)
        self.assertEqual(invoice.amount_tax, 0.0)
        self.assertIn("Nicht im Inland steuerbare Leistung", self._render(invoice))

    def test_export_position_can_be_changed_in_the_company_settings(self):
        other_export = self.chart.ref("fiscal_position_non_eu_partner_skr03")
        self.company.subscription_fpos_export_id = other_export
        customer = self._create_customer("John Smith", "US")
        subscription, invoice = self._bill_yearly(customer)
        self.assertEqual(subscription.fiscal_position_id, other_export)
        self.assertEqual(invoice.amount_tax, 0.0)  # "0% EX" replaces the 19 %
        self.assertEqual(invoice.subscription_tax_regime, "export")

    # --- recheck at each billing run ------------------------------------------
    def test_customer_moving_from_france_to_germany_is_billed_19_percent_next(self):
        customer = self._create_customer("Jeanne Martin", "FR")
        subscription = self._start(partner=customer, start_date=date(2026, 1, 1))  # monthly, 100.00
        january = subscription._run_billing(date(2026, 1, 1))["invoices"]
        self.assertEqual(january.amount_tax, 20.0)  # 20 % French VAT on 100
        customer.country_id = self.env.ref("base.de")
        messages_before = subscription.message_ids
        february = subscription._run_billing(date(2026, 2, 1))["invoices"]
        self.assertEqual(february.invoice_line_ids.tax_ids, self.tax_19)
        self.assertEqual(february.amount_tax, 19.0)  # 19 % German VAT on 100
        self.assertEqual(subscription.tax_regime, "domestic")
        self.assertEqual(january.amount_tax, 20.0, "the posted January invoice is unchanged")
        notes = (subscription.message_ids - messages_before).mapped("body")
        self.assertEqual(len([body for body in notes if "fiscal position" in body]), 1, notes)
        note = next(body for body in notes if "fiscal position" in body)
        self.assertIn(self.company.domestic_fiscal_position_id.name, note)
        self.assertIn(self._oss_position("FR").name, note)

    def test_unchanged_customer_keeps_a_fiscal_position_set_by_hand(self):
        customer = self._create_customer("Jeanne Martin", "FR")
        subscription = self._start(partner=customer, start_date=date(2026, 1, 1))
        subscription.fiscal_position_id = self.company.domestic_fiscal_position_id
        messages_before = subscription.message_ids
        invoice = subscription._run_billing(date(2026, 1, 1))["invoices"]
        self.assertEqual(invoice.fiscal_position_id, self.company.domestic_fiscal_position_id)
        self.assertEqual(invoice.amount_tax, 19.0)
        self.assertFalse(
            [body for body in (subscription.message_ids - messages_before).mapped("body") if "fiscal position" in body]
        )

    def test_valid_vat_added_later_switches_to_reverse_charge_at_the_next_run(self):
        customer = self._create_customer("Dupont SARL", "FR", is_company=True)
        subscription = self._start(partner=customer, start_date=date(2026, 1, 1))
        self.assertEqual(subscription._run_billing(date(2026, 1, 1))["invoices"].amount_tax, 20.0)
        customer.vat = FR_VAT_VALID
        february = subscription._run_billing(date(2026, 2, 1))["invoices"]
        self.assertEqual(february.fiscal_position_id, self.fpos_reverse_charge)
        self.assertEqual(february.amount_tax, 0.0)
