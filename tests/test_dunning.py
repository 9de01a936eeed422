"""Multi-level dunning: levels on their days, one letter per customer, fees and interest to
the cent, blocks, suspension and resumption, returned debits, idempotent reruns, access.

The test company gets its own four levels (set up below): reminder after 7 days
(free), first notice after 21 days (2.50 € fee, interest, € 40 flat fee, own
invoice), second notice after 35 days (5.00 € fee, interest, suspends, on the
next invoice, activity), final notice after 49 days (cancels). Base rates are
the data file's (1.27 % from 1 July 2025) plus a test rate of 1.50 % from
1 January 2026. Invoices have no tax, so their open amount is their price.
"""

import base64
from datetime import date

from psycopg2.errors import UniqueViolation

from odoo import Command
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tests.common import freeze_time
from odoo.tools import mute_logger

from .common import SubscriptionCommon


def set_up_test_dunning_levels(cls):
    """Give the test company (``cls.env.company``) the four test levels and the 2026 base rate.

    Sets ``cls.company``, ``cls.reminder`` (7 days, free), ``cls.first`` (21 days, 2.50 € fee,
    interest, € 40 flat fee, own invoice), ``cls.second`` (35 days, 5.00 € fee, interest, suspends,
    next invoice, activity) and ``cls.final`` (49 days, cancels); base rate 1.50 % from 1 January 2026.
    """
    cls.company = cls.env.company
    cls.company.dunning_flat_fee_b2b = True
    Rate = cls.env["subscription.dunning.base.rate"]
    rate_2026 = Rate.search([("date_from", "=", date(2026, 1, 1))])
    if rate_2026:
        rate_2026.rate = 1.50
    else:
        Rate.create({"date_from": date(2026, 1, 1), "rate": 1.50})
    Level = cls.env["subscription.dunning.level"]
    template = cls.env.ref("subscription_billing.mail_template_dunning_letter")
    common = {"company_id": cls.company.id, "mail_template_id": template.id}
    cls.reminder = Level.create({**common, "name": "Payment reminder", "days_after_due": 7})
    cls.first = Level.create(
        {
            **common,
            "name": "First dunning notice",
            "days_after_due": 21,
            "fee_amount": 2.50,
            "charge_interest": True,
            "charge_flat_fee": True,
            "fee_invoicing": "own_invoice",
        }
    )
    cls.second = Level.create(
        {
            **common,
            "name": "Second dunning notice",
            "days_after_due": 35,
            "fee_amount": 5.00,
            "charge_interest": True,
            "charge_flat_fee": True,
            "fee_invoicing": "next_invoice",
            "action": "suspend",
            "create_activity": True,
        }
    )
    cls.final = Level.create({**common, "name": "Final dunning notice", "days_after_due": 49, "action": "cancel"})


