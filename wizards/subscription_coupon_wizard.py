from odoo import fields, models


class SubscriptionCouponWizard(models.TransientModel):
    """Redeem a coupon code on a subscription."""

    _name = "subscription.coupon.wizard"
    _description = "Apply Coupon"

    subscription_id = fields.Many2one("subscription.subscription", required=True)
    code = fields.Char(required=True)
    date_ref = fields.Date(string="Redeemed On", required=True, default=fields.Date.context_today)

    def action_apply(self):
        self.ensure_one()
        self.subscription_id._apply_coupon(self.code, self.date_ref)
        return {"type": "ir.actions.act_window_close"}
