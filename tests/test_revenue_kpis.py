from datetime import date
from decimal import Decimal

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged

from .common import SubscriptionCommon

D = Decimal
FEB = (date(2026, 2, 1), date(2026, 2, 28))


@tagged("post_install", "-at_install", "subscription_billing")
class TestRevenueKpis(SubscriptionCommon):
    """The KPIs of the README, computed by hand for five customers over January and February 2026.

    Plans (monthly, EUR = company currency): Basic 100, Pro 150 (one family), Trial 100 after a 14-day trial.

    - S1 Müller: Basic from 1 Jan; upgrade to Pro on 10 Feb (expansion +50).
    - S2 Schmidt: Pro from 1 Jan; downgrade to Basic on 5 Feb (contraction −50).
    - S3 Weber: Basic from 15 Jan; paused 1 Feb (churn −100), resumed 20 Feb (reactivation +100).
    - S4 Fischer: Basic from 1 Jan; ends 31 Jan (churn −100 on 1 Feb).
    - S5 Becker: Trial from 20 Jan; the trial ends 2 Feb, converts (new +100 on 3 Feb).
    - S6 Wagner: Trial (payment method required, none given) from 25 Jan; the trial ends 7 Feb and the
      subscription ends unconverted: no MRR ever, no movement.

    February: opening (31 Jan) = S1 100 + S2 150 + S3 100 + S4 100 = 450 over 4 customers;
    new 100, expansion 50, contraction 50, churn 200 (S4, S3's pause), reactivation 100;
    closing = 450 + 100 + 50 − 50 − 200 + 100 = 450 (S1 150, S2 100, S3 100, S5 100) over 4 customers.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        family = cls.env["subscription.plan.family"].create({"name": "KPI sizes"})
        cls.basic = cls._create_plan("KPI-B", "Basic", price=100.0, family_id=family.id, rank=1)
        cls.pro = cls._create_plan("KPI-P", "Pro", price=150.0, family_id=family.id, rank=2)
        cls.trial = cls._create_plan("KPI-T", "Trial", price=100.0, trial_period_count=14, trial_period_unit="day")
        Partner = cls.env["res.partner"]
        weber, fischer, becker, wagner = (
            Partner.create({"name": name}) for name in ("Weber KG", "Fischer OHG", "Becker", "Wagner")
        )
        cls.trial_strict = cls._create_plan(
            "KPI-TS",
            "Trial, card required",
            price=100.0,
            trial_period_count=14,
            trial_period_unit="day",
            requires_payment_method=True,
        )
        cls.s1 = cls._start(plan=cls.basic, partner=cls.customer, start_date=date(2026, 1, 1))
        cls.s2 = cls._start(plan=cls.pro, partner=cls.other_customer, start_date=date(2026, 1, 1))
        cls.s3 = cls._start(plan=cls.basic, partner=weber, start_date=date(2026, 1, 15))
        cls.s4 = cls._start(plan=cls.basic, partner=fischer, start_date=date(2026, 1, 1))
        cls.s5 = cls._start(plan=cls.trial, partner=becker, start_date=date(2026, 1, 20))
        cls.s6 = cls._start(plan=cls.trial_strict, partner=wagner, start_date=date(2026, 1, 25))
        cls.s4._request_cancellation(date(2026, 1, 10), end_date=date(2026, 1, 31))
        cls.s4._update_state_from_dates(date(2026, 2, 1))
        cls.s3._pause(date(2026, 2, 1))
        cls.s5._update_state_from_dates(date(2026, 2, 3))
        cls.s2._change(cls._target(cls.basic), "immediate", date(2026, 2, 5))
        cls.s1._change(cls._target(cls.pro), "immediate", date(2026, 2, 10))
        cls.s3._resume(date(2026, 2, 20))
        cls.s6._update_state_from_dates(date(2026, 2, 8))
        cls.analytics = cls.env["subscription.revenue.analytics"]
        cls.company = cls.env.company

    @staticmethod
    def _target(plan):
        return {"plan_id": plan.id, "lines": {str(pl.id): pl.quantity for pl in plan.line_ids}}

    def test_bridge_of_february(self):
        """The bridge of the class docstring; it balances with no transfer (no filter)."""
        bridge, transfer = self.analytics._get_bridge(*FEB, self.company)
        self.assertEqual(
            (bridge.opening, bridge.new, bridge.expansion, bridge.contraction, bridge.churn, bridge.reactivation),
            (D(450), D(100), D(50), D(50), D(200), D(100)),
        )
        self.assertEqual(bridge.closing, D(450))
        self.assertEqual(transfer, D(0))
        self.assertEqual(self.analytics._get_total_mrr(date(2026, 1, 31), self.company), D(450))
        self.assertEqual(self.analytics._get_total_mrr(date(2026, 2, 1), self.company), D(250), "S3 and S4 out")

    def test_rates_arpa_clv_and_trials_of_february(self):
        """Customers: 4 at start (Müller, Schmidt, Weber, Fischer), 4 at end (Fischer gone, Becker new), 1 lost.
        Logo churn 1/4 = 25 %. Gross revenue churn (200 + 50)/450 = 55.56 %; net (250 − 50)/450 = 44.44 %;
        NRR (450 + 50 − 250)/450 = 55.56 %. ARPA 450/4 = 112.50, ARR 12 × 450 = 5,400.
        CLV at 80 % margin: 112.50 × 0.8 ÷ (250/450) = 90 × 450/250 = 162.00 (February is one month).
        Trials ending in February: Becker's (last day 2 Feb, converted) and Wagner's (last day 7 Feb, ended
        without a payment method): 1 of 2 = 50 %."""
        report = self.env["subscription.kpi.report"].create(
            {"date_from": FEB[0], "date_to": FEB[1], "gross_margin": 80.0, "cohort_months": 2}
        )
        report.action_compute()
        self.assertRecordValues(
            report,
            [
                {
                    "mrr_opening": 450.0,
                    "mrr_closing": 450.0,
                    "arr_closing": 5400.0,
                    "customers_opening": 4,
                    "customers_closing": 4,
                    "customers_lost": 1,
                    "arpa": 112.5,
                    "logo_churn_rate": 25.0,
                    "clv": 162.0,
                    "trials_ended": 2,
                    "trials_converted": 1,
                    "trial_conversion_rate": 50.0,
                }
            ],
        )
        # stored with two decimals
        self.assertEqual(report.gross_revenue_churn_rate, 55.56)
        self.assertEqual(report.net_revenue_churn_rate, 44.44)
        self.assertEqual(report.net_revenue_retention, 55.56)

    def test_cohort_table(self):
        """Signup months: Müller, Schmidt, Weber, Fischer in January; Becker in February.
        January cohort: end of January 4 customers, 450; end of February 3 (Fischer gone), 150 + 100 + 100 = 350.
        February cohort: 1 customer, 100."""
        cells = self.analytics._get_cohorts(date(2026, 1, 1), 2, self.company)
        self.assertEqual(
            cells,
            [
                (date(2026, 1, 1), 0, 4, D(450)),
                (date(2026, 1, 1), 1, 3, D(350)),
                (date(2026, 2, 1), 0, 1, D(100)),
            ],
        )
        report = self.env["subscription.kpi.report"].create(
            {"date_from": FEB[0], "date_to": FEB[1], "cohort_months": 2}
        )
        report.action_compute()
        month_1 = report.cohort_line_ids.filtered(lambda c: c.month_offset == 1)
        self.assertAlmostEqual(month_1.customer_retention, 75.0, msg="3 of 4")
        self.assertEqual(month_1.revenue_retention, 77.8, "350 / 450 = 77.8 % (one decimal)")

    def test_plan_filter_shows_what_moved_across_it(self):
        """Basic only. Opening: S1, S3, S4 on Basic = 300. February movements recorded on Basic: S4 −100,
        S3 −100 and +100, S2's contraction −50 (recorded on its new plan, Basic): −150. Closing on Basic:
        S2 100 + S3 100 = 200. So 200 − 300 + 150 = +50 moved into Basic without a movement of it
        (S2 came in with 150, S1 left with 100)."""
        bridge, transfer = self.analytics._get_bridge(*FEB, self.company, {"plan_ids": self.basic.ids})
        self.assertEqual((bridge.opening, bridge.closing, transfer), (D(300), D(200), D(50)))
        self.assertEqual((bridge.churn, bridge.contraction, bridge.reactivation), (D(200), D(50), D(100)))

    def test_drill_down_lists_the_subscriptions_of_the_closing_mrr(self):
        """The closing MRR's subscriptions are S1, S2, S3 and S5 (S4 ended)."""
        report = self.env["subscription.kpi.report"].create({"date_from": FEB[0], "date_to": FEB[1]})
        report.action_compute()
        action = report.action_view_subscriptions()
        subs = self.env["subscription.subscription"].search(action["domain"])
        self.assertEqual(subs, self.s1 | self.s2 | self.s3 | self.s5)
        movements = self.env["subscription.mrr.movement"].search(report.action_view_movements()["domain"])
        self.assertEqual(len(movements), 6, "the six February movements")
        self.assertEqual(self.s6.state, "ended")
        self.assertFalse(self.env["subscription.mrr.movement"].search([("subscription_id", "=", self.s6.id)]))

    def test_other_company_sees_none_of_it(self):
        """A second company has no figures of the first; its user cannot compute the first company's KPIs,
        and a portal user cannot open the report at all."""
        other = self.env["res.company"].create({"name": "KPI Other GmbH", "currency_id": self.company.currency_id.id})
        self.assertEqual(self.analytics._get_total_mrr(FEB[1], other), D(0))
        outsider = new_test_user(
            self.env,
            login="kpi_outsider",
            groups="subscription_billing.group_subscription_user",
            company_id=other.id,
            company_ids=[Command.set(other.ids)],
        )
        with self.assertRaises(AccessError):
            self.analytics.with_user(outsider)._get_total_mrr(FEB[1], self.company)
        portal = new_test_user(self.env, login="kpi_portal", groups="base.group_portal")
        with self.assertRaises(AccessError):
            self.env["subscription.kpi.report"].with_user(portal).create({"date_from": FEB[0], "date_to": FEB[1]})
        with self.assertRaises(AccessError):
            self.analytics.with_user(portal)._get_total_mrr(FEB[1], self.company)
