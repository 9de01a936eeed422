"""Webhook events of getting paid: invoice.paid, invoice.payment_failed, invoice.overdue,
dunning.letter_sent, subscription.suspended and subscription.unsuspended.

Each is checked in the outbox (no HTTP delivery needed): one event per real occurrence, none
when the transaction of the change is rolled back, none more on a rerun or a second matching.
The monthly plan bills 100.00 + 15 % tax = 115.00 per invoice.
"""

import json
from datetime import date, timedelta

from psycopg2.errors import UniqueViolation

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged
from odoo.tests.common import freeze_time
from odoo.tools import mute_logger

from . import test_sepa
from .common import SubscriptionCommon
from .test_payment_charging import JAN_1, ChargingCommon

EVENT_TYPES = (
    "invoice.paid,invoice.payment_failed,invoice.overdue,dunning.letter_sent,"
    "subscription.suspended,subscription.unsuspended,subscription.paused,subscription.resumed"
)


class RollbackError(Exception):
    """Raised to roll a savepoint back."""


@tagged("post_install", "-at_install", "subscription_billing")
class TestWebhookPaymentEvents(ChargingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.env["subscription.webhook.endpoint"].create(
            {"name": "Payments", "url": "https://example.com/hooks", "event_types": EVENT_TYPES}
        )
        Level = cls.env["subscription.dunning.level"]
        Level.search([("company_id", "=", cls.company.id)]).active = False
        cls.reminder = Level.create({"company_id": cls.company.id, "name": "Reminder", "days_after_due": 7})
        cls.suspension = Level.create(
            {"company_id": cls.company.id, "name": "Suspension", "days_after_due": 35, "action": "suspend"}
        )

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def _events(self, event_type, records=None):
        domain = [("event_type", "=", event_type)]
        if records is not None:
            domain += [("res_model", "=", records._name), ("res_id", "in", records.ids)]
        return self.env["subscription.webhook.event"].sudo().search(domain, order="id")

    def _data(self, event):
        self.env.cr.flush()  # runs the precommit hook that fills the payloads
        return json.loads(event._get_payload())["data"]

    def _pay(self, invoice, amount, day):
        with freeze_time(f"{day.isoformat()} 10:00:00"):
            return (
                self.env["account.payment.register"]
                .with_context(active_model="account.move", active_ids=invoice.ids)
                .create({"payment_date": day, "amount": amount})
                ._create_payments()
            )

    def _dun(self, day):
        with freeze_time(f"{day.isoformat()} 10:00:00"):
            return self.env["subscription.dunning.run"]._run_for_all(day, companies=self.company)

    def _manual_invoice(self):
        sub = self._start(payment_method="manual")
        return sub, self._bill(sub)

    # ------------------------------------------------------------------
    # invoice.paid
    # ------------------------------------------------------------------
    def test_manual_payment_in_two_parts_emits_paid_once(self):
        """115.00 invoice: paying 50.00 emits nothing (partially paid); paying the other 65.00 emits
        one invoice.paid carrying the invoice with amount_residual 0.00; unreconciling the second
        payment and matching it again (a second reconcile) emits nothing new."""
        _sub, invoice = self._manual_invoice()
        self._pay(invoice, 50.0, JAN_1)
        self.assertEqual(invoice.payment_state, "partial")
        self.assertFalse(self._events("invoice.paid", invoice))
        payment = self._pay(invoice, 65.0, date(2026, 1, 5))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        event = self._events("invoice.paid", invoice)
        self.assertEqual(len(event), 1)
        data = self._data(event)
        self.assertEqual((data["object"], data["id"], data["amount_residual"]), ("invoice", invoice.id, "0.00"))
        self.assertIn(data["payment_state"], ("paid", "in_payment"))
        # a second reconcile of the same invoice
        payment_line = payment.move_id.line_ids.filtered(
            lambda line: (
                line.account_id
                == invoice.line_ids.filtered(lambda inv_line: inv_line.display_type == "payment_term").account_id
            )
        )
        payment_line.remove_move_reconcile()
        self.assertEqual(invoice.payment_state, "partial")
        (payment_line | invoice.line_ids.filtered(lambda line: line.display_type == "payment_term")).reconcile()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(len(self._events("invoice.paid", invoice)), 1)

    def test_paid_event_is_rolled_back_with_the_payment(self):
        """A payment of the full 115.00 in a savepoint that is rolled back: the invoice.paid event
        written inside it is gone with it."""
        _sub, invoice = self._manual_invoice()
        with self.assertRaises(RollbackError), self.env.cr.savepoint():
            self._pay(invoice, 115.0, JAN_1)
            self.assertEqual(len(self._events("invoice.paid", invoice)), 1)
            raise RollbackError
        self.env.invalidate_all()
        self.assertFalse(self._events("invoice.paid", invoice))
        self.assertEqual(invoice.payment_state, "not_paid")

    def test_successful_charge_emits_paid_once_and_no_failure(self):
        """A 'done' token charges 115.00: one invoice.paid, no invoice.payment_failed; the charging
        run of the next day charges nothing and emits nothing."""
        sub, _token = self._token_subscription("done")
        invoice = self._bill(sub)
        self._charge_due(JAN_1)
        self.assertEqual(len(self._events("invoice.paid", invoice)), 1)
        self.assertFalse(self._events("invoice.payment_failed"))
        self._charge_due(date(2026, 1, 2))
        self.assertEqual(len(self._events("invoice.paid")), 1)

    # ------------------------------------------------------------------
    # invoice.payment_failed
    # ------------------------------------------------------------------
    def test_each_failed_attempt_emits_one_event_with_its_attempt(self):
        """A refusing token, schedule 1,3,5,7 from the first failure on 1 Jan: attempt 1 on 1 Jan
        (next 2 Jan), attempt 2 on 2 Jan (next 4 Jan), both soft; handling a transaction's outcome
        again emits nothing; no attempt on 3 Jan, no event."""
        sub, _token = self._token_subscription("cancel")
        invoice = self._bill(sub)
        tx1 = self._charge_due(JAN_1)
        tx2 = self._charge_due(date(2026, 1, 2))
        self.assertFalse(self._charge_due(date(2026, 1, 3)))
        self.Charging._handle_transaction_outcome(tx1, date(2026, 1, 3))
        events = self._events("invoice.payment_failed")
        self.assertEqual(len(events), 2)
        self.assertEqual(events.mapped("res_id"), [tx1.id, tx2.id])
        first, second = (self._data(event) for event in events)
        self.assertEqual(
            (first["object"], first["attempt"], first["failure_kind"], first["next_attempt_date"]),
            ("payment_attempt", 1, "soft", "2026-01-02"),
        )
        self.assertEqual((second["attempt"], second["next_attempt_date"]), (2, "2026-01-04"))
        self.assertEqual((second["invoice"]["id"], second["invoice"]["amount_residual"]), (invoice.id, "115.00"))
        self.assertEqual(second["amount"], "115.00")

    def test_failed_attempt_event_is_rolled_back_with_the_attempt(self):
        """A refused charge on 1 Jan in a savepoint that is rolled back: its invoice.payment_failed
        is gone with it; the attempt redone emits one event, attempt 1."""
        sub, _token = self._token_subscription("cancel")
        self._bill(sub)
        with self.assertRaises(RollbackError), self.env.cr.savepoint():
            self._charge_due(JAN_1)
            self.assertEqual(len(self._events("invoice.payment_failed")), 1)
            raise RollbackError
        self.env.invalidate_all()
        self.assertFalse(self._events("invoice.payment_failed"))
        self._charge_due(JAN_1)
        events = self._events("invoice.payment_failed")
        self.assertEqual(len(events), 1)
        self.assertEqual(self._data(events)["attempt"], 1)

    def test_hard_decline_reports_no_next_attempt(self):
        """A pending charge that the provider later declines with "card expired": no event while it
        is pending; then one invoice.payment_failed, attempt 1, kind hard, next attempt null
        (charging gave up, the invoice goes to dunning). Post-processing again emits nothing."""
        sub, _token = self._token_subscription("pending")
        invoice = self._bill(sub)
        tx = self._charge_due(JAN_1)
        self.assertFalse(self._events("invoice.payment_failed"))
        tx._set_error("Your card has expired.")
        tx._post_process()
        tx._post_process()
        events = self._events("invoice.payment_failed")
        self.assertEqual(len(events), 1)
        data = self._data(events)
        self.assertEqual(
            (data["attempt"], data["failure_kind"], data["next_attempt_date"], data["invoice"]["id"]),
            (1, "hard", None, invoice.id),
        )
        self.assertFalse(invoice.subscription_charge_pending)

    # ------------------------------------------------------------------
    # Dunning: invoice.overdue, dunning.letter_sent, suspension
    # ------------------------------------------------------------------
    def test_dunning_events_once_and_suspension_cycle(self):
        """The 115.00 invoice due on D: the run on D+7 duns it at the reminder: one invoice.overdue,
        one dunning.letter_sent (level Reminder, one item, total 115.00); a second run that day
        emits nothing. On D+35 the suspension level: no second invoice.overdue, a second letter, one
        subscription.suspended (after the subscription.paused of the state change). Paying the
        115.00 on D+36 emits invoice.paid; the run on D+37 resumes: one subscription.unsuspended."""
        sub, invoice = self._manual_invoice()
        due = invoice.invoice_date_due
        self._dun(due + timedelta(days=7))
        overdue = self._events("invoice.overdue", invoice)
        letters = self._events("dunning.letter_sent")
        self.assertEqual((len(overdue), len(letters)), (1, 1))
        self.assertEqual(self._data(overdue)["id"], invoice.id)
        letter = self._data(letters)
        self.assertEqual(letter["object"], "dunning_letter")
        self.assertEqual(letter["customer_id"], self.customer.id)
        self.assertEqual(letter["level"]["name"], "Reminder")
        self.assertEqual(letter["amount_total"], "115.00")
        self.assertEqual([item["invoice_id"] for item in letter["items"]], [invoice.id])
        self.assertEqual(letter["items"][0]["days_overdue"], 7)
        # rerun on the same day
        self._dun(due + timedelta(days=7))
        self.assertEqual(len(self._events("invoice.overdue")), 1)
        self.assertEqual(len(self._events("dunning.letter_sent")), 1)
        # the suspension level
        self._dun(due + timedelta(days=35))
        self.assertEqual(sub.state, "paused")
        self.assertEqual(len(self._events("invoice.overdue")), 1)
        letters = self._events("dunning.letter_sent")
        self.assertEqual(len(letters), 2)
        self.assertEqual(self._data(letters[-1])["level"]["name"], "Suspension")
        suspended = self._events("subscription.suspended", sub)
        self.assertEqual(len(suspended), 1)
        self.assertLess(self._events("subscription.paused", sub).id, suspended.id)
        self.assertEqual(self._data(suspended)["state"], "paused")
        self._dun(due + timedelta(days=35))
        self.assertEqual(len(self._events("subscription.suspended")), 1)
        # paid, then resumed by the next run
        self._pay(invoice, 115.0, due + timedelta(days=36))
        self.assertEqual(len(self._events("invoice.paid", invoice)), 1)
        self.assertFalse(self._events("subscription.unsuspended"))
        self._dun(due + timedelta(days=37))
        self.assertFalse(sub.dunning_suspended)
        unsuspended = self._events("subscription.unsuspended", sub)
        self.assertEqual(len(unsuspended), 1)
        self.assertEqual(self._data(unsuspended)["state"], "active")
        self._dun(due + timedelta(days=38))
        self.assertEqual(len(self._events("subscription.unsuspended")), 1)

    def test_dunning_events_are_rolled_back_with_the_run(self):
        """The reminder run on D+7 in a savepoint that is rolled back: neither invoice.overdue nor
        dunning.letter_sent stays; the run redone afterwards emits each once."""
        _sub, invoice = self._manual_invoice()
        day = invoice.invoice_date_due + timedelta(days=7)
        with self.assertRaises(RollbackError), self.env.cr.savepoint():
            self._dun(day)
            self.assertEqual(len(self._events("invoice.overdue", invoice)), 1)
            raise RollbackError
        self.env.invalidate_all()
        self.assertFalse(self._events("invoice.overdue"))
        self.assertFalse(self._events("dunning.letter_sent"))
        self._dun(day)
        self.assertEqual(len(self._events("invoice.overdue", invoice)), 1)
        self.assertEqual(len(self._events("dunning.letter_sent")), 1)

    def test_once_only_events_are_unique_in_the_database(self):
        """A second invoice.overdue row for the same invoice, written past the hook, is refused by
        the unique index of the outbox."""
        _sub, invoice = self._manual_invoice()
        vals = {"event_type": "invoice.overdue", "company_id": self.company.id, "res_model": "account.move"}
        Event = self.env["subscription.webhook.event"].sudo()
        Event.create({**vals, "res_id": invoice.id})
        with self.assertRaises(UniqueViolation), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            Event.create({**vals, "res_id": invoice.id})
            self.env.flush_all()


class SepaWebhookCommon(SubscriptionCommon):
    """A EUR plan paid by SEPA direct debit and an endpoint for invoice.paid (no tests here)."""

    # the SEPA tests' helpers, without running their tests here
    _mandate = test_sepa.TestSepa._mandate
    _dd_subscription = test_sepa.TestSepa._dd_subscription
    _on = staticmethod(test_sepa.TestSepa._on)
    _bill = test_sepa.TestSepa._bill
    _gather = test_sepa.TestSepa._gather
    _book = test_sepa.TestSepa._book
    _collect = test_sepa.TestSepa._collect

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.product_dd = cls.env["product.product"].create(
            {"name": "Hosting (EUR)", "type": "service", "subscription_ok": True, "taxes_id": [Command.clear()]}
        )
        bank_journal = cls.company_data["default_journal_bank"]
        bank_journal.bank_account_id = cls.env["res.partner.bank"].create(
            {"partner_id": cls.company.partner_id.id, "acc_number": test_sepa.IBAN_CREDITOR}
        )
        cls.company.write({"sepa_creditor_identifier": test_sepa.CREDITOR_ID, "sepa_journal_id": bank_journal.id})
        eur = cls.env.ref("base.EUR")
        eur.active = True
        cls.plan_eur = cls._create_plan(
            code="EURM", name="EUR monthly", price=49.90, product=cls.product_dd, currency_id=eur.id
        )
        cls.env["subscription.webhook.endpoint"].create(
            {"name": "Payments", "url": "https://example.com/hooks", "event_types": "invoice.paid"}
        )


@tagged("post_install", "-at_install", "subscription_billing")
class TestWebhookSepaPaidEvent(SepaWebhookCommon):
    """invoice.paid by a SEPA direct debit collection: booked once, emitted once."""

    def test_booked_collection_emits_paid_once(self):
        """A 49.90 invoice (no tax) collected by SEPA direct debit: booking the collection pays it
        and emits one invoice.paid (amount_residual 0.00); booking again is refused and emits
        nothing new."""
        mandate = self._mandate(self.env["res.partner"].create({"name": "Jörg Straße"}), test_sepa.IBAN_COBA)
        sub = self._dd_subscription(mandate)
        invoice = self._bill(sub)
        collection = self._collect()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        Event = self.env["subscription.webhook.event"].sudo()
        domain = [("event_type", "=", "invoice.paid"), ("res_model", "=", "account.move"), ("res_id", "=", invoice.id)]
        event = Event.search(domain)
        self.assertEqual(len(event), 1)
        self.env.cr.flush()
        data = json.loads(event._get_payload())["data"]
        self.assertEqual((data["amount_total"], data["amount_residual"]), ("49.90", "0.00"))
        with self.assertRaises(UserError):  # a booked collection cannot be booked again
            self._book(collection)
        self.assertEqual(Event.search_count([("event_type", "=", "invoice.paid")]), 1)


@tagged("post_install", "-at_install", "subscription_billing")
class TestWebhookSepaReturnEvent(SepaWebhookCommon):
    """invoice.payment_returned: a booked direct debit comes back; and invoice.paid once per
    payment cycle (a return opens the next one). The 49.90 EUR invoice has no tax."""

    _import = test_sepa.TestSepa._import
    _camt054 = staticmethod(test_sepa.TestSepa._camt054)
    _line = staticmethod(test_sepa.TestSepa._line)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["subscription.webhook.endpoint"].create(
            {"name": "Returns", "url": "https://example.com/returns", "event_types": "invoice.payment_returned"}
        )

    def _events(self, invoice, sepa_return=None):
        """The invoice's paid events and the returns' payment_returned events, in order."""
        Event = self.env["subscription.webhook.event"].sudo()
        returns = sepa_return or self.env["sepa.return"].search([("invoice_id", "=", invoice.id)])
        return Event.search(
            [
                "|",
                "&",
                ("res_model", "=", "account.move"),
                ("res_id", "=", invoice.id),
                "&",
                ("res_model", "=", "sepa.return"),
                ("res_id", "in", returns.ids),
            ],
            order="id",
        ).filtered(lambda event: event.event_type in ("invoice.paid", "invoice.payment_returned"))

    def _booked(self):
        mandate = self._mandate(self.env["res.partner"].create({"name": "Jörg Straße"}), test_sepa.IBAN_COBA)
        invoice = self._bill(self._dd_subscription(mandate))
        collection = self._collect()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        return mandate, invoice, collection

    def test_return_emits_one_event_with_the_reopened_invoice_and_the_reason(self):
        """The camt.054 returns the 49.90 debit with AM04 (insufficient funds): one
        invoice.payment_returned whose data carries the reason code AM04, the amount 49.90, the
        mandate and the invoice open again (amount_residual 49.90); importing the same file again
        records no second return and no second event."""
        mandate, invoice, _collection = self._booked()
        content = self._camt054([(invoice.name, "49.90", "AM04")])
        self.assertEqual(self._import(content)["processed"], 1)
        events = self._events(invoice).filtered(lambda e: e.event_type == "invoice.payment_returned")
        self.assertEqual(len(events), 1)
        sepa_return = self.env["sepa.return"].search([("invoice_id", "=", invoice.id)])
        self.assertEqual((events.res_model, events.res_id), ("sepa.return", sepa_return.id))
        self.env.cr.flush()  # the precommit hook fills the payload
        data = json.loads(events._get_payload())["data"]
        self.assertEqual(
            (data["object"], data["reason_code"], data["amount"], data["currency"], data["mandate_id"]),
            ("payment_return", "AM04", "49.90", "EUR", mandate.id),
        )
        self.assertEqual(data["return_date"], "2026-01-20")
        self.assertEqual((data["invoice"]["id"], data["invoice"]["amount_residual"]), (invoice.id, "49.90"))
        self.assertEqual(data["invoice"]["payment_state"], "not_paid")
        self._import(content)
        self.assertEqual(len(self._events(invoice).filtered(lambda e: e.event_type == "invoice.payment_returned")), 1)

    def test_rolled_back_return_emits_nothing(self):
        """A return recorded in a savepoint that is then rolled back leaves neither the return
        nor its event (the outbox row is written in the return's transaction)."""
        _mandate, invoice, collection = self._booked()
        reason = self.env.ref("subscription_billing.sepa_reason_am04")
        with self.assertRaises(RollbackError), self.env.cr.savepoint(), self._on(date(2026, 1, 20)):
            self.env["sepa.return"]._record_return(self._line(collection, invoice), reason, date(2026, 1, 20))
            self.assertEqual(
                len(self._events(invoice).filtered(lambda e: e.event_type == "invoice.payment_returned")), 1
            )
            raise RollbackError
        self.env.invalidate_all()
        self.assertFalse(self.env["sepa.return"].search([("invoice_id", "=", invoice.id)]))
        self.assertFalse(self._events(invoice).filtered(lambda e: e.event_type == "invoice.payment_returned"))
        self.assertIn(invoice.payment_state, ("paid", "in_payment"), "the return was undone")

    def test_paid_returned_paid_again_emits_paid_returned_paid(self):
        """Booked on its collection date (paid, cycle 0), returned on 20 January with AM04 (retry:
        presented again), the second collection booked (paid again, cycle 1): the events are
        invoice.paid, invoice.payment_returned, invoice.paid in this order; the second paid
        event's invoice is paid (amount_residual 0.00). An unreconcile and new matching within a
        cycle still emits nothing more."""
        _mandate, invoice, _first = self._booked()
        self._import(self._camt054([(invoice.name, "49.90", "AM04")]))
        self.assertEqual(invoice.payment_state, "not_paid")
        with self._on(date(2026, 1, 21)):
            second = self._gather()
            self.assertEqual(self._line(second, invoice).state, "included")
            second.action_generate()
        self._book(second)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        events = self._events(invoice)
        self.assertEqual(events.mapped("event_type"), ["invoice.paid", "invoice.payment_returned", "invoice.paid"])
        # the paid events are cycles 0 and 1 of the invoice; the return is a resource of its own
        self.assertEqual(events.mapped("occurrence"), [0, 0, 1])
        self.env.cr.flush()
        self.assertEqual(json.loads(events[2]._get_payload())["data"]["amount_residual"], "0.00")
        # within the cycle, matching again emits nothing new
        payment_line = invoice.line_ids.filtered(lambda aml: aml.account_id.account_type == "asset_receivable")
        counterpart = (payment_line.matched_credit_ids.credit_move_id).filtered(lambda aml: aml.move_id != invoice)
        payment_line.remove_move_reconcile()
        (payment_line | counterpart).reconcile()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(len(self._events(invoice)), 3)

    def test_second_paid_event_of_a_cycle_is_refused_by_the_database(self):
        """The unique index holds per cycle: a second invoice.paid of cycle 1 is refused, the
        first of cycle 1 after cycle 0 is not."""
        _mandate, invoice, _collection = self._booked()
        vals = {"event_type": "invoice.paid", "company_id": self.company.id, "res_model": "account.move"}
        Event = self.env["subscription.webhook.event"].sudo()
        Event.create({**vals, "res_id": invoice.id, "occurrence": 1})
        self.env.flush_all()
        with self.assertRaises(UniqueViolation), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            Event.create({**vals, "res_id": invoice.id, "occurrence": 1})
            self.env.flush_all()
