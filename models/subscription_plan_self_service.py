from odoo import api, fields, models
from odoo.exceptions import ValidationError


class SubscriptionPlan(models.Model):
    """What customers of a plan may do themselves in the portal."""

    _inherit = "subscription.plan"

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    portal_change_allowed = fields.Boolean(
        string="Customers Change Plan",
        default=True,
        help="Customers may change to another plan of the family and change quantities in the portal.",
    )
    portal_pause_allowed = fields.Boolean(string="Customers Pause", help="Customers may pause in the portal.")
    portal_max_pause_days = fields.Integer(
        string="Longest Pause (days)", default=90, help="The longest pause a customer can choose in the portal."
    )
    portal_cancel_allowed = fields.Boolean(
        string="Customers Cancel",
        default=True,
        help="Customers may cancel in the portal (the cancellation button of § 312k BGB works regardless).",
    )
    retention_offer = fields.Selection(
        [("none", "None"), ("pause", "Pause instead"), ("downgrade", "Downgrade instead")],
        default="none",
        required=True,
        help="Offered to a customer who is about to cancel in the portal, before they confirm.",
    )
    retention_plan_id = fields.Many2one(
        "subscription.plan",
        string="Downgrade Offer",
        help="The cheaper plan of the same family offered instead of cancelling.",
    )

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    _portal_max_pause_days_positive = models.Constraint(
        "CHECK(portal_max_pause_days >= 0)", "The longest pause cannot be negative."
    )

    @api.constrains("retention_offer", "retention_plan_id", "family_id")
    def _check_retention_offer(self):
        for plan in self:
            if plan.retention_offer != "downgrade":
                continue
            target = plan.retention_plan_id
            if not target or not plan.family_id or target.family_id != plan.family_id or target == plan:
                raise ValidationError(
                    self.env._(
                        "Plan %(plan)s: the downgrade offer must be another plan of the same plan family.",
                        plan=plan.display_name,
                    )
                )
