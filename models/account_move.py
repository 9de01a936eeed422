import json

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_amount, format_date

from ..billing_core import deferral, sepa
from .subscription_input_guard import SYSTEM_WRITE_KEY, SYSTEM_WRITE_TOKEN


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
    # The contract between automatic charging and dunning: charging sets these, dunning reads them.
    subscription_charge_pending = fields.Boolean(
        string="Automatic Charging Running",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="The invoice is charged to a saved payment method: a transaction is open or a retry is scheduled. "
        "Dunning waits until charging succeeds or gives up.",
    )
    subscription_dunning_start_date = fields.Date(
        string="Overdue Since",
        copy=False,
        readonly=True,
        help="Overdue days count from this date instead of the due date: the day a direct debit came back "
        "or automatic charging gave up.",
    )
    subscription_charge_next_date = fields.Date(
        string="Next Charge",
        copy=False,
        readonly=True,
        index="btree_not_null",
        help="When the saved payment method is charged (again) for this invoice.",
    )
    subscription_charge_failures = fields.Integer(string="Failed Charges", copy=False, readonly=True)
    subscription_charge_first_failure_date = fields.Date(
        string="First Failed Charge", copy=False, readonly=True, help="The retry schedule counts from this day."
    )
    subscription_charge_transaction_ids = fields.One2many(
        "payment.transaction",
        "subscription_charge_invoice_id",
        string="Charge Attempts",
        readonly=True,
        help="Every automatic charge of this invoice to a saved payment method.",
    )
    subscription_ids = fields.Many2many(
        "subscription.subscription", compute="_compute_subscription_ids", string="Subscriptions"
    )
    subscription_count = fields.Integer(compute="_compute_subscription_ids")
    is_revenue_recognition = fields.Boolean(
        string="Revenue Recognition Entry", copy=False, readonly=True, index="btree_not_null"
    )
    deferred_schedule_ids = fields.One2many("deferred.revenue.schedule", "move_id", string="Deferred Revenue")
    deferred_schedule_count = fields.Integer(compute="_compute_deferred_schedule_count")
    recognition_line_ids = fields.One2many(
        "deferred.revenue.schedule.line", "recognition_move_id", string="Recognised Months", readonly=True
    )
    subscription_tax_regime = fields.Selection(
        [("eu_reverse_charge", "EU reverse charge"), ("export", "Export")],
        compute="_compute_subscription_tax_regime",
        help="Set when the fiscal position is the company's reverse-charge or export position of subscriptions: "
        "the invoice then prints the legal note (and both VAT numbers for reverse charge).",
    )

    # ------------------------------------------------------------------
    # Automatic charging: its fields are written by subscription.payment.charging only
    # ------------------------------------------------------------------
    @api.model
    def _get_subscription_charge_protected_fields(self):
        """Fields of the charging/dunning hand-over that only the charging service writes."""
        return (
            "subscription_charge_pending",
            "subscription_dunning_start_date",
            "subscription_charge_next_date",
            "subscription_charge_failures",
            "subscription_charge_first_failure_date",
        )

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.context.get(SYSTEM_WRITE_KEY) is not SYSTEM_WRITE_TOKEN:
            for vals in vals_list:
                for fname in self._get_subscription_charge_protected_fields():
                    if vals.get(fname):
                        self._raise_subscription_charge_protected(fname)
        return super().create(vals_list)

    def write(self, vals):
        if self.env.context.get(SYSTEM_WRITE_KEY) is not SYSTEM_WRITE_TOKEN:
            for fname in self._get_subscription_charge_protected_fields():
                if fname in vals:
                    new = self._fields[fname].convert_to_cache(vals[fname], self[:1] or self, validate=False)
                    if any((new or False) != (move[fname] or False) for move in self):
                        self._raise_subscription_charge_protected(fname)
        return super().write(vals)

    def _raise_subscription_charge_protected(self, fname):
        raise UserError(
            self.env._(
                "The field %(field)s (%(name)s) of the invoice is set by automatic charging and dunning "
                "and cannot be written directly.",
                field=self._fields[fname]._description_string(self.env),
                name=fname,
            )
        )

    @api.depends("invoice_line_ids.subscription_id")
    def _compute_subscription_ids(self):
        for move in self:
            move.subscription_ids = move.invoice_line_ids.subscription_id
            move.subscription_count = len(move.subscription_ids)

    @api.depends("deferred_schedule_ids", "recognition_line_ids")
    def _compute_deferred_schedule_count(self):
        for move in self:
            move.deferred_schedule_count = len(move.deferred_schedule_ids or move.recognition_line_ids.schedule_id)

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

    @api.depends("sepa_mandate_id")
    def _compute_display_qr_code(self):
        # a direct-debit invoice is paid by the debit: no QR code for a bank transfer
        res = super()._compute_display_qr_code()
        self.filtered("sepa_mandate_id").display_qr_code = False
        return res

    @api.depends("sepa_mandate_id")
    def _compute_display_link_qr_code(self):
        res = super()._compute_display_link_qr_code()
        self.filtered("sepa_mandate_id").display_link_qr_code = False
        return res

    # not on the company's setting: a changed pre-notification period must not move dates already notified
    @api.depends("sepa_mandate_id", "invoice_date", "invoice_date_due", "state")
    def _compute_sepa_debit_date(self):
        for move in self:
            if not move.sepa_mandate_id or not move.invoice_date:
                move.sepa_debit_date = False
            elif move.state == "posted":
                # posting moved the due date to the debit date (see _sepa_move_due_date_to_debit_date)
                move.sepa_debit_date = move.invoice_date_due
            else:
                move.sepa_debit_date = move._get_sepa_debit_date()

    def _get_sepa_debit_date(self, date_ref=None):
        """The debit date if the invoice is notified (posted, printed, sent) on ``date_ref`` (default
        today): its due date, but at least the pre-notification period after that day, so a late or
        catch-up invoice never announces a debit date in the past."""
        self.ensure_one()
        today = date_ref or fields.Date.context_today(self)
        return sepa.debit_date(
            max(self.invoice_date or today, today),
            self.invoice_date_due,
            self.company_id.sepa_prenotification_days or 14,
        )

    def _sepa_move_due_date_to_debit_date(self):
        """Before posting: the due date of a direct-debit invoice becomes its debit date, so the
        printed pre-notification, the due date and the pain.008 collection date are one date."""
        by_date = {}
        for move in self.filtered(lambda m: m.sepa_mandate_id and m.move_type == "out_invoice" and m.invoice_date):
            debit_date = move._get_sepa_debit_date()
            if move.invoice_date_due != debit_date:
                by_date.setdefault(debit_date, []).append(move.id)
        for debit_date, move_ids in by_date.items():
            # the debit date is the one date the customer pays on: it replaces the payment term
            self.browse(move_ids).write({"invoice_payment_term_id": False, "invoice_date_due": debit_date})

    def _get_sepa_prenotification_text(self):
        """The pre-notification of the debit (amount, date, mandate, creditor), or an empty string."""
        self.ensure_one()
        if not self.sepa_mandate_id or self.move_type != "out_invoice":
            return ""
        return self.env._(
            "We will debit %(amount)s from your account %(iban)s on %(date)s under SEPA direct debit "
            "mandate %(mandate)s, creditor identifier %(creditor)s.",
            amount=format_amount(self.env, self.amount_residual or self.amount_total, self.currency_id),
            iban=self.sepa_mandate_id.partner_bank_id.display_name,
            date=format_date(self.env, self.sepa_debit_date),
            mandate=self.sepa_mandate_id.reference,
            creditor=self.company_id.sepa_creditor_identifier,
        )

    def _subscription_generate_invoice_pdf(self):
        """The official PDF of the posted subscription invoices among these that have none yet.

        An invoice that was posted but not sent has no PDF, and Odoo's portal then shows the customer a
        "Proforma Invoice"; this stores the real document (without marking the invoice as sent).
        """
        moves = self.filtered(
            lambda m: (
                m.state == "posted" and m.is_sale_document() and m.subscription_ids and not m.invoice_pdf_report_id
            )
        )
        Send = self.env["account.move.send"]
        for company_moves in moves.grouped("company_id").values():
            invoices_data = {move: {"pdf_report": Send._get_default_pdf_report_id(move)} for move in company_moves}
            Send._prepare_invoice_pdf_report(invoices_data)
            attachments = (
                self.env["ir.attachment"]
                .sudo()
                .create([data["pdf_attachment_values"] for data in invoices_data.values()])
            )
            for attachment in attachments:
                move = company_moves.browse(attachment.res_id)
                move.message_main_attachment_id = attachment
            company_moves.invalidate_recordset(["invoice_pdf_report_id", "invoice_pdf_report_file"])
        return moves

    # ------------------------------------------------------------------
    # Deferred revenue
    # ------------------------------------------------------------------
    def _post(self, soft=True):
        today = fields.Date.context_today(self)
        # as Odoo's _post: a soft posting leaves future-dated moves for their date
        to_post = self.filtered(lambda m: m.state == "draft" and (not soft or m.date <= today))
        to_post._sepa_move_due_date_to_debit_date()
        # only what is posted now is deferred now: a future-dated invoice is decided when it is posted
        self._deferral_move_revenue_to_deferred_account(soft=soft)
        posted = super()._post(soft)
        posted._deferral_create_schedules()
        posted._deferral_handle_recognition_reversals()
        self.env["subscription.payment.charging"]._enqueue_invoices(posted)
        return posted

    def _deferral_handle_recognition_reversals(self):
        """A posted reversal of a recognition entry gives the entry's months back (recognised again by
        the next run). Only whole entries can be reversed, and a reversal cannot itself be undone."""
        for move in self.filtered("reversed_entry_id.is_revenue_recognition"):
            original = move.reversed_entry_id
            if not original.recognition_line_ids:
                raise UserError(
                    self.env._(
                        "%(entry)s undid a revenue recognition; its months are pending again and the next run "
                        "recognises them. Reversing it as well would recognise them twice.",
                        entry=original.display_name,
                    )
                )
            mirrored = sorted((line.account_id.id, line.currency_id.id, -line.balance) for line in move.line_ids)
            recognised = sorted((line.account_id.id, line.currency_id.id, line.balance) for line in original.line_ids)
            if len(mirrored) != len(recognised) or any(
                (a[0], a[1]) != (b[0], b[1]) or not move.company_currency_id.is_zero(a[2] - b[2])
                for a, b in zip(mirrored, recognised, strict=True)
            ):
                raise UserError(
                    self.env._(
                        "A revenue recognition entry can only be reversed as a whole: %(entry)s was changed.",
                        entry=move.display_name,
                    )
                )
            move.is_revenue_recognition = True  # protected like the entry it reverses
            original.sudo().recognition_line_ids._unrecognise()

    def _deferral_origin_schedule(self, line):
        """The schedule of the invoice line that credit note line ``line`` credits, if any.

        A credit note made with Odoo's *Credit Note* button knows the line it reverses; one written by
        hand credits the customer's still running schedule of that product, period and currency.
        """
        Schedule = self.env["deferred.revenue.schedule"].sudo()
        if self.move_type != "out_refund":
            return Schedule
        if line.deferral_origin_line_id:
            return line.deferral_origin_line_id.sudo().deferred_schedule_ids.filtered(
                lambda s: not s.origin_schedule_id
            )[:1]
        domain = [
            ("company_id", "=", self.company_id.id),
            ("origin_schedule_id", "=", False),
            ("move_id.move_type", "=", "out_invoice"),
            ("partner_id", "=", self.commercial_partner_id.id),
            ("currency_id", "=", line.currency_id.id),
            ("date_start", "=", line.subscription_period_start),
            ("date_end", "=", line.subscription_period_end),
            ("product_id", "=", line.product_id.id),
            ("state", "=", "running"),
        ]
        return Schedule.search(domain, order="id", limit=1)

    def _deferral_lines(self):
        """Customer invoice and credit note lines with a service period that may be deferred."""
        return self.filtered(lambda m: m.move_type in ("out_invoice", "out_refund")).invoice_line_ids.filtered(
            lambda line: (
                line.display_type == "product" and line.subscription_period_start and line.subscription_period_end
            )
        )

    def _deferral_decide(self, line):
        """(deferred account, revenue account) for ``line`` of this draft, or None to book it as revenue."""
        origin = self._deferral_origin_schedule(line)
        if origin:
            return origin.deferred_account_id, origin.revenue_account_id
        if line.deferral_origin_line_id:
            return None  # reversing a line that was not deferred: mirror it
        invoice_date = self.invoice_date or self.date or fields.Date.context_today(self)
        if not deferral.needs_deferral(invoice_date, line.subscription_period_start, line.subscription_period_end):
            return None
        deferred_account = line._get_deferred_revenue_account()
        revenue_account = line.deferral_revenue_account_id or line.account_id
        if not deferred_account or revenue_account == deferred_account:
            return None
        return deferred_account, revenue_account

    def _deferral_move_revenue_to_deferred_account(self, soft=True):
        """Before posting: book revenue of later service months on the deferred revenue account.

        Decided afresh at every posting (dates, product or account may have changed on the draft); lines
        that no longer qualify get their revenue account back.
        """
        today = fields.Date.context_today(self)
        moves = self.filtered(lambda m: m.state == "draft")
        if soft:
            # as Odoo's _post: a soft posting leaves every future-dated move for its date
            moves = moves.filtered(lambda m: m.date <= today)
        updates = {}
        for move in moves:
            for line in move._deferral_lines():
                decision = move._deferral_decide(line)
                if decision:
                    deferred_account, revenue_account = decision
                    values = {"account_id": deferred_account.id, "deferral_revenue_account_id": revenue_account.id}
                elif line.deferral_revenue_account_id:
                    values = {"account_id": line.deferral_revenue_account_id.id, "deferral_revenue_account_id": False}
                else:
                    continue
                if (
                    line.account_id.id == values["account_id"]
                    and (line.deferral_revenue_account_id.id or False) == values["deferral_revenue_account_id"]
                ):
                    continue
                # the analytic distribution was computed for the revenue account: keep it
                distribution = line.analytic_distribution
                key = (
                    values["account_id"],
                    values["deferral_revenue_account_id"],
                    json.dumps(distribution, sort_keys=True) if distribution else "",
                )
                updates.setdefault(key, []).append(line.id)
        for (account_id, revenue_account_id, distribution), line_ids in updates.items():
            # one write per kind of change (a billing run: one for the whole batch); only accounts change,
            # so the tax and payment-term lines stay as they are (no resynchronisation)
            self.env["account.move.line"].browse(line_ids).with_context(skip_invoice_sync=True).write(
                {
                    "account_id": account_id,
                    "deferral_revenue_account_id": revenue_account_id,
                    "analytic_distribution": json.loads(distribution) if distribution else False,
                }
            )
        return moves

    def _deferral_create_schedules(self):
        """After posting: the recognition schedule of every deferred line; credit notes reduce theirs."""
        # schedules are bookkeeping of the posting: whoever may post the invoice may create them
        Schedule = self.env["deferred.revenue.schedule"].sudo()
        values = []
        journals = {}
        for line in self._deferral_lines():
            if not line.deferral_revenue_account_id or line.deferred_schedule_ids:
                continue
            move = line.move_id
            origin = move._deferral_origin_schedule(line)
            if origin:
                origin._reduce_by_credit(line, line.account_id)
                continue
            company = move.company_id
            if company not in journals:
                journals[company] = company._get_deferred_revenue_journal()
            values.append(
                Schedule._prepare_schedule_values(
                    line,
                    line.deferral_revenue_account_id,
                    line.account_id,
                    line.analytic_distribution,
                    journal=journals[company],
                )
            )
        return Schedule._create_with_months(values)

    def button_draft(self):
        if self.filtered("is_revenue_recognition"):
            raise UserError(
                self.env._(
                    "A revenue recognition entry cannot be reset to draft: reverse it instead; its months are "
                    "then recognised again by the next run."
                )
            )
        schedules = self.sudo().deferred_schedule_ids
        schedules._check_can_reset()
        result = super().button_draft()
        schedules._remove()
        for move in self:
            restore = [
                fields.Command.update(
                    line.id,
                    {
                        "account_id": line.deferral_revenue_account_id.id,
                        "deferral_revenue_account_id": False,
                        "analytic_distribution": line.analytic_distribution,
                    },
                )
                for line in move.line_ids.filtered("deferral_revenue_account_id")
            ]
            if restore:
                move.with_context(skip_invoice_sync=True).write({"line_ids": restore})
        return result

    def action_view_deferred_schedules(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.deferred_revenue_schedule_action")
        schedules = self.deferred_schedule_ids or self.recognition_line_ids.schedule_id
        action["domain"] = [("id", "in", schedules.ids)]
        action["context"] = {}
        return action

    def button_cancel(self):
        result = super().button_cancel()
        for move in self.filtered("subscription_ids"):
            for sub in move.subscription_ids:
                sub.message_post(
                    body=Markup("%s")
                    % self.env._(
                        "Invoice %(invoice)s was cancelled: its periods are released and can be billed again "
                        "with “Bill cancelled periods again”.",
                        invoice=move.display_name,
                    )
                )
        return result

    def action_subscription_charge_now(self):
        """Charge the saved payment method of the subscription now (accountants), whatever the schedule."""
        self.ensure_one()
        self.check_access("write")
        Charging = self.env["subscription.payment.charging"]
        if not Charging._get_charge_subscription(self) or self.state != "posted":
            raise UserError(
                self.env._(
                    "Invoice %(invoice)s is not a posted invoice of a subscription paid by a saved payment method.",
                    invoice=self.display_name,
                )
            )
        if not self.subscription_charge_pending:
            Charging._write_invoice(
                self, {"subscription_charge_pending": True, "subscription_dunning_start_date": False}
            )
        Charging._charge_invoices(self, fields.Date.context_today(self))
        return True

    def action_subscription_cancel_stale_charge(self):
        """Cancel the draft charge that never got the provider's answer (after checking with the provider
        that nothing was paid): it counts as a failed attempt, the retry schedule goes on."""
        self.ensure_one()
        self.check_access("write")
        self.env["subscription.payment.charging"]._cancel_stale_charges(self, fields.Date.context_today(self))
        return True

    def action_view_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.subscription_action")
        action["domain"] = [("id", "in", self.subscription_ids.ids)]
        return action

    # ------------------------------------------------------------------
    # Dunning (see subscription_dunning_run.py)
    # ------------------------------------------------------------------
    dunning_block_until = fields.Date(
        string="No Dunning Until",
        copy=False,
        tracking=True,
        help="Promise to pay, dispute: the dunning run leaves this invoice out up to and including this date.",
    )
    dunning_block_reason = fields.Char(copy=False, tracking=True)
    dunning_entry_ids = fields.One2many("subscription.dunning.entry", "invoice_id", string="Dunning History")
    dunning_level_id = fields.Many2one("subscription.dunning.level", compute="_compute_dunning_level_id")

    @api.depends("dunning_entry_ids.level_id")
    def _compute_dunning_level_id(self):
        for move in self:
            entries = move.dunning_entry_ids.sorted(lambda e: e.level_id.days_after_due)
            move.dunning_level_id = entries[-1:].level_id

    @api.constrains("dunning_block_until", "dunning_block_reason")
    def _check_dunning_block_reason(self):
        for move in self:
            if move.dunning_block_until and not move.dunning_block_reason:
                raise ValidationError(
                    self.env._(
                        "Invoice %(invoice)s: a dunning block until %(date)s needs a reason (Dunning Block Reason).",
                        invoice=move.display_name,
                        date=format_date(self.env, move.dunning_block_until),
                    )
                )
