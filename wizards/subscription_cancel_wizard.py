from odoo import api, fields, models


class SubscriptionCancelWizard(models.TransientModel):
    """Record a cancellation request; shows the earliest end date the contract's terms allow."""

    _name = "subscription.cancel.wizard"
    _description = "Cancel Subscription"

    subscription_id = fields.Many2one("subscription.subscription", required=True)
    request_date = fields.Date(string="Notice Received On", required=True, default=fields.Date.context_today)
    earliest_end_date = fields.Date(compute="_compute_earliest_end_date")
    end_date = fields.Date(help="Leave empty to end on the earliest possible date.")
    reason = fields.Text()

    @api.depends("subscription_id", "request_date")
    def _compute_earliest_end_date(self):
        for wizard in self:
            wizard.earliest_end_date = (
                wizard.subscription_id._get_earliest_end_date(wizard.request_date)
                if wizard.subscription_id and wizard.request_date
                else False
            )

    def action_confirm(self):
        self.ensure_one()
        self.subscription_id._request_cancellation(self.request_date, reason=self.reason, end_date=self.end_date)
        return {"type": "ir.actions.act_window_close"}
