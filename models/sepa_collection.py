import base64
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import format_amount, format_date

from ..billing_core import sepa


class SepaCollection(models.Model):
    """A direct-debit order: the invoices due for debit up to a date, one pain.008 file for the bank.

    Draft (gathered) → generated (file validated against the XSD) → booked
    (payments registered and reconciled) or cancelled (before booking).
    """

    _name = "sepa.collection"
    _description = "SEPA Direct Debit Collection"
    _inherit = ["mail.thread"]
    _order = "id desc"
    _check_company_auto = True

    name = fields.Char(required=True, copy=False, readonly=True, default="/")
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    # SEPA debits are in euro whatever the company currency: amounts show in EUR, not the company's symbol
    currency_id = fields.Many2one("res.currency", compute="_compute_currency_id")
    date_ref = fields.Date(string="Collect Invoices Due Up To", required=True, default=fields.Date.context_today)
    state = fields.Selection(
        [("draft", "Draft"), ("generated", "File Generated"), ("booked", "Booked"), ("cancelled", "Cancelled")],
        default="draft",
        required=True,
        readonly=True,
        tracking=True,
        index=True,
    )
    pain_version = fields.Selection(
        [("pain.008.001.08", "pain.008.001.08"), ("pain.008.001.02", "pain.008.001.02")],
        required=True,
        default=lambda self: self.env.company.sepa_pain_version or "pain.008.001.08",
    )
    journal_id = fields.Many2one(
        "account.journal",
        required=True,
        check_company=True,
        domain="[('type', '=', 'bank')]",
        default=lambda self: (
            self.env.company.sepa_journal_id
            or self.env["account.journal"].search(
                [("company_id", "=", self.env.company.id), ("type", "=", "bank")], limit=1
            )
        ),
    )
    line_ids = fields.One2many(
        "sepa.collection.line", "collection_id", string="Transactions", domain=[("state", "=", "included")]
    )
    refused_line_ids = fields.One2many(
        "sepa.collection.line", "collection_id", string="Refused", domain=[("state", "=", "refused")]
    )
    message_identifier = fields.Char(string="Message ID", readonly=True, copy=False)
    xml_file = fields.Binary(string="pain.008 File", attachment=True, readonly=True, copy=False)
    xml_filename = fields.Char(readonly=True, copy=False)
    move_id = fields.Many2one("account.move", string="Booking Entry", readonly=True, copy=False)
    transaction_count = fields.Integer(compute="_compute_totals", store=True)
    control_sum = fields.Monetary(compute="_compute_totals", store=True)

    def _compute_currency_id(self):
        self.currency_id = self.env.ref("base.EUR")

    @api.depends("line_ids.amount", "line_ids.state")
    def _compute_totals(self):
        for collection in self:
            lines = collection.line_ids.filtered(lambda line: line.state == "included")
            collection.transaction_count = len(lines)
            collection.control_sum = sum(lines.mapped("amount"))

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if vals.get("name", "/") == "/":
                company = self.env["res.company"].browse(vals.get("company_id")) or self.env.company
                vals["name"] = self.env["ir.sequence"].with_company(company).next_by_code("sepa.collection") or "/"
        return super().create(vals_list)

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_gather(self):
        """(Re)fill a draft collection with the invoices due for debit up to its date."""
        for collection in self:
            if collection.state != "draft":
                raise UserError(self.env._("Only a draft collection can gather invoices."))
            collection.with_context(active_test=False).line_ids.unlink()
            collection.refused_line_ids.unlink()
            collection._gather()
        return True

    def action_generate(self):
        for collection in self:
            collection._generate_file()
        return True

    def action_book(self):
        for collection in self:
            collection._book()
        return True

    def action_cancel(self):
        for collection in self:
            if collection.state not in ("draft", "generated"):
                raise UserError(
                    self.env._(
                        "Collection %(name)s is booked: process returns instead of cancelling.", name=collection.name
                    )
                )
            # nothing was booked: dropping the file and the lines' claim on the invoices undoes it all
            collection.write({"state": "cancelled", "xml_file": False})
            collection.message_post(body=self.env._("Collection cancelled before booking."))
        return True

    # ------------------------------------------------------------------
    # Gathering
    # ------------------------------------------------------------------
    def _get_candidate_invoices_domain(self):
        self.ensure_one()
        return [
            ("company_id", "=", self.company_id.id),
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("payment_state", "in", ("not_paid", "partial")),
            ("sepa_mandate_id", "!=", False),
            ("sepa_debit_date", "<=", self.date_ref),
            ("sepa_dunning_required", "=", False),
        ]

    def _gather(self):
        """Create one line per candidate invoice: included, or refused with the reason."""
        self.ensure_one()
        invoices = self.env["account.move"].search(self._get_candidate_invoices_domain(), order="sepa_debit_date, id")
        open_invoice_ids = set(
            self.env["sepa.collection.line"]
            .search(
                [
                    ("invoice_id", "in", invoices.ids),
                    ("state", "=", "included"),
                    ("collection_state", "in", ("draft", "generated")),
                    ("collection_id", "!=", self.id),
                ]
            )
            .invoice_id.ids
        )
        tomorrow = fields.Date.context_today(self) + timedelta(days=1)
        vals_list = []
        for invoice in invoices:
            if invoice.id in open_invoice_ids:
                continue
            reason = self._get_refusal_reason(invoice)
            mandate = invoice.sepa_mandate_id
            vals_list.append(
                {
                    "collection_id": self.id,
                    "invoice_id": invoice.id,
                    "partner_id": invoice.commercial_partner_id.id,
                    "mandate_id": mandate.id,
                    "amount": invoice.amount_residual,
                    "collection_date": max(invoice.sepa_debit_date, tomorrow),
                    "sequence_type": mandate.next_sequence_type,
                    "scheme": mandate.scheme,
                    "end_to_end_id": sepa.transliterate(invoice.name, max_length=35),
                    "state": "refused" if reason else "included",
                    "refusal_reason": reason or False,
                }
            )
        self.env["sepa.collection.line"].create(vals_list)

    def _get_refusal_reason(self, invoice):
        """Why ``invoice`` cannot be debited in this collection, or ``None``."""
        mandate = invoice.sepa_mandate_id
        if invoice.currency_id.name != "EUR":
            return self.env._("Amount in %(currency)s: SEPA debits are in EUR only.", currency=invoice.currency_id.name)
        if mandate.company_id != self.company_id:
            return self.env._("Mandate %(ref)s belongs to another company.", ref=mandate.reference)
        if not mandate._is_usable(self.date_ref):
            return self.env._(
                "Mandate %(ref)s is not active (%(state)s).",
                ref=mandate.reference,
                state=dict(mandate._fields["state"]._description_selection(self.env))[mandate.state],
            )
        if invoice.sepa_retry_count > self.company_id.sepa_retry_limit:
            return self.env._("Returned %(count)s times: no further debit attempt.", count=invoice.sepa_retry_count)
        if not invoice.amount_residual or invoice.amount_residual > 999999999.99:
            return self.env._("Amount %(amount)s is outside the allowed range.", amount=invoice.amount_residual)
        return None

    # ------------------------------------------------------------------
    # The file
    # ------------------------------------------------------------------
    def _prepare_message(self):
        """The collection as a pure :class:`sepa.CollectionMessage`."""
        self.ensure_one()
        company = self.company_id
        bank_account = self.journal_id.bank_account_id
        try:
            sepa.normalize_iban(bank_account.acc_number or "")
        except ValueError as error:
            raise UserError(
                self.env._(
                    "Journal %(journal)s needs a valid IBAN as its bank account to collect direct debits: %(error)s",
                    journal=self.journal_id.name,
                    error=self.env["res.partner.bank"]._get_sepa_error_reason(error),
                )
            ) from error
        if not company.sepa_creditor_identifier:
            raise UserError(self.env._("Set the SEPA creditor identifier of %(company)s first.", company=company.name))
        groups = defaultdict(list)
        for line in self.line_ids.filtered(lambda line: line.state == "included").sorted("id"):
            groups[(line.collection_date, line.scheme, line.sequence_type)].append(line)
        payment_infos = []
        for index, ((collection_date, scheme, seq_type), lines) in enumerate(sorted(groups.items()), start=1):
            payment_infos.append(
                sepa.PaymentInfo(
                    payment_info_id=f"{self.message_identifier}-{index}"[:35],
                    collection_date=collection_date,
                    scheme=scheme,
                    sequence_type=seq_type,
                    transactions=tuple(line._prepare_transaction() for line in lines),
                )
            )
        return sepa.CollectionMessage(
            message_id=self.message_identifier,
            created=fields.Datetime.now(),
            initiating_party=company.name,
            creditor=sepa.Party(
                name=company.name,
                iban=bank_account.sanitized_acc_number,
                bic=bank_account.bank_bic or None,
            ),
            creditor_id=company._get_sepa_creditor_identifier(),
            payment_infos=tuple(payment_infos),
        )

    def _generate_file(self):
        """Build the pain.008, validate it against the official XSD, attach it."""
        self.ensure_one()
        if self.state not in ("draft", "generated"):
            raise UserError(self.env._("Collection %(name)s is %(state)s.", name=self.name, state=self.state))
        if not self.line_ids.filtered(lambda line: line.state == "included"):
            raise UserError(self.env._("Collection %(name)s has no invoice to debit.", name=self.name))
        if not self.message_identifier:
            self.message_identifier = sepa.transliterate(f"{self.name}-{self.id}", max_length=35).replace(" ", "")
        xml = sepa.build_pain008(self._prepare_message(), version=self.pain_version)
        try:
            sepa.validate_pain008(xml, version=self.pain_version)
        except ValueError as error:
            raise UserError(
                self.env._("The %(version)s file is not valid: %(error)s", version=self.pain_version, error=error)
            ) from error
        self.write(
            {
                "xml_file": base64.b64encode(xml),
                "xml_filename": f"{self.name.replace('/', '-')}.xml",
                "state": "generated",
            }
        )

    # ------------------------------------------------------------------
    # Booking
    # ------------------------------------------------------------------
    def _get_outstanding_account(self):
        self.ensure_one()
        method_line = self.journal_id.inbound_payment_method_line_ids.filtered("payment_account_id")[:1]
        account = method_line.payment_account_id or (
            self.env["account.chart.template"]
            .with_company(self.company_id)
            .ref("account_journal_payment_debit_account_id", raise_if_not_found=False)
        )
        if not account:
            raise UserError(
                self.env._("Journal %(journal)s has no outstanding receipts account.", journal=self.journal_id.name)
            )
        return account

    def _book(self):
        """Register the collected amounts (one entry, one line per invoice) and reconcile the invoices."""
        self.ensure_one()
        if self.state != "generated":
            raise UserError(self.env._("Generate the file of %(name)s before booking it.", name=self.name))
        lines = self.line_ids.filtered(lambda line: line.state == "included")
        outstanding = self._get_outstanding_account()
        currency = lines.invoice_id.currency_id[:1] or self.company_id.currency_id
        company_currency = self.company_id.currency_id
        booking_date = max(lines.mapped("collection_date"))

        def balance_of(amount):
            # the company-currency balance is given explicitly: Odoo would otherwise derive each
            # line's balance from all the others, which is quadratic in the number of invoices
            return currency._convert(amount, company_currency, self.company_id, booking_date)

        move_lines = []
        total_balance = 0.0
        for line in lines:
            balance = -balance_of(line.amount)
            total_balance -= balance
            move_lines.append(
                fields.Command.create(
                    {
                        "name": self.env._("Direct debit %(ref)s", ref=line.end_to_end_id),
                        "partner_id": line.partner_id.id,
                        "account_id": line.invoice_id.line_ids.filtered(
                            lambda aml: aml.account_id.account_type == "asset_receivable"
                        )[:1].account_id.id,
                        "currency_id": currency.id,
                        "amount_currency": -line.amount,
                        "balance": balance,
                        "sepa_collection_line_id": line.id,
                    }
                )
            )
        move_lines.append(
            fields.Command.create(
                {
                    "name": self.env._("Direct debit collection %(name)s", name=self.name),
                    "account_id": outstanding.id,
                    "currency_id": currency.id,
                    "amount_currency": float(sum((Decimal(str(line.amount)) for line in lines), Decimal(0))),
                    "balance": company_currency.round(total_balance),
                }
            )
        )
        move = self.env["account.move"].create(
            {
                "move_type": "entry",
                "journal_id": self.journal_id.id,
                "date": max(lines.mapped("collection_date")),
                "ref": self.env._("SEPA collection %(name)s", name=self.name),
                "line_ids": move_lines,
            }
        )
        # posted now even when dated on a future collection date: the invoices are reconciled with it
        move._post(soft=False)
        # one reconciliation plan for all invoices (not one reconcile() call per line)
        plan = []
        for credit in move.line_ids.filtered("sepa_collection_line_id"):
            invoice_lines = credit.sepa_collection_line_id.invoice_id.line_ids
            receivable = invoice_lines.filtered(
                lambda aml, account=credit.account_id: aml.account_id == account and not aml.reconciled
            )
            plan.append(receivable | credit)
        self.env["account.move.line"]._reconcile_plan(plan)
        for mandate, mandate_lines in lines.grouped("mandate_id").items():
            mandate._mark_collected(max(mandate_lines.mapped("collection_date")))
        self.write({"state": "booked", "move_id": move.id})
        self.message_post(
            body=Markup("%s")
            % self.env._(
                "Booked: %(count)s debits, %(amount)s, entry %(move)s, due %(date)s.",
                count=len(lines),
                amount=format_amount(self.env, sum(lines.mapped("amount")), currency),
                move=move.name,
                date=format_date(self.env, max(lines.mapped("collection_date"))),
            )
        )
        return move
