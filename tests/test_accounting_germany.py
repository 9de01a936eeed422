from datetime import date

from odoo import Command
from odoo.tests import tagged

from .common_accounting import GermanCompanyCommon

FR_VAT_VALID = "FR40303265045"  # key (12 + 3 * (303265045 mod 97)) mod 97 = 40


@tagged("post_install", "-at_install", "subscription_billing")
class TestGermanMerchantClosesAMonth(GermanCompanyCommon):
    """A German SKR03 merchant bills yearly subscriptions in EUR, USD and CHF to customers in Germany, the EU
    and Switzerland, closes January with one click and reconciles deferred revenue with the ledger.

    Rates (per EUR, from GermanCompanyCommon): USD 1.20 and CHF 0.90 from 2026-01-01.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.account_0990 = cls.env["account.chart.template"].ref("account_0990")
        cls.plan_yearly.line_ids.price_ids = [
            Command.create({"currency_id": cls.usd.id, "price_unit": 1320.0}),
            Command.create({"currency_id": cls.chf.id, "price_unit": 1080.0}),
        ]

    def _bill(self, partner, currency):
        sub = self._start(plan=self.plan_yearly, partner=partner, start_date=date(2026, 1, 1), currency_id=currency.id)
        invoice = sub._run_billing(date(2026, 1, 1))["invoices"]
        self.assertEqual(invoice.state, "posted")
        return invoice

    def _credit_balance(self, account, currency=None):
        domain = [("account_id", "=", account.id), ("parent_state", "=", "posted")]
        if currency:
            domain.append(("currency_id", "=", currency.id))
        lines = self.env["account.move.line"].search(domain)
        return -sum(lines.mapped("balance")), -sum(lines.mapped("amount_currency"))

    def test_skr03_company_defers_to_0990(self):
        self.assertEqual(self.company.deferred_revenue_account_id, self.account_0990)
        self.assertEqual(self.account_0990.code, "0990")

    def test_yearly_subscriptions_in_three_currencies_close_january_and_reconcile(self):
        domestic = self._bill(self._create_customer("Max Mustermann", "DE"), self.eur)
        reverse_charge = self._bill(
            self._create_customer("Dupont SARL", "FR", vat=FR_VAT_VALID, is_company=True), self.usd
        )
        export = self._bill(self._create_customer("Käserei Muster AG", "CH", is_company=True), self.chf)

        # invoices: 19 % at home, none for the reverse charge and the export; amounts converted at 1.20 and 0.90
        self.assertEqual((domestic.amount_untaxed, domestic.amount_tax), (1200.0, 228.0))
        self.assertEqual((reverse_charge.amount_untaxed, reverse_charge.amount_tax), (1320.0, 0.0))
        self.assertEqual((export.amount_untaxed, export.amount_tax), (1080.0, 0.0))
        self.assertAlmostEqual(reverse_charge.invoice_line_ids.balance, -1100.0)  # 1320 / 1.20
        self.assertAlmostEqual(export.invoice_line_ids.balance, -1200.0)  # 1080 / 0.90
        for invoice in domestic | reverse_charge | export:
            self.assertEqual(invoice.invoice_line_ids.account_id, self.account_0990, invoice.name)
        self.assertAlmostEqual(self._credit_balance(self.account_0990)[0], 3500.0)
        self.assertEqual(self._credit_balance(self.account_0990, self.usd)[1], 1320.0)
        self.assertEqual(self._credit_balance(self.account_0990, self.chf)[1], 1080.0)

        # close January with one click
        wizard = self.env["deferred.revenue.recognition.wizard"].create({"date": date(2026, 1, 31)})
        action = wizard.action_recognise()
        entry = self.env["account.move"].search(action["domain"])
        self.assertEqual(action["res_model"], "account.move")
        list_view = self.env.ref("account.view_move_tree")
        views = [tuple(view) for view in action["views"]]
        self.assertIn((list_view.id, "list"), views, "the journal entries list, not the invoices'")
        self.assertEqual(len(entry), 1, "one entry for the month and journal")
        self.assertEqual(entry.date, date(2026, 1, 31))
        share = 31 / 365
        expected = {  # currency: (foreign amount, company amount) of January, by hand
            self.eur: (round(1200 * share, 2), round(1200 * share, 2)),
            self.usd: (round(1320 * share, 2), round(1100 * share, 2)),
            self.chf: (round(1080 * share, 2), round(1200 * share, 2)),
        }
        revenue_lines = entry.line_ids.filtered(lambda line: line.account_id != self.account_0990)
        for currency, (foreign, company) in expected.items():
            lines = revenue_lines.filtered(lambda line, c=currency: line.currency_id == c)
            self.assertAlmostEqual(-sum(lines.mapped("amount_currency")), foreign, places=2, msg=currency.name)
            self.assertAlmostEqual(-sum(lines.mapped("balance")), company, places=2, msg=currency.name)
        # revenue goes to the accounts the fiscal positions chose on the invoices
        recognised_into = {
            invoice.invoice_line_ids.deferral_revenue_account_id for invoice in domestic | reverse_charge | export
        }
        self.assertEqual(set(revenue_lines.account_id), recognised_into)
        self.assertEqual(
            wizard.action_recognise()["tag"], "display_notification", "a second click has nothing left to do"
        )

        january = sum(company for _foreign, company in expected.values())
        self.assertAlmostEqual(self._credit_balance(self.account_0990)[0], 3500.0 - january, places=2)
        report = self.env["deferred.revenue.report"].create(
            {"date_from": date(2026, 1, 1), "date_to": date(2026, 1, 31)}
        )
        self.assertEqual(report.difference, 0.0)
        self.assertAlmostEqual(report.ledger_balance, 3500.0 - january, places=2)
        [row] = report._get_waterfall()
        self.assertAlmostEqual(float(row["added"]), 3500.0)
        self.assertAlmostEqual(float(row["recognised"]), january, places=2)
        self.assertAlmostEqual(float(row["closing"]), 3500.0 - january, places=2)
