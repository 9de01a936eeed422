import json
import uuid

from odoo import api, fields, models

from ..controllers.api_openapi import API_VERSION
from ..controllers.api_serializers import (
    customer_data,
    dunning_letter_data,
    invoice_data,
    mandate_data,
    payment_attempt_data,
    payment_return_data,
    subscription_data,
)

PENDING_KEY = "subscription_webhook.pending_payloads"


class SubscriptionWebhookEvent(models.Model):
    """The outbox: one row per business event, written in the transaction of the change.

    A rolled-back change leaves no event, a committed one cannot lose its event; the
    deliveries to the endpoints are made by the worker (:model:`subscription.webhook.dispatch`)
    after the commit. The payload is the resource as the API returns it, taken when the
    transaction is flushed (so after every write of the change, not halfway through it).
    """

    _name = "subscription.webhook.event"
    _description = "Webhook event"
    _order = "id desc"

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    uid = fields.Char(
        string="Event ID", required=True, readonly=True, default=lambda self: f"evt_{uuid.uuid4().hex}", index=True
    )
    event_type = fields.Char(required=True, readonly=True, index=True)
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    res_model = fields.Char(required=True, readonly=True)
    res_id = fields.Integer(required=True, readonly=True)
    api_version = fields.Char(required=True, readonly=True, default=API_VERSION)
    occurrence = fields.Integer(
        required=True,
        readonly=True,
        default=0,
        help="For an event that happens once per resource and cycle (invoice.paid): the cycle. "
        "An invoice is paid in cycle 0; each returned direct debit of it opens the next one.",
    )
    payload = fields.Text(readonly=True, help="The JSON body sent to the endpoints.")
    delivery_ids = fields.One2many("subscription.webhook.delivery", "event_id", string="Deliveries")

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    _uid_unique = models.Constraint("UNIQUE(uid)", "A webhook event ID is unique.")
    # a reminder is sent once per subscription, whatever reruns or workers do
    _reminder_unique = models.UniqueIndex(
        "(res_model, res_id, event_type) WHERE event_type = 'subscription.trial_will_end'",
        "The trial reminder of a subscription is sent once.",
    )
    # events of a one-time occurrence: once per resource (and cycle, see occurrence), whatever
    # reruns, reconciles or workers do
    _once_unique = models.UniqueIndex(
        "(res_model, res_id, event_type, occurrence) WHERE event_type IN "
        "('invoice.paid', 'invoice.overdue', 'dunning.letter_sent', 'invoice.payment_failed', "
        "'invoice.payment_returned')",
        "This event has already been emitted for this resource.",
    )

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _has_endpoints(self):
        """Whether any active endpoint exists: hooks on busy models ask this before looking further."""
        return bool(self.env["subscription.webhook.endpoint"].sudo().search_count([], limit=1))

    @api.model
    def _emit_webhook_event(self, event_type, records, occurrences=None):
        """Write the event ``event_type`` for each of ``records`` and a delivery for each active
        endpoint of its company that wants it; wake the delivery worker.

        The hook other models call (``self.env["subscription.webhook.event"]._emit_webhook_event(
        "invoice.paid", invoices)``). Runs as superuser: the user who pauses a subscription needs
        no right on the outbox. Nothing is written when no endpoint wants the event.
        ``occurrences`` maps a record id to the cycle of a once-per-cycle event (default 0).
        """
        if not records:
            return self.browse()
        Event = self.sudo()
        endpoints = self.env["subscription.webhook.endpoint"].sudo().search([])
        events_vals, targets = [], []
        for record in records:
            company = record.company_id if "company_id" in record._fields else self.env.company
            company = company or self.env.company
            wanted = endpoints.filtered(lambda e, c=company: e.company_id == c and e._wants(event_type))
            if not wanted:
                continue
            events_vals.append(
                {
                    "event_type": event_type,
                    "company_id": company.id,
                    "res_model": record._name,
                    "res_id": record.id,
                    "occurrence": (occurrences or {}).get(record.id, 0),
                }
            )
            targets.append(wanted)
        if not events_vals:
            return self.browse()
        events = Event.create(events_vals)
        self.env["subscription.webhook.delivery"].sudo().create(
            [
                {"event_id": event.id, "endpoint_id": endpoint.id, "company_id": event.company_id.id}
                for event, wanted in zip(events, targets, strict=True)
                for endpoint in wanted
            ]
        )
        pending = self.env.cr.precommit.data.setdefault(PENDING_KEY, set())
        if not pending:
            self.env.cr.precommit.add(self._fill_pending_payloads)
        pending.update(events.ids)
        # absent only while the addon's data is being loaded (install, upgrade)
        cron = self.env.ref("subscription_billing.ir_cron_subscription_webhook_delivery", raise_if_not_found=False)
        if cron:
            cron._trigger()
        return events

    @api.model
    def _emit_webhook_event_once(self, event_type, records, occurrences=None):
        """:meth:`_emit_webhook_event` for the records that have no ``event_type`` event yet (the
        events of a one-time occurrence; a unique index on the outbox guards them).

        ``occurrences`` maps a record id to its current cycle (default 0): the event is written
        once per record and cycle (``invoice.paid`` again after a returned debit).
        """
        if not records:
            return self.browse()
        occurrences = occurrences or {}
        done = {
            (event.res_id, event.occurrence)
            for event in self.sudo().search(
                [("event_type", "=", event_type), ("res_model", "=", records._name), ("res_id", "in", records.ids)]
            )
        }
        todo = records.filtered(lambda record: (record.id, occurrences.get(record.id, 0)) not in done)
        return self._emit_webhook_event(event_type, todo, occurrences=occurrences)

    @api.model
    def _emit_webhook_payload(self, event_type, company, res_model, data):
        """Like :meth:`_emit_webhook_event` for an event without a stored record (a rejected usage
        record): ``data`` is the resource of the event, written now."""
        endpoints = (
            self.env["subscription.webhook.endpoint"]
            .sudo()
            .search([("company_id", "=", company.id)])
            .filtered(lambda endpoint: endpoint._wants(event_type))
        )
        if not endpoints:
            return self.browse()
        event = self.sudo().create(
            {"event_type": event_type, "company_id": company.id, "res_model": res_model, "res_id": 0}
        )
        event.payload = event._dump_payload(data)
        self.env["subscription.webhook.delivery"].sudo().create(
            [{"event_id": event.id, "endpoint_id": endpoint.id, "company_id": company.id} for endpoint in endpoints]
        )
        cron = self.env.ref("subscription_billing.ir_cron_subscription_webhook_delivery", raise_if_not_found=False)
        if cron:
            cron._trigger()
        return event

    @api.model
    def _fill_pending_payloads(self):
        """Precommit hook: the payloads of this transaction's events, from the records as they are now."""
        ids = self.env.cr.precommit.data.pop(PENDING_KEY, set())
        for event in self.sudo().browse(sorted(ids)).exists():
            if not event.payload:
                event.payload = event._build_payload()

    def _build_payload(self):
        self.ensure_one()
        record = self.env[self.res_model].sudo().browse(self.res_id).exists()
        data = self._serialize(record) if record else {"id": self.res_id, "object": self.res_model, "deleted": True}
        return self._dump_payload(data)

    def _dump_payload(self, data):
        self.ensure_one()
        return json.dumps(
            {
                "id": self.uid,
                "type": self.event_type,
                "timestamp": self.create_date.isoformat(timespec="seconds") + "Z",
                "api_version": self.api_version,
                "data": data,
            },
            ensure_ascii=False,
            separators=(",", ":"),
            default=str,
        )

    @api.model
    def _serialize(self, record):
        """The resource as the API returns it; other models' events get their id and model."""
        serializers = {
            "res.partner": customer_data,
            "subscription.subscription": subscription_data,
            "account.move": invoice_data,
            "sepa.mandate": mandate_data,
            "payment.transaction": payment_attempt_data,
            "subscription.dunning.letter": dunning_letter_data,
            "sepa.return": payment_return_data,
        }
        if record._name in serializers:
            return serializers[record._name](record)
        return {"id": record.id, "object": record._name, "display_name": record.display_name}

    def _get_payload(self):
        """The body to send (built now for an event whose transaction never flushed its hook)."""
        self.ensure_one()
        if not self.payload:
            self.sudo().payload = self._build_payload()
        return self.payload
