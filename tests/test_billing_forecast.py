from datetime import date, timedelta

from odoo.tests import tagged

from .common import SubscriptionCommon

FEB = (date(2026, 2, 1), date(2026, 2, 28))


@tagged("post_install", "-at_install", "subscription_billing")
class TestBillingForecast(SubscriptionCommon):
    """The billing forecast is a dry run of the daily billing: it writes nothing and equals what the runs create.

    Monthly plans billed in advance, January already billed:

    - S1 Basic 100 from 1 Jan: February invoiced on 1 Feb, 100.00.
    - S2 Pro 150 from 1 Jan, downgraded to Basic at the end of January (scheduled on 10 Jan, effective 1 Feb):
      February invoiced on 1 Feb at the Basic price, 100.00.
    - S3 Basic 100 from 1 Jan, notice given to end on 14 Feb: 1–14 Feb invoiced on 1 Feb, 14 of February's
      28 days: 100 × 14 / 28 = 50.00.
    - S4 a 14-day trial from 20 Jan (last trial day 2 Feb): first paid period from 3 Feb, invoiced on 3 Feb, 100.00.
    - S5 yearly 1,200 from 1 Jan: nothing in February.

    February's forecast: four invoices, 100 + 100 + 50 on 1 Feb and 100 on 3 Feb, 350.00 untaxed.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        family = cls.env["subscription.plan.family"].create({"name": "Forecast sizes"})
        cls.basic = cls._create_plan("FC-B", "Basic", price=100.0, family_id=family.id, rank=1)
        cls.pro = cls._create_plan("FC-P", "Pro", price=150.0, family_id=family.id, rank=2)
        cls.trial = cls._create_plan("FC-T", "Trial", price=100.0, trial_period_count=14, trial_period_unit="day")
        cls.s1 = cls._start(plan=cls.basic, start_date=date(2026, 1, 1))
        cls.s2 = cls._start(plan=cls.pro, start_date=date(2026, 1, 1))
        cls.s3 = cls._start(plan=cls.basic, start_date=date(2026, 1, 1))
        cls.s4 = cls._start(plan=cls.trial, start_date=date(2026, 1, 20))
        cls.s5 = cls._start(plan=cls.plan_yearly, start_date=date(2026, 1, 1))
        cls.subs = cls.s1 | cls.s2 | cls.s3 | cls.s4 | cls.s5
        cls.env["subscription.billing.run"]._run_billing(cls.subs, date(2026, 1, 1))
        target = {"plan_id": cls.basic.id, "lines": {str(pl.id): pl.quantity for pl in cls.basic.line_ids}}
        cls.s2._change(target, "period_end", date(2026, 1, 10))
        cls.s3._request_cancellation(date(2026, 1, 10), end_date=date(2026, 2, 14))

    def _invoices(self):
        return self.env["account.move"].search([("line_ids.subscription_id", "in", self.subs.ids)])

    def _snapshot(self):
        return (
            self._invoices().ids,
            self.subs.read(["state", "next_period_start", "plan_id", "next_invoice_date"]),
            self.env["subscription.mrr.movement"].search_count([("subscription_id", "in", self.subs.ids)]),
            self.env["subscription.change"].search([("subscription_id", "in", self.subs.ids)]).mapped("state"),
        )

    def test_forecast_of_february_writes_nothing_and_equals_the_runs(self):
        """The forecast shows the four invoices of the class docstring and leaves no trace; the runs of each
        February day (state cron, then the billing run, as the scheduled action does) then create exactly those."""
        before = self._snapshot()
        rows = self.env["subscription.billing.forecast"]._forecast(self.subs, *FEB, date_today=FEB[0])
        self.assertEqual(self._snapshot(), before, "the dry run is rolled back")
        forecast = sorted((row["invoice_date"], row["subscription_id"], row["amount_untaxed"]) for row in rows)
        self.assertEqual(
            forecast,
            sorted(
                [
                    (date(2026, 2, 1), self.s1.id, 100.0),
                    (date(2026, 2, 1), self.s2.id, 100.0),
                    (date(2026, 2, 1), self.s3.id, 50.0),
                    (date(2026, 2, 3), self.s4.id, 100.0),
                ]
            ),
        )
        known = set(self._invoices().ids)
        Subscription = self.env["subscription.subscription"]
        day = FEB[0]
        while day <= FEB[1]:
            Subscription._cron_update_states(day)
            Subscription._run_billing_for_all(day)
            day += timedelta(days=1)
        created = self._invoices().filtered(lambda move: move.id not in known)
        billed = sorted(
            (move.invoice_date, move.invoice_line_ids.subscription_id.id, move.amount_untaxed, move.amount_tax)
            for move in created
        )
        self.assertEqual(
            billed,
            sorted(
                (row["invoice_date"], row["subscription_id"], row["amount_untaxed"], row["amount_tax"]) for row in rows
            ),
        )

    def test_report_lists_the_invoices_and_next_invoices_of_one_subscription(self):
        """The backend report holds one line per forecast invoice (350.00 untaxed in February); the next
        invoices of S1 over two months from 1 Feb are February's and March's, 100.00 each."""
        report = self.env["subscription.billing.forecast.report"].create(
            {"date_from": FEB[0], "date_to": FEB[1], "subscription_ids": [(6, 0, self.subs.ids)]}
        )
        report._compute_lines()
        self.assertEqual(sum(report.line_ids.mapped("amount_untaxed")), 350.0)
        action = self.env["subscription.billing.forecast.report"]._action_next_invoices(
            self.s1, date_ref=FEB[0], months=2
        )
        lines = self.env["subscription.billing.forecast.line"].search(action["domain"])
        self.assertEqual(lines.mapped("invoice_date"), [date(2026, 2, 1), date(2026, 3, 1)])
        self.assertEqual(lines.mapped("amount_untaxed"), [100.0, 100.0])
