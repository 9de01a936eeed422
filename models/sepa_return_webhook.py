from odoo import models


class SepaReturn(models.Model):
    """``invoice.payment_returned``: a booked direct debit came back (Rücklastschrift)."""

    _inherit = "sepa.return"

    def _process(self):
        """After the return is recorded (payment reversed, invoice reopened, reason applied), write
        its event in the same transaction: a rolled-back return leaves none. One per return (the
        return is unique per debit, and a unique index on the outbox guards the event too)."""
        result = super()._process()
        Event = self.env["subscription.webhook.event"]
        if Event._has_endpoints():
            Event._emit_webhook_event_once("invoice.payment_returned", self)
        return result
