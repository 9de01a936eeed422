import re
from datetime import timedelta
from urllib.parse import parse_qs, urlparse

from odoo import Command, fields
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tests.common import JsonRpcException, freeze_time
from odoo.tools import mute_logger

from .common import SubscriptionCommon

CSRF_JS = re.compile(r'csrf_token: "([^"]+)"')
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY_INPUT = re.compile(r'name="submission_key" value="([^"]+)"')


class PaymentFormCommon(SubscriptionCommon):
    """A tokenizing demo provider of the company, a portal user of the customer, and two running subscriptions."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env.user)
        cls.pm_demo = cls.env.ref("payment_demo.payment_method_demo")
        cls.pm_demo.active = True
        cls.provider = cls.env["payment.provider"].create(
            {
                "name": "Demo (payment form tests)",
                "code": "demo",
                "state": "test",
                "is_published": True,
                "company_id": cls.env.company.id,
                "allow_tokenization": True,
                "payment_method_ids": [Command.set(cls.pm_demo.ids)],
                "inline_form_view_id": cls.env.ref("payment_demo.inline_form").id,
                "token_inline_form_view_id": cls.env.ref("payment_demo.token_inline_form").id,
            }
        )
        cls.portal_user = new_test_user(
            cls.env,
            login="anna_card",
            password="anna_card",  # the tours log in with the login as password
            groups="base.group_portal",
            partner_id=cls.customer_contact.id,
        )
        start = cls.today - timedelta(days=10)
        cls.sub = cls._start(plan=cls.plan_monthly, partner=cls.customer, start_date=start)
        cls.sub_other = cls._start(plan=cls.plan_monthly, partner=cls.other_customer, start_date=start)

    def _validation_tx(self, sub, partner, state="done", details="4242"):
        """What the payment form's transaction route and the demo provider do: a validation transaction for
        ``sub`` that ends in ``state``, then its post-processing (as the status page triggers it)."""
        tx = self.env["payment.transaction"].create(
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.pm_demo.id,
                "reference": self.env["payment.transaction"]._compute_reference("demo", prefix="V-TEST"),
                "amount": 0.0,
                "currency_id": sub.currency_id.id,
                "partner_id": partner.id,
                "operation": "validation",
                "tokenize": True,
                "subscription_tokenize_id": sub.id,
            }
        )
        tx._process("demo", {"reference": tx.reference, "payment_details": details, "simulated_state": state})
        tx._post_process()
        return tx


@tagged("post_install", "-at_install", "subscription_billing")
class TestPaymentFormHook(PaymentFormCommon):
    """The post-processing of a validation transaction sets its token on its own subscription only, only when
    the provider confirmed it, and only for the subscription's own customer."""

    def test_confirmed_validation_makes_the_new_token_the_payment_method(self):
        tx = self._validation_tx(self.sub, self.customer_contact)
        self.assertEqual(tx.state, "done")
        self.assertTrue(tx.token_id, "the demo provider saved the card")
        self.assertEqual(self.sub.payment_method, "token")
        self.assertEqual(self.sub.payment_token_id, tx.token_id)
        self.assertFalse(self.sub.sepa_mandate_id)
        self.assertTrue(
            self.sub.message_ids.filtered(lambda m: "by the customer" in (m.body or "") and "4242" in (m.body or "")),
            "the chatter says the customer chose it",
        )
        self.assertNotEqual(self.sub_other.payment_method, "token", "the other subscription is untouched")

    def test_new_card_replaces_a_sepa_mandate(self):
        """As choosing a saved token does: the method becomes the token and the mandate is no longer used."""
        self.env.company.sepa_creditor_identifier = "DE98ZZZ09999999999"
        eur = self.env.ref("base.EUR")
        eur.active = True
        plan_eur = self._create_plan(code="PF-EUR", name="EUR card", price=10.0, currency_id=eur.id)
        sub = self._start(plan=plan_eur, partner=self.customer, start_date=self.today)
        mandate = sub._portal_sign_sepa_mandate(
            "DE89370400440532013000", "Anna Müller", True, "127.0.0.1", fields.Datetime.now()
        )
        self.assertEqual((sub.payment_method, sub.sepa_mandate_id), ("sepa_dd", mandate))
        tx = self._validation_tx(sub, self.customer_contact)
        self.assertEqual(sub.payment_method, "token")
        self.assertEqual(sub.payment_token_id, tx.token_id)
        self.assertFalse(sub.sepa_mandate_id)

    def test_refused_or_cancelled_validation_leaves_the_method_unchanged(self):
        """payment_demo saves a token even for a refused card (simulated state on the token): the state of the
        transaction, not the token's existence, decides."""
        old = self._validation_tx(self.sub, self.customer_contact, details="1111").token_id
        for state in ("error", "cancel"):
            tx = self._validation_tx(self.sub, self.customer_contact, state=state, details="9999")
            self.assertEqual(tx.state, state)
            self.assertEqual(self.sub.payment_token_id, old, state)
            self.assertEqual(self.sub.payment_method, "token")

    def test_pending_validation_changes_nothing_until_confirmed(self):
        tx = self._validation_tx(self.sub, self.customer_contact, state="pending")
        self.assertEqual(tx.state, "pending")
        self.assertFalse(self.sub.payment_token_id)
        tx._set_done()
        tx._post_process()
        self.assertEqual(self.sub.payment_token_id, tx.token_id, "used once the provider confirms")

    def test_token_of_another_customer_is_never_attached(self):
        """A transaction tied to Müller's subscription but made by Schmidt (so Schmidt's token) changes nothing."""
        tx = self._validation_tx(self.sub, self.other_customer)
        self.assertEqual(tx.state, "done")
        self.assertEqual(tx.token_id.partner_id, self.other_customer)
        self.assertFalse(self.sub.payment_token_id)
        self.assertFalse(self.sub_other.payment_token_id, "nor on the token owner's own subscription")

    def test_hook_acts_only_on_the_transactions_own_subscription(self):
        tx = self._validation_tx(self.sub, self.customer_contact)
        self.assertTrue(self.sub_other._payment_form_use_transaction(tx) is False)
        self.assertFalse(self.sub_other.payment_token_id)

    def test_ended_subscription_keeps_its_state_and_says_why(self):
        """Ended while the customer was in the payment form: no method is set, the chatter says why."""
        self.sub._change_state("ended", self.today)
        tx = self._validation_tx(self.sub, self.customer_contact)
        self.assertEqual(self.sub.state, "ended")
        self.assertFalse(self.sub.payment_token_id)
        self.assertIn("could not be used", self.sub.message_ids[0].body)
        self.assertTrue(tx.token_id.active, "the token stays the customer's")


