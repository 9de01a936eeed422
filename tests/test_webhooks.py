import json
import threading
import time
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from odoo.addons.subscription_billing.models import subscription_webhook_dispatch as dispatch_module

from .common import SubscriptionCommon


class Receiver:
    """A local HTTP receiver that answers with the next of ``statuses`` (the last one repeats),
    optionally after ``delays`` seconds, and keeps what it received."""

    def __init__(self, statuses=(200,), delays=(), location=None):
        self.statuses = list(statuses)
        self.delays = list(delays)
        self.location = location
        self.requests = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                index = len(receiver.requests)
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                delay = receiver.delays[index] if index < len(receiver.delays) else 0
                if delay:
                    time.sleep(delay)
                status = receiver.statuses[min(index, len(receiver.statuses) - 1)]
                self.send_response(status)
                if receiver.location:
                    self.send_header("Location", receiver.location)
                self.end_headers()
                self.wfile.write(b"ok" if status < 300 else b"nope")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def verified(self, secret):
        """The received events, each verified with the standardwebhooks library as a receiver would."""
        return [Webhook(secret).verify(req["body"], req["headers"]) for req in self.requests]


@tagged("post_install", "-at_install", "subscription_billing")
class TestWebhooks(SubscriptionCommon):
    """The outbox and its delivery worker against a real local HTTP receiver."""

    def _endpoint(self, receiver, **values):
        self.addCleanup(receiver.close)
        return self.env["subscription.webhook.endpoint"].create(
            {"name": "Receiver", "url": receiver.url, "event_types": "*", **values}
        )

    def _deliver(self, now=None):
        # a commit runs the precommit hooks that fill the payloads; cr.flush() runs them without committing
        self.env.cr.flush()
        return self.env["subscription.webhook.dispatch"]._deliver_due(now=now)

    def test_lifecycle_events_are_signed_ordered_and_verifiable(self):
        """Create, start and pause a subscription: the receiver gets created, activated, paused in
        that order, each verified with standardwebhooks, each carrying the subscription as the API
        returns it at that moment."""
        receiver = Receiver()
        endpoint = self._endpoint(receiver)
        sub = self._create_subscription(start_date=date(2026, 1, 1))
        self.env.cr.flush()
        sub._start(date_ref=date(2026, 1, 1))
        self.env.cr.flush()
        sub._pause(date(2026, 2, 1))
        self._deliver()
        events = receiver.verified(endpoint.secret)
        self.assertEqual(
            [e["type"] for e in events], ["subscription.created", "subscription.activated", "subscription.paused"]
        )
        self.assertEqual([e["data"]["state"] for e in events], ["draft", "active", "paused"])
        self.assertEqual(events[2]["data"]["pause_date"], "2026-02-01")
        self.assertTrue(all(e["api_version"] == "v1" and e["id"].startswith("evt_") for e in events))
        self.assertEqual(receiver.requests[0]["headers"]["webhook-id"], events[0]["id"])
        self.assertEqual(set(endpoint.delivery_ids.mapped("state")), {"succeeded"})

    def test_wrong_secret_does_not_verify(self):
        receiver = Receiver()
        self._endpoint(receiver)
        self._create_subscription()
        self._deliver()
        other = "whsec_" + "A" * 43 + "="
        with self.assertRaises(Exception):  # noqa: B017 - standardwebhooks.WebhookVerificationError
            receiver.verified(other)

    def test_receiver_that_fails_then_recovers_gets_the_event_once(self):
        """500 on the first attempt: retried 5 s later (not before), 200 then, never sent again.
        Two requests with one webhook-id, one delivery, two attempts in the log."""
        receiver = Receiver(statuses=(500, 200))
        endpoint = self._endpoint(receiver, event_types="subscription.created")
        self._create_subscription()
        now = fields.Datetime.now()
        self._deliver(now)
        delivery = endpoint.delivery_ids
        self.assertEqual((delivery.state, delivery.attempt_count), ("pending", 1))
        self.assertEqual(delivery.next_attempt_at, now + timedelta(seconds=5))
        self._deliver(now + timedelta(seconds=4))
        self.assertEqual(len(receiver.requests), 1, "not due before its retry time")
        self._deliver(now + timedelta(seconds=6))
        self._deliver(now + timedelta(hours=1))
        self.assertEqual(len(receiver.requests), 2)
        self.assertEqual(receiver.requests[0]["headers"]["webhook-id"], receiver.requests[1]["headers"]["webhook-id"])
        self.assertEqual(delivery.state, "succeeded")
        self.assertEqual(sorted(delivery.attempt_ids.mapped("status_code")), [200, 500])
        self.assertEqual(endpoint.consecutive_failures, 0)

    def test_timeout_is_a_failed_attempt_then_delivered(self):
        """A receiver slower than the timeout fails the attempt; the retry delivers. (5 s in
        production; Odoo's test mode raises request timeouts to 10 s, so the receiver waits 10.5 s.)"""
        self.assertEqual(dispatch_module.TIMEOUT, 5.0)
        receiver = Receiver(statuses=(200,), delays=(10.5,))
        endpoint = self._endpoint(receiver, event_types="subscription.created")
        self._create_subscription()
        now = fields.Datetime.now()
        self._deliver(now)
        attempt = endpoint.delivery_ids.attempt_ids
        self.assertEqual((attempt.success, attempt.status_code), (False, 0))
        self.assertIn("seconds", attempt.error)
        self._deliver(now + timedelta(seconds=6))
        self.assertEqual(endpoint.delivery_ids.state, "succeeded")

    def test_redirect_is_not_followed(self):
        receiver = Receiver(statuses=(302,), location="http://elsewhere.example/steal")
        endpoint = self._endpoint(receiver, event_types="subscription.created")
        self._create_subscription()
        self._deliver()
        self.assertEqual(len(receiver.requests), 1)
        attempt = endpoint.delivery_ids.attempt_ids
        self.assertEqual((attempt.status_code, attempt.success), (302, False))
        self.assertIn("not followed", attempt.error)

    def test_rolled_back_change_sends_nothing(self):
        """A pause undone by a rollback leaves no event and no request; the committed start does."""
        sub = self._create_subscription(start_date=date(2026, 1, 1))
        sub._start(date_ref=date(2026, 1, 1))
        receiver = Receiver()
        endpoint = self._endpoint(receiver)
        with self.assertRaises(ZeroDivisionError), self.env.cr.savepoint():
            sub._pause(date(2026, 2, 1))
            _ = 1 / 0
        self.assertFalse(self.env["subscription.webhook.event"].search([("event_type", "=", "subscription.paused")]))
        self._deliver()
        self.assertEqual(receiver.requests, [])
        self.assertFalse(endpoint.delivery_ids)

    def test_endpoint_disabled_after_consecutive_failures_with_notification(self):
        """max_consecutive_failures = 2: two failed attempts disable the endpoint and post a notice;
        nothing more is sent while it is disabled; enabling it again delivers."""
        receiver = Receiver(statuses=(500, 500, 200))
        endpoint = self._endpoint(receiver, event_types="subscription.created", max_consecutive_failures=2)
        self._create_subscription()
        now = fields.Datetime.now()
        self._deliver(now)
        self._deliver(now + timedelta(seconds=6))
        self.assertFalse(endpoint.active)
        self.assertIn("disabled after 2 failed deliveries", endpoint.message_ids[0].body)
        self._deliver(now + timedelta(hours=2))
        self.assertEqual(len(receiver.requests), 2)
        endpoint.action_enable()
        self._deliver(now + timedelta(hours=2))
        self.assertEqual(len(receiver.requests), 3)
        self.assertEqual(endpoint.delivery_ids.state, "succeeded")

    def test_gives_up_after_the_last_retry(self):
        """Every attempt fails: after 15 attempts over more than 3 days the delivery is failed."""
        receiver = Receiver(statuses=(500,))
        endpoint = self._endpoint(receiver, event_types="subscription.created", max_consecutive_failures=100)
        self._create_subscription()
        now = fields.Datetime.now()
        for hours in range(0, 24 * 4, 1):
            self._deliver(now + timedelta(hours=hours, seconds=1))
        delivery = endpoint.delivery_ids
        self.assertEqual((delivery.state, delivery.attempt_count), ("failed", 15))

    def test_failing_endpoint_blocks_only_itself_and_keeps_order(self):
        """Endpoint A fails: its second event waits behind the first. Endpoint B gets both, in order."""
        receiver_a, receiver_b = Receiver(statuses=(500,)), Receiver()
        self._endpoint(receiver_a, event_types="subscription.created")
        self._endpoint(receiver_b, event_types="subscription.created")
        first = self._create_subscription()
        second = self._create_subscription(partner=self.other_customer)
        self._deliver()
        self.assertEqual(len(receiver_a.requests), 1)
        ids = [json.loads(req["body"])["data"]["id"] for req in receiver_b.requests]
        self.assertEqual(ids, [first.id, second.id])

    def test_manual_resend_sends_again_with_same_id(self):
        receiver = Receiver()
        endpoint = self._endpoint(receiver, event_types="subscription.created")
        self._create_subscription()
        self._deliver()
        endpoint.delivery_ids.action_resend()
        self._deliver()
        self.assertEqual(len(receiver.requests), 2)
        self.assertEqual(receiver.requests[0]["headers"]["webhook-id"], receiver.requests[1]["headers"]["webhook-id"])

    def test_invoice_events_carry_the_invoice(self):
        """Billing January of the monthly plan creates and posts an invoice of 100.00 + tax."""
        receiver = Receiver()
        endpoint = self._endpoint(receiver, event_types="invoice.*")
        sub = self._start(start_date=date(2026, 1, 1))
        result = sub._run_billing(date(2026, 1, 1))
        invoice = result["invoices"]
        self._deliver()
        events = receiver.verified(endpoint.secret)
        self.assertEqual([e["type"] for e in events], ["invoice.created", "invoice.posted"])
        self.assertEqual(events[1]["data"]["id"], invoice.id)
        self.assertEqual(events[1]["data"]["amount_untaxed"], "100.00")
        self.assertEqual(events[1]["data"]["state"], "posted")

    def test_no_endpoint_no_event(self):
        """Without an endpoint that wants it, nothing is written to the outbox."""
        self._create_subscription()
        self.assertFalse(self.env["subscription.webhook.event"].search([]))

    def test_company_rule_and_secret_visibility(self):
        """A subscription user of company B sees no endpoint of company A; a user (not manager)
        of company A sees the endpoint but not its secret."""
        receiver = Receiver()
        endpoint = self._endpoint(receiver)
        company_b = self.setup_other_company()["company"]
        user_b = new_test_user(
            self.env,
            login="wh_b",
            groups="subscription_billing.group_subscription_user",
            company_id=company_b.id,
            company_ids=[(6, 0, company_b.ids)],
        )
        self.assertFalse(self.env["subscription.webhook.endpoint"].with_user(user_b).search([]))
        with self.assertRaises(AccessError):
            endpoint.with_user(user_b).read(["name"])
        user_a = new_test_user(self.env, login="wh_a", groups="subscription_billing.group_subscription_user")
        self.assertEqual(endpoint.with_user(user_a).read(["name"])[0]["name"], "Receiver")
        with self.assertRaises(AccessError):
            endpoint.with_user(user_a).read(["secret"])

    def test_customer_events(self):
        """A customer created and then renamed: customer.created, customer.updated; a contact person
        (not a commercial partner) and an unrelated write (a comment) emit nothing."""
        receiver = Receiver()
        endpoint = self._endpoint(receiver, event_types="customer.*")
        customer = self.env["res.partner"].create({"name": "Events AG", "customer_rank": 1})
        self.env.cr.flush()
        customer.write({"name": "Events SE"})
        customer.write({"comment": "internal note"})
        self.env["res.partner"].create({"name": "Contact", "parent_id": customer.id})
        self._deliver()
        events = receiver.verified(endpoint.secret)
        self.assertEqual([e["type"] for e in events], ["customer.created", "customer.updated"])
        self.assertEqual([e["data"]["name"] for e in events], ["Events AG", "Events SE"])

    def test_mandate_events(self):
        """Activating and revoking a mandate: mandate.active, mandate.revoked, with the mandate."""
        self.env.company.sepa_creditor_identifier = "DE98ZZZ09999999999"
        receiver = Receiver()
        endpoint = self._endpoint(receiver, event_types="mandate.*")
        wizard = self.env["sepa.mandate.wizard"].create(
            {"partner_id": self.customer.id, "iban": "DE89370400440532013000", "consent_channel": "online"}
        )
        mandate = wizard._create_mandate()
        self.env.cr.flush()
        mandate.action_revoke()
        self._deliver()
        events = receiver.verified(endpoint.secret)
        self.assertEqual([e["type"] for e in events], ["mandate.active", "mandate.revoked"])
        self.assertEqual([e["data"]["iban_last4"] for e in events], ["3000", "3000"])

    def test_rejected_usage_emits_usage_rejected(self):
        """One record stored, one rejected (no such metric): one usage.rejected event with the
        reported fields and the model's reason; the stored one emits nothing."""
        receiver = Receiver()
        endpoint = self._endpoint(receiver, event_types="usage.*")
        sub = self._start(start_date=date(2026, 1, 1))
        metric = self.env["subscription.usage.metric"].create({"name": "Calls", "code": "wh_calls"})
        sub.line_ids = [(0, 0, {"product_id": self.product_support.id, "line_type": "usage", "metric_id": metric.id})]
        results = self.env["subscription.usage.record"].ingest_usage(
            [
                {"subscription_id": sub.id, "metric": "wh_calls", "quantity": 1,
                 "timestamp": "2026-01-05T10:00:00Z", "idempotency_key": "ok-1"},
                {"subscription_id": sub.id, "metric": "nope", "quantity": 1,
                 "timestamp": "2026-01-05T10:00:00Z", "idempotency_key": "bad-1"},
            ]
        )  # fmt: skip
        self.assertEqual([r["status"] for r in results], ["created", "rejected"])
        self._deliver()
        events = receiver.verified(endpoint.secret)
        self.assertEqual([e["type"] for e in events], ["usage.rejected"])
        self.assertEqual((events[0]["data"]["idempotency_key"], events[0]["data"]["metric"]), ("bad-1", "nope"))
        self.assertEqual(events[0]["data"]["error"], results[1]["error"])

    def test_trial_will_end_is_sent_once_three_days_before(self):
        """Trial to 2026-01-14: nothing on 2026-01-10 (4 days before), the reminder on 2026-01-11
        (3 days before), no second one on 2026-01-12 (the cron runs daily; the outbox has a unique
        index per subscription)."""
        receiver = Receiver()
        endpoint = self._endpoint(receiver, event_types="subscription.trial_will_end")
        sub = self._start(start_date=date(2026, 1, 1), trial_end_date=date(2026, 1, 14))
        self.assertEqual(sub.state, "trial")
        Sub = self.env["subscription.subscription"]
        Sub._cron_emit_trial_will_end(date(2026, 1, 10))
        self.assertFalse(endpoint.delivery_ids)
        Sub._cron_emit_trial_will_end(date(2026, 1, 11))
        Sub._cron_emit_trial_will_end(date(2026, 1, 12))
        self._deliver()
        events = receiver.verified(endpoint.secret)
        self.assertEqual([(e["type"], e["data"]["trial_end_date"]) for e in events],
                         [("subscription.trial_will_end", "2026-01-14")])  # fmt: skip
        with self.assertRaises(Exception), self.env.cr.savepoint():  # noqa: B017 - psycopg2 UniqueViolation
            self.env["subscription.webhook.event"].create(
                {"event_type": "subscription.trial_will_end", "company_id": sub.company_id.id,
                 "res_model": sub._name, "res_id": sub.id}
            )  # fmt: skip
