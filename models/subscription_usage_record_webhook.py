from odoo import api, models

#: the fields of a reported usage record repeated in its usage.rejected event
REPORTED_FIELDS = ("subscription_id", "partner_id", "metric", "metric_id", "quantity", "timestamp", "value")


class SubscriptionUsageRecord(models.Model):
    """usage.rejected webhook events: one per record of a batch that was not stored, with its reason."""

    _inherit = "subscription.usage.record"

    @api.model
    def ingest_usage(self, records):
        results = super().ingest_usage(records)
        rejected = [
            (record, result)
            for record, result in zip(records, results, strict=True)
            if result["status"] == "rejected" and isinstance(record, dict)
        ]
        if not rejected or not self.env["subscription.webhook.event"]._has_endpoints():
            return results
        Event = self.env["subscription.webhook.event"]
        subscriptions = self.env["subscription.subscription"].browse(
            {r["subscription_id"] for r, _result in rejected if isinstance(r.get("subscription_id"), int)}
        )
        companies = {sub.id: sub.company_id for sub in subscriptions.exists()._filtered_access("read")}
        for record, result in rejected:
            data = {"object": "usage_record", "status": "rejected", "error": result["error"] or None}
            data["idempotency_key"] = result["idempotency_key"] or None
            data.update({name: record[name] for name in REPORTED_FIELDS if name in record})
            company = companies.get(record.get("subscription_id")) or self.env.company
            Event._emit_webhook_payload("usage.rejected", company, self._name, data)
        return results
