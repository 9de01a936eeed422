from odoo import models


class SubscriptionDunningLetter(models.Model):
    """``dunning.letter_sent``: a dunning letter turns to sent (its PDF rendered, its e-mail queued)."""

    _inherit = "subscription.dunning.letter"

    def _send(self):
        letters = super()._send()
        Event = self.env["subscription.webhook.event"]
        if Event._has_endpoints():
            Event._emit_webhook_event_once(
                "dunning.letter_sent", letters.filtered(lambda letter: letter.state == "sent")
            )
        return letters
