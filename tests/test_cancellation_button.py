import re
from datetime import date, datetime, timedelta

import psycopg2
from lxml import html

from odoo.exceptions import UserError
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')


@tagged("post_install", "-at_install", "subscription_billing")
class TestCancellationButton(SubscriptionCommon, HttpCase):
    """§ 312k BGB: "Verträge hier kündigen" → form → "jetzt kündigen", without login, stored immutably,
    confirmed at once by e-mail, and telling a visitor nothing about whether a contract exists."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # a consumer plan: no minimum term, one month's notice (§ 309 Nr. 9 BGB allows at most one)
        cls.plan_consumer = cls._create_plan(
            code="B2C",
            name="Consumer Monthly",
            price=10.0,
            consumer_contract_rule=True,
            notice_period_count=1,
            notice_period_unit="month",
        )
        cls.consumer = cls.env["res.partner"].create(
            {"name": "Erika Mustermann", "email": "erika@example.com", "ref": "K-1001"}
        )
        cls.sub_consumer = cls._start(plan=cls.plan_consumer, partner=cls.consumer, start_date=date(2026, 1, 1))
        cls.sub_other = cls._start(plan=cls.plan_consumer, partner=cls.other_customer, start_date=date(2026, 1, 1))
        cls.Declaration = cls.env["subscription.cancellation.declaration"]

    def _form(self, **values):
        form = {
            "customer_name": "Erika Mustermann",
            "email": "erika@example.com",
            "customer_reference": self.sub_consumer.name,
            "kind": "ordinary",
            "end_choice": "earliest",
            "confirmation_email": "erika@example.com",
        }
        form.update(values)
        return form

    def _submit(self, receipt=datetime(2026, 3, 10, 9, 30), **values):
        return self.Declaration.sudo()._submit(self._form(**values), ip_address="192.0.2.10", receipt_datetime=receipt)

    def _mails_to(self, email):
        return self.env["mail.mail"].sudo().search([("email_to", "=", email)])

    # ------------------------------------------------------------------
    # the declaration and its effect on the contract
    # ------------------------------------------------------------------
    def test_identified_ordinary_cancellation_ends_at_the_earliest_lawful_date(self):
        """Notice received on 10 Mar 2026 for an indefinite consumer contract with one month's notice:
        10 Mar + 1 month = 10 Apr 2026 is the earliest end. The subscription goes into notice with that end
        date, and the confirmation e-mail states content, receipt time and the end date (04/10/2026 in English)."""
        declaration = self._submit()
        self.assertEqual(declaration.outcome, "requested")
        self.assertEqual(declaration.subscription_id, self.sub_consumer)
        self.assertEqual(declaration.partner_id, self.consumer)
        self.assertEqual(declaration.request_date, date(2026, 3, 10))
        self.assertEqual(declaration.end_date, date(2026, 4, 10))
        self.assertEqual(self.sub_consumer.state, "notice")
        self.assertEqual(self.sub_consumer.cancellation_request_date, date(2026, 3, 10))
        self.assertEqual(self.sub_consumer.end_date, date(2026, 4, 10))
        self.assertIn(declaration.name, self.sub_consumer.message_ids.mapped("body")[0])
        mail = self._mails_to("erika@example.com")
        self.assertEqual(len(mail), 1, "one confirmation, sent at once")
        self.assertIn(declaration.name, mail.subject)
        self.assertIn("04/10/2026", mail.body_html, "the end date")
        self.assertIn("03/10/2026", mail.body_html, "the receipt date")
        self.assertIn("Ordinary cancellation", mail.body_html)
        self.assertIn(self.sub_consumer.name, mail.body_html)

    def test_a_later_desired_end_date_is_kept_an_earlier_one_becomes_the_earliest(self):
        """Desired 30 Jun 2026 (after the earliest, 10 Apr): ends 30 Jun. Desired 20 Mar on another
        contract (before its earliest, 10 Apr): ends on the earliest, 10 Apr."""
        declaration = self._submit(end_choice="date", requested_end_date="2026-06-30")
        self.assertEqual(declaration.end_date, date(2026, 6, 30))
        self.assertEqual(self.sub_consumer.end_date, date(2026, 6, 30))
        other = self.env["res.partner"].create({"name": "Max", "email": "max@example.com"})
        sub_max = self._start(plan=self.plan_consumer, partner=other, start_date=date(2026, 1, 1))
        early = self._submit(
            customer_name="Max",
            email="max@example.com",
            confirmation_email="max@example.com",
            customer_reference=sub_max.name,
            end_choice="date",
            requested_end_date="2026-03-20",
        )
        self.assertEqual(early.outcome, "requested")
        self.assertEqual(early.end_date, date(2026, 4, 10))

    def test_the_customer_number_identifies_the_only_contract_of_the_customer(self):
        declaration = self._submit(customer_reference="k-1001")
        self.assertEqual(declaration.subscription_id, self.sub_consumer, "customer number, case-insensitive")

    def test_unidentified_declaration_creates_an_activity_and_says_the_merchant_confirms(self):
        declaration = self._submit(customer_reference="NO-SUCH-CONTRACT")
        self.assertEqual(declaration.outcome, "merchant")
        self.assertFalse(declaration.subscription_id)
        self.assertFalse(declaration.end_date)
        self.assertEqual(self.sub_consumer.state, "active", "nothing is cancelled")
        self.assertEqual(len(declaration.activity_ids), 1, "the merchant gets a to-do")
        self.assertIn(declaration.name, declaration.activity_ids.summary)
        mail = self._mails_to("erika@example.com")
        self.assertEqual(len(mail), 1)
        self.assertIn("confirm the end date of your contract to you separately", mail.body_html)

    def test_someone_elses_contract_is_not_cancelled_with_a_wrong_email(self):
        """The reference of Schmidt AG's contract with an e-mail that is not on file for Schmidt AG."""
        declaration = self._submit(
            customer_reference=self.sub_other.name,
            email="attacker@example.net",
            confirmation_email="attacker@example.net",
        )
        self.assertEqual(declaration.outcome, "merchant")
        self.assertFalse(declaration.subscription_id)
        self.assertEqual(self.sub_other.state, "active")
        mail = self._mails_to("attacker@example.net")
        self.assertNotIn(
            self.sub_other.name,
            mail.body_html.replace(declaration.customer_reference, ""),
            "nothing but the reference the visitor typed",
        )
        self.assertIn("confirm the end date of your contract to you separately", mail.body_html)

    def test_extraordinary_cancellation_is_left_to_the_merchant(self):
        declaration = self._submit(kind="extraordinary", extraordinary_reason="Moved abroad")
        self.assertEqual(declaration.outcome, "merchant")
        self.assertEqual(declaration.subscription_id, self.sub_consumer)
        self.assertEqual(self.sub_consumer.state, "active", "a merchant judges the reason first")
        activity = self.sub_consumer.activity_ids
        self.assertEqual(len(activity), 1)
        self.assertIn("Moved abroad", activity.note)

    def test_extraordinary_cancellation_needs_a_reason(self):
        with self.assertRaises(UserError):
            self._submit(kind="extraordinary", extraordinary_reason="  ")
        self.assertFalse(self.Declaration.sudo().search([("email", "=", "erika@example.com")]))

    def test_a_second_declaration_repeats_the_end_date_already_given(self):
        self._submit()
        second = self._submit(receipt=datetime(2026, 3, 12, 8, 0))
        self.assertEqual(second.outcome, "already")
        self.assertEqual(second.end_date, date(2026, 4, 10))

    def test_confirmation_elsewhere_sends_a_copy_to_the_address_on_file(self):
        self._submit(confirmation_email="erika.private@example.org")
        self.assertEqual(len(self._mails_to("erika.private@example.org")), 1)
        self.assertEqual(len(self._mails_to("erika@example.com")), 1, "the customer learns of the cancellation")

    def test_the_same_form_submitted_twice_is_stored_once(self):
        first = self._submit(submission_key="k" * 32)
        second = self._submit(submission_key="k" * 32)
        self.assertEqual(first, second)
        self.assertEqual(self.Declaration.sudo().search_count([("submission_key", "=", "k" * 32)]), 1)

    def test_declaration_cannot_be_changed_or_deleted(self):
        declaration = self._submit()
        with self.assertRaises(UserError):
            declaration.sudo().write({"end_date": date(2026, 12, 31)})
        with self.assertRaises(UserError):
            declaration.sudo().unlink()
        # nor by SQL: the database trigger refuses it
        with self.assertRaises(psycopg2.Error), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env.cr.execute(
                "UPDATE subscription_cancellation_declaration SET end_date = '2026-12-31' WHERE id = %s",
                [declaration.id],
            )
        with self.assertRaises(psycopg2.Error), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env.cr.execute("DELETE FROM subscription_cancellation_declaration WHERE id = %s", [declaration.id])
        # the merchant can still work on it (activities and notes)
        declaration.sudo().message_post(body="Checked.")

    def test_rate_limit_per_email_and_per_ip(self):
        """Five declarations per e-mail address and ten per IP address in an hour (the defaults)."""
        now = datetime(2026, 3, 10, 10, 0)
        for minute in range(5):
            self._submit(receipt=now - timedelta(minutes=minute + 1), customer_reference=f"X{minute}")
        self.assertFalse(self.Declaration._check_rate_limit("198.51.100.1", "erika@example.com", now))
        self.assertTrue(self.Declaration._check_rate_limit("198.51.100.1", "max@example.com", now))
        self.assertTrue(
            self.Declaration._check_rate_limit("198.51.100.1", "erika@example.com", now + timedelta(hours=1)),
            "an hour later the address may declare again",
        )
        for minute in range(5):
            self._submit(
                receipt=now - timedelta(minutes=minute + 1),
                customer_reference=f"Y{minute}",
                email=f"other{minute}@example.com",
            )
        self.assertFalse(self.Declaration._check_rate_limit("192.0.2.10", "new@example.com", now))

    def test_logged_in_user_cannot_pick_another_customers_contract(self):
        user = new_test_user(self.env, login="erika_portal", groups="base.group_portal", partner_id=self.consumer.id)
        values, errors = self.Declaration._validate_form(
            self._form(subscription_id=str(self.sub_other.id)), date(2026, 3, 10), user=user
        )
        self.assertFalse(errors)
        self.assertFalse(values["subscription_id"])
        values, _errors = self.Declaration._validate_form(
            self._form(subscription_id=str(self.sub_consumer.id)), date(2026, 3, 10), user=user
        )
        self.assertEqual(values["subscription_id"], self.sub_consumer.id)

    def test_portal_and_internal_users_cannot_create_or_change_declarations(self):
        declaration = self._submit()
        portal_user = new_test_user(self.env, login="erika_portal2", groups="base.group_portal")
        with self.assertRaises(Exception):  # noqa: B017 - AccessError
            self.Declaration.with_user(portal_user).search([])
        with self.assertRaises(Exception):  # noqa: B017 - AccessError
            declaration.with_user(portal_user).read(["customer_name"])
        sub_user = new_test_user(self.env, login="sub_user_cxl", groups="subscription_billing.group_subscription_user")
        self.assertEqual(declaration.with_user(sub_user).customer_name, "Erika Mustermann")
        with self.assertRaises(Exception):  # noqa: B017 - AccessError
            declaration.with_user(sub_user).write({"customer_name": "X"})

    # ------------------------------------------------------------------
    # over HTTP
    # ------------------------------------------------------------------
    def _get_csrf(self, url="/contract-cancellation"):
        response = self.url_open(url)
        self.assertEqual(response.status_code, 200)
        return CSRF_INPUT.search(response.text).group(1)

    def test_form_is_public_and_linked_from_the_footer(self):
        for url in ("/contract-cancellation", "/vertraege-kuendigen"):
            response = self.url_open(url)
            self.assertEqual(response.status_code, 200, url)
            self.assertNotIn("/web/login", response.url, "no login needed")
            tree = html.fromstring(response.text)
            self.assertTrue(tree.xpath("//footer//a[hasclass('o_subscription_cancellation_link')]"))
            self.assertTrue(tree.xpath("//button[hasclass('o_subscription_cancel_now')]"))
        self.authenticate("admin", "admin")
        body = self.url_open("/my/home").text
        self.assertIn("o_subscription_cancellation_link", body, "also on the portal pages")

    def test_post_without_csrf_token_is_refused(self):
        self.url_open("/contract-cancellation")
        with mute_logger("odoo.http"):
            response = self.url_open("/contract-cancellation", data=self._form())
        self.assertEqual(response.status_code, 400)
        self.assertFalse(self.Declaration.sudo().search([("email", "=", "erika@example.com")]))
        self.assertEqual(self.sub_consumer.state, "active")

    def _post(self, **values):
        csrf = self._get_csrf()
        response = self.url_open("/contract-cancellation", data={**self._form(**values), "csrf_token": csrf})
        self.assertEqual(response.status_code, 200, response.text[-3000:])
        return response

    def _receipt_text(self, response):
        tree = html.fromstring(response.text)
        return " ".join(tree.xpath("//div[hasclass('o_subscription_cancellation_receipt')]")[0].text_content().split())

    def test_the_page_says_the_same_whether_or_not_a_contract_was_identified(self):
        """The receipt of a real contract's cancellation and of an unknown reference differ only in the
        reference the visitor typed, the declaration number and the receipt time."""
        matched = self._post()
        unmatched = self._post(customer_reference="NO-SUCH-CONTRACT")
        self.assertEqual(self.sub_consumer.state, "notice")
        declarations = self.Declaration.sudo().search([("email", "=", "erika@example.com")], order="id")
        self.assertEqual(declarations.mapped("outcome"), ["requested", "merchant"])

        def neutral(response, declaration):
            text = self._receipt_text(response)
            for value in (
                declaration.customer_reference,
                declaration.name,
                declaration._get_receipt_datetime_display(),
            ):
                text = text.replace(value, "…")
            return text

        self.assertEqual(neutral(matched, declarations[0]), neutral(unmatched, declarations[1]))
        end = declarations[0].end_date
        self.assertNotIn(end.strftime("%m/%d/%Y"), matched.text, "the end date is only in the e-mail")

    def test_invalid_form_is_shown_again_with_the_errors(self):
        response = self._post(email="not-an-address", kind="extraordinary", extraordinary_reason="")
        self.assertIn("Please enter a valid e-mail address.", response.text)
        self.assertIn("Please give the reason for the extraordinary cancellation.", response.text)
        self.assertIn('value="Erika Mustermann"', response.text, "what was typed is kept")
        self.assertFalse(self.Declaration.sudo().search([("customer_name", "=", "Erika Mustermann")]))

    def test_rate_limited_visitor_is_told_to_try_later(self):
        self.env["ir.config_parameter"].sudo().set_param("subscription_billing.cancellation_limit_per_ip", "1")
        self._post(customer_reference="ONE")
        response = self._post(customer_reference="TWO")
        self.assertIn("Too many cancellations", response.text)
        self.assertEqual(self.Declaration.sudo().search_count([("email", "=", "erika@example.com")]), 1)

    def test_receipt_with_a_forged_token_is_not_found(self):
        declaration = self._submit()
        with mute_logger("odoo.http"):
            response = self.url_open(f"/contract-cancellation/receipt/{declaration.id}?access_token=forged")
        self.assertEqual(response.status_code, 404)
        self.assertNotIn(declaration.customer_name, response.text)
        response = self.url_open(declaration._get_receipt_url())
        self.assertEqual(response.status_code, 200)
        self.assertIn(declaration.name, response.text)

    # ------------------------------------------------------------------
    # tours in Chromium
    # ------------------------------------------------------------------
    def _tour_customer(self, reference):
        partner = self.env["res.partner"].create(
            {"name": "Anna Tour", "email": "anna.tour@mueller.example", "ref": reference}
        )
        return self._start(plan=self.plan_consumer, partner=partner, start_date=date(2026, 1, 1))

    def test_tour_cancellation_button_english(self):
        subscription = self._tour_customer("TOUR-EN-4711")
        self.start_tour("/contract-cancellation", "subscription_cancellation_button_en")
        self.assertEqual(subscription.state, "notice")
        declaration = self.Declaration.sudo().search([("subscription_id", "=", subscription.id)])
        self.assertEqual(declaration.outcome, "requested")
        self.assertEqual(len(self._mails_to("anna.tour@mueller.example")), 1)

    def test_tour_cancellation_button_german(self):
        subscription = self._tour_customer("TOUR-DE-4712")
        self.env["res.lang"]._activate_lang("de_DE")
        self.env["ir.module.module"]._load_module_terms(["portal", "subscription_billing"], ["de_DE"], overwrite=True)
        self.env.invalidate_all()
        self.start_tour("/de/contract-cancellation", "subscription_cancellation_button_de")
        self.assertEqual(subscription.state, "notice")
        declaration = self.Declaration.sudo().search([("subscription_id", "=", subscription.id)])
        self.assertEqual(declaration.lang, "de_DE")
