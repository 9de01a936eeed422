from odoo import fields, models


class SubscriptionWebhookAttempt(models.Model):
    """One HTTP request of a delivery: the delivery log."""

    _name = "subscription.webhook.attempt"
    _description = "Webhook delivery attempt"
    _order = "id desc"

    delivery_id = fields.Many2one("subscription.webhook.delivery", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="delivery_id.company_id", store=True, index=True)
    attempt_date = fields.Datetime(required=True, readonly=True)
    status_code = fields.Integer(readonly=True, help="HTTP status of the answer; 0 when there was none.")
    latency_ms = fields.Integer(string="Latency (ms)", readonly=True)
    response_excerpt = fields.Char(readonly=True, help="The first 500 characters of the answer.")
    error = fields.Char(readonly=True, help="Timeout, connection error or redirect.")
    success = fields.Boolean(readonly=True)
