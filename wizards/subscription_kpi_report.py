from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import date_utils, format_date

from ..billing_core import mrr


def _percent(value):
    return float(value * 100) if value is not None else 0.0


class SubscriptionKpiReport(models.TransientModel):
    """Revenue KPIs of one company for a period: MRR bridge, churn, retention, ARPA, CLV, trials, cohorts."""

    _name = "subscription.kpi.report"
    _description = "Subscription KPI Report"

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    company_id = fields.Many2one(
        "res.company", required=True, default=lambda self: self.env.company, domain=lambda self: self._domain_company()
    )
    currency_id = fields.Many2one(related="company_id.currency_id", string="Company Currency")
    date_from = fields.Date(
        string="From", required=True, default=lambda self: date_utils.start_of(fields.Date.context_today(self), "month")
    )
    date_to = fields.Date(
        string="To", required=True, default=lambda self: date_utils.end_of(fields.Date.context_today(self), "month")
    )
    plan_ids = fields.Many2many("subscription.plan", string="Plans")
    plan_family_ids = fields.Many2many("subscription.plan.family", string="Plan Families")
    subscription_currency_ids = fields.Many2many("res.currency", string="Subscription Currencies")
    country_ids = fields.Many2many("res.country", string="Countries")
    user_ids = fields.Many2many("res.users", string="Salespersons")
    gross_margin = fields.Float(
        string="Gross Margin (%)", default=100.0, help="Share of the revenue left after the cost of serving it (CLV)."
    )
    cohort_months = fields.Integer(default=12, help="Signup months in the cohort table, ending with the To month.")
    is_computed = fields.Boolean(readonly=True)

    mrr_opening = fields.Monetary(string="Opening MRR", readonly=True)
    mrr_new = fields.Monetary(string="New MRR", readonly=True)
    mrr_expansion = fields.Monetary(string="Expansion MRR", readonly=True)
    mrr_contraction = fields.Monetary(string="Contraction MRR", readonly=True)
    mrr_churn = fields.Monetary(string="Churned MRR", readonly=True)
    mrr_reactivation = fields.Monetary(string="Reactivation MRR", readonly=True)
    mrr_transfer = fields.Monetary(
        string="Moved In or Out of the Filter",
        readonly=True,
        help="MRR of subscriptions that changed into (+) or out of (−) the filtered plans, families, currencies, "
        "countries or salespersons.",
    )
    mrr_closing = fields.Monetary(string="Closing MRR", readonly=True)
    arr_closing = fields.Monetary(string="Closing ARR", readonly=True)
    customers_opening = fields.Integer(string="Customers at Start", readonly=True)
    customers_closing = fields.Integer(string="Customers at End", readonly=True)
    customers_lost = fields.Integer(readonly=True)
    arpa = fields.Monetary(string="ARPA", readonly=True, help="Average MRR per customer at the end of the period.")
    logo_churn_rate = fields.Float(string="Logo Churn (%)", readonly=True, digits=(16, 2))
    gross_revenue_churn_rate = fields.Float(string="Gross Revenue Churn (%)", readonly=True, digits=(16, 2))
    net_revenue_churn_rate = fields.Float(string="Net Revenue Churn (%)", readonly=True, digits=(16, 2))
    net_revenue_retention = fields.Float(string="Net Revenue Retention (%)", readonly=True, digits=(16, 2))
    monthly_revenue_churn_rate = fields.Float(string="Monthly Revenue Churn (%)", readonly=True, digits=(16, 2))
    clv = fields.Monetary(
        string="Customer Lifetime Value",
        readonly=True,
        help="ARPA × gross margin ÷ monthly gross revenue churn rate (0 when nothing churned).",
    )
    trials_ended = fields.Integer(readonly=True)
    trials_converted = fields.Integer(readonly=True)
    trial_conversion_rate = fields.Float(string="Trial Conversion (%)", readonly=True, digits=(16, 2))
    cohort_line_ids = fields.One2many("subscription.kpi.cohort.line", "report_id", string="Cohorts", readonly=True)

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    @api.constrains("date_from", "date_to", "cohort_months", "gross_margin")
    def _check_values(self):
        for report in self:
            if report.date_to < report.date_from:
                raise ValidationError(
                    self.env._(
                        "The KPI report's To date (%(to)s) must not be before its From date (%(start)s).",
                        to=format_date(self.env, report.date_to),
                        start=format_date(self.env, report.date_from),
                    )
                )
            if not 1 <= report.cohort_months <= 120:
                raise ValidationError(
                    self.env._(
                        "Cohort Months of the KPI report must lie between 1 and 120, got %(months)s.",
                        months=report.cohort_months,
                    )
                )
            if not 0 <= report.gross_margin <= 100:
                raise ValidationError(
                    self.env._(
                        "Gross Margin (%%) of the KPI report must lie between 0 and 100, got %(margin)s.",
                        margin=report.gross_margin,
                    )
                )

    def _domain_company(self):
        return [("id", "in", self.env.companies.ids)]

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_compute(self):
        """Compute the figures and the cohort table, and show them."""
        self.ensure_one()
        self._compute_figures()
        return {
            "type": "ir.actions.act_window",
            "res_model": self._name,
            "res_id": self.id,
            "view_mode": "form",
            "target": "new",
            "name": self.env._("Subscription KPIs"),
        }

    def action_view_subscriptions(self):
        """The subscriptions behind the closing MRR."""
        self.ensure_one()
        analytics = self.env["subscription.revenue.analytics"]
        ids = list(analytics._get_mrr_by_subscription(self.date_to, self.company_id, self._get_filters()))
        return {
            "type": "ir.actions.act_window",
            "res_model": "subscription.subscription",
            "name": self.env._("Subscriptions in the closing MRR"),
            "view_mode": "list,form",
            "domain": [("id", "in", ids)],
        }

    def action_view_movements(self):
        """The movements of the period (pivot by kind; exportable)."""
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_billing.subscription_mrr_movement_action_bridge"
        )
        action["domain"] = self._get_movement_domain()
        action["context"] = {}
        return action

    def action_view_cohorts(self):
        """The cohort table as a pivot (exportable to a spreadsheet)."""
        self.ensure_one()
        if not self.is_computed:
            self._compute_figures()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "subscription_billing.subscription_kpi_cohort_line_action"
        )
        action["domain"] = [("report_id", "=", self.id)]
        return action

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _get_filters(self):
        self.ensure_one()
        return {
            "plan_ids": self.plan_ids.ids,
            "plan_family_ids": self.plan_family_ids.ids,
            "currency_ids": self.subscription_currency_ids.ids,
            "country_ids": self.country_ids.ids,
            "user_ids": self.user_ids.ids,
        }

    def _get_movement_domain(self):
        self.ensure_one()
        domain = [
            ("company_id", "=", self.company_id.id),
            ("date", ">=", self.date_from),
            ("date", "<=", self.date_to),
        ]
        for key, ids in self._get_filters().items():
            if ids:
                column = {"currency_ids": "currency_id", "plan_family_ids": "plan_family_id"}.get(key, key[:-1])
                domain.append((column, "in", ids))
        return domain

    def _compute_figures(self):
        self.ensure_one()
        analytics = self.env["subscription.revenue.analytics"]
        filters = self._get_filters()
        margin = Decimal(str(self.gross_margin)) / 100
        kpis = analytics._get_kpis(self.date_from, self.date_to, self.company_id, filters, margin)
        period, rates = kpis["bridge"], kpis["rates"]
        first = mrr.add_months(mrr.month_start(self.date_to), 1 - self.cohort_months)
        cells = analytics._get_cohorts(first, self.cohort_months, self.company_id, filters)
        starts = {signup: (customers, revenue) for signup, offset, customers, revenue in cells if offset == 0}
        self.cohort_line_ids.unlink()
        self.write(
            {
                "is_computed": True,
                "mrr_opening": float(period.opening),
                "mrr_new": float(period.new),
                "mrr_expansion": float(period.expansion),
                "mrr_contraction": float(period.contraction),
                "mrr_churn": float(period.churn),
                "mrr_reactivation": float(period.reactivation),
                "mrr_transfer": float(kpis["transfer"]),
                "mrr_closing": float(period.closing),
                "arr_closing": float(kpis["arr"]),
                "customers_opening": kpis["customers_opening"],
                "customers_closing": kpis["customers"],
                "customers_lost": kpis["customers_lost"],
                "arpa": float(kpis["arpa"] or 0),
                "logo_churn_rate": _percent(rates.logo_churn),
                "gross_revenue_churn_rate": _percent(rates.gross_revenue_churn),
                "net_revenue_churn_rate": _percent(rates.net_revenue_churn),
                "net_revenue_retention": _percent(rates.net_revenue_retention),
                "monthly_revenue_churn_rate": _percent(kpis["monthly_revenue_churn"]),
                "clv": float(kpis["clv"] or 0),
                "trials_ended": kpis["trials"],
                "trials_converted": kpis["trials_converted"],
                "trial_conversion_rate": _percent(kpis["trial_conversion"]),
                "cohort_line_ids": [
                    fields.Command.create(
                        {
                            "cohort_month": signup,
                            "month_offset": offset,
                            "cohort_size": starts.get(signup, (0, 0))[0],
                            "customers": customers,
                            "customer_retention": _percent(mrr.ratio(customers, starts.get(signup, (0, 0))[0])),
                            "revenue": float(revenue),
                            "revenue_retention": _percent(mrr.ratio(revenue, starts.get(signup, (0, 0))[1])),
                        }
                    )
                    for signup, offset, customers, revenue in cells
                ],
            }
        )
