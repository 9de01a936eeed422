import logging
import time
from datetime import timezone

import requests
from standardwebhooks import Webhook

from odoo import api, fields, models
from odoo.tools import SQL

from ..billing_core import webhooks

_logger = logging.getLogger(__name__)

#: seconds to connect and, separately, to wait for the answer: a slow receiver fails fast and is
#: retried later (Odoo's test mode raises any timeout below 10 s to 10 s)
TIMEOUT = 5.0
#: seconds one endpoint may take of a run before the worker moves on to the others
ENDPOINT_TIME_BUDGET = 10.0
#: deliveries sent to one endpoint per claim (in creation order)
ENDPOINT_BATCH = 100
EXCERPT = 500


class SubscriptionWebhookDispatch(models.AbstractModel):
    """The webhook delivery job: claim endpoints, send their pending events in order, log, retry.

    An endpoint is claimed with ``try_lock_for_update`` (``FOR UPDATE SKIP LOCKED``), so two
    cron workers split the endpoints and one endpoint's events are sent by one worker at a
    time, oldest first. A failed delivery blocks the later ones of its endpoint until it is
    delivered or given up (per-endpoint order); the other endpoints go on.
    """

    _name = "subscription.webhook.dispatch"
    _description = "Webhook delivery worker"

    @api.model
    def _cron_deliver_webhooks(self):
        """Cron: deliver what is due, committing after each endpoint."""
        self._deliver_due(commit=True)

    @api.model
    def _deliver_due(self, commit=False, now=None):
        """Send the due deliveries of every active endpoint; return the number of attempts."""
        now = now or fields.Datetime.now()
        Endpoint = self.env["subscription.webhook.endpoint"].sudo()
        rows = self.env.execute_query(
            SQL(
                """SELECT DISTINCT ON (d.endpoint_id) d.endpoint_id, d.next_attempt_at
                     FROM subscription_webhook_delivery d
                     JOIN subscription_webhook_endpoint e ON e.id = d.endpoint_id AND e.active
                    WHERE d.state = 'pending'
                 ORDER BY d.endpoint_id, d.id"""
            )
        )
        due = [endpoint_id for endpoint_id, next_at in rows if not next_at or next_at <= now]
        attempts = 0
        for endpoint in Endpoint.browse(due):
            if not endpoint.try_lock_for_update():
                continue  # another worker is sending this endpoint's events
            attempts += self._deliver_endpoint(endpoint, now)
            if commit:
                remaining = self.env["ir.cron"]._commit_progress(processed=1)
                if remaining <= 0:
                    break
        return attempts

    @api.model
    def _deliver_endpoint(self, endpoint, now):
        """Send ``endpoint``'s pending deliveries oldest first until one fails, none is due or the
        time budget is spent."""
        Delivery = self.env["subscription.webhook.delivery"].sudo()
        started = time.monotonic()
        attempts = 0
        for delivery in Delivery.search(
            [("endpoint_id", "=", endpoint.id), ("state", "=", "pending")], order="id", limit=ENDPOINT_BATCH
        ):
            if delivery.next_attempt_at and delivery.next_attempt_at > now:
                break  # the oldest waits for its retry: the later ones wait behind it
            ok = self._attempt(delivery, now)
            attempts += 1
            if not ok or not endpoint.active or time.monotonic() - started > ENDPOINT_TIME_BUDGET:
                break
        return attempts

    @api.model
    def _attempt(self, delivery, now):
        """One signed POST of ``delivery``; log it and schedule the retry; True when delivered."""
        endpoint, event = delivery.endpoint_id, delivery.event_id
        body = event._get_payload()
        headers = self._signed_headers(endpoint.secret, event.uid, fields.Datetime.now(), body)
        status, excerpt, error = 0, False, False
        started = time.monotonic()
        try:
            response = requests.post(
                endpoint.url,
                data=body.encode(),
                headers=headers,
                timeout=TIMEOUT,
                allow_redirects=False,  # never follow: a redirect could lead to another host
            )
            status = response.status_code
            excerpt = (response.text or "")[:EXCERPT]
            if 300 <= status < 400:
                error = self.env._("Redirect to %(location)s not followed.", location=response.headers.get("Location"))
        except requests.exceptions.Timeout:
            error = self.env._("No answer within %(seconds)s seconds.", seconds=int(TIMEOUT))
        except requests.exceptions.RequestException as exc:
            error = str(exc)[:EXCERPT]
        latency = int((time.monotonic() - started) * 1000)
        success = webhooks.is_success(status)
        self.env["subscription.webhook.attempt"].sudo().create(
            {
                "delivery_id": delivery.id,
                "attempt_date": now,
                "status_code": status,
                "latency_ms": latency,
                "response_excerpt": excerpt,
                "error": error or (False if success else self.env._("HTTP status %(status)s", status=status)),
                "success": success,
            }
        )
        count = delivery.attempt_count + 1
        if success:
            delivery.write({"state": "succeeded", "attempt_count": count, "delivered_at": now})
            endpoint._record_success()
            return True
        delay = webhooks.next_retry_delay(count)
        vals = {"attempt_count": count}
        if delay is None:
            vals["state"] = "failed"
        else:
            vals["next_attempt_at"] = now + delay
            self.env.ref("subscription_billing.ir_cron_subscription_webhook_delivery")._trigger(now + delay)
        delivery.write(vals)
        endpoint._record_failure(error or f"HTTP {status}")
        return False

    @api.model
    def _signed_headers(self, secret, msg_id, sent_at, body):
        """The Standard Webhooks headers (``sent_at`` a naive UTC datetime, as Odoo stores them)."""
        sent_at = sent_at.replace(tzinfo=timezone.utc)
        return {
            "Content-Type": "application/json",
            "User-Agent": "subscription-billing-webhooks/1",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(sent_at.timestamp())),
            "webhook-signature": Webhook(secret).sign(msg_id, sent_at, body),
        }
