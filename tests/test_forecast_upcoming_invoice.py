from datetime import date
from urllib.parse import urlparse

from freezegun import freeze_time
from lxml import html

from odoo import Command
from odoo.tests import new_test_user, tagged

from .common_api import ApiCommon

TODAY = "2026-02-10"


@tagged("post_install", "-at_install", "subscription_billing")
class TestForecastUpcomingInvoice(ApiCommon):
    """The customer's next invoice, projected, on the portal page and in the API.

    Müller GmbH's monthly plan in advance from 1 Jan 2026: Hosting 100.00 and API calls metered at 0.01 each,
    both with the company's 15 % sales tax; January and February are invoiced. On 10 Feb the next invoice is the
    one of 1 Mar: Hosting 1–31 Mar 100.00, tax 15 % = 15.00, total 115.00, and February's API calls (1–28 Feb)
    to be rated (not in the total).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        metric = cls.env["subscription.usage.metric"].create(
            {"name": "Upcoming API calls", "code": "upcoming_api_calls", "aggregation": "sum"}
        )
        calls = cls.env["product.product"].create(
            {
                "name": "API calls",
                "type": "service",
                "subscription_ok": True,
                "taxes_id": [Command.set(cls.tax_sale.ids)],
            }
        )
        cls.plan_upcoming = cls._create_plan("UPC", "Upcoming plan", price=100.0)
        cls.plan_upcoming.write(
            {
                "line_ids": [
                    Command.create(
                        {
                            "product_id": calls.id,
                            "name": "API calls",
                            "line_type": "usage",
                            "metric_id": metric.id,
                            "price_unit": 0.01,
                        }
                    )
                ]
            }
        )
        cls.portal_password = "anna-upcoming-pw-2026"
        new_test_user(
            cls.env,
            login="anna_upcoming",
            password=cls.portal_password,
            groups="base.group_portal",
            partner_id=cls.customer_contact.id,
            name=cls.customer_contact.name,
            email=cls.customer_contact.email,
        )
        cls.sub = cls._start(plan=cls.plan_upcoming, partner=cls.customer, start_date=date(2026, 1, 1))
        cls.other = cls._start(plan=cls.plan_upcoming, partner=cls.other_customer, start_date=date(2026, 1, 1))
        for day in (date(2026, 1, 1), date(2026, 2, 1)):
            cls.env["subscription.billing.run"]._run_billing(cls.sub | cls.other, day)

    def test_tax_of_the_docstring(self):
        """The figures of the class docstring assume the company's sales tax is 15 %."""
        self.assertEqual(self.tax_sale.amount, 15.0)

    def test_portal_page_shows_the_next_invoice_with_taxes_and_usage_to_be_rated(self):
        """Anna (Müller GmbH's contact) sees on 10 Feb: 1 Mar, total 115.00 (100.00 plus 15.00 taxes), the
        hosting line 100.00 and the API calls "to be rated"."""
        self.authenticate("anna_upcoming", self.portal_password)
        with freeze_time(TODAY):
            response = self.url_open(f"/my/subscriptions/{self.sub.id}")
        self.assertEqual(response.status_code, 200)
        blocks = html.fromstring(response.text).xpath("//div[@id='subscription_upcoming_invoice']")
        self.assertEqual(len(blocks), 1)
        [block] = blocks
        text = " ".join(block.text_content().split())
        self.assertIn("03/01/2026", text)
        self.assertIn("115.00", " ".join(block.xpath(".//*[hasclass('o_upcoming_invoice_total')]//text()")))
        self.assertIn("100.00", " ".join(block.xpath(".//*[hasclass('o_upcoming_invoice_untaxed')]//text()")))
        self.assertIn("15.00", " ".join(block.xpath(".//*[hasclass('o_upcoming_invoice_tax')]//text()")))
        self.assertEqual(len(block.xpath(".//*[hasclass('o_upcoming_to_be_rated')]")), 1)

    def test_another_customer_cannot_see_the_upcoming_invoice(self):
        """Anna opening Schmidt AG's subscription is sent to /my, without its name or its upcoming invoice."""
        self.authenticate("anna_upcoming", self.portal_password)
        with freeze_time(TODAY):
            response = self.url_open(f"/my/subscriptions/{self.other.id}")
        self.assertEqual(urlparse(response.url).path, "/my")
        self.assertNotIn(self.other.name, response.text)
        self.assertNotIn("subscription_upcoming_invoice", response.text)

    def test_api_returns_the_upcoming_invoice_as_decimal_strings(self):
        """GET /subscriptions/{id}/upcoming_invoice on 10 Feb: 1 Mar, 100.00 + 15.00 = 115.00 in the company's
        currency; the hosting line 100.00 for 1–31 Mar, the API calls of 1–28 Feb to be rated (no subtotal)."""
        with freeze_time(TODAY):
            status, data, _response = self._call("GET", f"/subscriptions/{self.sub.id}/upcoming_invoice")
        self.assertEqual(status, 200, data)
        self.assertEqual(
            (data["invoice_date"], data["amount_untaxed"], data["amount_tax"], data["amount_total"]),
            ("2026-03-01", "100.00", "15.00", "115.00"),
        )
        lines = {(line["period_start"], line["period_end"]): line for line in data["lines"]}
        self.assertEqual(lines["2026-03-01", "2026-03-31"]["subtotal"], "100.00")
        usage = lines["2026-02-01", "2026-02-28"]
        self.assertEqual((usage["to_be_rated"], usage["subtotal"]), (True, None))

    def test_api_of_an_unknown_or_foreign_subscription_is_not_found(self):
        """An id that does not exist, or a subscription of another company's key, answers 404 and nothing else."""
        with freeze_time(TODAY):
            status, data, _response = self._call("GET", "/subscriptions/999999999/upcoming_invoice")
            self.assertEqual(status, 404, data)
            status, data, _response = self._call(
                "GET", f"/subscriptions/{self.sub.id}/upcoming_invoice", key=self.key_b
            )
        self.assertEqual(status, 404, data)
        self.assertNotIn("115", str(data))
