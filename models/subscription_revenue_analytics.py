from datetime import timedelta
from decimal import Decimal

from odoo import api, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..billing_core import mrr

#: filter keys of the analytics and the movement column each one restricts
FILTER_COLUMNS = {
    "plan_ids": "plan_id",
    "plan_family_ids": "plan_family_id",
    "currency_ids": "currency_id",
    "country_ids": "country_id",
    "user_ids": "user_id",
}


class SubscriptionRevenueAnalytics(models.AbstractModel):
    """Revenue KPIs read from the MRR movement ledger, in company currency, one company at a time.

    A service model (no table): the KPI report and the benchmarks call it. It reads the ledger in SQL,
    so it checks that the company is one of the user's allowed companies first.
    """

    _name = "subscription.revenue.analytics"
    _description = "Subscription Revenue Analytics"

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _check_company(self, company):
        if company not in self.env.companies and not self.env.su:
            raise AccessError(
                self.env._("You cannot read the revenue figures of %(company)s.", company=company.display_name)
            )
        self.env["subscription.mrr.movement"].check_access("read")
        self.env["subscription.mrr.movement"].flush_model()

    @api.model
    def _filter_sql(self, filters, alias="mv"):
        """SQL conditions restricting movements (their plan, family, currency, customer country, salesperson)."""
        conditions = []
        for key, column in FILTER_COLUMNS.items():
            ids = (filters or {}).get(key)
            if ids:
                conditions.append(SQL("%s = ANY(%s)", SQL.identifier(alias, column), list(ids)))
        return SQL(" AND ").join(conditions) if conditions else SQL("TRUE")

    @api.model
    def _get_mrr_by_subscription(self, day, company, filters=None):
        """{subscription id: (MRR in company currency, commercial partner id)} on ``day`` of the subscriptions
        with a positive MRR; filters apply to each subscription's last movement on or before ``day``."""
        self._check_company(company)
        self.env.cr.execute(
            SQL(
                """SELECT sub_id, mrr, partner_id FROM (
                       SELECT DISTINCT ON (mv.subscription_id) mv.subscription_id AS sub_id,
                              mv.mrr_after_company AS mrr, mv.commercial_partner_id AS partner_id, mv.*
                         FROM subscription_mrr_movement mv
                        WHERE mv.company_id = %(company)s AND mv.date <= %(day)s
                     ORDER BY mv.subscription_id, mv.sequence DESC
                   ) mv
                  WHERE mv.mrr > 0 AND %(filters)s""",
                company=company.id,
                day=day,
                filters=self._filter_sql(filters),
            )
        )
        return {sub_id: (Decimal(str(value)), partner_id) for sub_id, value, partner_id in self.env.cr.fetchall()}

    @api.model
    def _get_total_mrr(self, day, company, filters=None):
        """MRR on ``day`` in company currency (the sum over the subscriptions)."""
        return sum(
            (value for value, _partner in self._get_mrr_by_subscription(day, company, filters).values()), Decimal(0)
        )

    @api.model
    def _get_customers_mrr(self, day, company, filters=None):
        """{commercial partner id: MRR in company currency} on ``day`` (customers with a positive MRR)."""
        customers = {}
        for value, partner_id in self._get_mrr_by_subscription(day, company, filters).values():
            customers[partner_id] = customers.get(partner_id, Decimal(0)) + value
        return {partner: value for partner, value in customers.items() if value > 0}

    @api.model
    def _get_bridge(self, date_from, date_to, company, filters=None):
        """The MRR bridge from ``date_from`` to ``date_to`` (inclusive), in company currency.

        :return: (:class:`billing_core.mrr.Bridge`, transfer) where transfer is the MRR that moved into (+) or
            out of (−) the filter without a movement of the filter (a plan change across a plan filter); 0 without
            filters.
        """
        self._check_company(company)
        opening = self._get_total_mrr(date_from - timedelta(days=1), company, filters)
        closing = self._get_total_mrr(date_to, company, filters)
        self.env.cr.execute(
            SQL(
                """SELECT mv.kind, SUM(mv.mrr_delta_company) FROM subscription_mrr_movement mv
                    WHERE mv.company_id = %s AND mv.date BETWEEN %s AND %s AND %s
                 GROUP BY mv.kind""",
                company.id,
                date_from,
                date_to,
                self._filter_sql(filters),
            )
        )
        result = mrr.Bridge(opening=opening)
        for kind, total in self.env.cr.fetchall():
            total = Decimal(str(total))
            setattr(result, kind, -total if kind in (mrr.CONTRACTION, mrr.CHURN) else total)
        moved = result.new + result.expansion - result.contraction - result.churn + result.reactivation
        result.closing = closing
        return result, closing - opening - moved

    @api.model
    def _get_trial_conversion(self, date_from, date_to, company, filters=None):
        """(trials ended in the period, of which converted): a trial counts when its last day lies in the period;
        it converted when the subscription has a *new* movement on the day after."""
        self._check_company(company)
        self.env["subscription.subscription"].flush_model(["trial_end_date", "state", "company_id", "plan_id"])
        plan_filter = SQL("TRUE")
        if filters and filters.get("plan_ids"):
            plan_filter = SQL("sub.plan_id = ANY(%s)", list(filters["plan_ids"]))
        self.env.cr.execute(
            SQL(
                """SELECT COUNT(*), COUNT(mv.id)
                     FROM subscription_subscription sub
                LEFT JOIN subscription_mrr_movement mv
                       ON mv.subscription_id = sub.id AND mv.kind = 'new' AND mv.date = sub.trial_end_date + 1
                    WHERE sub.company_id = %s AND sub.state != 'draft'
                      AND sub.trial_end_date BETWEEN %s AND %s AND %s""",
                company.id,
                date_from,
                date_to,
                plan_filter,
            )
        )
        return self.env.cr.fetchone()

    @api.model
    def _get_kpis(self, date_from, date_to, company, filters=None, gross_margin=Decimal(1)):
        """All figures of the KPI report for the period (see the README for each definition)."""
        period, transfer = self._get_bridge(date_from, date_to, company, filters)
        opening_customers = self._get_customers_mrr(date_from - timedelta(days=1), company, filters)
        closing_customers = self._get_customers_mrr(date_to, company, filters)
        lost = len(set(opening_customers) - set(closing_customers))
        rates = mrr.rates(period, len(opening_customers), lost)
        months = mrr.months_between(date_from, date_to)
        monthly_churn = rates.gross_revenue_churn / months if rates.gross_revenue_churn is not None else None
        arpa = mrr.ratio(period.closing, Decimal(len(closing_customers)))
        trials, converted = self._get_trial_conversion(date_from, date_to, company, filters)
        return {
            "bridge": period,
            "transfer": transfer,
            "mrr": period.closing,
            "arr": period.closing * 12,
            "customers_opening": len(opening_customers),
            "customers": len(closing_customers),
            "customers_lost": lost,
            "arpa": arpa,
            "rates": rates,
            "monthly_revenue_churn": monthly_churn,
            "clv": mrr.clv(arpa, gross_margin, monthly_churn) if arpa is not None else None,
            "trials": trials,
            "trials_converted": converted,
            "trial_conversion": mrr.ratio(Decimal(converted), Decimal(trials)),
        }

    @api.model
    def _get_cohorts(self, first_month, months, company, filters=None):
        """Cohort retention table by signup month, in SQL.

        A customer's signup month is the month of their first movement (always a *new* one); column ``k`` of a
        row counts the cohort's customers with a positive MRR at the end of the ``k``-th month after the signup
        month, and sums their MRR (company currency).

        :return: [(signup month, offset, customers, MRR)] for the months from ``first_month`` on
        """
        self._check_company(company)
        first = mrr.month_start(first_month)
        last = mrr.add_months(first, months - 1)
        self.env.cr.execute(
            SQL(
                """WITH monthly AS (
                       SELECT mv.commercial_partner_id AS partner_id,
                              date_trunc('month', mv.date)::date AS month,
                              SUM(mv.mrr_delta_company) AS delta
                         FROM subscription_mrr_movement mv
                        WHERE mv.company_id = %(company)s AND mv.date < %(stop)s AND %(filters)s
                     GROUP BY 1, 2
                   ), running AS (
                       SELECT partner_id, month,
                              SUM(delta) OVER (PARTITION BY partner_id ORDER BY month) AS value,
                              LEAD(month) OVER (PARTITION BY partner_id ORDER BY month) AS next_month,
                              MIN(month) OVER (PARTITION BY partner_id) AS signup
                         FROM monthly
                   )
                   SELECT r.signup, g.month, COUNT(*) FILTER (WHERE r.value > 0), SUM(r.value)
                     FROM running r
                     JOIN generate_series(%(first)s::date, %(last)s::date, interval '1 month') AS g(month)
                       ON g.month >= r.month AND (r.next_month IS NULL OR g.month < r.next_month)
                    WHERE r.signup BETWEEN %(first)s AND %(last)s
                 GROUP BY 1, 2
                 ORDER BY 1, 2""",
                company=company.id,
                stop=mrr.add_months(last, 1),
                first=first,
                last=last,
                filters=self._filter_sql(filters),
            )
        )
        result = []
        for signup, month, customers, value in self.env.cr.fetchall():
            signup = signup if not hasattr(signup, "date") else signup.date()
            month = month if not hasattr(month, "date") else month.date()
            offset = (month.year - signup.year) * 12 + month.month - signup.month
            result.append((signup, offset, customers, Decimal(str(value or 0))))
        return result
