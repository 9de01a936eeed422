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

    def _get_webhook_paid_cycles(self):
        """The payment cycle of each of these invoices for ``invoice.paid``: ``{invoice id: n}``.

        The rule: an invoice is paid once per cycle. It starts in cycle 0; each returned direct
        debit (``sepa.return``, event ``invoice.payment_returned``) reopens it and starts the next
        cycle. Counted from the returns themselves, so the rule holds whether or not an endpoint
        wanted the return's event.
        """
        if not self:
            return {}
        groups = (
            self.env["sepa.return"].sudo()._read_group([("invoice_id", "in", self.ids)], ["invoice_id"], ["__count"])
        )
        return {invoice.id: count for invoice, count in groups}
