from markupsafe import Markup

from odoo import _, api, fields, models


class AccountMove(models.Model):
    """Invoices link back to the subscriptions they bill."""

    _inherit = "account.move"

    subscription_ids = fields.Many2many(
        "subscription.subscription", compute="_compute_subscription_ids", string="Subscriptions"
    )
    subscription_count = fields.Integer(compute="_compute_subscription_ids")

    @api.depends("invoice_line_ids.subscription_id")
    def _compute_subscription_ids(self):
        for move in self:
            move.subscription_ids = move.invoice_line_ids.subscription_id
            move.subscription_count = len(move.subscription_ids)

    def button_cancel(self):
        result = super().button_cancel()
        for move in self.filtered("subscription_ids"):
            for sub in move.subscription_ids:
                sub.message_post(
                    body=Markup("%s")
                    % _(
                        "Invoice %(invoice)s was cancelled: its periods are released and can be billed again "
                        "with “Bill cancelled periods again”.",
                        invoice=move.display_name,
                    )
                )
        return result

    def action_view_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.subscription_action")
        action["domain"] = [("id", "in", self.subscription_ids.ids)]
        return action
