from odoo import api, models

from ..billing_core import payment_retry
from .subscription_payment_charging import FAILED_TX_STATES


class SubscriptionPaymentCharging(models.AbstractModel):
    """``invoice.payment_failed``: one event per failed automatic charge attempt."""

    _inherit = "subscription.payment.charging"

    @api.model
    def _handle_transaction_outcome(self, tx, date_ref):
        tx = tx.sudo()
        was_handled = tx.subscription_charge_handled
        result = super()._handle_transaction_outcome(tx, date_ref)
        invoice = tx.subscription_charge_invoice_id
        if invoice and not was_handled and tx.subscription_charge_handled and tx.state in FAILED_TX_STATES:
            kind = payment_retry.classify_failure(tx.state, tx.state_message, token_active=tx.token_id.active)
            tx.write(
                {
                    "subscription_charge_attempt": invoice.subscription_charge_failures,
                    "subscription_charge_failure_kind": kind,
                    "subscription_charge_retry_date": invoice.subscription_charge_pending
                    and invoice.subscription_charge_next_date,
                }
            )
            self.env["subscription.webhook.event"]._emit_webhook_event_once("invoice.payment_failed", tx)
        return result
