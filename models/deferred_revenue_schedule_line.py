import json
import logging
from collections import defaultdict
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL, date_utils

_logger = logging.getLogger(__name__)


class DeferredRevenueScheduleLine(models.Model):
    """One month of a deferred revenue schedule: its amount and the entry that recognised it.

    States: ``pending`` (waits for its month's recognition), ``recognised`` (moved to revenue by
    ``recognition_move_id``), ``cancelled`` (reduced to zero by a credit note) and ``credited`` (a
    credit note schedule's record of how much it took off the invoice schedule's month
    ``credited_line_id``; never recognised itself).
    """

    _name = "deferred.revenue.schedule.line"
    _description = "Deferred Revenue Month"
    _order = "date, id"

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    schedule_id = fields.Many2one("deferred.revenue.schedule", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="schedule_id.company_id", store=True, index=True)
    company_currency_id = fields.Many2one(related="schedule_id.company_currency_id")
    currency_id = fields.Many2one(related="schedule_id.currency_id")
    date = fields.Date(string="Month", required=True, help="Last day of the month the amount belongs to.")
    amount = fields.Monetary(currency_field="company_currency_id")
    amount_currency = fields.Monetary(currency_field="currency_id")
    state = fields.Selection(
        [
            ("pending", "To Recognise"),
            ("recognised", "Recognised"),
            ("cancelled", "Cancelled"),
            ("credited", "Credited"),
        ],
        default="pending",
        required=True,
        index=True,
    )
    recognition_move_id = fields.Many2one(
        "account.move", string="Recognition Entry", index="btree_not_null", readonly=True, ondelete="restrict"
    )
    recognition_date = fields.Date(readonly=True, help="Accounting date of the recognition entry.")
    credited_line_id = fields.Many2one(
        "deferred.revenue.schedule.line", string="Reduced Month", index="btree_not_null", ondelete="cascade"
    )

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    # a month of a schedule exists once, so it can be recognised once
    _month_unique = models.UniqueIndex(
        "(schedule_id, date) WHERE state != 'credited'", "A month appears once in a deferred revenue schedule."
    )
    _recognised_has_entry = models.Constraint(
        "CHECK(state != 'recognised' OR recognition_move_id IS NOT NULL OR (amount = 0 AND amount_currency = 0))",
        "A recognised month needs its recognition entry.",
    )
    _pending_index = models.Index("(date, company_id) WHERE state = 'pending'")

    # ------------------------------------------------------------------
    # Recognition
    # ------------------------------------------------------------------
    @api.model
    def _get_lines_to_recognise_domain(self, month_end, companies=None):
        domain = [("state", "=", "pending"), ("date", "<=", month_end)]
        if companies:
            domain.append(("company_id", "in", companies.ids))
        return domain

    @api.model
    def _recognise_until(self, date_ref, companies=None, commit=False):
        """Recognise every pending month up to the end of ``date_ref``'s month (catching up missed months).

        Months that another worker holds are skipped (``FOR UPDATE SKIP LOCKED``); a recognised month
        is never recognised again. Returns the recognition entries created.
        """
        month_end = date_utils.end_of(date_ref, "month")
        lines = self.search(self._get_lines_to_recognise_domain(month_end, companies), order="date, id")
        moves = self.env["account.move"]
        groups = defaultdict(list)
        for line in lines:
            groups[(line.company_id.id, line.schedule_id.journal_id.id, line.date)].append(line.id)
        for key in sorted(groups, key=lambda k: (k[2], k[0], k[1])):
            batch = self.browse(groups[key]).try_lock_for_update()
            batch = batch.filtered(lambda line: line.state == "pending")
            if not batch:
                continue
            if not commit:
                moves |= batch._recognise(key[2])
                continue
            try:
                with self.env.cr.savepoint():
                    moves |= batch._recognise(key[2])
            except Exception:  # noqa: BLE001 - one failing month/journal must not stop the others
                _logger.exception(
                    "Revenue recognition of %s for company %s, journal %s failed; retried by the next run",
                    key[2],
                    key[0],
                    key[1],
                )
                self.env.invalidate_all()
                continue
            # one month of one journal per transaction: a crash keeps what is done and is re-run safely
            self.env["ir.cron"]._commit_progress(len(batch))
        return moves

    def _recognise(self, date):
        """Post one recognition entry for these pending lines (one company and journal) dated ``date``.

        The entry has one credit line per revenue account, analytic distribution and currency and one
        debit line per deferred account and currency; amounts are the schedules' own, at the original
        invoice's rate (deferred revenue is not revalued). Months that lie in a locked period are
        recognised on the first open day.
        """
        if not self:
            return self.env["account.move"]
        if any(line.state != "pending" for line in self):
            raise UserError(self.env._("Only months still to recognise can be recognised."))
        company = self.company_id
        journal = self.schedule_id.journal_id
        if len(company) != 1 or len(journal) != 1:
            raise UserError(self.env._("A recognition entry covers one company and one journal."))
        entry_date = self._get_recognition_entry_date(company, journal, date)
        revenue = defaultdict(lambda: [0.0, 0.0])
        deferred = defaultdict(lambda: [0.0, 0.0])
        for line in self:
            schedule = line.schedule_id
            distribution = schedule.analytic_distribution
            distribution = json.dumps(distribution, sort_keys=True) if distribution else ""
            # revenue and its reductions (credit notes, proration credits) stay on separate items, so that
            # a month in which they cancel out still gets an entry (and the ledger shows both)
            sign = line.amount > 0 or (line.amount == 0 and line.amount_currency > 0)
            revenue_key = (schedule.revenue_account_id.id, distribution, schedule.currency_id.id, sign)
            deferred_key = (schedule.deferred_account_id.id, schedule.currency_id.id, sign)
            for bucket, key in ((revenue, revenue_key), (deferred, deferred_key)):
                bucket[key][0] += line.amount
                bucket[key][1] += line.amount_currency
        label = self.env._("Revenue recognition %(month)s", month=date.strftime("%m/%Y"))
        line_commands = []
        for (account_id, currency_id, _sign), (amount, amount_currency) in sorted(deferred.items()):
            line_commands.append((account_id, currency_id, amount, amount_currency, False))
        for (account_id, distribution, currency_id, _sign), (amount, amount_currency) in sorted(revenue.items()):
            line_commands.append((account_id, currency_id, -amount, -amount_currency, distribution))
        commands = []
        company_currency = company.currency_id
        for account_id, currency_id, balance, amount_currency, distribution in line_commands:
            currency = self.env["res.currency"].browse(currency_id)
            balance = company_currency.round(balance)
            amount_currency = currency.round(amount_currency)
            if company_currency.is_zero(balance) and currency.is_zero(amount_currency):
                continue
            if balance * amount_currency < 0:
                # a foreign credit note's rate difference: the foreign amount and the company amount move
                # in opposite directions, which one journal item cannot show
                parts = [(0.0, amount_currency), (balance, 0.0)]
            else:
                parts = [(balance, amount_currency)]
            for part_balance, part_amount_currency in parts:
                commands.append(
                    fields.Command.create(
                        {
                            "name": label,
                            "account_id": account_id,
                            "currency_id": currency_id,
                            "balance": part_balance,
                            "amount_currency": part_amount_currency,
                            "analytic_distribution": json.loads(distribution) if distribution else False,
                        }
                    )
                )
        move = self.env["account.move"]
        if commands:
            move = self.env["account.move"].create(
                {
                    "move_type": "entry",
                    "journal_id": journal.id,
                    "company_id": company.id,
                    "date": entry_date,
                    "ref": label,
                    "is_revenue_recognition": True,
                    "line_ids": commands,
                }
            )
            move._post(soft=False)
        self._mark_recognised(move, entry_date)
        return move

    def _mark_recognised(self, move, entry_date):
        """Mark these months recognised by ``move`` only if they are still pending, or fail.

        The update re-checks ``state = 'pending'`` on the committed row version, so a worker acting on
        a stale view after another one recognised the month changes nothing and rolls back its entry.
        """
        self.flush_model(["state", "recognition_move_id", "recognition_date"])
        self.env.cr.execute(
            SQL(
                "UPDATE deferred_revenue_schedule_line SET state = 'recognised', recognition_move_id = %s, "
                "recognition_date = %s, write_uid = %s, write_date = NOW() AT TIME ZONE 'UTC' "
                "WHERE id IN %s AND state = 'pending' RETURNING id",
                move.id or None,
                entry_date,
                self.env.uid,
                tuple(self.ids),
            )
        )
        marked = {row[0] for row in self.env.cr.fetchall()}
        fnames = ["state", "recognition_move_id", "recognition_date"]
        self.invalidate_recordset(fnames)
        self.modified(fnames)
        move.invalidate_recordset(["recognition_line_ids"])
        if marked != set(self.ids):
            raise UserError(
                self.env._(
                    "%(count)s month(s) of deferred revenue were recognised by another run meanwhile; nothing was "
                    "posted. Run the recognition again.",
                    count=len(set(self.ids) - marked),
                )
            )

    @api.model
    def _get_recognition_entry_date(self, company, journal, date):
        """``date``, or the day after the lock date that forbids it."""
        lock_date = company._get_user_fiscal_lock_date(journal)
        if lock_date and date <= lock_date:
            return lock_date + timedelta(days=1)
        return date

    def _unrecognise(self):
        """Back to pending: the recognition entry of these months was reversed."""
        self.write({"state": "pending", "recognition_move_id": False, "recognition_date": False})

    @api.model
    def _cron_recognise(self, date_ref=None):
        """Month-end close: recognise every month that has ended (and any missed before)."""
        date_ref = date_ref or fields.Date.context_today(self)
        last_closed_month = date_utils.start_of(date_ref, "month") - timedelta(days=1)
        moves = self._recognise_until(last_closed_month, commit=True)
        _logger.info("Revenue recognition up to %s: %s entries", last_closed_month, len(moves))
        return moves
