import re
from datetime import timedelta
from urllib.parse import urlparse

from dateutil.relativedelta import relativedelta
from freezegun import freeze_time

from odoo import Command, fields
from odoo.exceptions import UserError, ValidationError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@tagged("post_install", "-at_install", "subscription_billing")
class TestPortalSelfService(SubscriptionCommon, HttpCase):
    """Customers change plan, pause, resume, cancel and reactivate on their subscription page; only on their
    own subscriptions (or with its access token), only what the plan allows, never without the CSRF token."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env.user)
        cls.family = cls.env["subscription.plan.family"].create({"name": "Self-service tiers"})
        cls.plan_basic = cls._create_plan(
            code="SS-B",
            name="Basic Self",
            price=10.0,
            family_id=cls.family.id,
            rank=1,
            portal_pause_allowed=True,
            portal_max_pause_days=60,
        )
        cls.plan_pro = cls._create_plan(
            code="SS-P",
            name="Pro Self",
            price=20.0,
            family_id=cls.family.id,
            rank=2,
            portal_pause_allowed=True,
        )
        cls.plan_pro.write({"retention_offer": "downgrade", "retention_plan_id": cls.plan_basic.id})
        cls.portal_password = "anna_self"  # the tour logs in with the login as password
        cls.portal_user = new_test_user(
            cls.env,
            login="anna_self",
            password=cls.portal_password,
            groups="base.group_portal",
            partner_id=cls.customer_contact.id,
        )
        start = cls.today - timedelta(days=10)
        cls.sub = cls._start(plan=cls.plan_basic, partner=cls.customer, start_date=start)
        cls.sub._run_billing(cls.today)
        cls.sub_other = cls._start(plan=cls.plan_basic, partner=cls.other_customer, start_date=start)

    def _csrf(self, url):
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200, url)
        return CSRF_INPUT.search(response.text).group(1)

    def _post(self, url, data, page=None):
        csrf = self._csrf(page or f"/my/subscriptions/{self.sub.id}")
        return self.url_open(url, data={**data, "csrf_token": csrf})

    # ------------------------------------------------------------------
    # model rules (what the server re-checks)
    # ------------------------------------------------------------------
    def test_preview_in_the_portal_is_the_backend_wizards(self):
        """The portal builds the same wizard as the backend: the preview HTML is identical."""
        backend = self.env["subscription.change.wizard"].create(
            {"subscription_id": self.sub.id, "new_plan_id": self.plan_pro.id, "timing": "immediate"}
        )
        portal = self.sub._portal_prepare_change_wizard(self.plan_pro.id, {}, "immediate", self.today)
        self.assertTrue(backend.preview_html)
        self.assertEqual(str(portal.preview_html), str(backend.preview_html))

    def test_a_plan_outside_the_family_is_refused(self):
        with self.assertRaises(UserError):
            self.sub._portal_change(self.plan_monthly.id, {}, "period_end", self.today)
        self.assertEqual(self.sub.plan_id, self.plan_basic)

    def test_pause_longer_than_the_plan_allows_is_refused(self):
        """Basic allows 60 days: today + 61 is refused, today + 60 is accepted."""
        with self.assertRaises(ValidationError):
            self.sub._portal_pause(self.today + timedelta(days=61), self.today)
        self.assertEqual(self.sub.state, "active")
        self.sub._portal_pause(self.today + timedelta(days=60), self.today)
        self.assertEqual(self.sub.state, "paused")
        self.assertEqual(self.sub.pause_resume_date, self.today + timedelta(days=60))

    def test_pause_is_refused_where_the_plan_does_not_allow_it(self):
        self.plan_basic.portal_pause_allowed = False
        with self.assertRaises(UserError):
            self.sub._portal_pause(self.today + timedelta(days=5), self.today)

    def test_cron_resumes_when_the_pause_ends(self):
        """Paused today until today + 20: the cron record resumes it on that day, not the day before."""
        self.sub._portal_pause(self.today + timedelta(days=20), self.today)
        cron = self.env.ref("subscription_billing.ir_cron_subscription_resume_paused")
        for days, state in ((19, "paused"), (20, "active")):
            with freeze_time(self.today + timedelta(days=days)), self.enter_registry_test_mode():
                cron.method_direct_trigger()
            self.assertEqual(self.sub.state, state, f"today + {days}")
        self.assertFalse(self.sub.pause_resume_date)

    def test_retention_downgrade_must_stay_in_the_family(self):
        with self.assertRaises(ValidationError):
            self.plan_pro.retention_plan_id = self.plan_monthly

    # ------------------------------------------------------------------
    # over HTTP
    # ------------------------------------------------------------------
    def test_customer_changes_plan_at_period_end(self):
        self.authenticate("anna_self", self.portal_password)
        page = self.url_open(
            f"/my/subscriptions/{self.sub.id}/change?plan_id={self.plan_pro.id}&timing=period_end"
        ).text
        self.assertIn("Confirm the change", page)
        self.assertIn("Nothing to prorate", page, "at period end nothing is prorated")
        line = self.plan_pro.line_ids
        response = self._post(
            f"/my/subscriptions/{self.sub.id}/change",
            {"plan_id": self.plan_pro.id, "timing": "period_end", f"qty_{line.id}": "1"},
        )
        self.assertEqual(response.status_code, 200)
        self.assertIn("Your change has been saved.", response.text)
        change = self.sub.change_ids
        self.assertEqual(change.state, "scheduled")
        self.assertEqual(change.new_plan_id, self.plan_pro)
        self.assertIn("by the customer", self.sub.message_ids[0].body)

    def test_customer_cancels_and_reactivates(self):
        """Basic (business terms, no notice period, no minimum term) started 10 days ago: cancelled today,
        it runs to the end of the monthly period it is in, the day before the start's monthly anniversary."""
        reason = self.env.ref("subscription_billing.cancellation_reason_price")
        self.authenticate("anna_self", self.portal_password)
        page = self.url_open(f"/my/subscriptions/{self.sub.id}/cancel").text
        self.assertIn("Too expensive", page)
        response = self._post(
            f"/my/subscriptions/{self.sub.id}/cancel",
            {"reason_id": reason.id},
            page=f"/my/subscriptions/{self.sub.id}/cancel",
        )
        self.assertIn("Your subscription has been cancelled.", response.text)
        self.assertEqual(self.sub.state, "notice")
        self.assertEqual(self.sub.cancellation_reason, "Too expensive")
        start = self.today - timedelta(days=10)
        self.assertEqual(self.sub.end_date, start + relativedelta(months=1) - timedelta(days=1))
        response = self._post(f"/my/subscriptions/{self.sub.id}/reactivate", {})
        self.assertIn("Your cancellation has been withdrawn.", response.text)
        self.assertEqual(self.sub.state, "active")

    def test_cancel_page_shows_the_retention_offer(self):
        self.sub._change(
            {"plan_id": self.plan_pro.id, "lines": {str(self.plan_pro.line_ids.id): 1}}, "immediate", self.today
        )
        self.assertEqual(self.sub.plan_id, self.plan_pro)
        self.authenticate("anna_self", self.portal_password)
        page = self.url_open(f"/my/subscriptions/{self.sub.id}/cancel").text
        self.assertIn("o_subscription_retention_offer", page)
        self.assertIn(f"plan_id={self.plan_basic.id}", page)

    def test_pause_and_resume_over_http(self):
        self.authenticate("anna_self", self.portal_password)
        resume = fields.Date.to_string(self.today + timedelta(days=30))
        response = self._post(f"/my/subscriptions/{self.sub.id}/pause", {"resume_date": resume})
        self.assertIn("Your subscription is paused.", response.text)
        self.assertEqual(self.sub.state, "paused")
        response = self._post(f"/my/subscriptions/{self.sub.id}/resume", {})
        self.assertIn("Your subscription runs again.", response.text)
        self.assertEqual(self.sub.state, "active")

    def test_refused_action_shows_the_reason_and_changes_nothing(self):
        self.authenticate("anna_self", self.portal_password)
        resume = fields.Date.to_string(self.today + timedelta(days=365))
        response = self._post(f"/my/subscriptions/{self.sub.id}/pause", {"resume_date": resume})
        self.assertIn("o_subscription_self_service_error", response.text)
        self.assertIn("the pause must end between", response.text)
        self.assertEqual(self.sub.state, "active")

    # ------------------------------------------------------------------
    # access probes
    # ------------------------------------------------------------------
    def test_another_customers_subscription_by_id_is_refused(self):
        self.authenticate("anna_self", self.portal_password)
        csrf = self._csrf(f"/my/subscriptions/{self.sub.id}")
        for path, data in (
            ("cancel", {}),
            ("pause", {"resume_date": fields.Date.to_string(self.today + timedelta(days=5))}),
            ("change", {"plan_id": self.plan_pro.id, "timing": "period_end"}),
        ):
            response = self.url_open(f"/my/subscriptions/{self.sub_other.id}/{path}", data={**data, "csrf_token": csrf})
            self.assertEqual(urlparse(response.url).path, "/my", path)
        response = self.url_open(f"/my/subscriptions/{self.sub_other.id}/change?plan_id={self.plan_pro.id}")
        self.assertEqual(urlparse(response.url).path, "/my")
        self.assertNotIn(self.sub_other.name, response.text)
        self.assertEqual(self.sub_other.state, "active")
        self.assertFalse(self.sub_other.change_ids)

    def test_forged_access_token_is_refused_and_the_real_one_works(self):
        token = self.sub_other._portal_ensure_token()
        csrf = self._csrf("/contract-cancellation")
        response = self.url_open(
            f"/my/subscriptions/{self.sub_other.id}/cancel", data={"access_token": "forged", "csrf_token": csrf}
        )
        self.assertIn(urlparse(response.url).path, ("/my", "/web/login"), "refused: to the portal home (login)")
        self.assertEqual(self.sub_other.state, "active")
        response = self.url_open(
            f"/my/subscriptions/{self.sub_other.id}/cancel", data={"access_token": token, "csrf_token": csrf}
        )
        self.assertEqual(self.sub_other.state, "notice", "the subscription's own access token opens it")

    def test_posts_without_csrf_token_are_refused(self):
        self.authenticate("anna_self", self.portal_password)
        with mute_logger("odoo.http"):
            for path, data in (
                ("cancel", {}),
                ("pause", {"resume_date": fields.Date.to_string(self.today + timedelta(days=5))}),
                ("change", {"plan_id": self.plan_pro.id, "timing": "period_end"}),
            ):
                response = self.url_open(f"/my/subscriptions/{self.sub.id}/{path}", data=data, method="POST")
                self.assertEqual(response.status_code, 400, path)
        self.assertEqual(self.sub.state, "active")
        self.assertFalse(self.sub.change_ids)

    # ------------------------------------------------------------------
    # tour in Chromium
    # ------------------------------------------------------------------
    def test_tour_upgrade_with_preview_then_cancel(self):
        self.start_tour(f"/my/subscriptions/{self.sub.id}", "subscription_portal_self_service", login="anna_self")
        self.assertEqual(self.sub.plan_id, self.plan_pro, "upgraded immediately")
        self.assertEqual(self.sub.state, "notice")

    def test_tour_upgrade_with_preview_then_cancel_in_german(self):
        self.env["res.lang"]._activate_lang("de_DE")
        self.env["ir.module.module"]._load_module_terms(["portal", "subscription_billing"], ["de_DE"], overwrite=True)
        self.env.invalidate_all()
        self.portal_user.lang = "de_DE"
        self.start_tour(f"/my/subscriptions/{self.sub.id}", "subscription_portal_self_service_de", login="anna_self")
        self.assertEqual(self.sub.plan_id, self.plan_pro)
        self.assertEqual(self.sub.state, "notice")
        self.assertEqual(self.sub.cancellation_reason, "Zu teuer", "the reason as the customer chose it")

    # ------------------------------------------------------------------
    # payment method
    # ------------------------------------------------------------------
    def _demo_token(self, partner, ref="4242"):
        pm_demo = self.env.ref("payment_demo.payment_method_demo")
        pm_demo.active = True
        provider = self.env["payment.provider"].search([("name", "=", "Demo (self-service tests)")]) or self.env[
            "payment.provider"
        ].create(
            {
                "name": "Demo (self-service tests)",
                "code": "demo",
                "state": "test",
                "company_id": self.env.company.id,
                "allow_tokenization": True,
                "payment_method_ids": [Command.set(pm_demo.ids)],
            }
        )
        return self.env["payment.token"].create(
            {
                "provider_id": provider.id,
                "payment_method_id": pm_demo.id,
                "partner_id": partner.id,
                "payment_details": ref,
                "provider_ref": f"demo-self-service-{ref}",
            }
        )

    def test_customer_chooses_a_saved_payment_method_of_their_own_only(self):
        own = self._demo_token(self.customer_contact, "1111")
        foreign = self._demo_token(self.other_customer, "2222")
        self.authenticate("anna_self", self.portal_password)
        page = self.url_open(f"/my/subscriptions/{self.sub.id}").text
        self.assertIn("1111", page)
        self.assertNotIn("2222", page, "another customer's card is not offered")
        response = self._post(f"/my/subscriptions/{self.sub.id}/payment-token", {"token_id": foreign.id})
        self.assertIn("choose one of your saved payment methods", response.text)
        self.assertNotEqual(self.sub.payment_method, "token")
        response = self._post(f"/my/subscriptions/{self.sub.id}/payment-token", {"token_id": own.id})
        self.assertIn("Your payment method has been changed.", response.text)
        self.assertEqual(self.sub.payment_method, "token")
        self.assertEqual(self.sub.payment_token_id, own)

    def test_customer_signs_a_sepa_mandate_online(self):
        """Consent text with the creditor identifier; wrong check digits and a missing consent are refused;
        a signed mandate is active, online, with IP and time, used by the subscription and e-mailed as PDF."""
        self.env.company.sepa_creditor_identifier = "DE98ZZZ09999999999"
        eur = self.env.ref("base.EUR")
        eur.active = True
        plan_eur = self._create_plan(code="SS-EUR", name="EUR Self", price=10.0, currency_id=eur.id)
        sub = self._start(plan=plan_eur, partner=self.customer, start_date=self.today)
        self.assertEqual(sub.currency_id, eur)
        self.authenticate("anna_self", self.portal_password)
        sepa_page = f"/my/subscriptions/{sub.id}/sepa-mandate"
        page = self.url_open(sepa_page).text
        self.assertIn("DE98ZZZ09999999999", page, "the consent text names the creditor identifier")
        signed = {"iban": "DE89 3704 0044 0532 0130 00", "account_holder": "Müller GmbH", "consent": "1"}
        response = self._post(sepa_page, {**signed, "iban": "DE89 3704 0044 0532 0130 01"}, page=sepa_page)
        self.assertIn("o_subscription_self_service_error", response.text, "wrong check digits")
        response = self._post(sepa_page, {**signed, "consent": ""}, page=sepa_page)
        self.assertIn("please agree to the direct debit mandate", response.text)
        self.assertFalse(sub.sepa_mandate_id)
        self.assertFalse(self.env["sepa.mandate"].search([("partner_id", "=", self.customer.id)]))
        response = self._post(sepa_page, signed, page=sepa_page)
        mandate = sub.sepa_mandate_id
        self.assertTrue(mandate)
        self.assertIn(mandate.reference, response.text, "the mandate reference is shown")
        self.assertEqual(mandate.state, "active")
        self.assertEqual(mandate.consent_channel, "online")
        self.assertEqual(mandate.online_ip_address, "127.0.0.1")
        self.assertTrue(mandate.online_signed_at)
        self.assertEqual(mandate.partner_bank_id.sanitized_acc_number, "DE89370400440532013000")
        self.assertEqual(sub.payment_method, "sepa_dd")
        mail = self.env["mail.mail"].sudo().search([("model", "=", "sepa.mandate"), ("res_id", "=", mandate.id)])
        self.assertEqual(len(mail), 1, "a copy by e-mail")
        self.assertTrue(mail.attachment_ids, "with the mandate attached")

    def test_refused_mandate_leaves_nothing_behind(self):
        """The USD subscription cannot be paid by SEPA (euro only): the error is shown and no mandate or bank
        account is left half-created."""
        self.env.company.sepa_creditor_identifier = "DE98ZZZ09999999999"
        self.authenticate("anna_self", self.portal_password)
        sepa_page = f"/my/subscriptions/{self.sub.id}/sepa-mandate"
        signed = {"iban": "DE89 3704 0044 0532 0130 00", "account_holder": "Müller GmbH", "consent": "1"}
        banks_before = self.env["res.partner.bank"].search_count([])
        response = self._post(sepa_page, signed, page=sepa_page)
        self.assertIn("SEPA direct debit collects euro only", response.text)
        self.assertFalse(self.env["sepa.mandate"].search([("partner_id", "=", self.customer.id)]))
        self.assertEqual(self.env["res.partner.bank"].search_count([]), banks_before, "no bank account left")

    # ------------------------------------------------------------------
    # usage so far and the upcoming invoice
    # ------------------------------------------------------------------
    def test_page_shows_usage_so_far_and_the_upcoming_invoice(self):
        """120 API calls not billed yet at 0.05 each: 6.00 so far. The recurring lines of the next invoice:
        Basic Self, 10.00."""
        metric = self.env["subscription.usage.metric"].create(
            {"name": "Self API calls", "code": "self_api_calls", "aggregation": "sum"}
        )
        self.sub.write(
            {
                "line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_support.id,
                            "name": "API usage",
                            "price_unit": 0.05,
                            "line_type": "usage",
                            "metric_id": metric.id,
                        }
                    )
                ]
            }
        )
        for n, quantity in enumerate((100, 20)):
            self.env["subscription.usage.record"].create(
                {
                    "subscription_id": self.sub.id,
                    "metric_id": metric.id,
                    "quantity": quantity,
                    "timestamp": fields.Datetime.now() - timedelta(hours=n + 1),
                    "idempotency_key": f"self-service-{n}",
                }
            )
        usage = self.sub._portal_get_usage_so_far(self.today)
        self.assertEqual([(u["line"].metric_id, u["quantity"], u["amount"]) for u in usage], [(metric, 120.0, 6.0)])
        self.authenticate("anna_self", self.portal_password)
        page = self.url_open(f"/my/subscriptions/{self.sub.id}").text
        self.assertIn("o_subscription_usage_so_far", page)
        self.assertIn("Self API calls", page)
        self.assertIn("6.00", page)
        self.assertIn("10.00", page)
