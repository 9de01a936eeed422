from odoo import api, fields, models


class SubscriptionDunningRunWizard(models.TransientModel):
    """ "Run dunning as of date X": preview of the letters, then the run."""

    _name = "subscription.dunning.run.wizard"
    _description = "Run Dunning"
    _check_company_auto = True

    date_ref = fields.Date(string="Dun As Of", required=True, default=fields.Date.context_today)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, required=True)
    line_ids = fields.One2many("subscription.dunning.run.wizard.line", "wizard_id", string="Preview")
    letter_count = fields.Integer(compute="_compute_totals")
    amount_total = fields.Monetary(compute="_compute_totals", currency_field="currency_id")
    currency_id = fields.Many2one(related="company_id.currency_id")

    @api.depends("line_ids.amount_total")
    def _compute_totals(self):
        for wizard in self:
            wizard.letter_count = len(wizard.line_ids)
            wizard.amount_total = sum(wizard.line_ids.mapped("amount_total"))

    def action_preview(self):
        """Fill the preview with the letters a run would send; writes nothing but the preview lines."""
        self.ensure_one()
        plans = self.env["subscription.dunning.run"]._plan(self.company_id, self.date_ref)
        self.line_ids = [fields.Command.clear()] + [
            fields.Command.create(
                {
                    "partner_id": plan["partner"].id,
                    "level_id": plan["level"].id,
                    "item_count": len(plan["items"]),
                    "listed_count": len(plan["invoices"]),
                    "amount_overdue": float(plan["amount_overdue"]),
                    "fee_amount": float(plan["fee"] + plan["flat_fee"]),
                    "interest_amount": float(plan["interest"]),
                    "amount_total": float(plan["total"]),
                }
            )
            for plan in plans
        ]
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
        }

    def action_run(self):
        self.ensure_one()
        letters = self.env["subscription.dunning.run"]._run_for_all(self.date_ref, companies=self.company_id)
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_billing.subscription_dunning_letter_action"
        )
        action["domain"] = [("id", "in", letters.ids)]
        return action
