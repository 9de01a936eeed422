from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import format_date

from ..billing_core import ageing


class ResPartner(models.Model):
    _inherit = "res.partner"

    subscription_invoice_grouping = fields.Boolean(
        string="One Invoice for All Subscriptions",
        help="Group all subscriptions of this customer that are due the same day into one invoice.",
    )
    subscription_ids = fields.One2many("subscription.subscription", "partner_id", string="Subscriptions")
    subscription_count = fields.Integer(
        compute="_compute_subscription_count", groups="subscription_billing.group_subscription_user"
    )
    subscription_balance_currency_id = fields.Many2one(
        "res.currency", compute="_compute_subscription_receivable_balance", groups="account.group_account_invoice"
    )
    subscription_receivable_balance = fields.Monetary(
        string="Open Balance",
        compute="_compute_subscription_receivable_balance",
        currency_field="subscription_balance_currency_id",
        groups="account.group_account_invoice",
        help="Open receivable items of the customer (commercial partner) in the current company dated up to "
        "today: invoices minus credit notes and payments not yet matched, in company currency.",
    )
    subscription_overdue_amount = fields.Monetary(
        string="Overdue Amount",
        compute="_compute_subscription_receivable_balance",
        currency_field="subscription_balance_currency_id",
        groups="account.group_account_invoice",
        help="Part of the open balance that is past its due date today (open items due before today).",
    )

    @api.depends("subscription_ids")
    def _compute_subscription_count(self):
        counts = dict(
            self.env["subscription.subscription"]._read_group(
                [("commercial_partner_id", "in", self.commercial_partner_id.ids)],
                ["commercial_partner_id"],
                ["__count"],
            )
        )
        for partner in self:
            partner.subscription_count = counts.get(partner.commercial_partner_id, 0)

    @api.depends_context("company")
    def _compute_subscription_receivable_balance(self):
        today = fields.Date.context_today(self)
        # new records (form onchange) have no journal items yet
        commercial_partners = self.commercial_partner_id._origin.filtered("id")
        balances = dict.fromkeys(commercial_partners.ids, 0.0)
        overdue = dict(balances)
        if commercial_partners:
            for partner, due_date, date, residual in self.env["account.move.line"]._read_group(
                [*self._get_subscription_open_items_domain(commercial_partners), ("date", "<=", today)],
                ["partner_id", "date_maturity:day", "date:day"],
                ["amount_residual:sum"],
            ):
                commercial_partner_id = partner.commercial_partner_id.id
                balances[commercial_partner_id] += residual
                # as in the open items: an item without a due date is due on its date
                if (due_date or date) < today:
                    overdue[commercial_partner_id] += residual
        currency = self.env.company.currency_id
        for partner in self:
            commercial_partner_id = partner.commercial_partner_id._origin.id
            partner.subscription_balance_currency_id = currency
            partner.subscription_receivable_balance = currency.round(balances.get(commercial_partner_id, 0.0))
            partner.subscription_overdue_amount = currency.round(overdue.get(commercial_partner_id, 0.0))

    def action_view_subscriptions(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.subscription_action")
        action["domain"] = [("commercial_partner_id", "=", self.commercial_partner_id.id)]
        action["context"] = {"default_partner_id": self.id}
        return action

    def action_view_subscription_open_items(self):
        """Open items of the customer as of today, grouped by ageing bucket."""
        self.ensure_one()
        statement = self.env["subscription.receivable.statement"].create({"partner_id": self.id})
        return statement.action_view_open_items()

    def action_open_subscription_statement_wizard(self):
        """The customer statement wizard (statement date, then open items or PDF)."""
        self.ensure_one()
        return self.env["subscription.receivable.statement"]._get_wizard_action(self)

    # ------------------------------------------------------------------
    # Receivables: the API the statement and the dunning build on
    # ------------------------------------------------------------------
    @api.model
    def _get_subscription_open_items_domain(self, commercial_partners, date_ref=None):
        """Posted receivable journal items of ``commercial_partners`` (and their contacts) in the
        current company that are open now, or, with ``date_ref``, that were open on ``date_ref``:
        dated on or before it and either still open or matched only after it."""
        domain = [
            ("company_id", "=", self.env.company.id),
            ("partner_id", "child_of", commercial_partners.ids),
            ("account_id.account_type", "=", "asset_receivable"),
            ("parent_state", "=", "posted"),
        ]
        if date_ref is None:
            return [*domain, ("amount_residual", "!=", 0)]
        return [
            *domain,
            ("date", "<=", date_ref),
            "|",
            "|",
            ("amount_residual", "!=", 0),
            ("matched_credit_ids.max_date", ">", date_ref),
            ("matched_debit_ids.max_date", ">", date_ref),
        ]

    def _get_subscription_open_items(self, date_ref=None):
        """Open receivable items of this customer's commercial partner on ``date_ref`` (default today),
        in the current company, oldest due date first.

        An item is a posted receivable journal item (invoice, credit note, payment or entry) dated on or
        before ``date_ref`` whose residual on ``date_ref`` is not zero; matchings (payments, credit notes)
        dated after ``date_ref`` do not reduce it. Amounts are signed: invoices positive, credit notes and
        unmatched payments negative.

        :return: list of dicts with ``move_line`` (account.move.line), ``move`` (account.move), ``name``,
            ``ref``, ``date`` (document date), ``date_maturity`` (due date), ``ageing_date`` (the due date, or the
            later date of a booked direct-debit collection that pays it), ``amount`` (original, company
            currency), ``amount_residual`` (open on ``date_ref``, company currency), ``currency`` (the item's
            currency), ``amount_currency``, ``amount_residual_currency``, ``days_overdue`` and ``bucket``
            (one of :data:`billing_core.ageing.BUCKETS`).
        """
        self.ensure_one()
        date_ref = date_ref or fields.Date.context_today(self)
        company_currency = self.env.company.currency_id
        move_lines = self.env["account.move.line"].search(
            self._get_subscription_open_items_domain(self.commercial_partner_id, date_ref),
            order="date_maturity, date, id",
        )
        items = []
        for line in move_lines:
            residual, residual_currency = self._get_subscription_residual_on(line, date_ref)
            if company_currency.is_zero(residual) and line.currency_id.is_zero(residual_currency):
                continue
            due_date = line.date_maturity or line.date
            # paid by a booked direct-debit collection that debits after date_ref: not overdue before then
            ageing_date = max(due_date, self._get_subscription_pending_debit_date(line, date_ref) or due_date)
            items.append(
                {
                    "move_line": line,
                    "move": line.move_id,
                    "name": line.move_id.name,
                    "ref": line.move_id.ref or "",
                    "date": line.move_id.invoice_date or line.date,
                    "date_maturity": due_date,
                    "amount": line.balance,
                    "amount_residual": residual,
                    "currency": line.currency_id,
                    "amount_currency": line.amount_currency,
                    "amount_residual_currency": residual_currency,
                    "ageing_date": ageing_date,
                    "days_overdue": ageing.days_overdue(ageing_date, date_ref),
                    "bucket": ageing.ageing_bucket(ageing_date, date_ref),
                }
            )
        # an item without a due date is due on its date: sort it there, not after everything else
        items.sort(key=lambda item: (item["date_maturity"], item["date"], item["move_line"].id))
        return items

    @api.model
    def _get_subscription_pending_debit_date(self, line, date_ref):
        """The date of the booked SEPA collection that pays receivable ``line`` after ``date_ref``, if any:
        the bank debits the customer on it, so the item is not overdue before."""
        partials = line.matched_credit_ids.filtered(
            lambda p: p.max_date > date_ref and p.credit_move_id.sepa_collection_line_id
        )
        return max(partials.mapped("max_date"), default=None)

    @api.model
    def _get_subscription_residual_on(self, line, date_ref):
        """(residual, residual in the line's currency) of receivable ``line`` on ``date_ref``: today's
        residual with the matchings dated after ``date_ref`` undone."""
        residual = line.amount_residual
        residual_currency = line.amount_residual_currency
        # line on the debit side of a matching: the matching reduced its (positive) residual
        for partial in line.matched_credit_ids.filtered(lambda p: p.max_date > date_ref):
            residual += partial.amount
            residual_currency += partial.debit_amount_currency
        # line on the credit side: the matching raised its (negative) residual
        for partial in line.matched_debit_ids.filtered(lambda p: p.max_date > date_ref):
            residual -= partial.amount
            residual_currency -= partial.credit_amount_currency
        return line.company_currency_id.round(residual), line.currency_id.round(residual_currency)

    def _get_subscription_ageing(self, date_ref=None, items=None):
        """Open amounts per ageing bucket on ``date_ref`` (default today), company currency.

        :param items: the result of :meth:`_get_subscription_open_items` for the same ``date_ref``,
            to avoid reading the items twice.
        :return: dict with every bucket of :data:`billing_core.ageing.BUCKETS`, ``"total"`` and
            ``"overdue"`` (total minus not due) as floats rounded to the company currency.
        """
        self.ensure_one()
        date_ref = date_ref or fields.Date.context_today(self)
        if items is None:
            items = self._get_subscription_open_items(date_ref)
        currency = self.env.company.currency_id
        totals = ageing.ageing_totals(
            ((item["ageing_date"], Decimal(str(currency.round(item["amount_residual"])))) for item in items),
            date_ref,
        )
        totals["overdue"] = totals["total"] - totals[ageing.NOT_DUE]
        return {key: float(amount) for key, amount in totals.items()}

    # ------------------------------------------------------------------
    # Dunning (see subscription_dunning_run.py)
    # ------------------------------------------------------------------
    dunning_block_until = fields.Date(
        string="No Dunning Until",
        tracking=True,
        groups="account.group_account_invoice",
        help="Promise to pay, dispute: the dunning run leaves all items of this customer out up to and including "
        "this date.",
    )
    dunning_block_reason = fields.Char(groups="account.group_account_invoice")
    dunning_letter_ids = fields.One2many(
        "subscription.dunning.letter",
        "partner_id",
        string="Dunning Letters",
        groups="account.group_account_invoice",
    )
    dunning_entry_count = fields.Integer(compute="_compute_dunning_entry_count", groups="account.group_account_invoice")

    def _compute_dunning_entry_count(self):
        Entry = self.env["subscription.dunning.entry"]
        counts = dict(
            Entry._read_group([("partner_id", "in", self.commercial_partner_id.ids)], ["partner_id"], ["__count"])
        )
        for partner in self:
            partner.dunning_entry_count = counts.get(partner.commercial_partner_id, 0)

    def action_view_dunning_entries(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id("subscription_billing.subscription_dunning_entry_action")
        action["domain"] = [("partner_id", "=", self.commercial_partner_id.id)]
        return action

    @api.constrains("dunning_block_until", "dunning_block_reason")
    def _check_dunning_block_reason(self):
        for partner in self:
            if partner.dunning_block_until and not partner.dunning_block_reason:
                raise ValidationError(
                    self.env._(
                        "Customer %(partner)s: a dunning block until %(date)s needs a reason (Dunning Block Reason).",
                        partner=partner.display_name,
                        date=format_date(self.env, partner.dunning_block_until),
                    )
                )
