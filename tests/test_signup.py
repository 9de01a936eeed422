import re
from urllib.parse import urlparse

from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY_INPUT = re.compile(r'name="submission_key" value="([^"]+)"')


@tagged("post_install", "-at_install", "subscription_billing")
class TestHostedSignup(SubscriptionCommon, HttpCase):
    """/subscribe/<family>: a visitor sees the plans' prices, signs up with a SEPA mandate or a trial, and gets
    a running subscription, a portal account and a welcome e-mail; once per form, CSRF-protected, rate-limited."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        cls.env.company.sepa_creditor_identifier = "DE98ZZZ09999999999"
        cls.family = cls.env["subscription.plan.family"].create({"name": "Cloud Storage"})
        cls.plan_small = cls._create_plan(
            code="SU-S", name="Storage S", price=10.0, currency_id=cls.eur.id, family_id=cls.family.id, rank=1
        )
        cls.plan_trial = cls._create_plan(
            code="SU-T",
            name="Storage Trial",
            price=20.0,
            currency_id=cls.eur.id,
            family_id=cls.family.id,
            rank=2,
            trial_period_count=14,
            trial_period_unit="day",
        )
        cls.plan_yearly = cls._create_plan(
            code="SU-Y",
            name="Storage S yearly",
            price=100.0,
            currency_id=cls.eur.id,
            family_id=cls.family.id,
            rank=1,
            billing_period_unit="year",
        )
        cls.germany = cls.env.ref("base.de")

    def _form(self, plan, **values):
        page = self.url_open(f"/subscribe/{self.family.id}/{plan.id}?currency=EUR")
        self.assertEqual(page.status_code, 200)
        form = {
            "csrf_token": CSRF_INPUT.search(page.text).group(1),
            "submission_key": KEY_INPUT.search(page.text).group(1),
            "currency": "EUR",
            "customer_type": "person",
            "name": "Erika Signup",
            "email": "erika.signup@example.com",
            "street": "Hauptstraße 1",
            "zip": "10115",
            "city": "Berlin",
            "country_id": str(self.germany.id),
            "payment": "sepa",
            "iban": "DE89 3704 0044 0532 0130 00",
            "account_holder": "Erika Signup",
            "sepa_consent": "1",
            "accept_terms": "1",
            "accept_withdrawal": "1",
        }
        form.update(values)
        return form

    def _subscriptions_of(self, email):
        return self.env["subscription.subscription"].search([("partner_id.email", "=", email)])

    def test_pricing_page_shows_prices_trial_and_the_period_toggle(self):
        body = self.url_open(f"/subscribe/{self.family.id}?currency=EUR&period=month").text
        self.assertIn("Storage S", body)
        self.assertIn("Storage Trial", body)
        self.assertNotIn("Storage S yearly", body, "the yearly plans are behind the toggle")
        self.assertIn("o_subscription_period_toggle", body)
        self.assertIn("o_subscription_pricing_trial", body)
        self.assertIn("10.00", body)
        body = self.url_open(f"/subscribe/{self.family.id}?currency=EUR&period=year").text
        self.assertIn("Storage S yearly", body)
        self.assertIn("100.00", body)

    def test_visitor_signs_up_with_a_sepa_mandate(self):
        response = self.url_open(f"/subscribe/{self.family.id}/{self.plan_small.id}", data=self._form(self.plan_small))
        self.assertEqual(response.status_code, 200)
        self.assertIn("o_subscription_welcome", response.text)
        self.assertEqual(urlparse(response.url).path, urlparse(response.url).path)
        sub = self._subscriptions_of("erika.signup@example.com")
        self.assertEqual(len(sub), 1)
        self.assertEqual(sub.plan_id, self.plan_small)
        self.assertEqual(sub.state, "active")
        self.assertEqual(sub.currency_id, self.eur)
        self.assertEqual(sub.payment_method, "sepa_dd")
        self.assertEqual(sub.sepa_mandate_id.consent_channel, "online")
        self.assertEqual(sub.partner_id.country_id, self.germany)
        self.assertEqual(sub.partner_id.city, "Berlin")
        self.assertTrue(sub.partner_id.user_ids, "a portal account")
        self.assertTrue(sub.partner_id.user_ids.share)
        welcome = self.env["mail.mail"].search([("model", "=", "subscription.subscription"), ("res_id", "=", sub.id)])
        self.assertTrue(welcome.filtered(lambda m: "welcome" in (m.subject or "").lower()))
        signup = self.env["subscription.signup"].search([("subscription_id", "=", sub.id)])
        self.assertTrue(signup.terms_accepted)
        self.assertTrue(signup.withdrawal_acknowledged)

    def test_trial_without_payment_method_where_the_plan_allows_it(self):
        form = self._form(self.plan_trial, payment="trial", iban="", sepa_consent="")
        self.url_open(f"/subscribe/{self.family.id}/{self.plan_trial.id}", data=form)
        sub = self._subscriptions_of("erika.signup@example.com")
        self.assertEqual(sub.state, "trial")
        self.assertFalse(sub.sepa_mandate_id)
        form = self._form(self.plan_small, payment="trial", email="other@example.com")
        response = self.url_open(f"/subscribe/{self.family.id}/{self.plan_small.id}", data=form)
        self.assertIn("needs a payment method", response.text)
        self.assertFalse(self._subscriptions_of("other@example.com"))

    def test_legal_checkboxes_are_required(self):
        form = self._form(self.plan_small, accept_terms="", accept_withdrawal="")
        response = self.url_open(f"/subscribe/{self.family.id}/{self.plan_small.id}", data=form)
        self.assertIn("Please accept the terms and conditions.", response.text)
        self.assertIn("right of withdrawal", response.text)
        self.assertFalse(self._subscriptions_of("erika.signup@example.com"))

    def test_summary_shows_the_taxes_of_the_customers_country(self):
        """A customer in the company's own country: the plan's product carries the company's sale tax,
        10.00 before taxes, 10.00 × (1 + rate) with them."""
        form = self._form(self.plan_small, update="1", country_id=str(self.env.company.country_id.id))
        body = self.url_open(f"/subscribe/{self.family.id}/{self.plan_small.id}", data=form).text
        rate = self.tax_sale.amount
        self.assertGreater(rate, 0)
        self.assertIn("o_subscription_signup_summary", body)
        total = f"{10.0 * (1 + rate / 100):.2f}"
        self.assertIn(total, body)
        self.assertFalse(self._subscriptions_of("erika.signup@example.com"), "an update creates nothing")

    def test_the_same_form_submitted_twice_creates_one_subscription(self):
        form = self._form(self.plan_small)
        self.url_open(f"/subscribe/{self.family.id}/{self.plan_small.id}", data=form)
        self.url_open(f"/subscribe/{self.family.id}/{self.plan_small.id}", data=form)
        self.assertEqual(len(self._subscriptions_of("erika.signup@example.com")), 1)

    def test_rate_limit_per_ip(self):
        self.env["ir.config_parameter"].sudo().set_param("subscription_billing.signup_limit_per_ip", "1")
        self.url_open(f"/subscribe/{self.family.id}/{self.plan_small.id}", data=self._form(self.plan_small))
        form = self._form(self.plan_small, email="second@example.com")
        response = self.url_open(f"/subscribe/{self.family.id}/{self.plan_small.id}", data=form)
        self.assertIn("Too many signups", response.text)
        self.assertFalse(self._subscriptions_of("second@example.com"))

    def test_post_without_csrf_token_is_refused(self):
        form = self._form(self.plan_small)
        del form["csrf_token"]
        with mute_logger("odoo.http"):
            response = self.url_open(f"/subscribe/{self.family.id}/{self.plan_small.id}", data=form)
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self._subscriptions_of("erika.signup@example.com"))

    def test_invalid_iban_creates_nothing(self):
        form = self._form(self.plan_small, iban="DE89 3704 0044 0532 0130 01")
        response = self.url_open(f"/subscribe/{self.family.id}/{self.plan_small.id}", data=form)
        self.assertIn("o_subscription_signup_errors", response.text)
        self.assertFalse(self.env["res.partner"].search([("email", "=", "erika.signup@example.com")]))

    def test_tour_signup_from_the_pricing_page_with_a_sepa_mandate(self):
        self.start_tour(f"/subscribe/{self.family.id}?currency=EUR&period=month", "subscription_signup_sepa")
        sub = self._subscriptions_of("tina.tour@example.com")
        self.assertEqual(sub.plan_id, self.plan_small)
        self.assertEqual(sub.payment_method, "sepa_dd")
        self.assertEqual(sub.state, "active")

    def test_plans_json_feeds_the_sdk_pricing_table(self):
        response = self.url_open(f"/subscribe/{self.family.id}/plans.json?currency=EUR")
        self.assertEqual(response.status_code, 200)
        data = response.json()
        self.assertEqual(data["family"]["name"], "Cloud Storage")
        by_name = {plan["name"]: plan for plan in data["plans"]}
        self.assertEqual(by_name["Storage S"]["price"], 10.0)
        self.assertEqual(by_name["Storage S"]["currency"], "EUR")
        self.assertEqual(by_name["Storage S yearly"]["period_unit"], "year")
        self.assertEqual(by_name["Storage Trial"]["trial_days"], 14)
        self.assertTrue(by_name["Storage S"]["signup_url"].startswith(f"/subscribe/{self.family.id}/"))

    def test_tour_signup_in_german(self):
        self.env["res.lang"]._activate_lang("de_DE")
        self.env["ir.module.module"]._load_module_terms(["portal", "subscription_billing"], ["de_DE"], overwrite=True)
        self.env.invalidate_all()
        self.start_tour(f"/de/subscribe/{self.family.id}?currency=EUR&period=month", "subscription_signup_sepa_de")
        sub = self._subscriptions_of("tina.tour.de@example.com")
        self.assertEqual(sub.plan_id, self.plan_small)
        self.assertEqual(sub.partner_id.lang, "de_DE", "the customer's language is the page's")

    def test_live_iban_check(self):
        """The JSON route the forms call while typing: the same check as on submit."""
        url = "/subscription/iban/check"
        ok = self.make_jsonrpc_request(url, {"iban": "de89370400440532013000"})
        self.assertEqual(ok, {"valid": True, "iban": "DE89 3704 0044 0532 0130 00"})
        wrong = self.make_jsonrpc_request(url, {"iban": "DE89370400440532013001"})
        self.assertFalse(wrong["valid"])
        self.assertTrue(wrong["message"])
