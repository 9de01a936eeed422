from odoo import fields, models


class SubscriptionDunningRunWizardLine(models.TransientModel):
    """One letter a dunning run would send."""

    _name = "subscription.dunning.run.wizard.line"
    _description = "Dunning Run Preview Line"

    wizard_id = fields.Many2one("subscription.dunning.run.wizard", required=True, ondelete="cascade")
    company_id = fields.Many2one(related="wizard_id.company_id")
    currency_id = fields.Many2one(related="wizard_id.currency_id")
    partner_id = fields.Many2one("res.partner", string="Customer", readonly=True)
    level_id = fields.Many2one("subscription.dunning.level", readonly=True)
    item_count = fields.Integer(string="Items Reaching a Level", readonly=True)
    listed_count = fields.Integer(string="Overdue Items Listed", readonly=True)
    amount_overdue = fields.Monetary(string="Overdue", currency_field="currency_id", readonly=True)
    fee_amount = fields.Monetary(string="Fees", currency_field="currency_id", readonly=True)
    interest_amount = fields.Monetary(string="Interest", currency_field="currency_id", readonly=True)
    amount_total = fields.Monetary(string="Total Due", currency_field="currency_id", readonly=True)
