from odoo import fields, models


class SubscriptionWebhookDelivery(models.Model):
    """An event to send to one endpoint: its state, retries and attempts."""

    _name = "subscription.webhook.delivery"
    _description = "Webhook delivery"
    _order = "id desc"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    event_id = fields.Many2one("subscription.webhook.event", required=True, ondelete="cascade", readonly=True)
    endpoint_id = fields.Many2one(
        "subscription.webhook.endpoint", required=True, ondelete="cascade", readonly=True, check_company=True
    )
    company_id = fields.Many2one("res.company", required=True, readonly=True, index=True)
    event_type = fields.Char(related="event_id.event_type")
    state = fields.Selection(
        [("pending", "Pending"), ("succeeded", "Succeeded"), ("failed", "Failed")],
        default="pending",
        required=True,
        readonly=True,
    )
    next_attempt_at = fields.Datetime(default=fields.Datetime.now, readonly=True)
    attempt_count = fields.Integer(readonly=True)
    delivered_at = fields.Datetime(readonly=True)
    attempt_ids = fields.One2many("subscription.webhook.attempt", "delivery_id", string="Attempts", readonly=True)

    # ------------------------------------------------------------------
    # Constraints and indexes
    # ------------------------------------------------------------------
    _event_endpoint_unique = models.Constraint(
        "UNIQUE(event_id, endpoint_id)", "An event is delivered once to each endpoint."
    )
    # the worker's question: the oldest pending delivery of each endpoint
    _pending_idx = models.Index("(endpoint_id, id) WHERE state = 'pending'")

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_resend(self):
        """Send again (a failed or a delivered one): back in the queue, due now, same webhook-id."""
        self.check_access("write")
        self.sudo().write({"state": "pending", "next_attempt_at": fields.Datetime.now()})
        self.env.ref("subscription_billing.ir_cron_subscription_webhook_delivery")._trigger()
        return True
