from odoo import api, fields, models


class ResPartner(models.Model):
    _inherit = "res.partner"

    subscription_invoice_grouping = fields.Boolean(
        string="One Invoice for All Subscriptions",
        help="Group all subscriptions of this customer that are due the same day into one invoice.",
    )
    subscription_ids = fields.One2many("subscription.subscription", "partner_id", string="Subscriptions")
    subscription_count = fields.Integer(
        compute="_compute_subscription_count", groups="subscription_billing.group_subscription_user"
    )

    @api.depends("subscription_ids")
    def _compute_subscription_count(self):
        counts = dict(
            self.env["subscription.subscription"]._read_group(
                [("commercial_partner_id", "in", self.commercial_partner_id.ids)],
                ["commercial_partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.subscription_count = counts.get(partner.commercial_partner_id, 0)

    def action_view_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.subscription_action")
        action["domain"] = [("commercial_partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {"default_partner_id": self.id}
        return action
