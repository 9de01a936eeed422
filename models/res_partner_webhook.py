from odoo import api, models

#: fields of a customer the API returns: a change of one of them is a customer.updated event
CUSTOMER_FIELDS = {"name", "email", "vat", "lang", "is_company", "street", "street2", "zip", "city", "country_id"}


class ResPartner(models.Model):
    """Webhook events of customers (commercial partners that are customers)."""

    _inherit = "res.partner"

    @api.model_create_multi
    def create(self, vals_list):
        partners = super().create(vals_list)
        Event = self.env["subscription.webhook.event"]
        if Event._has_endpoints():
            Event._emit_webhook_event("customer.created", partners._get_webhook_customers())
        return partners

    def write(self, vals):
        result = super().write(vals)
        Event = self.env["subscription.webhook.event"]
        if CUSTOMER_FIELDS & set(vals) and Event._has_endpoints():
            Event._emit_webhook_event("customer.updated", self._get_webhook_customers())
        return result

    def _get_webhook_customers(self):
        return self.filtered(lambda partner: not partner.parent_id and partner.customer_rank > 0)