@tagged("post_install", "-at_install", "subscription_billing")
class TestPaymentFormHttp(PaymentFormCommon, HttpCase):
    """The payment form page and its transaction route: only the subscription's customer (or its access token),
    only with the CSRF token, only validation transactions of tokenizing providers, tied to that subscription."""

    def _page(self, sub, access_token=None):
        url = f"/my/subscriptions/{sub.id}/payment-method" + (f"?access_token={access_token}" if access_token else "")
        return self.url_open(url)

    def _tx_params(self, csrf, **extra):
        return {
            "provider_id": self.provider.id,
            "payment_method_id": self.pm_demo.id,
            "token_id": None,
            "amount": None,
            "flow": "direct",
            "tokenization_requested": True,
            "landing_route": "https://evil.example/steal",
            "is_validation": True,
            "csrf_token": csrf,
            **extra,
        }

    def _txs(self, sub):
        return self.env["payment.transaction"].search([("subscription_tokenize_id", "=", sub.id)])

    def test_page_renders_odoos_payment_form_in_validation_mode(self):
        self.authenticate("anna_card", "anna_card")
        page = self._page(self.sub)
        self.assertEqual(page.status_code, 200)
        self.assertIn('id="o_payment_form"', page.text)
        self.assertIn('data-mode="validation"', page.text)
        self.assertIn(f'data-transaction-route="/my/subscriptions/{self.sub.id}/payment-method/transaction"', page.text)
        self.assertIn(f'data-provider-id="{self.provider.id}"', page.text)
        self.assertIn('name="customer_input"', page.text, "the demo provider's inline card form")

    def test_page_without_tokenizing_provider_says_so(self):
        self.provider.allow_tokenization = False
        self.authenticate("anna_card", "anna_card")
        page = self._page(self.sub)
        self.assertNotIn('id="o_payment_form"', page.text)
        self.assertIn("o_subscription_no_payment_provider", page.text)

    def test_transaction_route_ties_a_validation_to_the_subscription_and_keeps_our_landing_route(self):
        self.authenticate("anna_card", "anna_card")
        csrf = CSRF_JS.search(self._page(self.sub).text).group(1)
        values = self.make_jsonrpc_request(
            f"/my/subscriptions/{self.sub.id}/payment-method/transaction", self._tx_params(csrf)
        )
        tx = self._txs(self.sub)
        self.assertEqual(len(tx), 1)
        self.assertEqual(values["reference"], tx.reference)
        self.assertEqual(tx.operation, "validation")
        self.assertTrue(tx.tokenize)
        self.assertEqual(tx.partner_id, self.customer_contact, "the logged-in contact of the customer")
        self.assertEqual(urlparse(tx.landing_route).path, f"/my/subscriptions/{self.sub.id}/payment-method/return")
        self.assertNotIn("evil", tx.landing_route)

    def test_another_customers_subscription_id_is_refused(self):
        self.authenticate("anna_card", "anna_card")
        page = self._page(self.sub_other)
        self.assertEqual(urlparse(page.url).path, "/my")
        csrf = CSRF_JS.search(self._page(self.sub).text).group(1)
        with self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
            self.make_jsonrpc_request(
                f"/my/subscriptions/{self.sub_other.id}/payment-method/transaction", self._tx_params(csrf)
            )
        self.assertFalse(self._txs(self.sub_other))

    def test_forged_access_token_is_refused_and_the_real_one_works(self):
        token = self.sub_other._portal_ensure_token()
        page = self._page(self.sub_other, "forged")
        self.assertIn(urlparse(page.url).path, ("/my", "/web/login"))
        page = self._page(self.sub_other, token)
        self.assertIn('id="o_payment_form"', page.text, "the subscription's own access token opens it")
        csrf = CSRF_JS.search(page.text).group(1)
        with self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
            self.make_jsonrpc_request(
                f"/my/subscriptions/{self.sub_other.id}/payment-method/transaction",
                self._tx_params(csrf, access_token="forged"),
            )
        self.assertFalse(self._txs(self.sub_other))
        self.make_jsonrpc_request(
            f"/my/subscriptions/{self.sub_other.id}/payment-method/transaction",
            self._tx_params(csrf, access_token=token),
        )
        tx = self._txs(self.sub_other)
        self.assertEqual(tx.partner_id, self.other_customer, "an anonymous visitor saves it for the customer")

    def test_transaction_without_csrf_token_is_refused(self):
        self.authenticate("anna_card", "anna_card")
        with self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
            self.make_jsonrpc_request(
                f"/my/subscriptions/{self.sub.id}/payment-method/transaction", self._tx_params(None)
            )
        self.assertFalse(self._txs(self.sub))

    def test_provider_that_cannot_tokenize_and_token_flow_are_refused(self):
        self.authenticate("anna_card", "anna_card")
        csrf = CSRF_JS.search(self._page(self.sub).text).group(1)
        other = self.provider.copy({"name": "No tokens", "allow_tokenization": False, "state": "test"})
        for params in (self._tx_params(csrf, provider_id=other.id), self._tx_params(csrf, flow="token")):
            with self.assertRaises(JsonRpcException), mute_logger("odoo.http"):
                self.make_jsonrpc_request(f"/my/subscriptions/{self.sub.id}/payment-method/transaction", params)
        self.assertFalse(self._txs(self.sub))

    def test_failed_card_keeps_the_method_and_the_page_says_so(self):
        self.authenticate("anna_card", "anna_card")
        csrf = CSRF_JS.search(self._page(self.sub).text).group(1)
        values = self.make_jsonrpc_request(
            f"/my/subscriptions/{self.sub.id}/payment-method/transaction", self._tx_params(csrf)
        )
        self.make_jsonrpc_request(
            "/payment/demo/simulate_payment",
            {"reference": values["reference"], "payment_details": "9999", "simulated_state": "error"},
        )
        page = self.url_open(f"/my/subscriptions/{self.sub.id}/payment-method/return")
        self.assertEqual(parse_qs(urlparse(page.url).query)["message"], ["error"])
        self.assertIn("keeps its current payment method", page.text)
        self.assertFalse(self.sub.payment_token_id)

    # ------------------------------------------------------------------
    # tours in Chromium, through payment_demo's form
    # ------------------------------------------------------------------
    def test_tour_portal_add_card(self):
        self.start_tour(f"/my/subscriptions/{self.sub.id}", "subscription_portal_add_card", login="anna_card")
        self.assertEqual(self.sub.payment_method, "token")
        self.assertEqual(self.sub.payment_token_id.payment_details, "4242")
        self.assertEqual(self.sub.payment_token_id.partner_id, self.customer_contact)

    def test_tour_portal_add_card_in_german(self):
        self.env["res.lang"]._activate_lang("de_DE")
        self.env["ir.module.module"]._load_module_terms(
            ["portal", "payment", "subscription_billing"], ["de_DE"], overwrite=True
        )
        self.env.invalidate_all()
        self.portal_user.lang = "de_DE"
        self.start_tour(f"/my/subscriptions/{self.sub.id}", "subscription_portal_add_card_de", login="anna_card")
        self.assertEqual(self.sub.payment_token_id.payment_details, "4242")


