from decimal import Decimal

from odoo import fields, models

from ..billing_core import sepa


class SepaCollectionLine(models.Model):
    """One invoice in a collection: a debit transaction, or a refusal with its reason."""

    _name = "sepa.collection.line"
    _description = "SEPA Collection Transaction"
    _order = "collection_id, id"
    _check_company_auto = True
    _rec_name = "end_to_end_id"

    collection_id = fields.Many2one("sepa.collection", required=True, ondelete="cascade", index=True)
    collection_state = fields.Selection(related="collection_id.state", store=True, string="Collection State")
    company_id = fields.Many2one(related="collection_id.company_id", store=True, index=True)
    # the amount is the invoice's residual in its own currency (EUR unless the line is refused for it)
    currency_id = fields.Many2one(related="invoice_id.currency_id")
    invoice_id = fields.Many2one("account.move", required=True, ondelete="restrict", index=True)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    mandate_id = fields.Many2one("sepa.mandate", required=True, ondelete="restrict", index=True)
    amount = fields.Monetary(required=True)
    collection_date = fields.Date(required=True)
    sequence_type = fields.Selection(
        [("FRST", "FRST"), ("RCUR", "RCUR"), ("FNAL", "FNAL"), ("OOFF", "OOFF")], required=True
    )
    scheme = fields.Selection([("CORE", "CORE"), ("B2B", "B2B")], required=True)
    end_to_end_id = fields.Char(string="End-to-End ID", required=True)
    state = fields.Selection([("included", "Included"), ("refused", "Refused")], required=True, default="included")
    refusal_reason = fields.Char()
    return_ids = fields.One2many("sepa.return", "collection_line_id", string="Returns")

    # an invoice is in at most one open (not booked, not cancelled) collection
    _invoice_open_unique = models.UniqueIndex(
        "(invoice_id) WHERE state = 'included' AND collection_state IN ('draft', 'generated')",
        "This invoice is already in an open direct-debit collection.",
    )

    def _prepare_transaction(self):
        """This line as a pure :class:`sepa.Transaction` (with the mandate's amendment, if any)."""
        self.ensure_one()
        mandate = self.mandate_id
        bank = mandate.partner_bank_id
        amendment = None
        if mandate.amendment_pending and (mandate.original_iban or mandate.original_reference):
            amendment = sepa.Amendment(
                original_mandate_id=mandate.original_reference or None,
                original_iban=mandate.original_iban or None,
            )
        invoice = self.invoice_id
        return sepa.Transaction(
            end_to_end_id=self.end_to_end_id,
            amount=Decimal(str(self.amount)).quantize(Decimal("0.01")),
            mandate_id=mandate.reference,
            mandate_date=mandate.signature_date,
            debtor=sepa.Party(
                name=bank.acc_holder_name or self.partner_id.name,
                iban=bank.sanitized_acc_number,
                bic=bank.bank_bic or None,
            ),
            remittance=f"{invoice.name} {invoice.invoice_origin or ''}".strip(),
            amendment=amendment,
        )
