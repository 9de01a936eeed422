from odoo import fields, models


class PaymentTransaction(models.Model):
    """Charges of subscription invoices to saved payment methods: the transactions are the attempt log."""

    _inherit = "payment.transaction"

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    subscription_charge_invoice_id = fields.Many2one(
        "account.move",
        string="Charged Invoice",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="restrict",
        help="The subscription invoice this automatic charge pays.",
    )
    subscription_charge_handled = fields.Boolean(
        string="Charge Outcome Handled",
        readonly=True,
        copy=False,
        help="The automatic charging has reacted to the final state of this transaction.",
    )
    subscription_id = fields.Many2one(
        "subscription.subscription",
        compute="_compute_subscription_id",
        search="_search_subscription_id",
    )
    subscription_tokenize_id = fields.Many2one(
        "subscription.subscription",
        string="Payment Method For",
        readonly=True,
        copy=False,
        index="btree_not_null",
        ondelete="set null",
        help="The customer entered a new payment method for this subscription in Odoo's payment form: "
        "once this validation succeeds, its token becomes the subscription's payment method.",
    )

    # ------------------------------------------------------------------
    # Constraints and indexes
    # ------------------------------------------------------------------
    # at most one open charge per invoice, whatever path, worker or crash created it
    _subscription_charge_one_open = models.UniqueIndex(
        "(subscription_charge_invoice_id) WHERE subscription_charge_invoice_id IS NOT NULL "
        "AND state IN ('draft', 'pending', 'authorized')",
        "This invoice is already being charged: a transaction is open. Wait for the provider's answer.",
    )

    # ------------------------------------------------------------------
    # Compute and search
    # ------------------------------------------------------------------
    def _compute_subscription_id(self):
        for tx in self:
            tx.subscription_id = tx.subscription_charge_invoice_id.subscription_ids[:1]

    def _search_subscription_id(self, operator, value):
        if operator not in ("in", "="):
            return NotImplemented
        return [("subscription_charge_invoice_id.invoice_line_ids.subscription_id", operator, value)]

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _post_process(self):
        """Also react to the outcome of automatic charges (asynchronous providers answer through here) and
        take a payment method the customer saved while paying an invoice in the portal, or entered for a
        subscription in the payment form (validation, see ``subscription_tokenize_id``)."""
        result = super()._post_process()
        Charging = self.env["subscription.payment.charging"]
        today = fields.Date.context_today(self)
        for tx in self.filtered(lambda t: t.subscription_charge_invoice_id and not t.subscription_charge_handled):
            Charging._handle_transaction_outcome(tx, today)
        for tx in self.filtered(lambda t: t.state == "done" and not t.subscription_charge_invoice_id):
            # paid in the portal (or by another flow): no further automatic attempt for these invoices
            Charging._stop_charging(tx.sudo().invoice_ids.filtered(lambda m: m.payment_state in ("paid", "in_payment")))
            if tx.token_id:
                Charging._use_new_token_from_portal(tx.sudo())
        for tx in self.filtered("subscription_tokenize_id"):
            tx.sudo().subscription_tokenize_id._payment_form_use_transaction(tx.sudo(), today)
        return result