@tagged("post_install", "-at_install", "subscription_billing")
class TestSignupWithCard(PaymentFormCommon, HttpCase):
    """Signup with "card": the subscription is a draft until the payment form's validation is confirmed; then it
    starts with that token (welcome e-mail, portal account); a refused card leaves it a draft and says so."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        cls.family = cls.env["subscription.plan.family"].create({"name": "Card Storage"})
        cls.plan_card = cls._create_plan(
            code="SU-C", name="Storage Card", price=10.0, currency_id=cls.eur.id, family_id=cls.family.id, rank=1
        )

    def _signup_by_card(self, email="carla.card@example.com", sdk_origin=None):
        query = f"&sdk_origin={sdk_origin}" if sdk_origin else ""
        page = self.url_open(f"/subscribe/{self.family.id}/{self.plan_card.id}?currency=EUR{query}")
        self.assertIn('id="payment_card"', page.text, "the card choice is offered: a provider can tokenize")
        form = {
            "csrf_token": CSRF_INPUT.search(page.text).group(1),
            "submission_key": KEY_INPUT.search(page.text).group(1),
            "currency": "EUR",
            "customer_type": "person",
            "name": "Carla Card",
            "email": email,
            "street": "Hauptstraße 1",
            "zip": "10115",
            "city": "Berlin",
            "country_id": str(self.env.ref("base.de").id),
            "payment": "card",
            "accept_terms": "1",
            "accept_withdrawal": "1",
        }
        if sdk_origin:
            form["sdk_origin"] = sdk_origin
        response = self.url_open(f"/subscribe/{self.family.id}/{self.plan_card.id}", data=form)
        sub = self.env["subscription.signup"].search([("email", "=", email)]).subscription_id
        return response, sub

    def test_card_signup_waits_as_a_draft_then_starts_with_the_token(self):
        response, sub = self._signup_by_card()
        self.assertEqual(urlparse(response.url).path, f"/my/subscriptions/{sub.id}/payment-method")
        self.assertIn('data-mode="validation"', response.text)
        self.assertEqual(sub.state, "draft", "nothing runs before the payment method is confirmed")
        self.assertFalse(self.env["mail.mail"].search([("model", "=", sub._name), ("res_id", "=", sub.id)]))
        tx = self._validation_tx(sub, sub.partner_id)
        self.assertEqual(sub.state, "active")
        self.assertEqual(sub.payment_token_id, tx.token_id)
        self.assertEqual(sub.start_date, self.today)
        self.assertTrue(sub.partner_id.user_ids, "portal account granted")
        self.assertTrue(self.env["mail.mail"].search([("model", "=", sub._name), ("res_id", "=", sub.id)]))
        self.assertFalse(
            self.env["subscription.signup"].search([("subscription_id", "=", sub.id)]).awaiting_payment_method
        )

    def test_refused_card_leaves_the_signup_a_draft_and_the_page_says_so(self):
        _response, sub = self._signup_by_card()
        token = sub._portal_ensure_token()
        page = self.url_open(f"/my/subscriptions/{sub.id}/payment-method?access_token={token}")
        csrf = CSRF_JS.search(page.text).group(1)
        params = {
            "provider_id": self.provider.id,
            "payment_method_id": self.pm_demo.id,
            "token_id": None,
            "amount": None,
            "flow": "direct",
            "tokenization_requested": True,
            "landing_route": "",
            "is_validation": True,
            "csrf_token": csrf,
            "access_token": token,
        }
        values = self.make_jsonrpc_request(f"/my/subscriptions/{sub.id}/payment-method/transaction", params)
        self.make_jsonrpc_request(
            "/payment/demo/simulate_payment",
            {"reference": values["reference"], "payment_details": "9999", "simulated_state": "error"},
        )
        page = self.url_open(f"/my/subscriptions/{sub.id}/payment-method/return?access_token={token}&signup=1")
        self.assertIn("has not started", page.text)
        self.assertIn("o_subscription_signup_retry_payment", page.text)
        self.assertEqual(sub.state, "draft")
        self.assertFalse(sub.payment_token_id)

    def test_card_signup_opened_by_the_sdk_posts_its_result_after_the_payment_form(self):
        """checkout() with a card: the SDK's origin (allowed by the company) survives the payment form. After the
        demo provider confirms the card, the landing route sends the customer to the welcome page with that
        origin, and the page carries the result (the now active subscription) for it; without the origin on the
        signup the same flow carries nothing."""
        origin = "https://shop.example.com"
        self.env.company.subscription_sdk_allowed_origins = origin
        _response, sub = self._signup_by_card(sdk_origin=origin)
        self.assertEqual(self.env["subscription.signup"].search([("subscription_id", "=", sub.id)]).sdk_origin, origin)
        token = sub._portal_ensure_token()
        page = self.url_open(f"/my/subscriptions/{sub.id}/payment-method?access_token={token}")
        params = {
            "provider_id": self.provider.id,
            "payment_method_id": self.pm_demo.id,
            "token_id": None,
            "amount": None,
            "flow": "direct",
            "tokenization_requested": True,
            "landing_route": "",
            "is_validation": True,
            "csrf_token": CSRF_JS.search(page.text).group(1),
            "access_token": token,
        }
        values = self.make_jsonrpc_request(f"/my/subscriptions/{sub.id}/payment-method/transaction", params)
        self.make_jsonrpc_request(
            "/payment/demo/simulate_payment",
            {"reference": values["reference"], "payment_details": "4242", "simulated_state": "done"},
        )
        response = self.url_open(f"/my/subscriptions/{sub.id}/payment-method/return?access_token={token}&signup=1")
        query = parse_qs(urlparse(response.url).query)
        self.assertEqual((query["message"], query["sdk_origin"]), (["welcome"], [origin]))
        self.assertEqual(sub.state, "active")
        self.assertIn(f'data-origin="{origin}"', response.text)
        self.assertIn("o_subscription_checkout_result", response.text)

    def test_card_signup_left_without_a_payment_method_is_discarded_after_three_days(self):
        """Three card signups: one left on the payment form 4 days ago, one 2 days ago, one 4 days ago whose
        card was confirmed (started). The daily clean-up (default 3 days) deletes only the first draft and
        marks its signup abandoned; its customer stays; the others are untouched."""
        _response, left = self._signup_by_card("left.card@example.com")
        _response, recent = self._signup_by_card("recent.card@example.com")
        _response, started = self._signup_by_card("started.card@example.com")
        self._validation_tx(started, started.partner_id)
        self.assertEqual(started.state, "active")
        Signup = self.env["subscription.signup"]
        signups = {sub: Signup.search([("subscription_id", "=", sub.id)]) for sub in (left, recent, started)}
        now = fields.Datetime.now()
        for sub, age in ((left, 4), (recent, 2), (started, 4)):
            self.env.cr.execute(
                "UPDATE subscription_signup SET create_date = %s WHERE id = %s",
                (now - timedelta(days=age), signups[sub].id),
            )
        Signup.invalidate_model(["create_date"])
        customer = left.partner_id
        cron = self.env.ref("subscription_billing.ir_cron_subscription_discard_abandoned_card_signups")
        with freeze_time(now), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        self.assertFalse(left.exists(), "the abandoned draft is deleted")
        self.assertEqual(signups[left].abandoned_date, now)
        self.assertFalse(signups[left].awaiting_payment_method)
        self.assertTrue(customer.exists())
        self.assertEqual((recent.state, signups[recent].awaiting_payment_method), ("draft", True))
        self.assertFalse(signups[recent].abandoned_date)
        self.assertEqual(started.state, "active")
        self.assertFalse(signups[started].abandoned_date)

    def test_card_choice_is_refused_without_a_tokenizing_provider(self):
        self.provider.allow_tokenization = False
        page = self.url_open(f"/subscribe/{self.family.id}/{self.plan_card.id}?currency=EUR")
        self.assertNotIn('id="payment_card"', page.text)
        values, errors = self.env["subscription.signup"]._validate_form(self.plan_card, {"payment": "card"})
        self.assertEqual(values["payment"], "card")
        self.assertIn("payment", errors)

    def test_tour_signup_with_card(self):
        self.start_tour(f"/subscribe/{self.family.id}?currency=EUR&period=month", "subscription_signup_card")
        sub = self.env["subscription.signup"].search([("email", "=", "carla.tour@example.com")]).subscription_id
        self.assertEqual(sub.state, "active")
        self.assertEqual(sub.payment_method, "token")
        self.assertEqual(sub.payment_token_id.payment_details, "4242")

    def test_tour_signup_with_card_in_german(self):
        self.env["res.lang"]._activate_lang("de_DE")
        self.env["ir.module.module"]._load_module_terms(
            ["portal", "payment", "subscription_billing"], ["de_DE"], overwrite=True
        )
        self.env.invalidate_all()
        self.start_tour(f"/de/subscribe/{self.family.id}?currency=EUR&period=month", "subscription_signup_card_de")
        sub = self.env["subscription.signup"].search([("email", "=", "carla.tour.de@example.com")]).subscription_id
        self.assertEqual(sub.state, "active")
        self.assertEqual(sub.payment_token_id.payment_details, "4242")
        self.assertEqual(sub.partner_id.lang, "de_DE")
