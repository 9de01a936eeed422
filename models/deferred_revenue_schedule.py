from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import date_utils

from ..billing_core import deferral


class DeferredRevenueSchedule(models.Model):
    """How the revenue of one posted invoice line is recognised month by month.

    Amounts are signed as revenue: an invoice line is positive, a credit note line negative. The
    schedule's amount was booked to the deferred revenue account when the invoice was posted; each
    recognised month moves its part to the revenue account. A credit note against a deferred line
    reduces the months not yet recognised (its own schedule keeps the reductions as ``credited``
    lines) and recognises at once what was already recognised.
    """

    _name = "deferred.revenue.schedule"
    _description = "Deferred Revenue Schedule"
    _order = "date desc, id desc"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    move_line_id = fields.Many2one(
        "account.move.line", string="Invoice Line", required=True, ondelete="cascade", index=True, readonly=True
    )
    move_id = fields.Many2one(related="move_line_id.move_id", string="Invoice", store=True, index=True)
    company_id = fields.Many2one(related="move_line_id.company_id", store=True, index=True)
    company_currency_id = fields.Many2one(related="company_id.currency_id", string="Company Currency")
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", index=True, readonly=True)
    subscription_id = fields.Many2one(related="move_line_id.subscription_id", store=True, index="btree_not_null")
    plan_id = fields.Many2one("subscription.plan", index="btree_not_null", readonly=True)
    product_id = fields.Many2one(related="move_line_id.product_id", store=True)
    name = fields.Char(related="move_line_id.name", string="Description")
    revenue_account_id = fields.Many2one("account.account", required=True, readonly=True, index=True)
    deferred_account_id = fields.Many2one("account.account", required=True, readonly=True, index=True)
    analytic_distribution = fields.Json(readonly=True)
    analytic_precision = fields.Integer(
        store=False, default=lambda self: self.env["decimal.precision"].precision_get("Percentage Analytic")
    )
    journal_id = fields.Many2one(
        "account.journal", string="Recognition Journal", required=True, readonly=True, check_company=True
    )
    date = fields.Date(string="Posting Date", required=True, readonly=True, index=True)
    date_start = fields.Date(string="Service Start", required=True, readonly=True)
    date_end = fields.Date(string="Service End", required=True, readonly=True)
    method = fields.Selection(
        [("days", "By days"), ("equal", "Equal monthly parts")], required=True, readonly=True, default="days"
    )
    amount = fields.Monetary(currency_field="company_currency_id", readonly=True, help="Revenue, company currency.")
    amount_currency = fields.Monetary(currency_field="currency_id", readonly=True, help="Revenue, invoice currency.")
    line_ids = fields.One2many("deferred.revenue.schedule.line", "schedule_id", string="Months", readonly=True)
    origin_schedule_id = fields.Many2one(
        "deferred.revenue.schedule",
        string="Credited Schedule",
        readonly=True,
        index="btree_not_null",
        ondelete="restrict",
        help="The invoice line's schedule this credit note line reduced.",
    )
    recognised_amount = fields.Monetary(currency_field="company_currency_id", compute="_compute_amounts")
    residual_amount = fields.Monetary(
        string="Still Deferred", currency_field="company_currency_id", compute="_compute_amounts"
    )
    residual_amount_currency = fields.Monetary(
        string="Still Deferred in Currency", currency_field="currency_id", compute="_compute_amounts"
    )
    state = fields.Selection(
        [("running", "Running"), ("done", "Done")], compute="_compute_amounts", search="_search_state"
    )

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    _move_line_unique = models.Constraint("UNIQUE(move_line_id)", "An invoice line has one deferred revenue schedule.")

    # ------------------------------------------------------------------
    # Compute methods
    # ------------------------------------------------------------------
    @api.depends("line_ids.state", "line_ids.amount", "line_ids.amount_currency")
    def _compute_amounts(self):
        for schedule in self:
            lines = schedule.line_ids
            recognised = lines.filtered(lambda line: line.state == "recognised")
            pending = lines.filtered(lambda line: line.state == "pending")
            schedule.recognised_amount = sum(recognised.mapped("amount"))
            schedule.residual_amount = sum(pending.mapped("amount"))
            schedule.residual_amount_currency = sum(pending.mapped("amount_currency"))
            schedule.state = "running" if pending else "done"

    def _search_state(self, operator, value):
        if operator not in ("=", "in"):
            return NotImplemented
        values = {value} if operator == "=" else set(value)
        running = self.env["deferred.revenue.schedule.line"]._search([("state", "=", "pending")])
        domain = []
        if "running" in values and "done" not in values:
            domain = [("id", "in", running.subselect("schedule_id"))]
        elif "done" in values and "running" not in values:
            domain = [("id", "not in", running.subselect("schedule_id"))]
        elif not values & {"running", "done"}:
            domain = [("id", "=", False)]
        return domain

    # ------------------------------------------------------------------
    # Creation from posted invoice lines
    # ------------------------------------------------------------------
    @api.model
    def _prepare_schedule_values(
        self, move_line, revenue_account, deferred_account, analytic_distribution, journal=None
    ):
        """Values of the schedule of a just-posted invoice line whose revenue sits on ``deferred_account``."""
        company = move_line.company_id
        journal = journal or company._get_deferred_revenue_journal()
        move = move_line.move_id
        method = company.deferred_revenue_method or deferral.METHOD_DAYS
        amount = company.currency_id.round(-move_line.balance)
        amount_currency = move_line.currency_id.round(-move_line.amount_currency)
        first_month = move.date
        company_step = Decimal(str(company.currency_id.rounding))
        currency_step = Decimal(str(move_line.currency_id.rounding))
        start, end = move_line.subscription_period_start, move_line.subscription_period_end
        months = deferral.recognition_schedule(
            start, end, Decimal(str(amount)), company_step, method, first_month_end=first_month
        )
        months_currency = deferral.recognition_schedule(
            start, end, Decimal(str(amount_currency)), currency_step, method, first_month_end=first_month
        )
        return {
            "move_line_id": move_line.id,
            "currency_id": move_line.currency_id.id,
            "partner_id": move_line.partner_id.commercial_partner_id.id,
            "plan_id": move_line.subscription_id.plan_id.id,
            "revenue_account_id": revenue_account.id,
            "deferred_account_id": deferred_account.id,
            "analytic_distribution": analytic_distribution or False,
            "journal_id": journal.id,
            "date": move.date,
            "date_start": start,
            "date_end": end,
            "method": method,
            "amount": amount,
            "amount_currency": amount_currency,
            "line_ids": [
                fields.Command.create({"date": month, "amount": float(part), "amount_currency": float(part_currency)})
                for (month, part), (_month, part_currency) in zip(months, months_currency, strict=True)
            ],
        }

    @api.model
    def _create_with_months(self, values_list):
        """Create schedules with their months in two batched inserts (a billing run posts hundreds at once)."""
        months = [values.pop("line_ids", []) for values in values_list]
        schedules = self.create(values_list) if values_list else self
        self.env["deferred.revenue.schedule.line"].create(
            [
                {**command[2], "schedule_id": schedule.id}
                for schedule, commands in zip(schedules, months, strict=True)
                for command in commands
            ]
        )
        return schedules

    def _reduce_by_credit(self, credit_line, deferred_account):
        """Reduce this schedule by the credit note line ``credit_line``; return the credit line's schedule.

        The months not yet recognised shrink in proportion (both currencies, the company amounts at the
        invoice's rate); what the credit exceeds them by was already recognised (or is the rate
        difference of a foreign-currency credit note) and is recognised back at once, on its date.
        """
        self.ensure_one()
        company = self.company_id
        # months before the credit note's month belong to the past (recognised, or waiting for a late run):
        # only the months from the credit note on shrink, the rest of the credit is recognised at once
        credit_month = date_utils.end_of(credit_line.move_id.date, "month")
        pending = self.line_ids.filtered(lambda line: line.state == "pending" and line.date >= credit_month)
        pending = pending.sorted("date")
        company_step = Decimal(str(company.currency_id.rounding))
        currency_step = Decimal(str(self.currency_id.rounding))
        reduction = Decimal(str(company.currency_id.round(credit_line.balance)))
        reduction_currency = Decimal(str(self.currency_id.round(credit_line.amount_currency)))
        old = [Decimal(str(company.currency_id.round(amount))) for amount in pending.mapped("amount")]
        old_currency = [Decimal(str(self.currency_id.round(amount))) for amount in pending.mapped("amount_currency")]
        new_currency, excess_currency = deferral.reduce_pending(old_currency, reduction_currency, currency_step)
        if self.currency_id == company.currency_id:
            new, excess = deferral.reduce_pending(old, reduction, company_step)
        else:
            # deferred revenue is non-monetary: the months shrink at the invoice's rate, in proportion to the
            # foreign amount taken off; the credit note's own rate difference is recognised at once
            taken = deferral.historical_share(old, old_currency, new_currency, company_step)
            new, _nothing = deferral.reduce_pending(old, taken, company_step)
            excess = reduction - taken
        credited_commands = []
        for line, before, after, before_cur, after_cur in zip(
            pending, old, new, old_currency, new_currency, strict=True
        ):
            if before == after and before_cur == after_cur:
                continue
            line.write(
                {
                    "amount": float(after),
                    "amount_currency": float(after_cur),
                    "state": "pending" if after or after_cur else "cancelled",
                }
            )
            credited_commands.append(
                fields.Command.create(
                    {
                        "date": line.date,
                        "amount": float(after - before),
                        "amount_currency": float(after_cur - before_cur),
                        "state": "credited",
                        "credited_line_id": line.id,
                    }
                )
            )
        move = credit_line.move_id
        excess_commands = []
        if excess or excess_currency:
            excess_commands.append(
                fields.Command.create(
                    {
                        "date": date_utils.end_of(move.date, "month"),
                        "amount": float(-excess),
                        "amount_currency": float(-excess_currency),
                    }
                )
            )
        credit_schedule = self.create(
            {
                "move_line_id": credit_line.id,
                "currency_id": credit_line.currency_id.id,
                "partner_id": self.partner_id.id,
                "plan_id": self.plan_id.id,
                "revenue_account_id": self.revenue_account_id.id,
                "deferred_account_id": deferred_account.id,
                "analytic_distribution": self.analytic_distribution,
                "journal_id": self.journal_id.id,
                "date": move.date,
                "date_start": self.date_start,
                "date_end": self.date_end,
                "method": self.method,
                "amount": -credit_line.balance,
                "amount_currency": -credit_line.amount_currency,
                "origin_schedule_id": self.id,
                "line_ids": credited_commands + excess_commands,
            }
        )
        excess_lines = credit_schedule.line_ids.filtered(lambda line: line.state == "pending")
        if excess_lines:
            excess_lines._recognise(move.date)
        return credit_schedule

    def _check_can_reset(self):
        """Refuse to remove schedules whose months are recognised or were reduced by a credit note."""
        # one query for all: which of these schedules' months did a credit note reduce
        credits_by_schedule = {}
        reductions = self.env["deferred.revenue.schedule.line"].search([("credited_line_id", "in", self.line_ids.ids)])
        for reduction in reductions:
            credits_by_schedule.setdefault(reduction.credited_line_id.schedule_id, reduction)
        for schedule in self:
            recognised = schedule.line_ids.filtered(lambda line: line.state == "recognised" and line.amount)
            if recognised:
                raise UserError(
                    self.env._(
                        "Invoice %(invoice)s cannot be reset to draft: %(count)s month(s) of its deferred revenue "
                        "(line “%(line)s”) are already recognised in %(entries)s. Reverse those recognition "
                        "entries first, or issue a credit note.",
                        invoice=schedule.move_id.display_name,
                        count=len(recognised),
                        line=schedule.name or schedule.product_id.display_name,
                        entries=", ".join(recognised.recognition_move_id.mapped("display_name")),
                    )
                )
            credited = credits_by_schedule.get(schedule)
            if credited:
                raise UserError(
                    self.env._(
                        "Invoice %(invoice)s cannot be reset to draft: credit note %(credit)s reduced its deferred "
                        "revenue. Reset the credit note to draft first.",
                        invoice=schedule.move_id.display_name,
                        credit=credited.schedule_id.move_id.display_name,
                    )
                )
            moved_on = schedule.line_ids.filtered(
                lambda line: (
                    line.state == "credited"
                    and line.credited_line_id.state != "pending"
                    and line.credited_line_id.state != "cancelled"
                )
            )
            if moved_on:
                raise UserError(
                    self.env._(
                        "Credit note %(credit)s cannot be reset to draft: months it reduced on %(invoice)s are "
                        "recognised since.",
                        credit=schedule.move_id.display_name,
                        invoice=schedule.origin_schedule_id.move_id.display_name,
                    )
                )

    def _remove(self):
        """Undo the schedules of invoice lines going back to draft: give credited amounts back, delete."""
        self._check_can_reset()
        for line in self.line_ids.filtered(lambda line: line.state == "credited"):
            original = line.credited_line_id
            amount = original.amount - line.amount
            amount_currency = original.amount_currency - line.amount_currency
            original.write({"amount": amount, "amount_currency": amount_currency, "state": "pending"})
        # zero-amount months recognised without an entry may be dropped with the schedule
        self.line_ids.unlink()
        self.unlink()
