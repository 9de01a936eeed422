from odoo import fields, models


class SubscriptionCancellationReason(models.Model):
    """A reason a customer may pick when cancelling in the portal (the merchant's list)."""

    _name = "subscription.cancellation.reason"
    _description = "Cancellation Reason"
    _order = "sequence, id"

    name = fields.Char(required=True, translate=True)
    sequence = fields.Integer(default=10)
    active = fields.Boolean(default=True)
