from odoo import api, models


class AccountPartialReconcile(models.Model):
    _inherit = "account.partial.reconcile"

    @api.model_create_multi
    def create(self, vals_list):
        partials = super().create(vals_list)
        partials._trigger_dunning_resumption()
        return partials

    def _trigger_dunning_resumption(self):
        """A payment matched with an invoice that suspended subscriptions: resume them soon.

        Only triggers the resumption cron (which checks that the invoices are paid in
        full and resumes in its own transaction): the payment itself stays light.
        """
        moves = (self.debit_move_id | self.credit_move_id).move_id
        if not moves:
            return
        suspended = (
            self.env["subscription.subscription"]
            .sudo()
            .search_count(
                [("dunning_suspended", "=", True), ("dunning_suspension_invoice_ids", "in", moves.ids)], limit=1
            )
        )
        if suspended:
            self.env.ref("subscription_billing.ir_cron_subscription_dunning_resume").sudo()._trigger()