@tagged("post_install", "-at_install", "subscription_billing")
class TestDunning(SubscriptionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        set_up_test_dunning_levels(cls)
        cls.business = cls.env["res.partner"].create(
            {"name": "Nordwind GmbH", "is_company": True, "email": "ap@nordwind.example"}
        )
        cls.consumer = cls.env["res.partner"].create({"name": "Jana Kühn", "email": "jana@kuehn.example"})

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def _invoice(self, partner, amount, due):
        """A posted invoice of ``amount`` (no tax) dated and due on ``due``."""
        move = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": due,
                "invoice_date_due": due,
                "invoice_line_ids": [
                    Command.create(
                        {"name": "Service", "quantity": 1, "price_unit": amount, "tax_ids": [Command.clear()]}
                    )
                ],
            }
        )
        move.action_post()
        return move

    def _run(self, day):
        """The dunning run (with sending) of the test company on ``day``, that day."""
        with freeze_time(f"{day.isoformat()} 10:00:00"):
            return self.env["subscription.dunning.run"]._run_for_all(day, companies=self.company)

    def _pay(self, invoice, amount, day):
        with freeze_time(f"{day.isoformat()} 10:00:00"):
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=invoice.ids
            ).create({"payment_date": day, "amount": amount})._create_payments()

    def _entries(self, invoices):
        return self.env["subscription.dunning.entry"].search([("invoice_id", "in", invoices.ids)])

    # ------------------------------------------------------------------
    # Levels and letters
    # ------------------------------------------------------------------
    def test_levels_are_reached_on_their_days(self):
        """Due 20 Dec 2025: nothing on day 6 (26 Dec), the reminder on day 7 (27 Dec), nothing new on
        day 20 (9 Jan), the first notice on day 21 (10 Jan), the second on day 35 (24 Jan)."""
        invoice = self._invoice(self.consumer, 100.0, date(2025, 12, 20))
        self.assertFalse(self._run(date(2025, 12, 26)))
        letter = self._run(date(2025, 12, 27))
        self.assertEqual(letter.level_id, self.reminder)
        self.assertFalse(self._run(date(2026, 1, 9)))
        self.assertEqual(self._run(date(2026, 1, 10)).level_id, self.first)
        self.assertEqual(self._run(date(2026, 1, 24)).level_id, self.second)
        self.assertEqual(self._entries(invoice).level_id, self.reminder | self.first | self.second)
        self.assertEqual(invoice.dunning_level_id, self.second)

    def test_one_letter_per_customer_at_the_highest_level_listing_every_item(self):
        """Three overdue invoices of one customer on 24 Jan 2026: due 15 Dec (40 days: second notice),
        2 Jan (22 days: first notice), 14 Jan (10 days: reminder) → one letter at the second notice,
        listing all three with their levels; 300.00 € overdue."""
        old = self._invoice(self.consumer, 100.0, date(2025, 12, 15))
        middle = self._invoice(self.consumer, 100.0, date(2026, 1, 2))
        young = self._invoice(self.consumer, 100.0, date(2026, 1, 14))
        other = self._invoice(self.business, 50.0, date(2026, 1, 14))
        letters = self._run(date(2026, 1, 24))
        self.assertEqual(len(letters), 2, "one letter per customer")
        letter = letters.filtered(lambda lt: lt.partner_id == self.consumer)
        self.assertEqual(letter.level_id, self.second)
        self.assertEqual(letter.invoice_ids, old | middle | young)
        self.assertEqual(letter.amount_overdue, 300.0)
        self.assertEqual(
            {(e.invoice_id, e.level_id) for e in letter.entry_ids},
            {(old, self.second), (middle, self.first), (young, self.reminder)},
        )
        self.assertEqual(letter._get_item_level(middle), self.first)
        self.assertEqual(letter.state, "sent")
        self.assertTrue(letter.attachment_id, "the letter is attached to the history")
        self.assertEqual(letter.mail_id.recipient_ids, self.consumer)
        self.assertIn(letter.attachment_id, letter.mail_id.attachment_ids)
        self.assertEqual(letters.filtered(lambda lt: lt.partner_id == self.business).invoice_ids, other)

    def test_fees_and_interest_to_the_cent_with_a_split_at_1_january(self):
        """Business customer, 1,000.00 € due 20 Dec 2025 (base rate 1.27 %, from 1 Jan 2026 1.50 %; +9 points).

        First notice on 10 Jan 2026 (day 21): interest for 21 Dec–10 Jan:
        11 days × 10.27 % + 10 days × 10.50 % = 1000 × (0.1027 × 11 + 0.1050 × 10) / 365
        = 1000 × 2.1797 / 365 = 5.9718 → 5.97 €; fee 2.50 €; flat fee 40.00 € (first claim).
        Total 1,000 + 2.50 + 40 + 5.97 = 1,048.47 €, fees on their own invoice (no tax): 48.47 €.

        Second notice on 24 Jan (day 35): interest only for 11–24 Jan (already charged before):
        14 days × 10.50 % = 1000 × 1.47 / 365 = 4.0274 → 4.03 €; fee 5.00 €; no second flat fee.
        On the next invoice: pending charges of 5.00 € and 4.03 € on the customer's subscription.
        """
        invoice = self._invoice(self.business, 1000.0, date(2025, 12, 20))
        subscription = self._start(partner=self.business, start_date=date(2026, 1, 1))
        self._run(date(2025, 12, 27))
        first = self._run(date(2026, 1, 10))
        self.assertEqual(
            (first.interest_amount, first.fee_amount, first.flat_fee_amount, first.amount_total),
            (5.97, 2.50, 40.0, 1048.47),
        )
        fee_invoice = first.fee_invoice_id
        self.assertEqual(fee_invoice.state, "posted")
        self.assertEqual(fee_invoice.amount_total, 48.47)
        self.assertEqual(fee_invoice.amount_tax, 0.0, "dunning fees and interest carry no VAT")
        entry = first.entry_ids
        self.assertEqual((entry.interest_from, entry.interest_to), (date(2025, 12, 20), date(2026, 1, 10)))
        second = self._run(date(2026, 1, 24))
        self.assertEqual((second.interest_amount, second.fee_amount, second.flat_fee_amount), (4.03, 5.0, 0.0))
        self.assertFalse(second.fee_invoice_id)
        self.assertEqual(
            sorted(second.fee_charge_ids.mapped("price_unit")), [4.03, 5.0], "fee and interest as one-time charges"
        )
        self.assertEqual(second.fee_charge_ids.subscription_id, subscription)
        self.assertEqual(set(second.fee_charge_ids.mapped("state")), {"pending"})
        self.assertEqual(sum(self._entries(invoice).mapped("flat_fee")), 40.0, "the flat fee once per claim")

    def test_consumers_pay_base_rate_plus_5_and_no_flat_fee(self):
        """Consumer, 1,000.00 € due 20 Dec 2025, first notice on 10 Jan 2026:
        1000 × (0.0627 × 11 + 0.0650 × 10) / 365 = 1000 × 1.3397 / 365 = 3.6704 → 3.67 €; no flat fee."""
        self._invoice(self.consumer, 1000.0, date(2025, 12, 20))
        letter = self._run(date(2026, 1, 10))
        self.assertEqual((letter.interest_amount, letter.flat_fee_amount, letter.fee_amount), (3.67, 0.0, 2.5))

    # ------------------------------------------------------------------
    # Idempotence
    # ------------------------------------------------------------------
    def test_second_dunning_run_sends_nothing(self):
        """Rerun the same day and the next day: no letter, no entry, no e-mail, no fee invoice more."""
        self._invoice(self.business, 100.0, date(2025, 12, 1))
        self._invoice(self.consumer, 100.0, date(2025, 12, 20))
        letters = self._run(date(2026, 1, 10))
        self.assertEqual(len(letters), 2)
        counts = (
            self.env["subscription.dunning.letter"].search_count([]),
            self.env["subscription.dunning.entry"].search_count([]),
            self.env["mail.mail"].search_count([("model", "=", "subscription.dunning.letter")]),
            self.env["account.move"].search_count([("invoice_origin", "in", [self.first.name, self.second.name])]),
        )
        self.assertFalse(self._run(date(2026, 1, 10)))
        self.assertFalse(self._run(date(2026, 1, 11)))
        self.assertEqual(
            counts,
            (
                self.env["subscription.dunning.letter"].search_count([]),
                self.env["subscription.dunning.entry"].search_count([]),
                self.env["mail.mail"].search_count([("model", "=", "subscription.dunning.letter")]),
                self.env["account.move"].search_count([("invoice_origin", "in", [self.first.name, self.second.name])]),
            ),
        )

    def test_daily_cron_duns_and_sends_once(self):
        """The cron of 10 Jan 2026 duns the invoice due 1 Dec 2025 (40 days: second notice) and sends
        the letter; triggered again the same day it sends nothing."""
        invoice = self._invoice(self.consumer, 100.0, date(2025, 12, 1))
        cron = self.env.ref("subscription_billing.ir_cron_subscription_dunning")
        with freeze_time("2026-01-10 10:00:00"), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        letter = invoice.dunning_entry_ids.letter_id
        self.assertEqual((letter.level_id, letter.state), (self.second, "sent"))
        self.assertTrue(letter.mail_id)
        with freeze_time("2026-01-10 11:00:00"), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        self.assertEqual(
            self.env["subscription.dunning.letter"].search_count([("partner_id", "=", self.consumer.id)]), 1
        )

    def test_the_database_refuses_an_item_at_a_level_twice_and_two_letters_a_day(self):
        invoice = self._invoice(self.consumer, 100.0, date(2025, 12, 20))
        letter = self._run(date(2025, 12, 27))
        with self.assertRaises(UniqueViolation), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["subscription.dunning.entry"].sudo().create(
                {
                    "invoice_id": invoice.id,
                    "partner_id": self.consumer.id,
                    "level_id": self.reminder.id,
                    "company_id": self.company.id,
                    "date": date(2025, 12, 28),
                }
            ).flush_recordset()
        with self.assertRaises(UniqueViolation), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            letter.sudo().copy().flush_recordset()

    def test_preview_writes_nothing_and_matches_the_run(self):
        self._invoice(self.business, 1000.0, date(2025, 12, 20))
        wizard = self.env["subscription.dunning.run.wizard"].create(
            {"date_ref": date(2026, 1, 10), "company_id": self.company.id}
        )
        wizard.action_preview()
        self.assertEqual(len(wizard.line_ids), 1)
        self.assertEqual((wizard.line_ids.level_id, wizard.line_ids.amount_total), (self.first, 1048.47))
        self.assertFalse(self.env["subscription.dunning.entry"].search_count([("partner_id", "=", self.business.id)]))
        with freeze_time("2026-01-10 10:00:00"):
            wizard.action_run()
        self.assertEqual(self.business.dunning_letter_ids.amount_total, 1048.47)

    # ------------------------------------------------------------------
    # Blocks, charging, returned debits
    # ------------------------------------------------------------------
    def test_blocked_invoice_and_customer_are_left_out_until_the_block_ends(self):
        """A promise to pay until 15 Jan on one invoice, a dispute until 20 Jan on the other customer."""
        blocked = self._invoice(self.consumer, 100.0, date(2025, 12, 1))
        free = self._invoice(self.consumer, 100.0, date(2025, 12, 1))
        disputed = self._invoice(self.business, 100.0, date(2025, 12, 1))
        blocked.write({"dunning_block_until": date(2026, 1, 15), "dunning_block_reason": "Promise to pay"})
        self.business.write({"dunning_block_until": date(2026, 1, 20), "dunning_block_reason": "Disputed"})
        letters = self._run(date(2026, 1, 10))
        self.assertEqual(letters.partner_id, self.consumer)
        self.assertEqual(letters.invoice_ids, free)
        self.assertFalse(self._entries(blocked | disputed))
        self.assertFalse(self._run(date(2026, 1, 15)), "blocked up to and including the 15th")
        self.assertEqual(self._run(date(2026, 1, 16)).entry_ids.invoice_id, blocked)
        # the consumer's blocked invoice reaches the final level that day too: one letter each
        self.assertIn(self.business, self._run(date(2026, 1, 21)).partner_id)

    def test_a_block_without_reason_is_refused_naming_the_invoice(self):
        invoice = self._invoice(self.consumer, 100.0, date(2025, 12, 1))
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            invoice.dunning_block_until = date(2026, 1, 15)
        self.assertIn(invoice.name, str(caught.exception))
        self.assertIn("Dunning Block Reason", str(caught.exception))

    def test_invoice_being_charged_is_skipped_and_start_date_counts(self):
        """Charging still retries: skipped. Charging gave up on 5 Jan: days count from the 5th, so the
        invoice due on 1 Dec gets the reminder on 12 Jan (7 days), not the first notice."""
        invoice = self._invoice(self.consumer, 100.0, date(2025, 12, 1))
        charging = self.env["subscription.payment.charging"]
        charging._write_invoice(invoice, {"subscription_charge_pending": True})
        self.assertFalse(self._run(date(2026, 1, 10)))
        charging._write_invoice(
            invoice, {"subscription_charge_pending": False, "subscription_dunning_start_date": date(2026, 1, 5)}
        )
        self.assertFalse(self._run(date(2026, 1, 11)))
        self.assertEqual(self._run(date(2026, 1, 12)).level_id, self.reminder)

    def test_returned_debit_enters_dunning_from_the_return_date(self):
        """A debit of 15 Jan returned with MD06 on 20 Jan: the reminder comes 7 days after the return
        (27 Jan), although the invoice was due on 15 Jan."""
        iban_creditor = "DE12500105170648489890"
        bank_journal = self.company_data["default_journal_bank"]
        bank_journal.bank_account_id = self.env["res.partner.bank"].create(
            {"partner_id": self.company.partner_id.id, "acc_number": iban_creditor}
        )
        self.company.write({"sepa_creditor_identifier": "DE98ZZZ09999999999", "sepa_journal_id": bank_journal.id})
        product = self.env["product.product"].create(
            {"name": "Hosting (no tax)", "type": "service", "subscription_ok": True, "taxes_id": [Command.clear()]}
        )
        eur = self.env.ref("base.EUR")
        eur.active = True
        plan = self._create_plan(code="DUNDD", name="DD monthly", price=49.90, product=product, currency_id=eur.id)
        mandate = (
            self.env["sepa.mandate.wizard"]
            .create(
                {"partner_id": self.consumer.id, "iban": "DE89370400440532013000", "signature_date": date(2025, 12, 1)}
            )
            ._create_mandate()
        )
        sub = self._start(plan=plan, partner=self.consumer, payment_method="sepa_dd", sepa_mandate_id=mandate.id)
        with freeze_time("2026-01-01 10:00:00"):
            invoice = sub._run_billing(date(2026, 1, 1))["invoices"]
        with freeze_time("2026-01-10 10:00:00"):
            collection = self.env["sepa.collection"].create({"date_ref": date(2026, 1, 31)})
            collection.action_gather()
            collection.action_generate()
        with freeze_time("2026-01-15 10:00:00"):
            collection.action_book()
        line = collection.line_ids.filtered(lambda ln: ln.invoice_id == invoice)
        with freeze_time("2026-01-20 10:00:00"):
            self.env["sepa.return"]._record_return(
                line, self.env.ref("subscription_billing.sepa_reason_md06"), date(2026, 1, 20)
            )
        self.assertEqual(invoice.subscription_dunning_start_date, date(2026, 1, 20))
        self.assertFalse(self._run(date(2026, 1, 26)))
        letter = self._run(date(2026, 1, 27))
        self.assertEqual((letter.level_id, letter.entry_ids.invoice_id), (self.reminder, invoice))
        self.assertEqual(letter.entry_ids.overdue_since, date(2026, 1, 20))

    # ------------------------------------------------------------------
    # Payments, suspension, cancellation
    # ------------------------------------------------------------------
    def test_partial_payment_keeps_the_level_and_full_payment_ends_dunning(self):
        """100.00 € due 1 Dec 2025, consumer; first notice on 22 Dec (21 days) with interest
        100 × (1.27 + 5) % × 21 / 365 = 0.3607 → 0.36 € and the 2.50 € fee on their own invoice of
        2.86 € (due 22 Dec). 40.00 € paid on 23 Dec: still at the first notice with 60.00 € open; the
        second notice (5 Jan) lists 60.00 € + the fee invoice 2.86 € = 62.86 € (no interest on the fee
        invoice: no interest on interest, § 289 BGB). Paid in full on 6 Jan: the final level never comes."""
        invoice = self._invoice(self.consumer, 100.0, date(2025, 12, 1))
        self.assertEqual(self._run(date(2025, 12, 22)).level_id, self.first)
        self._pay(invoice, 40.0, date(2025, 12, 23))
        self.assertEqual(invoice.payment_state, "partial")
        self.assertEqual(invoice.dunning_level_id, self.first)
        self.assertFalse(self._run(date(2025, 12, 24)))
        second = self._run(date(2026, 1, 5))
        self.assertEqual((second.level_id, second.amount_overdue), (self.second, 62.86))
        first_letter = self.env["subscription.dunning.letter"].search(
            [("partner_id", "=", self.consumer.id), ("date", "=", date(2025, 12, 22))]
        )
        fee_invoice = first_letter.fee_invoice_id
        self.assertEqual(fee_invoice.amount_total, 2.86)
        fee_entry = second.entry_ids.filtered(lambda e: e.invoice_id == fee_invoice)
        self.assertEqual((fee_entry.level_id, fee_entry.interest), (self.reminder, 0.0))
        self._pay(invoice, 60.0, date(2026, 1, 6))
        for fees in (first_letter | second).fee_invoice_id:
            self._pay(fees, fees.amount_residual, date(2026, 1, 6))
        self.assertFalse(self._run(date(2026, 1, 19)))
        self.assertEqual(invoice.dunning_level_id, self.second)

    def test_suspension_and_automatic_resumption_on_payment(self):
        """The second notice (35 days) suspends the customer's subscription: paused, visible reason;
        a partial payment keeps it suspended; matching the rest triggers the resumption cron, which
        resumes it."""
        subscription = self._start(partner=self.business, start_date=date(2026, 1, 1))
        invoice = self._invoice(self.business, 200.0, date(2025, 12, 20))
        letter = self._run(date(2026, 1, 24))
        self.assertEqual(letter.level_id, self.second)
        self.assertEqual(subscription.state, "paused")
        self.assertTrue(subscription.dunning_suspended)
        self.assertIn(invoice.name, subscription.dunning_suspension_reason)
        self.assertEqual(letter.activity_ids.summary, f"Dunning: {self.second.name}")
        self._pay(invoice, 100.0, date(2026, 1, 25))
        self._run(date(2026, 1, 26))
        self.assertTrue(subscription.dunning_suspended, "a partial payment keeps it suspended")
        resume_cron = self.env.ref("subscription_billing.ir_cron_subscription_dunning_resume")
        triggers = self.env["ir.cron.trigger"].search_count([("cron_id", "=", resume_cron.id)])
        self._pay(invoice, invoice.amount_residual, date(2026, 1, 27))
        self.assertGreater(
            self.env["ir.cron.trigger"].search_count([("cron_id", "=", resume_cron.id)]),
            triggers,
            "matching the payment triggers the resumption at once",
        )
        with freeze_time("2026-01-27 10:05:00"), self.enter_registry_test_mode():
            resume_cron.method_direct_trigger()
        subscription.invalidate_recordset()
        self.assertFalse(subscription.dunning_suspended)
        self.assertEqual(subscription.state, "active")

    def test_final_level_gives_notice_on_the_subscriptions(self):
        subscription = self._start(partner=self.consumer, start_date=date(2026, 1, 1))
        self._invoice(self.consumer, 100.0, date(2025, 12, 1))
        letter = self._run(date(2026, 1, 19))
        self.assertEqual(letter.level_id, self.final)
        self.assertEqual(subscription.state, "notice")
        self.assertEqual(subscription.cancellation_request_date, date(2026, 1, 19))

    # ------------------------------------------------------------------
    # Access
    # ------------------------------------------------------------------
    def test_portal_users_never_see_dunning(self):
        self._invoice(self.business, 100.0, date(2025, 12, 1))
        self._invoice(self.consumer, 100.0, date(2025, 12, 1))
        letters = self._run(date(2026, 1, 10))
        portal = new_test_user(
            self.env, login="dunning_portal", groups="base.group_portal", partner_id=self.consumer.id
        )
        for records in (letters, letters.entry_ids):
            with self.assertRaises(AccessError):
                records.with_user(portal).check_access("read")
        with self.assertRaises(AccessError):
            self.env["subscription.dunning.letter"].with_user(portal).search([])

    def test_subscription_user_without_accounting_rights_cannot_change_levels(self):
        user = new_test_user(
            self.env,
            login="dunning_sub_user",
            groups="subscription_billing.group_subscription_manager",
            company_id=self.company.id,
        )
        self.assertEqual(self.first.with_user(user).fee_amount, 2.5, "may read")
        with self.assertRaises(AccessError):
            self.first.with_user(user).fee_amount = 0.0
        with self.assertRaises(AccessError):
            self.env["subscription.dunning.level"].with_user(user).create(
                {"name": "Mine", "days_after_due": 3, "company_id": self.company.id}
            )
        for operation in ("write", "create", "unlink"):
            with self.assertRaises(AccessError):
                self.env["subscription.dunning.entry"].with_user(user).check_access(operation)

    def test_letter_pdf_lists_every_item_in_the_customers_language(self):
        self.env.ref("base.lang_de").active = True
        self.consumer.lang = "de_DE"
        invoice = self._invoice(self.consumer, 123.45, date(2025, 12, 1))
        letter = self._run(date(2026, 1, 10))
        html = base64.b64decode(letter.attachment_id.datas).decode()
        self.assertIn(invoice.name, html)
        self.assertIn("123", html)
