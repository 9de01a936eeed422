from datetime import date

from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common_accounting import GermanCompanyCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestOssReport(GermanCompanyCommon):
    """OSS summary of a German company: monthly subscriptions of 100.00 EUR net to EU consumers.

    Figures by hand:
    * France (20 %): invoices of 1 Jan, 1 Feb, 1 Mar and 1 Apr 2026, the February one credited on 20 Mar.
      2026-Q1: base 100 + 100 + 100 - 100 = 200.00, VAT 40.00; 2026-Q2: base 100.00, VAT 20.00.
    * Belgium (21 %): invoice of 1 Mar 2026: 2026-Q1 base 100.00, VAT 21.00.
    * Not in the report: a German consumer (19 % domestic), a French business (reverse charge), a draft
      invoice to the French consumer.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if not cls.oss_installed:
            return
        french = cls._create_customer("Jeanne Martin", "FR")
        belgian = cls._create_customer("Luc Peeters", "BE")
        german = cls._create_customer("Max Mustermann", "DE")
        french_business = cls._create_customer("Dupont SARL", "FR", vat="FR40303265045", is_company=True)

        cls.french_invoices = cls._start(partner=french)._run_billing(date(2026, 4, 1))["invoices"]
        february = cls.french_invoices.filtered(lambda move: move.invoice_date == date(2026, 2, 1))
        cls.credit_note = february._reverse_moves([{"date": date(2026, 3, 20), "invoice_date": date(2026, 3, 20)}])
        cls.credit_note.action_post()
        cls._start(partner=belgian, start_date=date(2026, 3, 1))._run_billing(date(2026, 3, 1))
        cls._start(partner=german)._run_billing(date(2026, 1, 1))
        cls._start(partner=french_business)._run_billing(date(2026, 1, 1))
        cls.draft = cls.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": french.id,
                "invoice_date": date(2026, 1, 15),
                "fiscal_position_id": cls.french_invoices[0].fiscal_position_id.id,
                "invoice_line_ids": [
                    (0, 0, {"product_id": cls.product_hosting.id, "price_unit": 500.0, "quantity": 1.0})
                ],
            }
        )

    def setUp(self):
        super().setUp()
        if not self.oss_installed:
            self.skipTest("l10n_eu_oss is not installed")

    def _figures(self, user=None):
        self.env.flush_all()
        report = self.env["subscription.oss.report"]
        rows = (report.with_user(user) if user else report).search([])
        return {(row.period, row.country_id.code, row.tax_rate): (row.base_amount, row.tax_amount) for row in rows}

    def test_setup_is_what_the_figures_assume(self):
        self.assertEqual(len(self.french_invoices), 4)
        self.assertEqual(set(self.french_invoices.mapped("amount_tax")), {20.0})
        self.assertEqual(self.credit_note.state, "posted")
        self.assertEqual(self.draft.state, "draft")
        self.assertEqual(self.draft.amount_tax, 100.0, "the draft carries French VAT but is not posted")

    def test_quarterly_base_and_vat_per_country_and_rate(self):
        self.assertEqual(
            self._figures(),
            {
                ("2026-Q1", "FR", 20.0): (200.0, 40.0),
                ("2026-Q1", "BE", 21.0): (100.0, 21.0),
                ("2026-Q2", "FR", 20.0): (100.0, 20.0),
            },
        )

    def test_report_is_grouped_by_quarter_for_the_return(self):
        self.env.flush_all()
        [(base, tax)] = self.env["subscription.oss.report"]._read_group(
            [("year", "=", 2026), ("quarter", "=", 1)], aggregates=["base_amount:sum", "tax_amount:sum"]
        )
        self.assertEqual((base, tax), (300.0, 61.0))  # France 200 + Belgium 100; 40 + 21

    def test_list_export_gives_the_figures(self):
        self.env.flush_all()
        rows = self.env["subscription.oss.report"].search([("period", "=", "2026-Q1")], order="country_id")
        exported = rows.export_data(["period", "country_id", "tax_rate", "base_amount", "tax_amount"])["datas"]
        self.assertEqual(
            sorted(exported),
            sorted([["2026-Q1", "Belgium", 21.0, 100.0, 21.0], ["2026-Q1", "France", 20.0, 200.0, 40.0]]),
        )

    def test_subscription_user_of_another_company_cannot_read_the_figures(self):
        other_company = self.env["res.company"].create({"name": "Other GmbH"})
        outsider = new_test_user(
            self.env,
            login="oss_outsider",
            groups="subscription_billing.group_subscription_user",
            company_id=other_company.id,
            company_ids=[other_company.id],
        )
        insider = new_test_user(
            self.env,
            login="oss_insider",
            groups="subscription_billing.group_subscription_user",
            company_id=self.company.id,
            company_ids=[self.company.id],
        )
        self.assertEqual(len(self._figures(insider)), 3, "a subscription user of the company sees its figures")
        self.assertEqual(self._figures(outsider), {})
        row = self.env["subscription.oss.report"].search([], limit=1)
        with self.assertRaises(AccessError):
            row.with_user(outsider).read(["base_amount"])
