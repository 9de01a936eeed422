from odoo import api, models


class AccountMove(models.Model):
    """Webhook events of subscription invoices: created (by the billing run) and posted."""

    _inherit = "account.move"

    @api.model_create_multi
    def create(self, vals_list):
        moves = super().create(vals_list)
        Event = self.env["subscription.webhook.event"]
        if Event._has_endpoints():
            Event._emit_webhook_event("invoice.created", moves._get_webhook_invoices())
        return moves

    def _post(self, soft=True):
        posted = super()._post(soft)
        Event = self.env["subscription.webhook.event"]
        if Event._has_endpoints():
            Event._emit_webhook_event("invoice.posted", posted._get_webhook_invoices())
        return posted

    def _get_webhook_invoices(self):
        """The customer invoices and credit notes that bill a subscription."""
        return self.filtered(
            lambda move: move.move_type in ("out_invoice", "out_refund") and move.line_ids.subscription_id
        )
