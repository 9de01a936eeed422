from markupsafe import Markup

from odoo import _, api, fields, models
from odoo.tools import format_amount, format_date

from ..billing_core import sepa


class AccountMove(models.Model):
    """Invoices link back to the subscriptions they bill."""

    _inherit = "account.move"

    sepa_mandate_id = fields.Many2one(
        "sepa.mandate", string="Direct Debit Mandate", copy=False, index="btree_not_null", check_company=True
    )
    sepa_debit_date = fields.Date(
        string="Debit Date",
        compute="_compute_sepa_debit_date",
        store=True,
        help="When the amount is debited: the due date, and at least the pre-notification period after "
        "the invoice date.",
    )
    sepa_retry_count = fields.Integer(string="Debit Retries", copy=False, readonly=True)
    sepa_dunning_required = fields.Boolean(
        string="Dunning Required", copy=False, help="A returned debit that needs dunning instead of a new debit."
    )
    sepa_collection_line_ids = fields.One2many("sepa.collection.line", "invoice_id", string="Direct Debits")
    subscription_ids = fields.Many2many(
        "subscription.subscription", compute="_compute_subscription_ids", string="Subscriptions"
    )
    subscription_count = fields.Integer(compute="_compute_subscription_ids")
    subscription_tax_regime = fields.Selection(
        [("eu_reverse_charge", "EU reverse charge"), ("export", "Export")],
        compute="_compute_subscription_tax_regime",
        help="Set when the fiscal position is the company's reverse-charge or export position of subscriptions: "
        "the invoice then prints the legal note (and both VAT numbers for reverse charge).",
    )

    @api.depends("invoice_line_ids.subscription_id")
    def _compute_subscription_ids(self):
        for move in self:
            move.subscription_ids = move.invoice_line_ids.subscription_id
            move.subscription_count = len(move.subscription_ids)

    @api.depends("fiscal_position_id", "company_id", "move_type")
    def _compute_subscription_tax_regime(self):
        for move in self:
            fpos, company = move.fiscal_position_id, move.company_id
            regime = False
            if fpos and move.is_sale_document(include_receipts=False):
                if fpos == company._get_subscription_fpos_reverse_charge():
                    regime = "eu_reverse_charge"
                elif fpos == company._get_subscription_fpos_export():
                    regime = "export"
            move.subscription_tax_regime = regime

    # not on the company's setting: a changed pre-notification period must not move dates already notified
    @api.depends("sepa_mandate_id", "invoice_date", "invoice_date_due")
    def _compute_sepa_debit_date(self):
        for move in self:
            if not move.sepa_mandate_id or not move.invoice_date:
                move.sepa_debit_date = False
                continue
            move.sepa_debit_date = sepa.debit_date(
                move.invoice_date, move.invoice_date_due, move.company_id.sepa_prenotification_days or 14
            )

    def _get_sepa_prenotification_text(self):
        """The pre-notification of the debit (amount, date, mandate, creditor), or an empty string."""
        self.ensure_one()
        if not self.sepa_mandate_id or self.move_type != "out_invoice":
            return ""
        return _(
            "We will debit %(amount)s from your account %(iban)s on %(date)s under SEPA direct debit "
            "mandate %(mandate)s, creditor identifier %(creditor)s.",
            amount=format_amount(self.env, self.amount_residual or self.amount_total, self.currency_id),
            iban=self.sepa_mandate_id.partner_bank_id.display_name,
            date=format_date(self.env, self.sepa_debit_date),
            mandate=self.sepa_mandate_id.reference,
            creditor=self.company_id.sepa_creditor_identifier,
        )

    def button_cancel(self):
        result = super().button_cancel()
        for move in self.filtered("subscription_ids"):
            for sub in move.subscription_ids:
                sub.message_post(
                    body=Markup("%s")
                    % _(
                        "Invoice %(invoice)s was cancelled: its periods are released and can be billed again "
                        "with “Bill cancelled periods again”.",
                        invoice=move.display_name,
                    )
                )
        return result

    def action_view_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.subscription_action")
        action["domain"] = [("id", "in", self.subscription_ids.ids)]
        return action
