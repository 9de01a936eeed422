from odoo import fields, models


class SubscriptionBillingRunWizard(models.TransientModel):
    """ "Bill everything due up to date X": the manual entry point of the billing run."""

    _name = "subscription.billing.run.wizard"
    _description = "Run Subscription Billing"

    date_ref = fields.Date(string="Bill Everything Due Up To", required=True, default=fields.Date.context_today)
    company_id = fields.Many2one("res.company", default=lambda self: self.env.company, required=True)
    subscription_ids = fields.Many2many(
        "subscription.subscription",
        string="Only These Subscriptions",
        help="Leave empty to bill every subscription of the company that is due.",
    )

    def action_run(self):
        self.ensure_one()
        subscriptions = self.env["subscription.subscription"].with_company(self.company_id)
        if self.subscription_ids:
            result = self.subscription_ids._run_billing(self.date_ref)
        else:
            domain = subscriptions._get_subscriptions_to_bill_domain(self.date_ref)
            domain.append(("company_id", "=", self.company_id.id))
            result = subscriptions.search(domain)._run_billing(self.date_ref)
        invoices, errors = result["invoices"], result["errors"]
        message = self.env._(
            "%(invoices)s invoice(s) created, %(errors)s subscription(s) in error.",
            invoices=len(invoices),
            errors=len(errors),
        )
        next_action = {"type": "ir.actions.act_window_close"}
        if invoices:
            next_action = self.env["ir.actions.act_window"]._for_xml_id("account.action_move_out_invoice_type")
            next_action["domain"] = [("id", "in", invoices.ids)]
            # the customer invoice list shows its customer and date columns only for this move type
            next_action["context"] = {"default_move_type": "out_invoice", "create": False}
        # the summary is shown also when invoices were created (the list follows it)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Billing run"),
                "message": message,
                "type": "warning" if errors else "success" if invoices else "info",
                "sticky": bool(errors),
                "next": next_action,
            },
        }
