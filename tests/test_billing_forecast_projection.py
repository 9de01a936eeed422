from datetime import date

from odoo import Command
from odoo.tests import tagged

from .common import SubscriptionCommon

FROM, TO = date(2026, 2, 1), date(2027, 1, 31)


def _key(row):
    # a grouped invoice has several subscriptions, in the order the run happened to lock them: compared as a set
    return (
        row["invoice_date"],
        tuple(sorted(row["subscription_ids"])),
        row["partner_id"],
        row["currency_id"],
        row["amount_untaxed"],
        row["amount_tax"],
        row["amount_total"],
    )


@tagged("post_install", "-at_install", "subscription_billing")
class TestBillingForecastProjection(SubscriptionCommon):
    """The projected forecast equals the dry run of the real billing runs, invoice by invoice, over twelve
    months (1 Feb 2026 – 31 Jan 2027, forecast made on 1 Feb 2026), for a varied set of subscriptions; January
    (and June 2025 for the yearly one) is billed by a real run first.

    By hand (untaxed), each monthly plan 100.00 unless said otherwise:

    - monthly in advance from 1 Jan: twelve invoices on the 1st of Feb … Jan, 100.00 each;
    - yearly 1,200 from 1 Jun 2025: one invoice on 1 Jun 2026, 1,200.00;
    - monthly in arrears from 1 Jan: January invoiced on 1 Feb … December on 1 Jan 2027, twelve of 100.00;
    - 14-day trial from 25 Jan (last trial day 7 Feb): first paid month from 8 Feb, invoiced on 8 Feb;
    - Pro 150 downgraded to Basic at the end of January: 100.00 from February;
    - Basic upgraded to Pro at the end of March (scheduled on 10 Mar): Feb and Mar 100.00, from Apr 150.00;
    - notice to end on 20 May: Feb, Mar, Apr 100.00, then 1–20 May, 100 × 20/31 = 64.52, nothing after;
    - paused from 10 Mar: February 100.00, then 1–9 Mar, 100 × 9/31 = 29.03, nothing after;
    - paused 10 Jan and resumed 20 Jan (re-anchored after the paid January): 100.00 every month from Feb;
    - paused from 10 Mar by the customer until 20 Apr (the resume cron's date): February 100.00, 1–9 Mar 29.03,
      then a new schedule from 20 Apr: 100.00 on the 20th of Apr … Jan, ten invoices;
    - coupon 10 % for two periods (January used one): February 90.00, then 100.00;
    - 15.00 off every period: 85.00 a month;
    - 12 seats, graduated 1–10 at 5.00 and 4.00 above: 58.00 a month;
    - started 15 Feb with a 49.00 setup fee: 149.00 on 15 Feb, then 100.00 on the 15th;
    - calendar-aligned from 10 Feb: 10–28 Feb, 100 × 19/28 = 67.86, then 100.00 on each 1st;
    - a grouping customer's Basic and Pro from 1 Jan: one invoice a month, 100 + 150 = 250.00;
    - a subscription in US dollars whose line is priced 110.00 USD: 110.00 USD a month.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.usd = cls.setup_other_currency("USD", rates=[("2025-01-01", 1.085)])
        family = cls.env["subscription.plan.family"].create({"name": "Projection sizes"})
        cls.basic = cls._create_plan("PJ-B", "Basic", price=100.0, family_id=family.id, rank=1)
        cls.pro = cls._create_plan("PJ-P", "Pro", price=150.0, family_id=family.id, rank=2)
        cls.trial = cls._create_plan("PJ-T", "Trial", price=100.0, trial_period_count=14, trial_period_unit="day")
        cls.calendar = cls._create_plan("PJ-C", "Calendar", price=100.0, period_alignment="calendar")
        cls.dollar = cls._create_plan("PJ-USD", "Dollar", price=110.0)
        cls.grouping = cls.env["res.partner"].create({"name": "Gruppe KG", "subscription_invoice_grouping": True})
        jan = date(2026, 1, 1)
        cls.monthly = cls._start(plan=cls.basic, start_date=jan)
        cls.yearly = cls._start(plan=cls.plan_yearly, start_date=date(2025, 6, 1))
        cls.env["subscription.billing.run"]._run_billing(cls.yearly, date(2025, 6, 1))
        cls.arrears = cls._start(plan=cls.plan_arrears, start_date=jan)
        cls.in_trial = cls._start(plan=cls.trial, start_date=date(2026, 1, 25))
        cls.downgrade = cls._start(plan=cls.pro, start_date=jan)
        cls.upgrade = cls._start(plan=cls.basic, start_date=jan)
        cls.notice = cls._start(plan=cls.basic, start_date=jan)
        cls.paused = cls._start(plan=cls.basic, start_date=jan)
        cls.resumed = cls._start(plan=cls.basic, start_date=jan)
        cls.customer_pause = cls._start(plan=cls.basic, start_date=jan)
        cls.coupon = cls._start(plan=cls.basic, start_date=jan)
        cls.fixed = cls._start(plan=cls.basic, start_date=jan)
        cls.seats = cls._create_subscription(plan=cls.basic, start_date=jan)
        cls.seats.line_ids.write(
            {
                "quantity": 12.0,
                "pricing_model": "graduated",
                "tier_ids": [
                    Command.create({"currency_id": cls.currency.id, "up_to": 10.0, "unit_price": 5.0}),
                    Command.create({"currency_id": cls.currency.id, "up_to_unlimited": True, "unit_price": 4.0}),
                ],
            }
        )
        cls.seats._start(date_ref=jan)
        cls.setup = cls._create_subscription(plan=cls.basic, start_date=date(2026, 2, 15))
        cls.setup.write(
            {
                "line_ids": [
                    Command.create(
                        {
                            "product_id": cls.product_support.id,
                            "line_type": "setup",
                            "price_unit": 49.0,
                            "name": "Setup",
                        }
                    )
                ]
            }
        )
        cls.setup._start(date_ref=date(2026, 2, 15))
        cls.aligned = cls._start(plan=cls.calendar, start_date=date(2026, 2, 10))
        cls.group_basic = cls._start(plan=cls.basic, partner=cls.grouping, start_date=jan)
        cls.group_pro = cls._start(plan=cls.pro, partner=cls.grouping, start_date=jan)
        cls.dollars = cls._start(plan=cls.dollar, start_date=jan, currency_id=cls.usd.id)
        Discount = cls.env["subscription.discount"]
        Discount.create({"subscription_id": cls.coupon.id, "name": "Welcome", "percent": 10.0, "duration_periods": 2})
        Discount.create({"subscription_id": cls.fixed.id, "name": "Loyalty", "discount_type": "fixed", "amount": 15.0})
        cls.resumed._pause(date(2026, 1, 10))
        cls.resumed._resume(date(2026, 1, 20))
        cls.subs = (
            cls.monthly
            | cls.yearly
            | cls.arrears
            | cls.in_trial
            | cls.downgrade
            | cls.upgrade
            | cls.notice
            | cls.paused
            | cls.resumed
            | cls.customer_pause
            | cls.coupon
            | cls.fixed
            | cls.seats
            | cls.setup
            | cls.aligned
            | cls.group_basic
            | cls.group_pro
            | cls.dollars
        )
        cls.env["subscription.billing.run"]._run_billing(cls.subs, date(2026, 1, 31))
        to_basic = {"plan_id": cls.basic.id, "lines": {str(pl.id): pl.quantity for pl in cls.basic.line_ids}}
        to_pro = {"plan_id": cls.pro.id, "lines": {str(pl.id): pl.quantity for pl in cls.pro.line_ids}}
        cls.downgrade._change(to_basic, "period_end", date(2026, 1, 10))
        cls.upgrade._change(to_pro, "period_end", date(2026, 3, 10))
        cls.notice._request_cancellation(date(2026, 1, 10), end_date=date(2026, 5, 20))
        cls.paused._pause(date(2026, 3, 10))
        cls.customer_pause._pause(date(2026, 3, 10))
        cls.customer_pause._write_system_fields({"pause_resume_date": date(2026, 4, 20)})
        cls.Forecast = cls.env["subscription.billing.forecast"]

    def _amounts(self, rows, sub):
        return [row["amount_untaxed"] for row in rows if row["subscription_id"] == sub.id]

    def test_projection_equals_the_dry_run_over_twelve_months(self):
        """Every invoice of the class docstring, projected without the dry run, equals the dry run's invoice:
        date, subscription, customer, currency, untaxed, tax and total."""
        projected = self.Forecast._forecast(self.subs, FROM, TO, date_today=FROM)
        self.assertTrue(all(row.get("projected") for row in projected), "no subscription fell back to the dry run")
        dry_run = self.Forecast._forecast_dry_run(self.subs, FROM, TO, date_today=FROM)
        self.assertEqual(sorted(map(_key, projected)), sorted(map(_key, dry_run)))
        # the hand-computed figures of the class docstring
        self.assertEqual(self._amounts(projected, self.monthly), [100.0] * 12)
        self.assertEqual(self._amounts(projected, self.yearly), [1200.0])
        self.assertEqual(self._amounts(projected, self.arrears), [100.0] * 12)
        self.assertEqual(self._amounts(projected, self.upgrade), [100.0, 100.0] + [150.0] * 10)
        self.assertEqual(self._amounts(projected, self.notice), [100.0, 100.0, 100.0, 64.52])
        self.assertEqual(self._amounts(projected, self.paused), [100.0, 29.03])
        self.assertEqual(self._amounts(projected, self.customer_pause), [100.0, 29.03] + [100.0] * 10)
        resumed_rows = [row for row in projected if row["subscription_id"] == self.customer_pause.id]
        self.assertEqual(resumed_rows[2]["invoice_date"], date(2026, 4, 20))
        self.assertEqual(self._amounts(projected, self.coupon), [90.0] + [100.0] * 11)
        self.assertEqual(self._amounts(projected, self.fixed), [85.0] * 12)
        self.assertEqual(self._amounts(projected, self.seats), [58.0] * 12)
        self.assertEqual(self._amounts(projected, self.setup)[:2], [149.0, 100.0])
        self.assertEqual(self._amounts(projected, self.aligned)[:2], [67.86, 100.0])
        grouped = [row for row in projected if set(row["subscription_ids"]) == {self.group_basic.id, self.group_pro.id}]
        self.assertEqual([row["amount_untaxed"] for row in grouped], [250.0] * 12)
        trial_rows = [row for row in projected if row["subscription_id"] == self.in_trial.id]
        self.assertEqual(trial_rows[0]["invoice_date"], date(2026, 2, 8))
        line = self.dollars.line_ids
        self.assertEqual((line.price_currency_id, line.price_unit), (self.usd, 110.0))
        dollar_rows = [row for row in projected if row["subscription_id"] == self.dollars.id]
        self.assertEqual({(row["currency_id"], row["amount_untaxed"]) for row in dollar_rows}, {(self.usd.id, 110.0)})

    def test_projection_writes_and_locks_nothing(self):
        """The projection leaves the subscriptions, invoices and changes as they were."""
        before = (
            self.env["account.move"].search_count([]),
            self.subs.read(["state", "next_period_start", "plan_id"]),
            self.env["subscription.change"].search([("subscription_id", "in", self.subs.ids)]).mapped("state"),
        )
        self.Forecast._forecast(self.subs, FROM, TO, date_today=FROM)
        after = (
            self.env["account.move"].search_count([]),
            self.subs.read(["state", "next_period_start", "plan_id"]),
            self.env["subscription.change"].search([("subscription_id", "in", self.subs.ids)]).mapped("state"),
        )
        self.assertEqual(after, before)

    def test_pending_charge_falls_back_to_the_dry_run_for_that_subscription_only(self):
        """A pending one-time charge of 20.00 on the monthly subscription: its rows come from the dry run
        (February 100 + 20 = 120.00), the others stay projected, and the whole still equals the dry run."""
        self.env["subscription.charge"].create(
            {
                "subscription_id": self.monthly.id,
                "product_id": self.product_support.id,
                "name": "Extra work",
                "date": FROM,
                "price_unit": 20.0,
            }
        )
        projected = self.Forecast._forecast(self.subs, FROM, TO, date_today=FROM)
        fallen_back = {row["subscription_id"] for row in projected if not row.get("projected")}
        self.assertEqual(fallen_back, {self.monthly.id})
        self.assertEqual(self._amounts(projected, self.monthly)[:2], [120.0, 100.0])
        dry_run = self.Forecast._forecast_dry_run(self.subs, FROM, TO, date_today=FROM)
        self.assertEqual(sorted(map(_key, projected)), sorted(map(_key, dry_run)))

    def test_projected_rows_carry_lines_and_taxes(self):
        """The monthly subscription's first projected invoice: one line of 100.00 for 1–28 Feb, taxed with the
        company's sale tax (amount_tax = 100 × rate / 100, total = untaxed + tax)."""
        rows = self.Forecast._forecast(self.monthly, FROM, FROM, date_today=FROM, with_lines=True)
        [row] = rows
        rate = self.tax_sale.amount
        self.assertEqual(row["amount_tax"], round(100.0 * rate / 100, 2))
        self.assertEqual(row["amount_total"], 100.0 + round(100.0 * rate / 100, 2))
        [line] = row["lines"]
        self.assertEqual((line["start"], line["end"], str(line["amount"])), (FROM, date(2026, 2, 28), "100.00"))
