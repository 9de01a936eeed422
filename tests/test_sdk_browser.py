import html
import json
import re
from unittest.mock import patch
from urllib.parse import parse_qs, quote, urlparse

from odoo.tests import HttpCase, tagged
from odoo.tests.common import ChromeBrowser

from .common import SubscriptionCommon

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY_INPUT = re.compile(r'name="submission_key" value="([^"]+)"')
EMBED_PAGE = "/subscription_billing/static/tests/sdk/sdk_embed.html"
TOUR = "subscription_sdk_embed_signup"


@tagged("post_install", "-at_install", "subscription_billing")
class TestSdkBrowser(SubscriptionCommon, HttpCase):
    """The SDK on a merchant's plain HTML page in Chromium: its pricing table leads to the hosted signup, and the
    signup's confirmation posts the result (subscription id, reference, state) to the allowed opening origin only."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        cls.env.company.sepa_creditor_identifier = "DE98ZZZ09999999999"
        cls.family = cls.env["subscription.plan.family"].create({"name": "Embedded plans"})
        cls.plan_trial = cls._create_plan(
            code="EMB-T",
            name="Embedded Trial",
            price=20.0,
            currency_id=cls.eur.id,
            family_id=cls.family.id,
            rank=1,
            trial_period_count=14,
            trial_period_unit="day",
        )
        cls.plan_other = cls._create_plan(
            code="EMB-S", name="Embedded S", price=10.0, currency_id=cls.eur.id, family_id=cls.family.id, rank=2
        )

    def setUp(self):
        super().setUp()
        self.origin = self.base_url().rstrip("/")
        self.env.company.subscription_sdk_allowed_origins = f"https://shop.example.com\n{self.origin}"

    def _signup(self, sdk_origin, email):
        """Open the form as the SDK's checkout() does (with sdk_origin), submit it; the redirect's URL."""
        page = self.url_open(
            f"/subscribe/{self.family.id}/{self.plan_trial.id}?currency=EUR&sdk_origin={quote(sdk_origin, safe='')}"
        )
        self.assertEqual(page.status_code, 200)
        form = {
            "csrf_token": CSRF_INPUT.search(page.text).group(1),
            "submission_key": KEY_INPUT.search(page.text).group(1),
            "currency": "EUR",
            "customer_type": "person",
            "name": "Paul Popup",
            "email": email,
            "street": "Hauptstraße 3",
            "zip": "10115",
            "city": "Berlin",
            "country_id": str(self.env.ref("base.de").id),
            "payment": "trial",
            "accept_terms": "1",
            "accept_withdrawal": "1",
        }
        hidden = re.search(r'name="sdk_origin" value="([^"]*)"', page.text)
        if hidden:
            form["sdk_origin"] = hidden.group(1)
        response = self.url_open(page.url, data=form, allow_redirects=False)
        self.assertEqual(response.status_code, 303, response.text[:500])
        return response.headers["Location"], bool(hidden)

    def test_confirmation_carries_the_result_for_an_allowed_origin_only(self):
        """An allowed origin travels form -> redirect -> welcome page, which renders the result for it; another
        origin is dropped at the form and the welcome page renders nothing to post."""
        location, hidden = self._signup("https://shop.example.com/", "paul.popup@example.com")
        self.assertTrue(hidden)
        self.assertEqual(parse_qs(urlparse(location).query)["sdk_origin"], ["https://shop.example.com"])
        sub = self.env["subscription.subscription"].search([("partner_id.email", "=", "paul.popup@example.com")])
        self.assertEqual(sub.state, "trial")
        page = self.url_open(location).text
        origin = re.search(r'data-origin="([^"]+)"', page).group(1)
        result = json.loads(html.unescape(re.search(r'data-result="([^"]+)"', page).group(1)))
        self.assertEqual(origin, "https://shop.example.com")
        self.assertEqual(
            result["subscription"],
            {
                "id": sub.id,
                "reference": sub.name,
                "state": "trial",
                "plan_id": self.plan_trial.id,
                "customer_id": sub.partner_id.id,
            },
        )
        location, hidden = self._signup("https://evil.example.com", "eve.popup@example.com")
        self.assertFalse(hidden)
        self.assertNotIn("sdk_origin", location)
        forged = self.url_open(location + "&sdk_origin=https%3A%2F%2Fevil.example.com").text
        self.assertNotIn("o_subscription_checkout_result", forged)

    def test_confirmation_page_posts_the_result_to_the_embedding_page_in_chromium(self):
        """The welcome page, framed by the merchant's plain page, posts {type, status, subscription} with
        window.postMessage to that page's origin; the page prints "test successful" on the right id."""
        location, _hidden = self._signup(self.origin, "fiona.frame@example.com")
        sub = self.env["subscription.subscription"].search([("partner_id.email", "=", "fiona.frame@example.com")])
        self.assertTrue(sub)
        url = f"{EMBED_PAGE}?frame={quote(location, safe='')}&subscription={sub.id}"
        self.browser_js(url, "", ready="window.sbPricingReady === true", timeout=60)

    def test_checkout_popup_resolves_with_the_signup_result_in_chromium(self):
        """checkout() on the plain page opens the hosted signup in a popup; the page fills and submits the form
        there as a customer would (trial, no payment method); checkout() resolves with status "complete" and
        the new trial subscription of the plan, which the page checks before printing "test successful"."""
        url = f"{EMBED_PAGE}?checkout={self.family.id},{self.plan_trial.id}&email=petra.popup%40example.com"
        wait_code_ok = ChromeBrowser._wait_code_ok

        def click_then_wait(browser, code, timeout, error_checker=None):
            # a click with a user gesture (DevTools), as a customer's: browsers block popups opened without one
            params = {"expression": "document.querySelector('#sb-buy').click()", "userGesture": True}
            browser._websocket_request("Runtime.evaluate", params=params)
            return wait_code_ok(browser, code, timeout, error_checker=error_checker)

        with patch.object(ChromeBrowser, "_wait_code_ok", click_then_wait):
            self.browser_js(url, "", ready="window.sbPricingReady === true", timeout=90)
        sub = self.env["subscription.subscription"].search([("partner_id.email", "=", "petra.popup@example.com")])
        self.assertEqual((sub.plan_id, sub.state), (self.plan_trial, "trial"))

    def test_pricing_table_on_a_plain_page_leads_to_a_signup_in_chromium(self):
        """The plain page renders the SDK's pricing table from plans.json; clicking "Choose" of the trial plan
        (the test's code, on the page without Odoo assets) hands over to the tour on the signup form, which
        signs up for the trial without a payment method and ends on the welcome page."""
        config = {
            "mode": "auto",
            "stepDelay": 0,
            "keepWatchBrowser": False,
            "showPointerDuration": 0,
            "debug": False,
            "redirect": False,
            "delayToCheckUndeterminisms": 0,
            "startUrl": EMBED_PAGE,
        }
        code = f"""
            const choose = document.querySelector('.sb-plan[data-plan-id="{self.plan_trial.id}"] a.sb-choose');
            if (!choose || !document.querySelector('.sb-plan[data-plan-id="{self.plan_other.id}"]')) {{
                console.error("the pricing table does not show both plans: " + document.body.innerHTML);
            }} else {{
                localStorage.setItem("current_tour", {json.dumps(TOUR)});
                localStorage.setItem("current_tour.config", {json.dumps(json.dumps(config))});
                localStorage.setItem("current_tour.index", "0");
                choose.click();
            }}
        """
        self.start_tour(
            f"{EMBED_PAGE}?family={self.family.id}&currency=EUR",
            TOUR,
            code=code,
            ready="window.sbPricingReady === true",
        )
        sub = self.env["subscription.subscription"].search([("partner_id.email", "=", "sara.sdk@example.com")])
        self.assertEqual((sub.plan_id, sub.state), (self.plan_trial, "trial"))
