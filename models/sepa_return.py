from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_date


class SepaReturn(models.Model):
    """A returned direct debit (Rücklastschrift): reverses the payment and applies the reason's action.

    At most one return per collected transaction (a database constraint), so
    importing the same status report twice changes nothing the second time.
    """

    _name = "sepa.return"
    _description = "SEPA Returned Debit"
    _order = "return_date desc, id desc"
    _check_company_auto = True

    collection_line_id = fields.Many2one("sepa.collection.line", required=True, ondelete="restrict", index=True)
    company_id = fields.Many2one(related="collection_line_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="collection_line_id.currency_id")
    invoice_id = fields.Many2one(related="collection_line_id.invoice_id", store=True)
    mandate_id = fields.Many2one(related="collection_line_id.mandate_id", store=True)
    partner_id = fields.Many2one(related="collection_line_id.partner_id", store=True)
    reason_id = fields.Many2one("sepa.return.reason", required=True, ondelete="restrict")
    return_date = fields.Date(required=True, default=fields.Date.context_today)
    amount = fields.Monetary(required=True)
    source = fields.Selection([("import", "Bank status report"), ("manual", "Entered by hand")], default="manual")
    move_id = fields.Many2one("account.move", string="Return Entry", readonly=True)
    fee_charge_id = fields.Many2one("subscription.charge", string="Return Fee", readonly=True)

    _collection_line_unique = models.Constraint(
        "UNIQUE(collection_line_id)",
        "This debit has already been returned.",
    )

    @api.model
    def _record_return(self, collection_line, reason, return_date, amount=None, source="manual"):
        """Create and process the return of ``collection_line``; an existing one is returned unchanged."""
        existing = self.search([("collection_line_id", "=", collection_line.id)], limit=1)
        if existing:
            return existing, False
        if collection_line.collection_id.state != "booked":
            raise UserError(
                self.env._(
                    "Debit %(ref)s was not booked: cancel its collection instead.", ref=collection_line.end_to_end_id
                )
            )
        sepa_return = self.create(
            {
                "collection_line_id": collection_line.id,
                "reason_id": reason.id,
                "return_date": return_date,
                "amount": amount if amount else collection_line.amount,
                "source": source,
            }
        )
        sepa_return._process()
        return sepa_return, True

    def _process(self):
        """Reverse the payment (the invoice reopens), charge the fee, log, apply the reason's action."""
        for ret in self:
            ret._reverse_payment()
            ret._charge_return_fee()
            ret._log()
            ret._apply_reason_action()

    def _reverse_payment(self):
        self.ensure_one()
        line = self.collection_line_id
        collection = line.collection_id
        credit = collection.move_id.line_ids.filtered(lambda aml: aml.sepa_collection_line_id == line)
        outstanding = collection._get_outstanding_account()
        move = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": collection.journal_id.id,
                "date": self.return_date,
                "ref": self.env._(
                    "Returned debit %(ref)s (%(code)s)", ref=line.end_to_end_id, code=self.reason_id.code
                ),
                "line_ids": [
                    fields.Command.create(
                        {
                            "name": self.env._("Returned debit %(ref)s", ref=line.end_to_end_id),
                            "partner_id": line.partner_id.id,
                            "account_id": credit.account_id.id,
                            "currency_id": credit.currency_id.id,
                            "amount_currency": line.amount,
                            "balance": -credit.balance,
                        }
                    ),
                    fields.Command.create(
                        {
                            "name": self.env._("Returned debit %(ref)s", ref=line.end_to_end_id),
                            "account_id": outstanding.id,
                            "currency_id": credit.currency_id.id,
                            "amount_currency": -line.amount,
                            "balance": credit.balance,
                        }
                    ),
                ],
            }
        )
        move._post(soft=False)
        # the invoice reopens: its payment now offsets the return instead
        credit.remove_move_reconcile()
        debit = move.line_ids.filtered(lambda aml: aml.account_id == credit.account_id)
        (credit | debit).reconcile()
        self.move_id = move

    def _charge_return_fee(self):
        self.ensure_one()
        company = self.company_id
        subscription = self.invoice_id.invoice_line_ids.subscription_id[:1]
        if not (company.sepa_return_fee_product_id and company.sepa_return_fee_amount and subscription):
            return
        self.fee_charge_id = self.env["subscription.charge"].create(
            {
                "subscription_id": subscription.id,
                "product_id": company.sepa_return_fee_product_id.id,
                "name": self.env._(
                    "Return fee for the returned direct debit of %(invoice)s (%(code)s)",
                    invoice=self.invoice_id.name,
                    code=self.reason_id.code,
                ),
                "date": self.return_date,
                "price_unit": company.sepa_return_fee_amount,
            }
        )

    def _log(self):
        self.ensure_one()
        body = Markup("%s") % self.env._(
            "Direct debit %(ref)s of %(amount)s returned on %(date)s: %(code)s %(reason)s.",
            ref=self.collection_line_id.end_to_end_id,
            amount=self.amount,
            date=format_date(self.env, self.return_date),
            code=self.reason_id.code,
            reason=self.reason_id.name,
        )
        self.invoice_id.message_post(body=body)
        self.mandate_id.message_post(body=body)
        for subscription in self.invoice_id.invoice_line_ids.subscription_id:
            subscription.message_post(body=body)

    def _apply_reason_action(self):
        self.ensure_one()
        invoice = self.invoice_id
        action = self.reason_id.action
        if action == "retry":
            invoice.sepa_retry_count += 1
            if invoice.sepa_retry_count > self.company_id.sepa_retry_limit:
                invoice.sepa_dunning_required = True
                self._enter_dunning()
        elif action == "dunning":
            invoice.sepa_dunning_required = True
            self._enter_dunning()
        elif action == "block":
            reason = self.env._(
                "Blocked after return %(code)s (%(reason)s).", code=self.reason_id.code, reason=self.reason_id.name
            )
            if self.mandate_id.state in ("draft", "active"):
                self.mandate_id._change_state("revoked", reason=reason)
            self.mandate_id.subscription_ids.write({"payment_method": False, "sepa_mandate_id": False})
            invoice.write({"sepa_dunning_required": True})
            self._enter_dunning()

    def _enter_dunning(self):
        """The invoice enters dunning: overdue days count from the return date."""
        self.ensure_one()
        # the hand-over field is guarded (see account.move.write): written through the charging service
        self.env["subscription.payment.charging"]._write_invoice(
            self.invoice_id, {"subscription_dunning_start_date": self.return_date}
        )
