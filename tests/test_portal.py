from datetime import date
from urllib.parse import urlparse

from lxml import html

from odoo import Command
from odoo.tests import HttpCase, new_test_user, tagged

from .common import SubscriptionCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestPortal(SubscriptionCommon, HttpCase):
    """ "My subscriptions": a customer sees their own subscriptions, and only those."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product_portal = cls.env["product.product"].create(
            {
                "name": "Portal Hosting XL",
                "type": "service",
                "list_price": 75.0,
                "subscription_ok": True,
            }
        )
        cls.plan_portal = cls._create_plan(
            code="PORTAL", name="Portal Premium Plan", price=75.0, product=cls.product_portal
        )
        # customer A (cls.customer) with the contact Anna, who has a portal login
        cls.portal_password = "anna-portal-pw-2026"
        cls.portal_user = new_test_user(
            cls.env,
            login="anna_portal",
            password=cls.portal_password,
            groups="base.group_portal",
            partner_id=cls.customer_contact.id,
            name=cls.customer_contact.name,
            email=cls.customer_contact.email,
        )
        cls.sub_own = cls._start(plan=cls.plan_portal, partner=cls.customer, start_date=date(2026, 1, 1))
        cls.invoice_own = cls.sub_own._run_billing(date(2026, 1, 1))["invoices"]
        cls.sub_own_contact = cls._start(partner=cls.customer_contact, start_date=date(2026, 2, 1))
        cls.sub_own_draft = cls._create_subscription(partner=cls.customer)
        # customer B
        cls.sub_other = cls._start(plan=cls.plan_portal, partner=cls.other_customer, start_date=date(2026, 1, 1))

    def setUp(self):
        super().setUp()
        # the data was created by the test, not by the generated names of other runs
        self.assertEqual(
            len({self.sub_own.name, self.sub_own_contact.name, self.sub_own_draft.name, self.sub_other.name}), 4
        )

    def _get(self, url, **kwargs):
        response = self.url_open(url, **kwargs)
        self.assertEqual(response.status_code, 200, f"GET {url}")
        return response

    # ------------------------------------------------------------------
    # list
    # ------------------------------------------------------------------
    def test_list_shows_own_subscriptions_only(self):
        self.authenticate("anna_portal", self.portal_password)
        body = self._get("/my/subscriptions").text
        self.assertIn(self.sub_own.name, body)
        self.assertIn(self.sub_own_contact.name, body, "subscriptions of the contact belong to the company too")
        self.assertIn("Portal Premium Plan", body)
        self.assertNotIn(self.sub_other.name, body, "another customer's subscription is not listed")
        self.assertNotIn(self.sub_own_draft.name, body, "drafts are not shown to the customer")

    def test_list_requires_a_login(self):
        response = self.url_open("/my/subscriptions")
        self.assertIn("/web/login", response.url)
        self.assertNotIn(self.sub_own.name, response.text)

    # ------------------------------------------------------------------
    # detail
    # ------------------------------------------------------------------
    def test_detail_shows_plan_lines_and_invoice(self):
        self.assertEqual(self.invoice_own.state, "posted")
        self.authenticate("anna_portal", self.portal_password)
        body = self._get(f"/my/subscriptions/{self.sub_own.id}").text
        self.assertIn(self.sub_own.name, body)
        self.assertIn("Portal Premium Plan", body)
        self.assertIn("Portal Hosting XL", body, "the subscription lines are listed")
        self.assertIn(self.invoice_own.name, body, "the posted invoice is listed")

    def test_detail_of_another_customers_subscription_redirects_to_my_home(self):
        self.authenticate("anna_portal", self.portal_password)
        response = self.url_open(f"/my/subscriptions/{self.sub_other.id}")
        self.assertTrue(response.history, "the request is redirected")
        self.assertEqual(urlparse(response.url).path, "/my")
        self.assertNotIn(self.sub_other.name, response.text)

    def test_detail_of_a_missing_subscription_redirects(self):
        self.authenticate("anna_portal", self.portal_password)
        missing_id = self.env["subscription.subscription"].search([], order="id desc", limit=1).id + 1000
        response = self.url_open(f"/my/subscriptions/{missing_id}")
        self.assertEqual(urlparse(response.url).path, "/my")

    def test_detail_with_the_access_token_is_allowed(self):
        token = self.sub_other._portal_ensure_token()
        self.authenticate("anna_portal", self.portal_password)
        body = self._get(f"/my/subscriptions/{self.sub_other.id}?access_token={token}").text
        self.assertIn(self.sub_other.name, body)
        self.assertIn("Portal Premium Plan", body)

    def test_detail_with_the_access_token_is_allowed_without_login(self):
        token = self.sub_other._portal_ensure_token()
        body = self._get(f"/my/subscriptions/{self.sub_other.id}?access_token={token}").text
        self.assertIn(self.sub_other.name, body)

    def test_detail_with_a_wrong_token_is_refused(self):
        self.sub_other._portal_ensure_token()
        own_token = self.sub_own._portal_ensure_token()
        self.authenticate("anna_portal", self.portal_password)
        response = self.url_open(f"/my/subscriptions/{self.sub_other.id}?access_token={own_token}")
        self.assertEqual(urlparse(response.url).path, "/my")
        self.assertNotIn(self.sub_other.name, response.text)

    def test_detail_without_login_or_token_is_refused(self):
        response = self.url_open(f"/my/subscriptions/{self.sub_own.id}")
        self.assertNotIn(self.sub_own.name, response.text)
        self.assertNotEqual(urlparse(response.url).path, f"/my/subscriptions/{self.sub_own.id}")

    def test_detail_shows_amounts_per_period_whole_quantities_tiers_and_usage(self):
        metric = self.env["subscription.usage.metric"].create(
            {"name": "API calls", "code": "portal_api_calls", "aggregation": "sum"}
        )
        tiers = [
            Command.create({"currency_id": self.currency.id, "up_to": 10, "unit_price": 5.0}),
            Command.create({"currency_id": self.currency.id, "up_to_unlimited": True, "unit_price": 3.0}),
        ]
        plan = self.env["subscription.plan"].create(
            {
                "name": "Portal Tiered Plan",
                "code": "PTIER",
                "line_ids": [
                    Command.create({"product_id": self.product_portal.id, "price_unit": 75.0, "quantity": 3}),
                    Command.create(
                        {
                            "product_id": self.product_hosting.id,
                            "name": "Seats, tiered",
                            "price_unit": 0.0,
                            "quantity": 12,
                            "pricing_model": "graduated",
                            "tier_ids": tiers,
                        }
                    ),
                    Command.create(
                        {
                            "product_id": self.product_support.id,
                            "name": "API usage",
                            "price_unit": 0.01,
                            "line_type": "usage",
                            "metric_id": metric.id,
                        }
                    ),
                ],
            }
        )
        sub = self._start(plan=plan, partner=self.customer, start_date=date(2026, 1, 1))
        self.authenticate("anna_portal", self.portal_password)
        page = html.fromstring(self._get(f"/my/subscriptions/{sub.id}").text)
        rows = page.xpath("//table[@id='subscription_lines']/tbody/tr")
        cells = [[" ".join(td.text_content().split()) for td in row.xpath("td")] for row in rows]
        portal_row, tiered_row, usage_row = cells
        self.assertEqual(portal_row[1], "3", "a whole quantity without .0")
        self.assertIn("/ month", portal_row[2])
        self.assertIn("/ month", portal_row[3])
        self.assertIn("Tiered, graduated", tiered_row[2], "the tiers, not a 0.00 unit price")
        self.assertIn("up to 10", tiered_row[2])
        self.assertIn("and above", tiered_row[2])
        self.assertEqual(usage_row[1], "", "usage has no quantity of its own")
        self.assertIn("per unit of API calls", usage_row[2])
        self.assertEqual(usage_row[3], "By usage")
        self.assertIn("/ month", page.xpath("string(//div[@id='subscription_content'])"))

    def test_detail_breadcrumb_ends_with_the_subscription_not_an_invoice(self):
        self.authenticate("anna_portal", self.portal_password)
        page = html.fromstring(self._get(f"/my/subscriptions/{self.sub_own.id}").text)
        items = page.xpath("//ol[contains(@class, 'o_portal_submenu')]/li")
        crumbs = [" ".join(li.text_content().split()) for li in items]
        self.assertEqual(crumbs[-1], self.sub_own.name)
        self.assertNotIn(self.invoice_own.name, " ".join(crumbs))

    def test_posted_subscription_invoice_is_the_official_document_not_a_proforma(self):
        invoice = self.invoice_own
        self.assertEqual(invoice.state, "posted")
        self.assertFalse(invoice.invoice_pdf_report_id, "posted by the billing run, not sent")
        token = invoice._portal_ensure_token()
        body = self._get(f"/my/invoices/{invoice.id}?report_type=html&access_token={token}").text
        self.assertIn(invoice.name, body)
        self.assertNotIn("Proforma Invoice", body)
        invoice.invalidate_recordset()
        pdf = invoice.invoice_pdf_report_id
        self.assertTrue(pdf, "the official PDF was generated on first access")
        self.assertFalse(invoice.is_move_sent, "generating it is not sending it")
        response = self._get(f"/my/invoices/{invoice.id}?report_type=pdf&download=1&access_token={token}")
        self.assertEqual(response.content, pdf.raw, "the download is the stored document")
        self.assertEqual(invoice.invoice_pdf_report_id, pdf, "generated once")

    # ------------------------------------------------------------------
    # portal home
    # ------------------------------------------------------------------
    def test_portal_home_has_a_subscriptions_entry_with_its_counter(self):
        self.authenticate("anna_portal", self.portal_password)
        body = self._get("/my").text
        self.assertIn("/my/subscriptions", body)
        self.assertIn("subscription_count", body)
        counters = self.make_jsonrpc_request("/my/counters", {"counters": ["subscription_count"]})
        # started subscriptions of customer A: sub_own and sub_own_contact (the draft does not count)
        self.assertEqual(counters["subscription_count"], 2)
