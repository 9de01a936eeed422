from odoo import api, fields, models
from odoo.exceptions import ValidationError


class SubscriptionSubscription(models.Model):
    """A subscription paid by a saved payment method (``payment.token``) of its customer."""

    _inherit = "subscription.subscription"

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    payment_method = fields.Selection(selection_add=[("token", "Saved payment method")], ondelete={"token": "set null"})
    payment_token_id = fields.Many2one(
        "payment.token",
        string="Saved Payment Method",
        tracking=True,
        copy=False,
        check_company=True,
        index="btree_not_null",
        ondelete="set null",
        domain="[('partner_id.commercial_partner_id', '=', commercial_partner_id), ('active', '=', True)]",
        help="Card, account or wallet of the customer saved by a payment provider: each posted invoice is "
        "charged to it.",
    )
    charge_transaction_count = fields.Integer(
        string="Charge Attempts", compute="_compute_charge_transaction_count", groups="account.group_account_invoice"
    )

    # ------------------------------------------------------------------
    # Compute
    # ------------------------------------------------------------------
    def _compute_charge_transaction_count(self):
        Transaction = self.env["payment.transaction"]
        for sub in self:
            sub.charge_transaction_count = Transaction.search_count([("subscription_id", "=", sub.id)]) if sub.id else 0

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    @api.constrains("payment_method", "payment_token_id", "partner_id")
    def _check_payment_token(self):
        for sub in self.filtered(lambda s: s.payment_method == "token"):
            token = sub.sudo().payment_token_id
            if not token:
                raise ValidationError(
                    self.env._(
                        "Subscription %(sub)s is paid by a saved payment method: choose it in the field %(field)s.",
                        sub=sub.display_name,
                        field=self._fields["payment_token_id"]._description_string(self.env),
                    )
                )
            if token.partner_id.commercial_partner_id != sub.commercial_partner_id:
                raise ValidationError(
                    self.env._(
                        "The saved payment method %(token)s (field %(field)s) belongs to %(owner)s, not to the "
                        "customer of subscription %(sub)s.",
                        token=token.display_name,
                        field=self._fields["payment_token_id"]._description_string(self.env),
                        owner=token.partner_id.display_name,
                        sub=sub.display_name,
                    )
                )
            if not token.active:
                raise ValidationError(
                    self.env._(
                        "The saved payment method %(token)s of subscription %(sub)s (field %(field)s) is archived.",
                        token=token.display_name,
                        sub=sub.display_name,
                        field=self._fields["payment_token_id"]._description_string(self.env),
                    )
                )

    # ------------------------------------------------------------------
    # CRUD
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("payment_method") != "token" and vals.get("payment_token_id"):
                vals["payment_token_id"] = False
        return super().create(vals_list)

    def write(self, vals):
        if "payment_method" in vals and vals["payment_method"] != "token":
            # another way to pay: the saved method is no longer charged
            vals = {**vals, "payment_token_id": False}
        return super().write(vals)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_view_charge_transactions(self):
        self.ensure_one()
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Charge Attempts"),
            "res_model": "payment.transaction",
            "view_mode": "list,form",
            "domain": [("subscription_id", "=", self.id)],
            "context": {"create": False},
        }
