from odoo import api, fields, models
from odoo.exceptions import UserError

from . import bounds_checks


class SubscriptionCharge(models.Model):
    """A one-time amount billed with a subscription's next invoice.

    Ad-hoc charges entered by hand, and the credits and charges that prorate
    an immediate plan or quantity change ("Unused time on Pro from ...").
    """

    _name = "subscription.charge"
    _description = "Subscription One-time Charge"
    _inherit = ["subscription.input.guard.mixin"]
    _order = "date, id"
    _check_company_auto = True

    subscription_id = fields.Many2one("subscription.subscription", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="subscription_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    product_id = fields.Many2one("product.product", required=True, check_company=True)
    name = fields.Text(string="Description", required=True)
    date = fields.Date(required=True, default=fields.Date.context_today)
    quantity = fields.Float(default=1.0, required=True, digits="Product Unit")
    price_unit = fields.Monetary(string="Unit Price", currency_field="currency_id", required=True)
    service_start = fields.Date()
    service_end = fields.Date()
    change_id = fields.Many2one(
        "subscription.change", string="Plan Change", ondelete="set null", index="btree_not_null"
    )
    is_cancellation_credit = fields.Boolean(
        readonly=True, help="Credits time invoiced in advance after the contract's end date."
    )
    credited_line_id = fields.Many2one(
        "account.move.line",
        string="Credits Invoice Line",
        readonly=True,
        index="btree_not_null",
        ondelete="set null",
        help="The invoice line whose unused time this charge credits: its deferred revenue shrinks with it.",
    )
    invoice_line_ids = fields.One2many("account.move.line", "subscription_charge_id", string="Invoice Lines")
    state = fields.Selection(
        [("pending", "To Invoice"), ("invoiced", "Invoiced")],
        compute="_compute_state",
        store=True,
    )
    amount = fields.Monetary(compute="_compute_amount", currency_field="currency_id")

    _quantity_positive = models.Constraint(
        "CHECK(quantity > 0)", "The quantity of a one-time charge must be positive; credit with a negative price."
    )

    @api.depends("invoice_line_ids.parent_state")
    def _compute_state(self):
        for charge in self:
            invoiced = charge.invoice_line_ids.filtered(lambda line: line.parent_state != "cancel")
            charge.state = "invoiced" if invoiced else "pending"

    @api.depends("quantity", "price_unit")
    def _compute_amount(self):
        for charge in self:
            charge.amount = charge.currency_id.round(charge.quantity * charge.price_unit)

    @api.ondelete(at_uninstall=False)
    def _unlink_only_pending(self):
        if any(charge.state == "invoiced" for charge in self):
            raise UserError(self.env._("An invoiced one-time charge cannot be deleted; credit it with a new charge."))

    @api.constrains("quantity", "price_unit", "date", "service_start", "service_end")
    def _check_bounds(self):
        """Finite numbers a float keeps exactly, dates within the plausible horizon."""
        bounds_checks.check_numbers(self, ("quantity", "price_unit"))
        bounds_checks.check_dates(self, ("date", "service_start", "service_end"))
