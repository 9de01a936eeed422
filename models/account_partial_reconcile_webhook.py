from odoo import api, models


class AccountPartialReconcile(models.Model):
    """``invoice.paid``: emitted where Odoo matches a payment with an invoice, whatever the way
    (automatic charge, SEPA collection, manual payment, bank reconciliation)."""

    _inherit = "account.partial.reconcile"

    @api.model_create_multi
    def create(self, vals_list):
        partials = super().create(vals_list)
        Event = self.env["subscription.webhook.event"]
        if Event._has_endpoints():
            partials._emit_invoice_paid()
        return partials

    def _emit_invoice_paid(self):
        """The subscription invoices these matchings leave paid (or in payment) get their
        ``invoice.paid`` event, once per invoice and payment cycle: a second matching, an
        unreconcile and a new payment emit nothing new (a unique index on the outbox); a returned
        direct debit opens the next cycle, so the invoice paid again emits ``invoice.paid`` again
        (see ``account.move._get_webhook_paid_cycles``)."""
        moves = (self.debit_move_id | self.credit_move_id).move_id.sudo()
        invoices = moves.filtered(lambda move: move.move_type == "out_invoice")._get_webhook_invoices()
        paid = invoices.filtered(lambda move: move.payment_state in ("paid", "in_payment"))
        self.env["subscription.webhook.event"]._emit_webhook_event_once(
            "invoice.paid", paid, occurrences=paid._get_webhook_paid_cycles()
        )
