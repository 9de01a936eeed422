from odoo import models


class SepaMandate(models.Model):
    """Webhook events of mandates: mandate.<new state> (active, revoked, expired, closed)."""

    _inherit = "sepa.mandate"

    def _change_state(self, new_state, reason=None):
        result = super()._change_state(new_state, reason=reason)
        self.env["subscription.webhook.event"]._emit_webhook_event(f"mandate.{new_state}", self)
        return result
