from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import Command, fields
from odoo.tests import HttpCase, tagged

from .common import SubscriptionCommon

IBAN = "DE89370400440532013000"
EMAIL = "jonas.journey@example.com"


@tagged("post_install", "-at_install", "subscription_billing")
class TestCustomerJourney(SubscriptionCommon, HttpCase):
    """Issue 13's "Done when" on one customer in Chromium: signup with a SEPA mandate from the pricing page,
    upgrade with the preview, card instead of the mandate, pause, cancellation button without login."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the tours run against the server's real today: no frozen date
        cls.today = fields.Date.context_today(cls.env.user)
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        cls.env.company.sepa_creditor_identifier = "DE98ZZZ09999999999"
        cls.family = cls.env["subscription.plan.family"].create({"name": "Journey Storage"})
        terms = {
            "currency_id": cls.eur.id,
            "family_id": cls.family.id,
            # a consumer contract without minimum term and one month's notice (§ 309 Nr. 9 BGB)
            "consumer_contract_rule": True,
            "notice_period_count": 1,
            "notice_period_unit": "month",
            "portal_change_allowed": True,
            "portal_pause_allowed": True,
            "portal_max_pause_days": 30,
        }
        cls.plan_s = cls._create_plan(code="JR-S", name="Journey S", price=10.0, rank=1, **terms)
        cls.plan_l = cls._create_plan(code="JR-L", name="Journey L", price=30.0, rank=2, **terms)
        # the tokenizing demo provider of tests/test_payment_form.py
        cls.pm_demo = cls.env.ref("payment_demo.payment_method_demo")
        cls.pm_demo.active = True
        cls.provider = cls.env["payment.provider"].create(
            {
                "name": "Demo (customer journey)",
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

    def _mails(self, domain):
        return self.env["mail.mail"].sudo().search(domain)

    def test_visitor_signs_up_upgrades_replaces_payment_pauses_and_cancels_without_login(self):
        """One customer, five tours, the database checked after each:

        A. Signup on the start day T (today) on plan S (10.00/month) with a SEPA mandate: active on S, the
           mandate active and signed online, the welcome e-mail queued. The daily billing run then invoices
           the first month T..T+1 month-1 (10.00 untaxed).
        B. Upgrade to L (30.00/month) immediately, still on T: the whole billed month remains (run on
           7 Dec 2026: 7 Dec..6 Jan, 31 of 31 days), so the preview (checked in the tour) credits
           -10.00 × 31/31 = -10.00 and charges 30.00 × 31/31 = 30.00, total 20.00 untaxed. The test company
           (AccountTestInvoicingCommon's) is in the US: Jonas in Germany gets the "Foreign Trade 0% Exports"
           fiscal position, so the totals with tax are the same. Plan L, one applied change with those two
           proration charges, the chatter says "by the customer".
        C. A card (payment_demo, 4242) through Odoo's payment form: the token is the payment method, the
           mandate no longer used.
        D. Pause until the latest day the form offers, T + 30 (the plans allow 30 days): paused since T.
        E. Logged out, "Verträge hier kündigen" → "jetzt kündigen": a paused contract can be given notice
           (withdrawing it leaves it paused), so no resume is needed. Indefinite consumer contract with one
           month's notice received on T: earliest end T + 1 month (run on 7 Dec 2026: 7 Jan 2027). The declaration
           is stored with its receipt time, the subscription is in notice with that end date, and the German
           confirmation e-mail to the given address states it (dd.mm.yyyy).
        """
        today = self.today
        subscription_model = self.env["subscription.subscription"]

        # A. signup from the pricing page with a SEPA mandate
        self.start_tour(f"/subscribe/{self.family.id}?currency=EUR&period=month", "subscription_journey_signup")
        sub = subscription_model.search([("partner_id.email", "=", EMAIL)])
        self.assertEqual(len(sub), 1)
        self.assertEqual((sub.state, sub.plan_id, sub.start_date), ("active", self.plan_s, today))
        self.assertEqual(sub.payment_method, "sepa_dd")
        mandate = sub.sepa_mandate_id
        self.assertEqual((mandate.state, mandate.consent_channel), ("active", "online"))
        self.assertEqual(mandate.partner_bank_id.sanitized_acc_number, IBAN)
        welcome = self._mails([("model", "=", sub._name), ("res_id", "=", sub.id)])
        self.assertTrue(welcome.filtered(lambda m: "welcome to Journey S" in (m.subject or "")), "welcome e-mail")
        user = sub.partner_id.user_ids
        self.assertEqual(len(user), 1)
        self.assertTrue(user.share, "a portal account")
        user.sudo().password = user.login  # start_tour logs in with the login as password
        sub._run_billing(today)  # the daily billing run on the start day invoices the first month
        self.assertEqual(sub.next_period_start, today + relativedelta(months=1))
        self.assertEqual(self.tax_sale.amount, 15.0, "the preview's figures assume the 15 % sale tax")
        taxes = sub.fiscal_position_id.map_tax(self.tax_sale)
        self.assertEqual(taxes.mapped("amount"), [0.0], "the test company exports to Jonas: totals = untaxed")

        # B. upgrade with the preview, as the new portal user
        self.start_tour(f"/my/subscriptions/{sub.id}", "subscription_journey_upgrade", login=user.login)
        self.assertEqual(sub.plan_id, self.plan_l)
        change = sub.change_ids
        self.assertEqual(len(change), 1)
        self.assertEqual((change.state, change.new_plan_id, change.effective_date), ("applied", self.plan_l, today))
        charges = self.env["subscription.charge"].search([("subscription_id", "=", sub.id)])
        self.assertEqual(sorted(charges.mapped("price_unit")), [-10.0, 30.0], "the previewed proration")
        self.assertTrue(sub.message_ids.filtered(lambda m: "by the customer" in (m.body or "")))

        # C. a card instead of the mandate, through Odoo's payment form
        self.start_tour(f"/my/subscriptions/{sub.id}", "subscription_journey_replace_payment", login=user.login)
        self.assertEqual(sub.payment_method, "token")
        token = sub.payment_token_id
        self.assertEqual((token.payment_details, token.provider_id), ("4242", self.provider))
        self.assertEqual(token.partner_id.commercial_partner_id, sub.commercial_partner_id)
        self.assertFalse(sub.sepa_mandate_id, "the mandate is no longer used")

        # D. pause
        self.start_tour(f"/my/subscriptions/{sub.id}", "subscription_journey_pause", login=user.login)
        self.assertEqual(sub.state, "paused")
        self.assertEqual((sub.pause_date, sub.pause_resume_date), (today, today + timedelta(days=30)))

        # E. logged out: the cancellation button on the German pages
        self.env["res.lang"]._activate_lang("de_DE")
        self.env["ir.module.module"]._load_module_terms(["portal", "subscription_billing"], ["de_DE"], overwrite=True)
        self.env.invalidate_all()
        self.start_tour(
            f"/de/subscribe/{self.family.id}?currency=EUR&journey_reference={sub.name}",
            "subscription_journey_cancel_without_login",
        )
        declaration = self.env["subscription.cancellation.declaration"].sudo().search([("email", "=", EMAIL)])
        self.assertEqual(len(declaration), 1)
        end = today + relativedelta(months=1)
        self.assertEqual((declaration.subscription_id, declaration.outcome), (sub, "requested"))
        self.assertEqual((declaration.kind, declaration.end_choice), ("ordinary", "earliest"))
        self.assertTrue(declaration.receipt_datetime, "stored with its receipt time")
        self.assertEqual((declaration.request_date, declaration.end_date), (today, end))
        self.assertFalse(declaration.user_id, "declared without login")
        self.assertEqual(sub.state, "notice")
        self.assertEqual((sub.cancellation_request_date, sub.end_date), (today, end))
        confirmation = self._mails([("email_to", "=", EMAIL), ("subject", "ilike", declaration.name)])
        self.assertEqual(len(confirmation), 1)
        self.assertIn(end.strftime("%d.%m.%Y"), confirmation.body_html, "the end date, in German")
