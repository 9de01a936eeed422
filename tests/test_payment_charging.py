import unittest
from datetime import date

from freezegun import freeze_time
from psycopg2 import IntegrityError

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon

JAN_1 = date(2026, 1, 1)


class ChargingCommon(SubscriptionCommon):
    """A demo payment provider in the test company, customers with demo tokens, the monthly plan
    (100.00 + 15 % tax = 115.00 per invoice)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        if cls.env["ir.module.module"]._get("payment_demo").state != "installed":
            raise unittest.SkipTest("payment_demo is not installed: the automatic charging tests need its provider")
        cls.pm_demo = cls.env.ref("payment_demo.payment_method_demo")
        cls.pm_demo.active = True
        cls.provider = cls.env["payment.provider"].create(
            {
                "name": "Demo (charging tests)",
                "code": "demo",
                "state": "test",
                "company_id": cls.env.company.id,
                "allow_tokenization": True,
                "payment_method_ids": [Command.set(cls.pm_demo.ids)],
            }
        )
        if not cls.provider.journal_id:
            cls.provider.journal_id = cls.company_data["default_journal_bank"]
        cls.env.company.subscription_charge_retry_schedule = "1,3,5,7"
        cls.Charging = cls.env["subscription.payment.charging"]

    @classmethod
    def _token(cls, partner=None, state="done", ref="4242"):
        return cls.env["payment.token"].create(
            {
                "provider_id": cls.provider.id,
                "payment_method_id": cls.pm_demo.id,
                "partner_id": (partner or cls.customer).id,
                "payment_details": ref,
                "provider_ref": f"demo-token-{ref}-{state}",
                "demo_simulated_state": state,
            }
        )

    def _token_subscription(self, state="done", partner=None):
        token = self._token(partner=partner, state=state)
        sub = self._start(partner=partner, payment_method="token", payment_token_id=token.id)
        return sub, token

    def _bill(self, sub, date_ref=JAN_1):
        sub._run_billing(date_ref)
        invoice = sub.invoice_ids.filtered(lambda m: m.invoice_date == date_ref)
        self.assertEqual(invoice.state, "posted")
        return invoice

    def _charge_due(self, date_ref):
        """One run of the charging job on ``date_ref`` (without the cron's commits)."""
        invoices = self.env["account.move"].search(
            [*self.Charging._get_invoices_to_charge_domain(date_ref), ("company_id", "=", self.env.company.id)]
        )
        return self.Charging._charge_invoices(invoices, date_ref)


@tagged("post_install", "-at_install")
class TestPaymentCharging(ChargingCommon):
    def test_posting_puts_invoice_into_charging_due_on_its_date(self):
        """Posting the invoice of a token-paid subscription marks it for charging (dunning waits), first
        attempt on the invoice date 2026-01-01; a manual-payment invoice is not marked."""
        sub, _token = self._token_subscription()
        invoice = self._bill(sub)
        self.assertTrue(invoice.subscription_charge_pending)
        self.assertEqual(invoice.subscription_charge_next_date, JAN_1)
        manual = self._start(partner=self.other_customer, payment_method="manual")
        manual_invoice = self._bill(manual)
        self.assertFalse(manual_invoice.subscription_charge_pending)

    def test_successful_charge_pays_the_invoice(self):
        """A 'done' token: one offline transaction of 115.00 (100 + 15 % tax), linked to the invoice,
        the payment reconciled by account_payment; charging stops, no dunning date."""
        sub, token = self._token_subscription("done")
        invoice = self._bill(sub)
        txs = self._charge_due(JAN_1)
        self.assertEqual(len(txs), 1)
        self.assertRecordValues(
            txs,
            [
                {
                    "state": "done",
                    "operation": "offline",
                    "token_id": token.id,
                    "amount": 115.0,
                    "subscription_charge_invoice_id": invoice.id,
                }
            ],
        )
        self.assertEqual(txs.invoice_ids, invoice)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertFalse(invoice.subscription_charge_pending)
        self.assertFalse(invoice.subscription_dunning_start_date)
        self.assertEqual(invoice.subscription_charge_transaction_ids, txs)
        self.assertEqual(sub.charge_transaction_count, 1)
        # nothing left to charge the day after
        self.assertFalse(self._charge_due(date(2026, 1, 2)))

    def test_refusal_is_retried_on_the_schedule_then_goes_to_dunning(self):
        """A refusing token, schedule 1,3,5,7 from the first failure on 2026-01-01: attempts on
        1 Jan, 2 Jan (+1), 4 Jan (+3), 6 Jan (+5), 8 Jan (+7); nothing on the days between; after the
        fifth failure charging gives up and dunning counts from 8 Jan. Five attempts are kept."""
        sub, _token = self._token_subscription("cancel")
        invoice = self._bill(sub)
        expected = [
            (date(2026, 1, 1), date(2026, 1, 2)),
            (date(2026, 1, 2), date(2026, 1, 4)),
            (date(2026, 1, 4), date(2026, 1, 6)),
            (date(2026, 1, 6), date(2026, 1, 8)),
        ]
        for attempt, (day, next_day) in enumerate(expected, start=1):
            self.assertEqual(len(self._charge_due(day)), 1, day)
            self.assertEqual(invoice.subscription_charge_failures, attempt)
            self.assertEqual(invoice.subscription_charge_next_date, next_day)
            self.assertTrue(invoice.subscription_charge_pending)
            self.assertFalse(invoice.subscription_dunning_start_date)
        self.assertFalse(self._charge_due(date(2026, 1, 7)), "no attempt between the scheduled days")
        self.assertEqual(len(self._charge_due(date(2026, 1, 8))), 1)
        self.assertFalse(invoice.subscription_charge_pending)
        self.assertEqual(invoice.subscription_dunning_start_date, date(2026, 1, 8))
        self.assertEqual(invoice.subscription_charge_transaction_ids.mapped("state"), ["cancel"] * 5)
        self.assertFalse(self._charge_due(date(2026, 2, 1)))
        self.assertEqual(invoice.payment_state, "not_paid")

    def test_failure_mail_links_portal_payment_and_payment_methods(self):
        """The first failure e-mails the customer once: a link to pay the invoice in the portal, one to
        the saved payment methods and the next attempt (1 Jan + 1 day = 2 Jan); the second failure sends
        no second mail."""
        sub, _token = self._token_subscription("cancel")
        invoice = self._bill(sub)
        self._charge_due(JAN_1)
        self._charge_due(date(2026, 1, 2))
        mails = invoice.message_ids.filtered(lambda m: m.subject and "failed" in m.subject)
        self.assertEqual(len(mails), 1)
        self.assertIn(self.customer, mails.partner_ids)
        self.assertIn(f"/my/invoices/{invoice.id}", mails.body)
        self.assertIn("/my/payment_method", mails.body)
        self.assertIn("01/02/2026", mails.body, "the mail names the next attempt, 2 Jan (first failure + 1 day)")

    def test_error_then_success_on_the_retry(self):
        """An error on 1 Jan is soft (retry on 2 Jan); the customer fixed the card, the retry pays:
        charging stops, no dunning."""
        sub, token = self._token_subscription("error")
        invoice = self._bill(sub)
        tx = self._charge_due(JAN_1)
        self.assertEqual(tx.state, "error")
        self.assertEqual(invoice.subscription_charge_next_date, date(2026, 1, 2))
        token.demo_simulated_state = "done"
        retry = self._charge_due(date(2026, 1, 2))
        self.assertEqual(retry.state, "done")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertFalse(invoice.subscription_charge_pending)
        self.assertFalse(invoice.subscription_dunning_start_date)

    def test_pending_transaction_is_awaited_not_charged_twice(self):
        """A pending answer: later runs create no second transaction; when the provider confirms
        (post-processing), the invoice is paid and charging stops."""
        sub, _token = self._token_subscription("pending")
        invoice = self._bill(sub)
        tx = self._charge_due(JAN_1)
        self.assertEqual(tx.state, "pending")
        self.assertTrue(invoice.subscription_charge_pending)
        self.assertFalse(self._charge_due(JAN_1))
        self.assertFalse(self._charge_due(date(2026, 1, 5)))
        self.assertEqual(len(invoice.subscription_charge_transaction_ids), 1)
        tx._set_done()
        tx._post_process()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertFalse(invoice.subscription_charge_pending)

    def test_hard_decline_from_the_provider_goes_to_dunning_at_once(self):
        """A pending charge the provider later declines with "card expired": hard, no retry; dunning
        counts from the day of the answer (today, as the webhook comes now)."""
        sub, _token = self._token_subscription("pending")
        invoice = self._bill(sub)
        tx = self._charge_due(JAN_1)
        tx._set_error("Your card has expired.")
        tx._post_process()
        self.assertFalse(invoice.subscription_charge_pending)
        self.assertFalse(invoice.subscription_charge_next_date)
        self.assertEqual(invoice.subscription_dunning_start_date, fields.Date.context_today(invoice))

    def test_archived_token_stops_charging_and_warns(self):
        """Archiving the token leaves the subscription without one (never silently: a message and a
        to-do activity for its responsible); the scheduled retry of 2 Jan then gives up (hard)."""
        sub, token = self._token_subscription("cancel")
        invoice = self._bill(sub)
        self._charge_due(JAN_1)
        token.action_archive()
        self.assertFalse(sub.payment_token_id)
        self.assertFalse(sub.payment_method)
        self.assertIn(self.env.ref("mail.mail_activity_data_todo"), sub.activity_ids.activity_type_id)
        self.assertTrue(any("was archived" in (m.body or "") for m in sub.message_ids))
        self.assertFalse(self._charge_due(date(2026, 1, 2)))
        self.assertEqual(invoice.subscription_dunning_start_date, date(2026, 1, 2))
        self.assertFalse(invoice.subscription_charge_pending)

    def test_crash_between_transaction_and_provider_never_charges_twice(self):
        """A transaction created and flushed in draft, the provider never called (a crash): the next
        runs create no second transaction, and the database refuses a second open one."""
        sub, token = self._token_subscription("done")
        invoice = self._bill(sub)
        tx = self.Charging._create_charge_transaction(invoice, JAN_1)
        self.env.flush_all()
        self.assertEqual(tx.state, "draft")
        self.assertFalse(self._charge_due(JAN_1))
        self.assertFalse(self._charge_due(date(2026, 1, 3)))
        self.assertEqual(invoice.subscription_charge_transaction_ids, tx)
        with self.assertRaises(IntegrityError), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["payment.transaction"].create(self.Charging._prepare_transaction_values(invoice, token))
            self.env.flush_all()

    def test_stale_draft_charge_gets_one_activity(self):
        """A draft charge created on 1 Jan 10:00, more than 24 hours ago, never got an answer: the next
        runs still do not charge, and the invoice gets one warning activity (not one per run) naming the
        transaction; the accountant's "Cancel Unanswered Charge" turns it into a failed attempt and the
        schedule goes on."""
        sub, _token = self._token_subscription("done")
        invoice = self._bill(sub)
        tx = self.Charging._create_charge_transaction(invoice, JAN_1)
        self.env.flush_all()
        self.env.cr.execute("UPDATE payment_transaction SET create_date = '2026-01-01 10:00:00' WHERE id = %s", [tx.id])
        tx.invalidate_recordset(["create_date"])
        self.assertFalse(self._charge_due(date(2026, 1, 2)))
        self.assertFalse(self._charge_due(date(2026, 1, 3)))
        warnings = invoice.activity_ids.filtered(lambda a: tx.reference in (a.summary or ""))
        self.assertEqual(len(warnings), 1)
        self.assertEqual(invoice.subscription_charge_transaction_ids, tx)
        # the accountant checked with the provider: nothing paid; the cancelled charge counts as the
        # first failure (on 3 Jan), the schedule 1,3,5,7 puts the retry on 4 Jan, which pays
        with freeze_time("2026-01-03 09:00:00"):
            invoice.action_subscription_cancel_stale_charge()
        self.assertEqual(tx.state, "cancel")
        self.assertFalse(invoice.activity_ids.filtered(lambda a: tx.reference in (a.summary or "")))
        self.assertEqual(invoice.subscription_charge_failures, 1)
        self.assertEqual(invoice.subscription_charge_next_date, date(2026, 1, 4))
        self.assertEqual(self._charge_due(date(2026, 1, 4)).state, "done")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        with self.assertRaises(UserError):
            invoice.action_subscription_cancel_stale_charge()

    def test_cron_charges_due_invoices_and_clears_paid_ones(self):
        """The cron record on 2 Jan 2026: it charges the invoice due since 1 Jan, and clears the flag of
        an invoice paid by hand whose retry lay in the future (4 Jan) without charging it."""
        other, _other_token = self._token_subscription("cancel", partner=self.other_customer)
        paid_by_hand = self._bill(other)
        self._charge_due(JAN_1)  # fails: retry on 2 Jan
        self._charge_due(date(2026, 1, 2))  # fails again: retry on 4 Jan
        sub, _token = self._token_subscription("done")
        invoice = self._bill(sub)
        self.assertTrue(invoice.subscription_charge_pending)
        self.assertFalse(invoice.subscription_charge_transaction_ids, "not charged before the cron runs")
        self.assertEqual(paid_by_hand.subscription_charge_next_date, date(2026, 1, 4))
        self.env["account.payment.register"].with_context(
            active_model="account.move", active_ids=paid_by_hand.ids
        ).create({"payment_date": date(2026, 1, 2)})._create_payments()
        self.assertIn(paid_by_hand.payment_state, ("paid", "in_payment"))
        self.assertTrue(paid_by_hand.subscription_charge_pending, "still flagged until the cron runs")
        cron = self.env.ref("subscription_billing.ir_cron_subscription_charge_invoices")
        with freeze_time("2026-01-02 10:00:00"), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(invoice.subscription_charge_transaction_ids.state, "done")
        self.assertFalse(invoice.subscription_charge_pending)
        self.assertFalse(paid_by_hand.subscription_charge_pending)
        self.assertEqual(len(paid_by_hand.subscription_charge_transaction_ids), 2, "no third attempt")

    def test_charge_now_button(self):
        """An accountant charges at once, before the scheduled retry of 2 Jan."""
        sub, token = self._token_subscription("cancel")
        invoice = self._bill(sub)
        self._charge_due(JAN_1)
        token.demo_simulated_state = "done"
        invoice.action_subscription_charge_now()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(len(invoice.subscription_charge_transaction_ids), 2)

    def test_portal_payment_with_a_new_token_updates_the_subscription(self):
        """The customer pays the invoice in the portal and saves a new card: the invoice stops charging
        and the subscription uses the new token."""
        sub, _old = self._token_subscription("cancel")
        invoice = self._bill(sub)
        self._charge_due(JAN_1)
        new_token = self._token(state="done", ref="1111")
        tx = self.env["payment.transaction"].create(
            {
                "provider_id": self.provider.id,
                "payment_method_id": self.pm_demo.id,
                "token_id": new_token.id,
                "operation": "online_direct",
                "amount": invoice.amount_residual,
                "currency_id": invoice.currency_id.id,
                "partner_id": self.customer.id,
                "invoice_ids": [Command.set(invoice.ids)],
            }
        )
        tx._set_done()
        tx._post_process()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertFalse(invoice.subscription_charge_pending)
        self.assertEqual(sub.payment_token_id, new_token)
        self.assertFalse(self._charge_due(date(2026, 1, 2)))

    def test_plan_schedule_overrides_the_company(self):
        """Plan schedule "2": after the failure on 1 Jan one retry on 3 Jan, then dunning from 3 Jan."""
        self.plan_monthly.charge_retry_schedule = "2"
        sub, _token = self._token_subscription("cancel")
        invoice = self._bill(sub)
        self._charge_due(JAN_1)
        self.assertEqual(invoice.subscription_charge_next_date, date(2026, 1, 3))
        self._charge_due(date(2026, 1, 3))
        self.assertEqual(invoice.subscription_dunning_start_date, date(2026, 1, 3))


@tagged("post_install", "-at_install")
class TestPaymentChargingInput(ChargingCommon):
    def test_token_of_another_customer_is_refused(self):
        """A token of Schmidt AG on a subscription of Müller GmbH: an error naming the subscription and field."""
        token = self._token(partner=self.other_customer)
        sub = self._start()
        with self.assertRaises(ValidationError) as info:
            sub.write({"payment_method": "token", "payment_token_id": token.id})
        self.assertIn(sub.display_name, str(info.exception))
        self.assertIn("Saved Payment Method", str(info.exception))

    def test_token_required_and_cleared_when_switching_away(self):
        sub = self._start()
        with self.assertRaises(ValidationError):
            sub.payment_method = "token"
        token = self._token()
        sub.write({"payment_method": "token", "payment_token_id": token.id})
        sub.payment_method = "manual"
        self.assertFalse(sub.payment_token_id)

    def test_invalid_retry_schedules_are_refused(self):
        for text in ("3,1", "0", "1,100", "a,b", "1,2,3,4,5,6,7,8,9,10,11"):
            with self.assertRaises(ValidationError), self.env.cr.savepoint():
                self.plan_monthly.charge_retry_schedule = text
            with self.assertRaises(ValidationError), self.env.cr.savepoint():
                self.env.company.subscription_charge_retry_schedule = text

    def test_handover_fields_cannot_be_written_from_outside(self):
        """subscription_charge_pending and subscription_dunning_start_date (and the schedule fields) are
        refused to direct writes, also as superuser and with a JSON 'true' in the context; the same
        value again is fine."""
        sub, _token = self._token_subscription("done")
        invoice = self._bill(sub)
        for vals in (
            {"subscription_charge_pending": False},
            {"subscription_dunning_start_date": "2026-01-05"},
            {"subscription_charge_next_date": "2026-03-01"},
        ):
            with self.assertRaises(UserError):
                invoice.sudo().write(vals)
            with self.assertRaises(UserError):
                invoice.with_context(subscription_system_write=True).write(vals)
        invoice.write({"subscription_charge_pending": True})  # unchanged: allowed
        self.assertTrue(invoice.subscription_charge_pending)
        with self.assertRaises(UserError):
            self.env["account.move"].create({"move_type": "out_invoice", "subscription_charge_pending": True})


@tagged("post_install", "-at_install")
class TestPaymentChargingAccess(ChargingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.portal_user = new_test_user(
            cls.env, login="charging_portal", groups="base.group_portal", partner_id=cls.customer.id
        )
        cls.sub_user = new_test_user(
            cls.env,
            login="charging_sub_user",
            groups="subscription_billing.group_subscription_user",
            company_id=cls.env.company.id,
            company_ids=[Command.set(cls.env.company.ids)],
        )

    def test_portal_user_cannot_read_attempts_or_other_customers_tokens(self):
        """The portal user of Müller GmbH: no access to transactions at all, and Schmidt AG's token is
        invisible and unreadable."""
        sub, _token = self._token_subscription("cancel", partner=self.other_customer)
        self._bill(sub)
        tx = self._charge_due(JAN_1)
        other_token = sub.payment_token_id
        with self.assertRaises(AccessError):
            tx.with_user(self.portal_user).read(["amount", "state_message"])
        self.assertFalse(self.env["payment.token"].with_user(self.portal_user).search([("id", "=", other_token.id)]))
        with self.assertRaises(AccessError):
            other_token.with_user(self.portal_user).read(["payment_details"])

    def test_subscription_user_cannot_change_retry_schedules(self):
        """A Subscriptions user (invoicing, no accounting administrator) cannot set a plan's or the
        company's retry schedule."""
        with self.assertRaises(AccessError):
            self.plan_monthly.with_user(self.sub_user).write({"charge_retry_schedule": "1"})
        with self.assertRaises(AccessError):
            self.env.company.with_user(self.sub_user).write({"subscription_charge_retry_schedule": "1"})
