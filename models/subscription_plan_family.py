from odoo import fields, models


class SubscriptionPlanFamily(models.Model):
    """Plans a customer may move between; a plan's rank orders them (higher rank = upgrade)."""

    _name = "subscription.plan.family"
    _description = "Subscription Plan Family"
    _order = "name"

    name = fields.Char(required=True, translate=True)
    plan_ids = fields.One2many("subscription.plan", "family_id", string="Plans")
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, index=True)
