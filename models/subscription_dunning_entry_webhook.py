from odoo import api, models


class SubscriptionDunningEntry(models.Model):
    """``invoice.overdue``: a subscription invoice enters dunning (its first dunning entry)."""

    _inherit = "subscription.dunning.entry"

    @api.model_create_multi
    def create(self, vals_list):
        entries = super().create(vals_list)
        Event = self.env["subscription.webhook.event"]
        if Event._has_endpoints():
            invoices = entries.invoice_id.sudo()._get_webhook_invoices()
            # entries are never deleted while the invoice lives: an earlier one means an earlier event
            first = invoices.filtered(lambda invoice: not (invoice.dunning_entry_ids - entries))
            Event._emit_webhook_event_once("invoice.overdue", first)
        return entries
