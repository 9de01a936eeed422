from datetime import timedelta
from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import date_utils, format_date

from ..billing_core import deferral


class DeferredRevenueReport(models.TransientModel):
    """Deferred revenue waterfall per month, and its reconciliation with the ledger."""

    _name = "deferred.revenue.report"
    _description = "Deferred Revenue Report"

    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company)
    currency_id = fields.Many2one(related="company_id.currency_id")
    date_from = fields.Date(
        string="From", required=True, default=lambda self: date_utils.start_of(fields.Date.context_today(self), "year")
    )
    date_to = fields.Date(
        string="To", required=True, default=lambda self: date_utils.end_of(fields.Date.context_today(self), "month")
    )
    plan_ids = fields.Many2many("subscription.plan", string="Plans")
    partner_ids = fields.Many2many("res.partner", string="Customers")
    account_ids = fields.Many2many(
        "account.account", string="Deferred Revenue Accounts", domain="[('company_ids', 'in', company_id)]"
    )
    line_ids = fields.One2many("deferred.revenue.report.line", "report_id", string="Months", readonly=True)
    ledger_balance = fields.Monetary(compute="_compute_check", help="Credit balance of the deferred revenue accounts.")
    schedule_balance = fields.Monetary(
        string="Not Yet Recognised", compute="_compute_check", help="Schedules' amounts not recognised on that date."
    )
    difference = fields.Monetary(compute="_compute_check")

    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for report in self:
            if report.date_to < report.date_from:
                raise ValidationError(
                    self.env._(
                        "The report's To date (%(to)s) must not be before its From date (%(start)s).",
                        to=format_date(self.env, report.date_to),
                        start=format_date(self.env, report.date_from),
                    )
                )

    # ------------------------------------------------------------------
    # Figures
    # ------------------------------------------------------------------
    def _get_schedule_domain(self, with_filters=True):
        self.ensure_one()
        domain = [("company_id", "=", self.company_id.id)]
        if self.account_ids:
            domain.append(("deferred_account_id", "in", self.account_ids.ids))
        if with_filters and self.plan_ids:
            domain.append(("plan_id", "in", self.plan_ids.ids))
        if with_filters and self.partner_ids:
            domain.append(("partner_id", "child_of", self.partner_ids.commercial_partner_id.ids))
        return domain

    def _get_deferred_balance(self, date, with_filters=True):
        """What the schedules have not recognised at the end of ``date`` (company currency)."""
        domain = self._get_schedule_domain(with_filters)
        Schedule = self.env["deferred.revenue.schedule"]
        [[added]] = Schedule._read_group([*domain, ("date", "<=", date)], [], ["amount:sum"])
        [[recognised]] = self.env["deferred.revenue.schedule.line"]._read_group(
            [
                ("schedule_id", "any", domain),
                ("state", "=", "recognised"),
                ("recognition_date", "<=", date),
            ],
            [],
            ["amount:sum"],
        )
        return Decimal(str(added or 0)) - Decimal(str(recognised or 0))

    def _get_monthly_amounts(self, model, domain, date_field, amount_field="amount"):
        groups = self.env[model]._read_group(domain, [f"{date_field}:month"], [f"{amount_field}:sum"])
        return {date_utils.end_of(month, "month"): Decimal(str(amount or 0)) for month, amount in groups}

    def _get_waterfall(self):
        """Rows month by month from ``date_from`` to ``date_to`` (pure core does the roll-forward)."""
        self.ensure_one()
        first = date_utils.start_of(self.date_from, "month")
        last = date_utils.end_of(self.date_to, "month")
        domain = self._get_schedule_domain()
        period = [("date", ">=", first), ("date", "<=", last)]
        # invoices (also their negative lines) defer, credit notes reduce
        invoices = [*domain, *period, ("move_id.move_type", "=", "out_invoice")]
        credit_notes = [*domain, *period, ("move_id.move_type", "=", "out_refund")]
        added = self._get_monthly_amounts("deferred.revenue.schedule", invoices, "date")
        reduced = self._get_monthly_amounts("deferred.revenue.schedule", credit_notes, "date")
        recognised = self._get_monthly_amounts(
            "deferred.revenue.schedule.line",
            [
                ("schedule_id", "any", domain),
                ("state", "=", "recognised"),
                ("recognition_date", ">=", first),
                ("recognition_date", "<=", last),
            ],
            "recognition_date",
        )
        # what the schedules will recognise (future months, or past months not closed yet)
        planned = self._get_monthly_amounts(
            "deferred.revenue.schedule.line",
            [("schedule_id", "any", domain), ("state", "=", "pending"), ("date", ">=", first), ("date", "<=", last)],
            "date",
        )
        opening = self._get_deferred_balance(first - timedelta(days=1))
        months = deferral.month_ends_between(first, last)
        return deferral.waterfall(opening, months, added, reduced, recognised, planned)

    @api.depends("company_id", "date_to", "account_ids")
    def _compute_check(self):
        for report in self:
            if not report.company_id or not report.date_to:
                report.ledger_balance = report.schedule_balance = report.difference = 0.0
                continue
            accounts = report.account_ids or report._get_deferred_accounts()
            [[balance]] = self.env["account.move.line"]._read_group(
                [
                    ("company_id", "=", report.company_id.id),
                    ("account_id", "in", accounts.ids),
                    ("parent_state", "=", "posted"),
                    ("date", "<=", report.date_to),
                ],
                [],
                ["balance:sum"],
            )
            report.ledger_balance = -(balance or 0.0)
            report.schedule_balance = float(report._get_deferred_balance(report.date_to, with_filters=False))
            report.difference = report.currency_id.round(report.ledger_balance - report.schedule_balance)

    def _get_deferred_accounts(self):
        """The deferred revenue accounts in use: the company's and those of its schedules."""
        self.ensure_one()
        Schedule = self.env["deferred.revenue.schedule"]
        used = Schedule._read_group([("company_id", "=", self.company_id.id)], ["deferred_account_id"])
        accounts = self.company_id.deferred_revenue_account_id
        for (account,) in used:
            accounts |= account
        return accounts

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_show(self):
        self.ensure_one()
        self.line_ids.unlink()
        self.env["deferred.revenue.report.line"].create(
            [
                {
                    "report_id": self.id,
                    "month": row["month"],
                    "month_label": row["month"].strftime("%m/%Y"),
                    "opening": float(row["opening"]),
                    "added": float(row["added"]),
                    "reduced": float(row["reduced"]),
                    "recognised": float(row["recognised"]),
                    "closing": float(row["closing"]),
                    "planned": float(row["planned"]),
                    "planned_closing": float(row["planned_closing"]),
                }
                for row in self._get_waterfall()
            ]
        )
        return {
            "type": "ir.actions.act_window",
            "name": self.env._(
                "Deferred Revenue %(start)s – %(end)s",
                start=format_date(self.env, self.date_from),
                end=format_date(self.env, self.date_to),
            ),
            "res_model": "deferred.revenue.report.line",
            "view_mode": "list",
            "domain": [("report_id", "=", self.id)],
            "context": {"create": False},
        }
