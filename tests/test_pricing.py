from datetime import date, datetime

from psycopg2.errors import UniqueViolation

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon

#: the tier table of the examples: units 1-10 at 5, units 11-20 at 4 plus 10 flat, from 21 on at 3
#: (up_to, unit_price, flat_fee); ``None`` is the open last tier
# a tuple: it is the default of helper arguments (dangerous-default-value)
TIERS = ((10, 5.0, 0.0), (20, 4.0, 10.0), (None, 3.0, 0.0))


@tagged("post_install", "-at_install", "subscription_billing")
class TestPricing(SubscriptionCommon):
    """What the billing run puts on the invoice: per-unit and tiered prices, currencies,
    metered usage, setup fees, one-time charges, add-ons, discounts and coupons."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chf = cls.setup_other_currency("CHF")
        Tax = cls.env["account.tax"]
        cls.tax_19 = Tax.create({"name": "VAT 19 %", "amount_type": "percent", "amount": 19.0, "type_tax_use": "sale"})
        cls.tax_7 = Tax.create({"name": "VAT 7 %", "amount_type": "percent", "amount": 7.0, "type_tax_use": "sale"})
        Product = cls.env["product.product"]
        product_vals = {"type": "service", "subscription_ok": True}
        cls.product_19 = Product.create(
            {**product_vals, "name": "Cloud seat", "list_price": 100.0, "taxes_id": [Command.set(cls.tax_19.ids)]}
        )
        cls.product_7 = Product.create(
            {**product_vals, "name": "E-book licence", "list_price": 30.0, "taxes_id": [Command.set(cls.tax_7.ids)]}
        )
        cls.product_api = Product.create(
            {**product_vals, "name": "API calls", "list_price": 0.0, "taxes_id": [Command.set(cls.tax_19.ids)]}
        )
        cls.product_setup = Product.create(
            {**product_vals, "name": "Onboarding", "list_price": 50.0, "taxes_id": [Command.set(cls.tax_19.ids)]}
        )
        Metric = cls.env["subscription.usage.metric"]
        cls.metric_sum = Metric.create(
            {"name": "API requests", "code": "api_requests", "aggregation": "sum", "allow_negative": True}
        )
        cls.metric_strict = Metric.create({"name": "Messages", "code": "messages", "aggregation": "sum"})
        cls.metric_max = Metric.create({"name": "Peak users", "code": "peak_users", "aggregation": "max"})
        cls.metric_distinct = Metric.create(
            {"name": "Active users", "code": "active_users", "aggregation": "count_distinct"}
        )
        cls.metric_last = Metric.create({"name": "GB stored", "code": "storage_gb", "aggregation": "last"})

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    @staticmethod
    def _tiers(currency, rows=TIERS):
        return [
            Command.create(
                {
                    "currency_id": currency.id,
                    "up_to": up_to or 0.0,
                    "up_to_unlimited": up_to is None,
                    "unit_price": unit_price,
                    "flat_fee": flat_fee,
                }
            )
            for up_to, unit_price, flat_fee in rows
        ]

    def _plan(self, code, lines, **values):
        """A monthly plan with the given plan line values."""
        return self.env["subscription.plan"].create(
            {"name": f"Plan {code}", "code": code, "line_ids": [Command.create(vals) for vals in lines], **values}
        )

    def _seat_line(self, price=100.0, quantity=1.0, product=None, **values):
        product = product or self.product_19
        return {"product_id": product.id, "name": product.name, "price_unit": price, "quantity": quantity, **values}

    def _tiered_line(self, model, quantity, included=0.0, rows=TIERS, **values):
        return {
            "product_id": self.product_19.id,
            "name": "Seats, tiered",
            "price_unit": 0.0,
            "quantity": quantity,
            "pricing_model": model,
            "included_quantity": included,
            "tier_ids": self._tiers(self.currency, rows),
            **values,
        }

    def _usage_line(self, metric, price=0.5, **values):
        return {
            "product_id": self.product_api.id,
            "name": "API usage",
            "price_unit": price,
            "line_type": "usage",
            "metric_id": metric.id,
            **values,
        }

    def _metered_plan(self, code, metric, timing="advance", **usage_values):
        """Hosting at 100 a month plus a metered line on ``metric``."""
        return self._plan(
            code, [self._seat_line(100.0), self._usage_line(metric, **usage_values)], billing_timing=timing
        )

    def _bill(self, sub, day):
        result = sub._run_billing(day)
        self.assertFalse(result["errors"], sub.billing_error)
        return result["invoices"]

    @staticmethod
    def _line_of(invoice, sub_line):
        return invoice.invoice_line_ids.filtered(lambda aml: aml.subscription_line_id == sub_line)

    @staticmethod
    def _discount_lines(invoice):
        return invoice.invoice_line_ids.filtered("subscription_discount_id")

    def _ingest(self, *records):
        return self.env["subscription.usage.record"]._ingest(list(records))

    @staticmethod
    def _usage(sub, metric, quantity, timestamp, key, **values):
        return {
            "subscription_id": sub.id,
            "metric": metric.code,
            "quantity": quantity,
            "timestamp": timestamp,
            "idempotency_key": key,
            **values,
        }

    def _records(self, sub, metric=None):
        domain = [("subscription_id", "=", sub.id)]
        if metric:
            domain.append(("metric_id", "=", metric.id))
        return self.env["subscription.usage.record"].search(domain)

    # ------------------------------------------------------------------
    # per unit (seats)
    # ------------------------------------------------------------------
    def test_seats_are_billed_as_quantity_times_unit_price(self):
        plan = self._plan("SEATS", [self._seat_line(price=20.0, quantity=5.0)])
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        invoice = self._bill(sub, date(2026, 1, 1))
        line = invoice.invoice_line_ids
        self.assertEqual((line.quantity, line.price_unit), (5.0, 20.0))
        self.assertEqual(line.price_subtotal, 100.0)
        self.assertEqual(line.tax_ids, self.tax_19)
        self.assertEqual(
            (line.subscription_period_start, line.subscription_period_end), (date(2026, 1, 1), date(2026, 1, 31))
        )
        self.assertEqual(line.name, "Cloud seat\nService period: 01/01/2026 – 01/31/2026")
        # 5 × 20 = 100, 19 % VAT = 19
        self.assertEqual((invoice.amount_untaxed, invoice.amount_tax, invoice.amount_total), (100.0, 19.0, 119.0))

    def test_seat_count_set_on_the_subscription_is_billed(self):
        plan = self._plan("SEATS7", [self._seat_line(price=20.0, quantity=5.0)])
        sub = self._create_subscription(plan=plan, start_date=date(2026, 1, 1))
        sub.line_ids.quantity = 7.0
        sub.action_start()
        invoice = self._bill(sub, date(2026, 1, 1))
        self.assertEqual((invoice.invoice_line_ids.quantity, invoice.invoice_line_ids.price_unit), (7.0, 20.0))
        self.assertEqual(invoice.amount_untaxed, 140.0)

    def test_per_unit_line_with_included_units_bills_only_the_units_above(self):
        plan = self._plan("INCL", [self._seat_line(price=10.0, quantity=8.0, included_quantity=3.0)])
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        line = self._bill(sub, date(2026, 1, 1)).invoice_line_ids
        # 8 seats, 3 free: 5 × 10 = 50, shown as one line
        self.assertEqual((line.quantity, line.price_unit), (1.0, 50.0))
        self.assertIn("3 included", line.name)
        self.assertIn("5 × 10.00", line.name)

    # ------------------------------------------------------------------
    # tiers
    # ------------------------------------------------------------------
    def test_graduated_tiers_price_each_tier_and_add_its_flat_fee(self):
        plan = self._plan("GRAD", [self._tiered_line("graduated", 25.0)])
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        invoice = self._bill(sub, date(2026, 1, 1))
        line = invoice.invoice_line_ids
        # units 1-10: 10 × 5 = 50; units 11-20: 10 × 4 + 10 flat = 50; units 21-25: 5 × 3 = 15
        self.assertEqual((line.quantity, line.price_unit), (1.0, 115.0))
        self.assertIn("10 × 5.00, 10 × 4.00 + 10.00 flat, 5 × 3.00", line.name)
        self.assertIn("Service period: 01/01/2026 – 01/31/2026", line.name)
        self.assertEqual(line.tax_ids, self.tax_19)
        # 19 % of 115 = 21.85
        self.assertEqual((invoice.amount_untaxed, invoice.amount_tax), (115.0, 21.85))

    def test_volume_tiers_price_every_unit_at_the_tier_reached(self):
        plan = self._plan("VOL", [self._tiered_line("volume", 25.0)])
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        line = self._bill(sub, date(2026, 1, 1)).invoice_line_ids
        # 25 units reach the third tier: 25 × 3 = 75, no flat fee there
        self.assertEqual(line.price_unit, 75.0)
        self.assertIn("25 × 3.00", line.name)

    def test_volume_tier_adds_the_flat_fee_of_the_tier_reached(self):
        plan = self._plan("VOL15", [self._tiered_line("volume", 15.0)])
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        line = self._bill(sub, date(2026, 1, 1)).invoice_line_ids
        # 15 units reach the second tier: 15 × 4 + 10 flat = 70
        self.assertEqual(line.price_unit, 70.0)
        self.assertIn("15 × 4.00 + 10.00 flat", line.name)

    def test_included_units_are_deducted_before_the_graduated_tiers(self):
        plan = self._plan("GRADI", [self._tiered_line("graduated", 25.0, included=5.0)])
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        line = self._bill(sub, date(2026, 1, 1)).invoice_line_ids
        # 20 billable units: 10 × 5 + (10 × 4 + 10 flat) = 100
        self.assertEqual(line.price_unit, 100.0)
        self.assertIn("5 included", line.name)

    def test_included_units_are_deducted_before_the_volume_tier_is_chosen(self):
        plan = self._plan("VOLI", [self._tiered_line("volume", 25.0, included=5.0)])
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        line = self._bill(sub, date(2026, 1, 1)).invoice_line_ids
        # 20 billable units stay in the second tier: 20 × 4 + 10 flat = 90 (not 25 × 3 = 75)
        self.assertEqual(line.price_unit, 90.0)

    def test_quantity_within_the_included_units_costs_nothing_not_even_a_flat_fee(self):
        rows = [(10, 5.0, 2.0), (None, 3.0, 0.0)]
        plan = self._plan(
            "INCL0", [self._seat_line(100.0), self._tiered_line("graduated", 4.0, included=5.0, rows=rows)]
        )
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        invoice = self._bill(sub, date(2026, 1, 1))
        tiered = sub.line_ids.filtered(lambda line: line.pricing_model == "graduated")
        self.assertEqual(self._line_of(invoice, tiered).price_unit, 0.0)
        self.assertEqual(invoice.amount_untaxed, 100.0)

    # ------------------------------------------------------------------
    # currencies
    # ------------------------------------------------------------------
    def test_subscription_in_another_currency_uses_the_plan_prices_in_that_currency(self):
        chf_rows = [(10, 4.5, 0.0), (None, 2.5, 5.0)]
        plan = self._plan("CHF", [self._seat_line(100.0), self._tiered_line("graduated", 25.0)])
        seat_pl, tiered_pl = plan.line_ids.sorted("id")
        seat_pl.price_ids = [Command.create({"currency_id": self.chf.id, "price_unit": 95.0})]
        tiered_pl.tier_ids = self._tiers(self.chf, chf_rows)
        sub = self._start(plan=plan, currency_id=self.chf.id, start_date=date(2026, 1, 1))
        invoice = self._bill(sub, date(2026, 1, 1))
        self.assertEqual(invoice.currency_id, self.chf)
        seat, tiered = sub.line_ids.sorted("id")
        self.assertEqual(self._line_of(invoice, seat).price_unit, 95.0, "the CHF price, not a conversion of 100")
        # CHF table: 10 × 4.5 = 45; 15 × 2.5 + 5 flat = 42.5 -> 87.5 (the USD table would give 115)
        self.assertEqual(self._line_of(invoice, tiered).price_unit, 87.5)
        self.assertEqual(tiered.tier_ids.currency_id, self.chf, "only the CHF table is copied")
        self.assertEqual(invoice.amount_untaxed, 182.5)
        # 19 % on 95 = 18.05 and on 87.5 = 16.625 -> 16.63
        self.assertEqual(invoice.amount_tax, 34.68)

    def test_subscription_in_a_currency_without_a_tier_table_is_refused(self):
        tiered = self._tiered_line("graduated", 25.0, product_id=self.product_7.id, name="E-books, tiered")
        plan = self._plan("NOCHF", [self._seat_line(100.0), tiered])
        plan.line_ids.filtered(lambda pl: pl.pricing_model == "per_unit").price_ids = [
            Command.create({"currency_id": self.chf.id, "price_unit": 95.0})
        ]
        count = self.env["subscription.subscription"].search_count([])
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self._create_subscription(plan=plan, currency_id=self.chf.id)
        self.assertIn("CHF", str(caught.exception))
        self.assertIn("E-book licence", str(caught.exception), "names the product without a CHF table")
        self.assertNotIn("Cloud seat", str(caught.exception), "the seat has its CHF price")
        self.assertEqual(self.env["subscription.subscription"].search_count([]), count)

    # ------------------------------------------------------------------
    # metered usage
    # ------------------------------------------------------------------
    def test_advance_plan_bills_last_months_usage_on_the_next_invoice(self):
        plan = self._metered_plan("MADV", self.metric_sum)
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        usage_line = sub.line_ids.filtered(lambda line: line.line_type == "usage")
        january = self._bill(sub, date(2026, 1, 1))
        self.assertFalse(self._line_of(january, usage_line), "no usage is known when January is billed in advance")
        results = self._ingest(
            self._usage(sub, self.metric_sum, 10, "2026-01-01T00:00:00Z", "a"),
            self._usage(sub, self.metric_sum, 20, datetime(2026, 1, 15, 12, 0), "b"),
            self._usage(sub, self.metric_sum, 30, "2026-01-31T23:59:59", "c"),
            self._usage(sub, self.metric_sum, 40, "2026-02-01T00:00:00", "february"),
        )
        self.assertEqual([r["status"] for r in results], ["created"] * 4)
        february = self._bill(sub, date(2026, 2, 1))
        line = self._line_of(february, usage_line)
        self.assertEqual(len(line), 1)
        self.assertEqual(
            (line.subscription_period_start, line.subscription_period_end), (date(2026, 1, 1), date(2026, 1, 31))
        )
        # 10 + 20 + 30 = 60 requests at 0.50 = 30
        self.assertEqual((line.quantity, line.price_unit), (1.0, 30.0))
        self.assertIn("Usage 01/01/2026 – 01/31/2026: 60 API requests", line.name)
        self.assertIn("60 × 0.50", line.name)
        self.assertEqual(line.tax_ids, self.tax_19)
        self.assertEqual(february.amount_untaxed, 130.0, "February's hosting plus January's usage")
        records = self._records(sub)
        january_records = records.filtered(lambda r: r.idempotency_key != "february")
        self.assertEqual(january_records.invoice_line_id, line)
        self.assertFalse(records.filtered(lambda r: r.idempotency_key == "february").invoice_line_id)
        self.assertEqual(usage_line.usage_billed_until, date(2026, 1, 31))
        march = self._bill(sub, date(2026, 3, 1))
        march_line = self._line_of(march, usage_line)
        self.assertEqual(march_line.price_unit, 20.0, "February's 40 requests on the March invoice")
        self.assertEqual(records.filtered(lambda r: r.idempotency_key == "february").invoice_line_id, march_line)
        self.assertEqual(usage_line.usage_billed_until, date(2026, 2, 28))

    def test_arrears_plan_bills_the_usage_of_the_period_after_it_ends(self):
        plan = self._metered_plan("MARR", self.metric_sum, timing="arrears")
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        self._ingest(
            self._usage(sub, self.metric_sum, 100, "2026-01-05T10:00:00", "a"),
            self._usage(sub, self.metric_sum, 50, "2026-01-25T10:00:00", "b"),
        )
        self.assertFalse(self._bill(sub, date(2026, 1, 31)))
        invoice = self._bill(sub, date(2026, 2, 1))
        usage_line = sub.line_ids.filtered(lambda line: line.line_type == "usage")
        line = self._line_of(invoice, usage_line)
        self.assertEqual(
            (line.subscription_period_start, line.subscription_period_end), (date(2026, 1, 1), date(2026, 1, 31))
        )
        self.assertEqual(line.price_unit, 75.0, "150 requests at 0.50")
        self.assertEqual(invoice.invoice_date, date(2026, 2, 1))
        self.assertEqual(invoice.amount_untaxed, 175.0, "January's hosting and January's usage")
        self.assertEqual(self._records(sub).invoice_line_id, line)
        self.assertEqual(usage_line.usage_billed_until, date(2026, 1, 31))

    def test_sum_counts_negative_corrections(self):
        sub = self._start(
            plan=self._metered_plan("MSUM", self.metric_sum, timing="arrears"), start_date=date(2026, 1, 1)
        )
        results = self._ingest(
            self._usage(sub, self.metric_sum, 100, "2026-01-05T10:00:00", "a"),
            self._usage(sub, self.metric_sum, 50, "2026-01-06T10:00:00", "b"),
            self._usage(sub, self.metric_sum, -30, "2026-01-07T10:00:00", "correction-of-a"),
        )
        self.assertEqual([r["status"] for r in results], ["created"] * 3)
        invoice = self._bill(sub, date(2026, 2, 1))
        line = self._line_of(invoice, sub.line_ids.filtered(lambda line: line.line_type == "usage"))
        # 100 + 50 - 30 = 120 at 0.50
        self.assertEqual(line.price_unit, 60.0)
        self.assertIn(": 120 API requests", line.name)
        self.assertEqual(len(self._records(sub).invoice_line_id), 1)
        self.assertEqual(self._records(sub).invoice_line_id, line, "the correction is billed too")

    def test_max_bills_the_peak_of_the_period(self):
        sub = self._start(plan=self._metered_plan("MMAX", self.metric_max, timing="arrears", price=4.0))
        self._ingest(
            self._usage(sub, self.metric_max, 5, "2026-01-03T10:00:00", "a"),
            self._usage(sub, self.metric_max, 12, "2026-01-10T10:00:00", "b"),
            self._usage(sub, self.metric_max, 7, "2026-01-20T10:00:00", "c"),
        )
        invoice = self._bill(sub, date(2026, 2, 1))
        line = self._line_of(invoice, sub.line_ids.filtered(lambda line: line.line_type == "usage"))
        self.assertEqual(line.price_unit, 48.0, "peak of 12 users at 4")
        self.assertIn(": 12 Peak users", line.name)
        self.assertEqual(len(self._records(sub).filtered("invoice_line_id")), 3)

    def test_count_distinct_counts_each_value_once(self):
        sub = self._start(plan=self._metered_plan("MDIS", self.metric_distinct, timing="arrears", price=3.0))
        self._ingest(
            self._usage(sub, self.metric_distinct, 1, "2026-01-03T10:00:00", "a", value="anna"),
            self._usage(sub, self.metric_distinct, 1, "2026-01-04T10:00:00", "b", value="bert"),
            self._usage(sub, self.metric_distinct, 1, "2026-01-05T10:00:00", "c", value="anna"),
            self._usage(sub, self.metric_distinct, 1, "2026-01-06T10:00:00", "d", value="carla"),
            self._usage(sub, self.metric_distinct, 1, "2026-01-07T10:00:00", "e", value="bert"),
        )
        invoice = self._bill(sub, date(2026, 2, 1))
        line = self._line_of(invoice, sub.line_ids.filtered(lambda line: line.line_type == "usage"))
        self.assertEqual(line.price_unit, 9.0, "anna, bert and carla: 3 users at 3")
        self.assertIn(": 3 Active users", line.name)
        self.assertEqual(self._records(sub).invoice_line_id, line)

    def test_last_bills_the_latest_reading_by_timestamp(self):
        sub = self._start(plan=self._metered_plan("MLAST", self.metric_last, timing="arrears", price=0.25))
        # sent out of order: the reading of 20 January is the latest one
        self._ingest(
            self._usage(sub, self.metric_last, 40, "2026-01-05T10:00:00", "a"),
            self._usage(sub, self.metric_last, 70, "2026-01-20T10:00:00", "b"),
            self._usage(sub, self.metric_last, 55, "2026-01-10T10:00:00", "c"),
        )
        invoice = self._bill(sub, date(2026, 2, 1))
        line = self._line_of(invoice, sub.line_ids.filtered(lambda line: line.line_type == "usage"))
        self.assertEqual(line.price_unit, 17.5, "70 GB at 0.25")
        self.assertIn(": 70 GB stored", line.name)

    def test_graduated_tiers_rate_the_usage_of_the_period(self):
        plan = self._metered_plan(
            "MGRAD", self.metric_sum, timing="arrears", pricing_model="graduated", tier_ids=self._tiers(self.currency)
        )
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        self._ingest(
            self._usage(sub, self.metric_sum, 15, "2026-01-05T10:00:00", "a"),
            self._usage(sub, self.metric_sum, 10, "2026-01-06T10:00:00", "b"),
        )
        invoice = self._bill(sub, date(2026, 2, 1))
        line = self._line_of(invoice, sub.line_ids.filtered(lambda line: line.line_type == "usage"))
        # 25 requests: 10 × 5 + (10 × 4 + 10 flat) + 5 × 3 = 115
        self.assertEqual(line.price_unit, 115.0)
        self.assertIn("10 × 5.00, 10 × 4.00 + 10.00 flat, 5 × 3.00", line.name)

    def test_usage_of_the_last_period_of_an_advance_plan_is_billed_after_it(self):
        sub = self._start(
            plan=self._metered_plan("MEND", self.metric_sum), start_date=date(2026, 1, 1), end_date=date(2026, 2, 28)
        )
        self._bill(sub, date(2026, 1, 1))
        self._bill(sub, date(2026, 2, 1))
        # usage of February, the last month, reported while it is running
        results = self._ingest(self._usage(sub, self.metric_sum, 40, "2026-02-10T10:00:00", "feb"))
        self.assertEqual(results[0]["status"], "created", results[0]["error"])
        final = self._bill(sub, date(2026, 3, 1))
        usage_line = sub.line_ids.filtered(lambda line: line.line_type == "usage")
        self.assertEqual(self._line_of(final, usage_line).price_unit, 20.0, "40 requests at 0.50")

    def test_usage_of_the_last_period_is_billed_after_a_cancellation(self):
        sub = self._start(plan=self._metered_plan("MCAN", self.metric_sum), start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        self._bill(sub, date(2026, 2, 1))
        self.assertEqual(sub._request_cancellation(date(2026, 2, 10)), date(2026, 2, 28))
        results = self._ingest(self._usage(sub, self.metric_sum, 40, "2026-02-15T10:00:00", "feb"))
        self.assertEqual(results[0]["status"], "created")
        invoices = self._bill(sub, date(2026, 3, 1))
        self.assertEqual(len(invoices), 1, "a final invoice bills February's usage")
        usage_line = sub.line_ids.filtered(lambda line: line.line_type == "usage")
        self.assertEqual(self._line_of(invoices, usage_line).price_unit, 20.0)
        self.assertTrue(self._records(sub).invoice_line_id)

    def test_timestamp_with_an_offset_is_stored_and_billed_in_utc(self):
        sub = self._start(plan=self._metered_plan("MUTC", self.metric_sum, timing="arrears"))
        self._ingest(
            # 31 January 23:30 at UTC-2 is 1 February 01:30 UTC: February's usage
            self._usage(sub, self.metric_sum, 10, "2026-01-31T23:30:00-02:00", "late-evening"),
            # 1 February 00:30 at UTC+1 is 31 January 23:30 UTC: January's usage
            self._usage(sub, self.metric_sum, 4, "2026-02-01T00:30:00+01:00", "after-midnight"),
        )
        records = {rec.idempotency_key: rec for rec in self._records(sub)}
        self.assertEqual(records["late-evening"].timestamp, datetime(2026, 2, 1, 1, 30))
        self.assertEqual(records["after-midnight"].timestamp, datetime(2026, 1, 31, 23, 30))
        invoice = self._bill(sub, date(2026, 2, 1))
        line = self._line_of(invoice, sub.line_ids.filtered(lambda line: line.line_type == "usage"))
        self.assertEqual(line.price_unit, 2.0, "only the 4 requests of January (UTC) at 0.50")
        self.assertEqual(records["after-midnight"].invoice_line_id, line)
        self.assertFalse(records["late-evening"].invoice_line_id)

    # ------------------------------------------------------------------
    # ingestion: idempotency
    # ------------------------------------------------------------------
    def test_duplicate_key_in_one_batch_is_stored_and_billed_once(self):
        sub = self._start(plan=self._metered_plan("IDEM1", self.metric_sum, timing="arrears"))
        results = self._ingest(
            self._usage(sub, self.metric_sum, 10, "2026-01-05T10:00:00", "evt-1"),
            self._usage(sub, self.metric_sum, 10, "2026-01-05T10:00:00", "evt-1"),
            self._usage(sub, self.metric_sum, 4, "2026-01-06T10:00:00", "evt-2"),
        )
        self.assertEqual([r["status"] for r in results], ["created", "duplicate", "created"])
        self.assertEqual(results[1]["id"], results[0]["id"], "the duplicate points at the stored record")
        self.assertEqual(len(self._records(sub)), 2)
        invoice = self._bill(sub, date(2026, 2, 1))
        line = self._line_of(invoice, sub.line_ids.filtered(lambda line: line.line_type == "usage"))
        self.assertEqual(line.price_unit, 7.0, "10 + 4 requests at 0.50, the duplicate not counted")

    def test_duplicate_key_in_a_later_batch_is_acknowledged_and_billed_once(self):
        sub = self._start(plan=self._metered_plan("IDEM2", self.metric_sum, timing="arrears"))
        first = self._ingest(self._usage(sub, self.metric_sum, 10, "2026-01-05T10:00:00", "evt-1"))
        second = self._ingest(
            self._usage(sub, self.metric_sum, 10, "2026-01-05T10:00:00", "evt-1"),
            self._usage(sub, self.metric_sum, 6, "2026-01-07T10:00:00", "evt-3"),
        )
        self.assertEqual(first[0]["status"], "created")
        self.assertEqual([r["status"] for r in second], ["duplicate", "created"])
        self.assertEqual(second[0]["id"], first[0]["id"])
        self.assertFalse(second[0]["error"])
        self.assertEqual(len(self._records(sub)), 2)
        invoice = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(invoice.amount_untaxed, 108.0, "100 hosting + (10 + 6) × 0.50")

    def test_same_key_on_two_subscriptions_is_two_records(self):
        plan = self._metered_plan("IDEM3", self.metric_sum, timing="arrears")
        sub_a, sub_b = self._start(plan=plan), self._start(plan=plan, partner=self.other_customer)
        results = self._ingest(
            self._usage(sub_a, self.metric_sum, 10, "2026-01-05T10:00:00", "evt-1"),
            self._usage(sub_b, self.metric_sum, 10, "2026-01-05T10:00:00", "evt-1"),
        )
        self.assertEqual([r["status"] for r in results], ["created", "created"])
        self.assertEqual((len(self._records(sub_a)), len(self._records(sub_b))), (1, 1))

    # ------------------------------------------------------------------
    # ingestion: rejections (each with a valid neighbour that is stored)
    # ------------------------------------------------------------------
    def _assert_rejected(self, sub, bad_record, *fragments):
        """Ingest a valid record of ``sub`` and ``bad_record``: the first is stored, the second refused."""
        valid = self._usage(sub, self.metric_sum, 1, "2026-03-10T10:00:00", "valid-neighbour")
        count = self.env["subscription.usage.record"].search_count([])
        good, bad = self._ingest(valid, bad_record)
        self.assertEqual(good["status"], "created", good["error"])
        self.assertEqual((bad["status"], bad["id"]), ("rejected", False))
        for fragment in fragments:
            self.assertIn(fragment, bad["error"])
        self.assertEqual(self.env["subscription.usage.record"].search_count([]), count + 1)
        self.assertFalse(
            self.env["subscription.usage.record"].search_count(
                [("idempotency_key", "=", bad_record["idempotency_key"])]
            ),
            "nothing is written for the rejected record",
        )
        return bad["error"]

    def _metered_subscription(self, code, **values):
        return self._start(plan=self._metered_plan(code, self.metric_sum), start_date=date(2026, 1, 1), **values)

    def test_usage_of_an_unknown_subscription_is_rejected(self):
        sub = self._metered_subscription("REJ1")
        bad = self._usage(sub, self.metric_sum, 5, "2026-03-10T10:00:00", "bad", subscription_id=999999999)
        self._assert_rejected(sub, bad, "Subscription 999999999 does not exist")

    def test_usage_of_an_unknown_metric_is_rejected(self):
        sub = self._metered_subscription("REJ2")
        bad = dict(self._usage(sub, self.metric_sum, 5, "2026-03-10T10:00:00", "bad"), metric="no_such_metric")
        self._assert_rejected(sub, bad, "Metric no_such_metric does not exist")

    def test_negative_usage_of_a_metric_without_corrections_is_rejected(self):
        plan = self._plan(
            "REJ3", [self._seat_line(100.0), self._usage_line(self.metric_sum), self._usage_line(self.metric_strict)]
        )
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        bad = self._usage(sub, self.metric_strict, -5, "2026-03-10T10:00:00", "bad")
        self._assert_rejected(sub, bad, "quantity", "negative", "messages")

    def test_usage_in_an_already_billed_period_is_rejected(self):
        sub = self._metered_subscription("REJ4")
        self._bill(sub, date(2026, 2, 1))  # January's usage is billed with February
        bad = self._usage(sub, self.metric_sum, 5, "2026-01-20T10:00:00", "late")
        self._assert_rejected(sub, bad, "already billed", sub.name, "2026-01-20")

    def test_usage_of_an_ended_subscription_is_rejected(self):
        sub = self._metered_subscription("REJ5")
        end = sub._request_cancellation(date(2026, 1, 10))
        self.assertEqual(end, date(2026, 1, 31))
        self.env["subscription.subscription"]._cron_update_states(date(2026, 2, 1))
        self.assertEqual(sub.state, "ended")
        other = self._metered_subscription("REJ5B")
        bad = self._usage(sub, self.metric_sum, 5, "2026-02-05T10:00:00", "after-the-end")
        self._assert_rejected(other, bad, "has ended", sub.name)

    def test_usage_before_the_start_is_rejected(self):
        sub = self._metered_subscription("REJ6")
        bad = self._usage(sub, self.metric_sum, 5, "2025-12-31T23:00:00", "early")
        self._assert_rejected(sub, bad, "had not started", sub.name, "2025-12-31")

    def test_usage_of_a_metric_the_subscription_does_not_meter_is_rejected(self):
        sub = self._metered_subscription("REJ7")
        bad = self._usage(sub, self.metric_max, 5, "2026-03-10T10:00:00", "wrong-metric")
        self._assert_rejected(sub, bad, "does not meter", sub.name, "peak_users")

    def test_quantity_that_is_not_a_finite_number_is_rejected(self):
        sub = self._metered_subscription("REJ9")
        bad = self._usage(sub, self.metric_sum, "NaN", "2026-03-11T10:00:00", "not-a-number")
        self._assert_rejected(sub, bad, "quantity")

    def test_metric_code_also_used_by_another_company_finds_the_subscriptions_metric(self):
        company_b = self.env["res.company"].create({"name": "Company B"})
        self.env.user.company_ids |= company_b
        # same code, allowed by the unique (code, company) constraint; its name sorts first
        self.env["subscription.usage.metric"].create(
            {"name": "AAA requests of B", "code": self.metric_sum.code, "company_id": company_b.id}
        )
        sub = self._metered_subscription("REJ10")
        results = self._ingest(self._usage(sub, self.metric_sum, 5, "2026-03-10T10:00:00", "evt"))
        self.assertEqual(results[0]["status"], "created", results[0]["error"])
        self.assertEqual(self._records(sub).metric_id, self.metric_sum)

    def test_mixed_batch_stores_the_valid_records_and_rejects_the_rest(self):
        sub = self._metered_subscription("REJ8")
        self._bill(sub, date(2026, 2, 1))
        results = self._ingest(
            self._usage(sub, self.metric_sum, 3, "2026-02-10T10:00:00", "ok-1"),
            self._usage(sub, self.metric_sum, 3, "2026-02-10T10:00:00", "bad-sub", subscription_id=999999999),
            self._usage(sub, self.metric_sum, 3, "2026-01-10T10:00:00", "bad-billed"),
            self._usage(sub, self.metric_max, 3, "2026-02-10T10:00:00", "bad-metric"),
            self._usage(sub, self.metric_sum, 3, "2025-12-10T10:00:00", "bad-early"),
            self._usage(sub, self.metric_sum, 4, "2026-02-11T10:00:00", "ok-2"),
            self._usage(sub, self.metric_sum, 3, "yesterday", "bad-time"),
        )
        self.assertEqual(
            [r["status"] for r in results],
            ["created", "rejected", "rejected", "rejected", "rejected", "created", "rejected"],
        )
        self.assertEqual([r["idempotency_key"] for r in results][-1], "bad-time", "results follow the input order")
        self.assertIn("timestamp", results[-1]["error"])
        self.assertEqual(sorted(self._records(sub).mapped("idempotency_key")), ["ok-1", "ok-2"])
        march = self._bill(sub, date(2026, 3, 1))
        usage_line = sub.line_ids.filtered(lambda line: line.line_type == "usage")
        self.assertEqual(self._line_of(march, usage_line).price_unit, 3.5, "3 + 4 requests at 0.50")

    # ------------------------------------------------------------------
    # setup fee
    # ------------------------------------------------------------------
    def _setup_plan(self, code):
        setup = self._seat_line(50.0, product=self.product_setup, line_type="setup")
        return self._plan(code, [self._seat_line(100.0), setup])

    def test_setup_fee_is_billed_on_the_first_invoice_only(self):
        sub = self._start(plan=self._setup_plan("SETUP"), start_date=date(2026, 1, 1))
        setup_line = sub.line_ids.filtered(lambda line: line.line_type == "setup")
        first = self._bill(sub, date(2026, 1, 1))
        fee = self._line_of(first, setup_line)
        self.assertEqual((fee.quantity, fee.price_unit), (1.0, 50.0))
        self.assertIn("Onboarding", fee.name)
        self.assertEqual(first.amount_untaxed, 150.0)
        second = self._bill(sub, date(2026, 2, 1))
        self.assertFalse(self._line_of(second, setup_line))
        self.assertEqual(second.amount_untaxed, 100.0)

    def test_setup_fee_is_billed_once_when_the_first_run_catches_up_several_periods(self):
        sub = self._start(plan=self._setup_plan("SETUP2"), start_date=date(2026, 1, 1))
        setup_line = sub.line_ids.filtered(lambda line: line.line_type == "setup")
        invoices = self._bill(sub, date(2026, 3, 1))
        self.assertEqual(len(invoices), 3)
        # the run prepares all three invoices before creating any: the fee must still go on the first only
        self.assertEqual(len(self.env["account.move.line"].search([("subscription_line_id", "=", setup_line.id)])), 1)
        self.assertEqual(sorted(invoices.mapped("amount_untaxed")), [100.0, 100.0, 150.0])

    # ------------------------------------------------------------------
    # one-time charges
    # ------------------------------------------------------------------
    def _charge(self, sub, **values):
        return self.env["subscription.charge"].create(
            {
                "subscription_id": sub.id,
                "product_id": self.product_7.id,
                "name": "Data migration, 2 hours",
                "quantity": 2.0,
                "price_unit": 75.0,
                "date": date(2026, 1, 15),
                **values,
            }
        )

    def test_adhoc_charge_is_billed_once_on_the_next_invoice(self):
        sub = self._start(plan=self._plan("CHG", [self._seat_line(100.0)]), start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        charge = self._charge(sub)
        self.assertEqual(charge.state, "pending")
        february = self._bill(sub, date(2026, 2, 1))
        line = february.invoice_line_ids.filtered(lambda aml: aml.subscription_charge_id == charge)
        self.assertEqual((line.quantity, line.price_unit, line.name), (2.0, 75.0, "Data migration, 2 hours"))
        self.assertEqual(line.tax_ids, self.tax_7)
        self.assertEqual(charge.state, "invoiced")
        # 100 + 2 × 75 = 250; VAT 19 + 10.50
        self.assertEqual((february.amount_untaxed, february.amount_tax), (250.0, 29.5))
        march = self._bill(sub, date(2026, 3, 1))
        self.assertFalse(march.invoice_line_ids.filtered("subscription_charge_id"), "billed once only")
        self.assertEqual(march.amount_untaxed, 100.0)

    def test_database_refuses_a_second_invoice_line_for_a_charge(self):
        sub = self._start(plan=self._plan("CHG2", [self._seat_line(100.0)]), start_date=date(2026, 1, 1))
        charge = self._charge(sub)
        self._bill(sub, date(2026, 1, 1))
        self.assertEqual(charge.state, "invoiced")
        with self.assertRaises(UniqueViolation), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.customer.id,
                    "invoice_date": date(2026, 1, 2),
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": self.product_7.id,
                                "price_unit": 75.0,
                                "subscription_id": sub.id,
                                "subscription_charge_id": charge.id,
                            }
                        )
                    ],
                }
            )

    # ------------------------------------------------------------------
    # add-ons
    # ------------------------------------------------------------------
    def _addon_plan(self, code):
        return self._plan(code, [self._seat_line(100.0), self._seat_line(30.0, product=self.product_7, optional=True)])

    def test_optional_addon_is_not_on_a_new_subscription(self):
        plan = self._addon_plan("ADD1")
        base = plan.line_ids.filtered(lambda pl: not pl.optional)
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        self.assertEqual(sub.line_ids.plan_line_id, base)
        invoice = self._bill(sub, date(2026, 1, 1))
        self.assertEqual(invoice.invoice_line_ids.product_id, self.product_19)
        self.assertEqual(invoice.amount_untaxed, 100.0)

    def test_addon_added_to_the_subscription_is_billed(self):
        plan = self._addon_plan("ADD2")
        addon = plan.line_ids.filtered("optional")
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        line = self.env["subscription.line"].create(sub._prepare_line_values_from_plan(addon))
        self.assertTrue(line.is_addon)
        february = self._bill(sub, date(2026, 2, 1))
        billed = self._line_of(february, line)
        self.assertEqual((billed.quantity, billed.price_unit), (1.0, 30.0))
        self.assertEqual(billed.tax_ids, self.tax_7)
        # 100 + 30; VAT 19 + 2.10
        self.assertEqual((february.amount_untaxed, february.amount_tax), (130.0, 21.1))

    def test_addon_added_by_a_change_is_billed_from_the_change(self):
        plan = self._addon_plan("ADD3")
        base = plan.line_ids.filtered(lambda pl: not pl.optional)
        addon = plan.line_ids.filtered("optional")
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        change = sub._change(
            {"plan_id": plan.id, "lines": {str(base.id): 1, str(addon.id): 1}}, "period_end", date(2026, 1, 15)
        )
        self.assertEqual((change.change_type, change.effective_date), ("addon", date(2026, 2, 1)))
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(change.state, "applied")
        added = sub.line_ids.filtered(lambda line: line.plan_line_id == addon)
        billed = self._line_of(february, added)
        self.assertEqual(billed.price_unit, 30.0)
        self.assertEqual(
            (billed.subscription_period_start, billed.subscription_period_end), (date(2026, 2, 1), date(2026, 2, 28))
        )
        self.assertEqual(february.amount_untaxed, 130.0)

    # ------------------------------------------------------------------
    # discounts
    # ------------------------------------------------------------------
    def _two_tax_subscription(self, code, support_price=30.0):
        plan = self._plan(code, [self._seat_line(100.0), self._seat_line(support_price, product=self.product_7)])
        return self._start(plan=plan, start_date=date(2026, 1, 1))

    def _discount(self, sub, **values):
        return self.env["subscription.discount"].create({"subscription_id": sub.id, **values})

    def test_percentage_discount_reduces_the_whole_subscription(self):
        sub = self._two_tax_subscription("DPCT")
        discount = self._discount(sub, name="Loyalty 10 %", discount_type="percent", percent=10.0)
        invoice = self._bill(sub, date(2026, 1, 1))
        lines = self._discount_lines(invoice)
        self.assertEqual(lines.subscription_discount_id, discount)
        # one line per tax: -10 on the 19 % line (100), -3 on the 7 % line (30)
        self.assertEqual(sorted((line.price_unit, line.tax_ids.amount) for line in lines), [(-10.0, 19.0), (-3.0, 7.0)])
        for line in lines:
            self.assertEqual(line.name, "Loyalty 10 %\nService period: 01/01/2026 – 01/31/2026")
            self.assertEqual(line.subscription_period_start, date(2026, 1, 1))
        # untaxed 130 - 13 = 117; tax 19 % of 90 = 17.10 + 7 % of 27 = 1.89
        self.assertEqual((invoice.amount_untaxed, invoice.amount_tax, invoice.amount_total), (117.0, 18.99, 135.99))

    def test_fixed_discount_is_spread_over_the_taxes_and_sums_to_the_amount(self):
        sub = self._two_tax_subscription("DFIX")
        self._discount(sub, name="Goodwill", discount_type="fixed", amount=20.0)
        invoice = self._bill(sub, date(2026, 1, 1))
        lines = self._discount_lines(invoice)
        by_tax = {line.tax_ids: line.price_unit for line in lines}
        # 20 × 100/130 = 15.3846 -> 15.38; 20 × 30/130 = 4.6154 -> 4.62
        self.assertEqual(by_tax, {self.tax_19: -15.38, self.tax_7: -4.62})
        self.assertAlmostEqual(sum(lines.mapped("price_subtotal")), -20.0, places=6)
        # untaxed 130 - 20 = 110; tax 19 - 2.92 (19 % of 15.38) + 2.10 - 0.32 (7 % of 4.62) = 17.86
        self.assertEqual((invoice.amount_untaxed, invoice.amount_tax, invoice.amount_total), (110.0, 17.86, 127.86))

    def test_fixed_discount_split_in_two_halves_still_sums_to_the_amount(self):
        sub = self._two_tax_subscription("DFIX2", support_price=100.0)
        self._discount(sub, name="Goodwill", discount_type="fixed", amount=10.05)
        invoice = self._bill(sub, date(2026, 1, 1))
        lines = self._discount_lines(invoice)
        # 5.025 each: rounding both would give 10.06; one half gets the odd cent
        self.assertEqual(sorted(lines.mapped("price_unit")), [-5.03, -5.02])
        self.assertEqual(lines.tax_ids, self.tax_19 | self.tax_7)
        self.assertEqual(invoice.amount_untaxed, 189.95)

    def test_line_discount_reduces_only_its_line(self):
        sub = self._two_tax_subscription("DLINE")
        support = sub.line_ids.filtered(lambda line: line.product_id == self.product_7)
        self._discount(
            sub, name="Half-price e-books", discount_type="percent", percent=50.0, subscription_line_id=support.id
        )
        invoice = self._bill(sub, date(2026, 1, 1))
        line = self._discount_lines(invoice)
        self.assertEqual((line.price_unit, line.tax_ids), (-15.0, self.tax_7))
        # 100 + 30 - 15 = 115; tax 19 + 7 % of 15 = 1.05
        self.assertEqual((invoice.amount_untaxed, invoice.amount_tax), (115.0, 20.05))

    # ------------------------------------------------------------------
    # coupons
    # ------------------------------------------------------------------
    def _coupon(self, code, **values):
        return self.env["subscription.coupon"].create(
            {"name": f"Coupon {code}", "code": code, "discount_type": "percent", "percent": 20.0, **values}
        )

    def test_coupon_for_two_periods_applies_on_exactly_two_invoices(self):
        self._coupon("WELCOME2", duration_periods=2)
        sub = self._start(plan=self._plan("CP2", [self._seat_line(100.0)]), start_date=date(2026, 1, 1))
        discount = sub._apply_coupon("WELCOME2", date(2026, 1, 1))
        invoices = [self._bill(sub, date(2026, month, 1)) for month in (1, 2, 3, 4)]
        self.assertEqual([inv.amount_untaxed for inv in invoices], [80.0, 80.0, 100.0, 100.0])
        self.assertEqual([len(self._discount_lines(inv)) for inv in invoices], [1, 1, 0, 0])
        self.assertIn("(coupon WELCOME2)", self._discount_lines(invoices[0]).name)
        self.assertEqual(discount.applied_periods, 2)
        self.assertTrue(discount.is_exhausted)

    def test_coupon_for_two_periods_applies_on_two_invoices_of_a_catch_up_run(self):
        self._coupon("WELCOME3", duration_periods=2)
        sub = self._start(plan=self._plan("CP3", [self._seat_line(100.0)]), start_date=date(2026, 1, 1))
        sub._apply_coupon("WELCOME3", date(2026, 1, 1))
        invoices = self._bill(sub, date(2026, 4, 1)).sorted("invoice_date")
        self.assertEqual(len(invoices), 4)
        # the run prepares all four invoices before creating any: the coupon must still stop after two
        self.assertEqual(invoices.mapped("amount_untaxed"), [80.0, 80.0, 100.0, 100.0])

    def test_forever_coupon_applies_on_every_invoice(self):
        self._coupon("FOREVER", percent=15.0)
        sub = self._start(plan=self._plan("CPF", [self._seat_line(100.0)]), start_date=date(2026, 1, 1))
        discount = sub._apply_coupon("FOREVER", date(2026, 1, 1))
        invoices = [self._bill(sub, date(2026, month, 1)) for month in (1, 2, 3, 4)]
        self.assertEqual([inv.amount_untaxed for inv in invoices], [85.0] * 4)
        self.assertEqual(discount.applied_periods, 4)
        self.assertFalse(discount.is_exhausted)

    def test_coupon_code_is_case_insensitive(self):
        coupon = self._coupon("Welcome")
        self.assertEqual(coupon.code, "WELCOME")
        sub = self._start(plan=self._plan("CPC", [self._seat_line(100.0)]), start_date=date(2026, 1, 1))
        discount = sub._apply_coupon(" welcome ", date(2026, 1, 1))
        self.assertEqual(discount.coupon_id, coupon)
        self.assertEqual((discount.discount_type, discount.percent), ("percent", 20.0))
        self.assertEqual(self._bill(sub, date(2026, 1, 1)).amount_untaxed, 80.0)

    def _assert_coupon_refused(self, sub, code, date_ref, *fragments):
        count = self.env["subscription.discount"].search_count([])
        with self.assertRaises(ValidationError) as caught:
            sub._apply_coupon(code, date_ref)
        for fragment in fragments:
            self.assertIn(fragment, str(caught.exception))
        self.assertEqual(self.env["subscription.discount"].search_count([]), count, "no discount is created")

    def test_unknown_coupon_code_is_refused(self):
        sub = self._start(plan=self._plan("CPE1", [self._seat_line(100.0)]))
        self._assert_coupon_refused(sub, "nosuchcode", date(2026, 1, 1), "NOSUCHCODE", "does not exist")

    def test_coupon_before_its_start_is_refused(self):
        self._coupon("SPRING", valid_from=date(2026, 3, 1))
        sub = self._start(plan=self._plan("CPE2", [self._seat_line(100.0)]))
        self._assert_coupon_refused(sub, "SPRING", date(2026, 2, 28), "SPRING", "valid from", "03/01/2026")

    def test_expired_coupon_is_refused(self):
        self._coupon("WINTER", valid_to=date(2026, 2, 28))
        sub = self._start(plan=self._plan("CPE3", [self._seat_line(100.0)]))
        self._assert_coupon_refused(sub, "WINTER", date(2026, 3, 1), "WINTER", "expired", "02/28/2026")

    def test_coupon_over_its_redemption_limit_is_refused(self):
        self._coupon("ONCE", max_redemptions=1)
        plan = self._plan("CPE4", [self._seat_line(100.0)])
        first, second = self._start(plan=plan), self._start(plan=plan, partner=self.other_customer)
        first._apply_coupon("ONCE", date(2026, 1, 1))
        self._assert_coupon_refused(second, "ONCE", date(2026, 1, 1), "ONCE", "limit")

    def test_fixed_coupon_in_another_currency_is_refused(self):
        self._coupon("TENCHF", discount_type="fixed", percent=0.0, amount=10.0, currency_id=self.chf.id)
        sub = self._start(plan=self._plan("CPE5", [self._seat_line(100.0)]))
        self.assertNotEqual(sub.currency_id, self.chf)
        self._assert_coupon_refused(sub, "TENCHF", date(2026, 1, 1), "TENCHF", "CHF", sub.currency_id.name)

    def test_coupon_applied_twice_is_refused(self):
        self._coupon("TWICE")
        sub = self._start(plan=self._plan("CPE6", [self._seat_line(100.0)]))
        sub._apply_coupon("TWICE", date(2026, 1, 1))
        self._assert_coupon_refused(sub, "twice", date(2026, 1, 2), "TWICE", "already applied", sub.name)

    # ------------------------------------------------------------------
    # zero invoices
    # ------------------------------------------------------------------
    def test_free_plan_creates_no_invoice_and_its_schedule_moves_on(self):
        sub = self._start(plan=self._plan("FREE", [self._seat_line(0.0)]), start_date=date(2026, 1, 1))
        self.assertEqual(sub.next_invoice_date, date(2026, 1, 1))
        self.assertFalse(self._bill(sub, date(2026, 1, 1)))
        self.assertEqual(sub.next_invoice_date, date(2026, 2, 1))
        self.assertFalse(self._bill(sub, date(2026, 2, 1)))
        self.assertEqual(sub.next_invoice_date, date(2026, 3, 1))
        self.assertFalse(sub.invoice_ids)

    def test_free_plan_issuing_zero_invoices_creates_one_per_period(self):
        plan = self._plan("FREE0", [self._seat_line(0.0)], issue_zero_invoices=True)
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        invoice = self._bill(sub, date(2026, 1, 1))
        self.assertEqual(len(invoice), 1)
        self.assertEqual((invoice.amount_total, invoice.invoice_line_ids.price_unit), (0.0, 0.0))
        self.assertEqual(sub.next_invoice_date, date(2026, 2, 1))

    # ------------------------------------------------------------------
    # pay what you want
    # ------------------------------------------------------------------
    def test_price_set_by_hand_at_signup_is_billed_as_set(self):
        plan = self._plan("PWYW", [self._seat_line(100.0)])
        sub = self._create_subscription(
            plan=plan,
            start_date=date(2026, 1, 1),
            line_ids=[Command.create({"product_id": self.product_19.id, "price_unit": 7.5})],
        )
        self.assertEqual(sub.line_ids.price_unit, 7.5)
        sub.action_start()
        invoice = self._bill(sub, date(2026, 1, 1))
        self.assertEqual(invoice.invoice_line_ids.price_unit, 7.5)
        # 19 % of 7.50 = 1.425 -> 1.43
        self.assertEqual((invoice.amount_untaxed, invoice.amount_tax), (7.5, 1.43))

    def test_price_changed_by_hand_before_the_start_is_billed_as_set(self):
        sub = self._create_subscription(plan=self._plan("PWYW2", [self._seat_line(100.0)]), start_date=date(2026, 1, 1))
        sub.line_ids.price_unit = 12.0
        sub.action_start()
        self.assertEqual(self._bill(sub, date(2026, 1, 1)).invoice_line_ids.price_unit, 12.0)
        self.assertEqual(self._bill(sub, date(2026, 2, 1)).invoice_line_ids.price_unit, 12.0)

    def test_usage_given_by_customer_and_metric_finds_the_customers_metering_subscription(self):
        metric = self.env["subscription.usage.metric"].create({"name": "Exports", "code": "exports"})
        plan = self._create_plan(code="EXP", name="Exports plan")
        self.env["subscription.plan.line"].create(
            {
                "plan_id": plan.id,
                "product_id": self.product_support.id,
                "line_type": "usage",
                "metric_id": metric.id,
                "price_unit": 1.0,
            }
        )
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        results = self.env["subscription.usage.record"]._ingest(
            [
                {
                    "partner_id": self.customer_contact.id,
                    "metric": "exports",
                    "quantity": 3,
                    "timestamp": "2026-01-05T08:00:00",
                    "idempotency_key": "by-customer",
                },
                {
                    "partner_id": self.other_customer.id,
                    "metric": "exports",
                    "quantity": 3,
                    "timestamp": "2026-01-05T08:00:00",
                    "idempotency_key": "other-customer",
                },
            ]
        )
        self.assertEqual(results[0]["status"], "created")
        self.assertEqual(self.env["subscription.usage.record"].browse(results[0]["id"]).subscription_id, sub)
        self.assertEqual(results[1]["status"], "rejected")
        self.assertIn(self.other_customer.name, results[1]["error"])

    def test_editing_the_trial_end_extends_the_trial(self):
        plan = self._create_plan(code="TRX", name="Trial plan", trial_period_count=7, trial_period_unit="day")
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        sub.trial_end_date = date(2026, 1, 20)
        self.assertEqual(sub.billing_anchor_date, date(2026, 1, 21))
        self.assertFalse(sub._run_billing(date(2026, 1, 20))["invoices"], "still in the extended trial")
        self.assertEqual(len(sub._run_billing(date(2026, 1, 21))["invoices"]), 1)
