from dateutil.relativedelta import relativedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import date_utils, format_date


class SubscriptionBillingForecastReport(models.TransientModel):
    """What the billing runs will invoice from one day to another, per invoice, for export and pivots."""

    _name = "subscription.billing.forecast.report"
    _description = "Billing Forecast"

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    company_id = fields.Many2one(
        "res.company",
        required=True,
        default=lambda self: self.env.company,
        domain=lambda self: [("id", "in", self.env.companies.ids)],
    )
    currency_id = fields.Many2one(related="company_id.currency_id", string="Company Currency")
    date_from = fields.Date(string="From", required=True, default=lambda self: fields.Date.context_today(self))
    date_to = fields.Date(
        string="To",
        required=True,
        default=lambda self: date_utils.end_of(fields.Date.context_today(self) + relativedelta(months=2), "month"),
    )
    subscription_ids = fields.Many2many(
        "subscription.subscription",
        "subscription_forecast_report_subscription_rel",
        "report_id",
        "subscription_id",
        string="Subscriptions",
        help="Leave empty for all subscriptions of the company.",
    )
    line_ids = fields.One2many("subscription.billing.forecast.line", "report_id", string="Invoices", readonly=True)

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    @api.constrains("date_from", "date_to")
    def _check_dates(self):
        for report in self:
            if report.date_to < report.date_from:
                raise ValidationError(
                    self.env._(
                        "The billing forecast's To date (%(to)s) must not be before its From date (%(start)s).",
                        to=format_date(self.env, report.date_to),
                        start=format_date(self.env, report.date_from),
                    )
                )
            if report.date_to > report.date_from + relativedelta(years=3):
                raise ValidationError(
                    self.env._(
                        "The billing forecast covers at most three years (From %(start)s, To %(to)s).",
                        to=format_date(self.env, report.date_to),
                        start=format_date(self.env, report.date_from),
                    )
                )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_compute(self):
        """Run the dry run and show the invoices by month (pivot), or as a list to export."""
        self.ensure_one()
        self._compute_lines()
        return {
            "type": "ir.actions.act_window",
            "res_model": "subscription.billing.forecast.line",
            "name": self.env._(
                "Billing forecast %(start)s – %(to)s",
                start=format_date(self.env, self.date_from),
                to=format_date(self.env, self.date_to),
            ),
            "view_mode": "pivot,list,graph",
            "views": [(False, "pivot"), (False, "list"), (False, "graph")],
            "domain": [("report_id", "=", self.id)],
            "context": {"create": False},
        }

    @api.model
    def _action_next_invoices(self, subscriptions, date_ref=None, months=12):
        """The next invoices of ``subscriptions`` from ``date_ref`` for ``months`` months (the last day excluded)."""
        date_ref = date_ref or fields.Date.context_today(self)
        subscriptions.check_access("read")
        report = self.create(
            {
                "company_id": subscriptions[:1].company_id.id or self.env.company.id,
                "date_from": date_ref,
                "date_to": date_ref + relativedelta(months=months, days=-1),
                "subscription_ids": [fields.Command.set(subscriptions.ids)],
            }
        )
        action = report.action_compute()
        action.update(
            name=self.env._("Next invoices"),
            view_mode="list,pivot",
            views=[(False, "list"), (False, "pivot")],
        )
        return action

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _get_subscriptions(self):
        self.ensure_one()
        if self.subscription_ids:
            subs = self.subscription_ids.filtered(lambda sub: sub.company_id == self.company_id)
        else:
            subs = self.env["subscription.subscription"].search(
                [("company_id", "=", self.company_id.id), ("state", "not in", ("draft", "ended"))]
            )
        subs.check_access("read")
        return subs

    def _compute_lines(self):
        self.ensure_one()
        subs = self._get_subscriptions()
        # the dry run creates invoices (rolled back): it runs with the rights of the scheduled billing
        rows = self.env["subscription.billing.forecast"].sudo()._forecast(subs.sudo(), self.date_from, self.date_to)
        self.line_ids.unlink()
        self.write(
            {
                "line_ids": [
                    fields.Command.create(
                        {
                            key: row[key]
                            for key in (
                                "run_date",
                                "invoice_date",
                                "move_type",
                                "subscription_id",
                                "partner_id",
                                "currency_id",
                                "amount_untaxed",
                                "amount_tax",
                                "amount_total",
                                "amount_untaxed_company",
                                "has_usage",
                                "description",
                            )
                        }
                    )
                    for row in rows
                    if row["company_id"] == self.company_id.id
                ]
            }
        )
