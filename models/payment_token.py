from markupsafe import Markup

from odoo import models


class PaymentToken(models.Model):
    """Archiving a saved payment method never silently leaves a subscription charging nothing."""

    _inherit = "payment.token"

    def _handle_archiving(self):
        result = super()._handle_archiving()
        subscriptions = self.env["subscription.subscription"].sudo().search([("payment_token_id", "in", self.ids)])
        for sub in subscriptions:
            token = sub.payment_token_id
            sub.write({"payment_token_id": False, "payment_method": False})
            message = self.env._(
                "The saved payment method %(token)s was archived: subscription %(sub)s has no payment method "
                "now. Ask the customer for a new one; invoices are not charged automatically until then.",
                token=token.display_name,
                sub=sub.display_name,
            )
            sub.message_post(body=Markup("%s") % message, message_type="notification")
            sub.activity_schedule(
                "mail.mail_activity_data_todo",
                summary=self.env._("Payment method archived"),
                note=message,
                user_id=sub.user_id.id or self.env.user.id,
            )
        return result
