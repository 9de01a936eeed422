from datetime import date

from odoo import Command
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import format_amount, format_date

from .common import SubscriptionCommon

#: CHF per 1 EUR, by the first day each rate applies (hand-picked, not today's market)
CHF_RATES = [("2026-01-01", 0.9437), ("2026-02-01", 0.9312)]
#: USD per 1 EUR
USD_RATES = [("2026-01-01", 1.085)]


@tagged("post_install", "-at_install", "subscription_billing")
class TestMulticurrencyPricing(SubscriptionCommon):
    """An EUR company bills USD and CHF subscriptions of an EUR plan: explicit prices per currency,
    or the EUR price converted with the company's rate of each invoice date (shown on the line)."""

    @classmethod
    def setup_independent_company(cls, **kwargs):
        # the test company keeps its books in EUR
        return super().setup_independent_company(currency_id=cls._enable_currency("EUR").id, **kwargs)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.env.company.currency_id
        # the company currency is the reference: no rate of its own (Odoo then takes 1)
        cls.eur.rate_ids.unlink()
        cls.usd = cls.setup_other_currency("USD", rates=USD_RATES)
        cls.chf = cls.setup_other_currency("CHF", rates=CHF_RATES)
        cls.tax_19 = cls.env["account.tax"].create(
            {"name": "VAT 19 %", "amount_type": "percent", "amount": 19.0, "type_tax_use": "sale"}
        )
        Product = cls.env["product.product"]
        product_vals = {"type": "service", "subscription_ok": True, "taxes_id": [Command.set(cls.tax_19.ids)]}
        cls.product_seat = Product.create({**product_vals, "name": "Cloud seat", "list_price": 99.99})
        cls.product_support = Product.create({**product_vals, "name": "Support", "list_price": 30.0})
        cls.product_setup = Product.create({**product_vals, "name": "Onboarding", "list_price": 50.0})
        cls.product_api = Product.create({**product_vals, "name": "API calls", "list_price": 0.0})
        cls.metric = cls.env["subscription.usage.metric"].create(
            {"name": "API requests", "code": "fx_api_requests", "aggregation": "sum"}
        )
        # EUR plan: 3 seats at 99.99 EUR, 110 USD set explicitly, every other currency converted
        cls.plan_fx = cls._fx_plan("FX", [cls._seat(quantity=3.0, usd=110.0)], allow_currency_conversion=True)

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    @classmethod
    def _fx_plan(cls, code, lines, **values):
        return cls.env["subscription.plan"].create(
            {"name": f"Plan {code}", "code": code, "line_ids": [Command.create(vals) for vals in lines], **values}
        )

    @classmethod
    def _seat(cls, price=99.99, quantity=1.0, product=None, usd=None, chf=None, **values):
        product = product or cls.product_seat
        prices = [(cls.usd, usd), (cls.chf, chf)]
        return {
            "product_id": product.id,
            "name": product.name,
            "price_unit": price,
            "quantity": quantity,
            "price_ids": [
                Command.create({"currency_id": currency.id, "price_unit": amount})
                for currency, amount in prices
                if amount is not None
            ],
            **values,
        }

    def _bill(self, sub, day):
        result = sub._run_billing(day)
        self.assertFalse(result["errors"], sub.billing_error)
        return result["invoices"]

    @staticmethod
    def _line_of(invoices, sub_line):
        return invoices.invoice_line_ids.filtered(lambda aml: aml.subscription_line_id == sub_line)

    def _rate_text(self, amount, day, rate, per_unit=True):
        """The conversion note expected on an invoice line, written out."""
        prefix = "Unit price converted" if per_unit else "Converted"
        return f"{prefix} from {amount} EUR at 1 EUR = {rate} CHF ({format_date(self.env, day)})"

    # ------------------------------------------------------------------
    # explicit prices and conversion
    # ------------------------------------------------------------------
    def test_company_books_in_eur(self):
        self.assertEqual(self.env.company.currency_id.name, "EUR")
        self.assertEqual(self.plan_fx.currency_id, self.eur)

    def test_usd_subscription_uses_the_explicit_usd_price(self):
        sub = self._start(plan=self.plan_fx, currency_id=self.usd.id)
        line = sub.line_ids
        self.assertEqual((line.price_currency_id, line.price_unit), (self.usd, 110.0))
        invoice = self._bill(sub, date(2026, 1, 1))
        self.assertEqual(invoice.currency_id, self.usd)
        aml = self._line_of(invoice, line)
        # 110 USD as set, not 99.99 × 1.085 = 108.49
        self.assertEqual((aml.quantity, aml.price_unit), (3.0, 110.0))
        self.assertFalse(aml.subscription_exchange_rate)
        self.assertFalse(aml.subscription_rate_currency_id)
        self.assertNotIn("converted", aml.name.lower())

    def test_chf_subscription_converts_at_the_rate_of_each_invoice_date(self):
        sub = self._start(plan=self.plan_fx, currency_id=self.chf.id)
        line = sub.line_ids
        self.assertEqual(line.price_currency_id, self.eur, "priced in the plan currency, converted per invoice")
        self.assertEqual(line.price_unit, 99.99)
        january = self._bill(sub, date(2026, 1, 1))
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual((january.currency_id, february.currency_id), (self.chf, self.chf))
        jan_line, feb_line = self._line_of(january, line), self._line_of(february, line)
        # January: 99.99 × 0.9437 = 94.360563 -> 94.36 CHF; × 3 seats = 283.08
        self.assertEqual((jan_line.quantity, jan_line.price_unit), (3.0, 94.36))
        self.assertEqual(january.amount_untaxed, 283.08)
        # February: 99.99 × 0.9312 = 93.110688 -> 93.11 CHF; × 3 = 279.33
        self.assertEqual((feb_line.quantity, feb_line.price_unit), (3.0, 93.11))
        self.assertEqual(february.amount_untaxed, 279.33)
        # 19 % VAT on 283.08 = 53.7852 -> 53.79 CHF
        self.assertEqual(january.amount_tax, 53.79)
        # the rate used is on the line, for an auditor
        self.assertEqual(jan_line.subscription_exchange_rate, 0.9437)
        self.assertEqual(jan_line.subscription_rate_currency_id, self.eur)
        self.assertEqual(jan_line.subscription_rate_date, date(2026, 1, 1))
        self.assertEqual(feb_line.subscription_exchange_rate, 0.9312)
        self.assertEqual(feb_line.subscription_rate_date, date(2026, 2, 1))
        self.assertIn(self._rate_text("99.99", date(2026, 1, 1), "0.9437"), jan_line.name)
        self.assertIn(self._rate_text("99.99", date(2026, 2, 1), "0.9312"), feb_line.name)

    def test_chf_invoice_books_chf_amounts_and_eur_balances_at_the_same_rate(self):
        sub = self._start(plan=self.plan_fx, currency_id=self.chf.id)
        january = self._bill(sub, date(2026, 1, 1))
        self.assertEqual(january.state, "posted")
        aml = self._line_of(january, sub.line_ids)
        self.assertEqual(aml.currency_id, self.chf)
        # revenue is a credit: -283.08 CHF, in EUR 283.08 / 0.9437 = 299.968... -> 299.97
        self.assertAlmostEqual(aml.amount_currency, -283.08, places=2)
        self.assertAlmostEqual(aml.balance, -299.97, places=2)
        # Odoo's float quotient (0.9437000000000001) and the rate the line used are one rate
        self.assertAlmostEqual(january.invoice_currency_rate, aml.subscription_exchange_rate, places=12)
        tax_line = january.line_ids.filtered(lambda ml: ml.display_type == "tax")
        receivable = january.line_ids.filtered(lambda ml: ml.display_type == "payment_term")
        # VAT: 19 % of 283.08 = 53.79 CHF; Odoo books it in EUR on the EUR base: 19 % of 299.97 = 56.9943 -> 56.99
        self.assertAlmostEqual(tax_line.amount_currency, -53.79, places=2)
        self.assertAlmostEqual(tax_line.balance, -56.99, places=2)
        # receivable: 283.08 + 53.79 = 336.87 CHF; 299.97 + 56.99 = 356.96 EUR
        self.assertAlmostEqual(receivable.amount_currency, 336.87, places=2)
        self.assertAlmostEqual(receivable.balance, 356.96, places=2)
        self.assertAlmostEqual(sum(january.line_ids.mapped("balance")), 0.0, places=2)

    def test_draft_moved_to_another_currency_takes_the_plans_prices_in_it(self):
        plan = self._fx_plan(
            "FXMOVE",
            [self._seat(chf=95.0), self._seat(30.0, product=self.product_support)],
            allow_currency_conversion=True,
        )
        sub = self._create_subscription(plan=plan)  # EUR, draft
        seat = sub.line_ids.filtered(lambda line: line.product_id == self.product_seat)
        self.assertEqual((seat.price_currency_id, seat.price_unit), (self.eur, 99.99))
        sub.currency_id = self.chf
        support = sub.line_ids - seat
        self.assertEqual((seat.price_currency_id, seat.price_unit), (self.chf, 95.0), "the explicit CHF price")
        self.assertEqual((support.price_currency_id, support.price_unit), (self.eur, 30.0), "converted per invoice")

    def test_explicit_chf_price_wins_over_conversion_line_by_line(self):
        plan = self._fx_plan(
            "FXMIX",
            [self._seat(chf=95.0), self._seat(30.0, product=self.product_support)],
            allow_currency_conversion=True,
        )
        sub = self._start(plan=plan, currency_id=self.chf.id)
        seat = sub.line_ids.filtered(lambda line: line.product_id == self.product_seat)
        support = sub.line_ids - seat
        self.assertEqual((seat.price_currency_id, support.price_currency_id), (self.chf, self.eur))
        invoice = self._bill(sub, date(2026, 1, 1))
        self.assertEqual(self._line_of(invoice, seat).price_unit, 95.0, "the CHF price as set")
        self.assertFalse(self._line_of(invoice, seat).subscription_exchange_rate)
        # 30 EUR × 0.9437 = 28.311 -> 28.31 CHF
        self.assertEqual(self._line_of(invoice, support).price_unit, 28.31)
        self.assertEqual(invoice.amount_untaxed, 123.31)

    def test_plan_in_usd_converts_into_chf_through_the_company_rates(self):
        plan = self._fx_plan("FXUSD", [self._seat(100.0)], currency_id=self.usd.id, allow_currency_conversion=True)
        sub = self._start(plan=plan, currency_id=self.chf.id)
        self.assertEqual(sub.line_ids.price_currency_id, self.usd)
        invoice = self._bill(sub, date(2026, 1, 1))
        aml = self._line_of(invoice, sub.line_ids)
        # 1 USD = 0.9437 / 1.085 = 0.86976958525... CHF: 100 USD -> 86.976958... -> 86.98 CHF
        self.assertEqual(aml.price_unit, 86.98)
        self.assertAlmostEqual(aml.subscription_exchange_rate, 0.9437 / 1.085, places=10)
        self.assertIn("from 100.00 USD at 1 USD = 0.869770 CHF", aml.name)

    def test_line_added_by_hand_for_a_plan_product_keeps_the_plan_price_to_convert(self):
        plan = self._fx_plan(
            "FXHAND",
            [self._seat(), self._seat(30.0, product=self.product_support, optional=True)],
            allow_currency_conversion=True,
        )
        sub = self._create_subscription(plan=plan, currency_id=self.chf.id)
        line = self.env["subscription.line"].create({"subscription_id": sub.id, "product_id": self.product_support.id})
        self.assertEqual((line.price_currency_id, line.price_unit), (self.eur, 30.0))
        sub.action_start()
        invoice = self._bill(sub, date(2026, 1, 1))
        # 30 EUR × 0.9437 = 28.311 -> 28.31 CHF
        self.assertEqual(self._line_of(invoice, line).price_unit, 28.31)

    def test_plan_without_conversion_still_refuses_a_chf_subscription(self):
        plan = self._fx_plan("NOFX", [self._seat(usd=110.0)])
        self.assertFalse(plan.allow_currency_conversion)
        count = self.env["subscription.subscription"].search_count([])
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self._create_subscription(plan=plan, currency_id=self.chf.id)
        self.assertEqual(
            str(caught.exception),
            "Plan Plan NOFX has no price in CHF for Cloud seat: add a price per currency on the plan "
            "or choose the currency EUR.",
        )
        self.assertEqual(self.env["subscription.subscription"].search_count([]), count)
        # the same plan converting accepts it
        plan.allow_currency_conversion = True
        self.assertEqual(self._create_subscription(plan=plan, currency_id=self.chf.id).line_ids.price_unit, 99.99)

    def test_missing_rate_on_the_invoice_date_stops_the_billing_of_that_subscription(self):
        sub = self._start(plan=self.plan_fx, currency_id=self.chf.id, start_date=date(2025, 12, 1))
        result = sub._run_billing(date(2025, 12, 1))
        self.assertEqual(result["errors"], sub)
        self.assertFalse(result["invoices"], "no invoice at a made-up rate")
        self.assertIn("CHF has no exchange rate on or before", sub.billing_error)
        self.assertEqual(sub.next_period_start, date(2025, 12, 1), "the period stays due")

    # ------------------------------------------------------------------
    # tiers, usage, setup fees
    # ------------------------------------------------------------------
    def test_tiered_amount_in_eur_is_converted(self):
        tiers = [(10.0, 4.99, 0.0, False), (0.0, 2.49, 5.0, True)]
        plan = self._fx_plan(
            "FXTIER",
            [
                {
                    "product_id": self.product_seat.id,
                    "name": "Seats, tiered",
                    "price_unit": 0.0,
                    "quantity": 25.0,
                    "pricing_model": "graduated",
                    "tier_ids": [
                        Command.create(
                            {
                                "currency_id": self.eur.id,
                                "up_to": up_to,
                                "unit_price": price,
                                "flat_fee": fee,
                                "up_to_unlimited": unlimited,
                            }
                        )
                        for up_to, price, fee, unlimited in tiers
                    ],
                }
            ],
            allow_currency_conversion=True,
        )
        sub = self._start(plan=plan, currency_id=self.chf.id)
        line = sub.line_ids
        self.assertEqual(line.tier_ids.currency_id, self.eur, "the EUR table is copied, to convert per invoice")
        january = self._bill(sub, date(2026, 1, 1))
        february = self._bill(sub, date(2026, 2, 1))
        # 10 × 4.99 + 15 × 2.49 + 5.00 flat = 49.90 + 37.35 + 5.00 = 92.25 EUR
        # January: 92.25 × 0.9437 = 87.056325 -> 87.06 CHF; February: × 0.9312 = 85.9032 -> 85.90 CHF
        jan_line, feb_line = self._line_of(january, line), self._line_of(february, line)
        self.assertEqual((jan_line.quantity, jan_line.price_unit), (1.0, 87.06))
        self.assertEqual(feb_line.price_unit, 85.90)
        self.assertIn("10 × 4.99, 15 × 2.49 + 5.00 flat", jan_line.name)
        self.assertIn(self._rate_text("92.25", date(2026, 1, 1), "0.9437", per_unit=False), jan_line.name)

    def test_usage_is_converted_at_the_rate_of_the_invoice_that_bills_it(self):
        usage = {
            "product_id": self.product_api.id,
            "name": "API usage",
            "price_unit": 0.5,
            "line_type": "usage",
            "metric_id": self.metric.id,
        }
        plan = self._fx_plan("FXUSE", [self._seat(), usage], billing_timing="arrears", allow_currency_conversion=True)
        sub = self._start(plan=plan, currency_id=self.chf.id)
        self.env["subscription.usage.record"]._ingest(
            [
                {
                    "subscription_id": sub.id,
                    "metric": self.metric.code,
                    "quantity": quantity,
                    "timestamp": timestamp,
                    "idempotency_key": key,
                }
                for quantity, timestamp, key in [(100, "2026-01-05T10:00:00", "a"), (50, "2026-01-25T10:00:00", "b")]
            ]
        )
        invoice = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(invoice.invoice_date, date(2026, 2, 1))
        usage_line = sub.line_ids.filtered(lambda line: line.line_type == "usage")
        aml = self._line_of(invoice, usage_line)
        # January's 150 requests × 0.50 EUR = 75.00 EUR, invoiced on 1 February: × 0.9312 = 69.84 CHF
        # (the January rate would give 70.78)
        self.assertEqual(aml.price_unit, 69.84)
        self.assertEqual(aml.subscription_exchange_rate, 0.9312)
        self.assertIn(self._rate_text("75.00", date(2026, 2, 1), "0.9312", per_unit=False), aml.name)

    def test_setup_fee_is_converted_on_the_first_invoice(self):
        setup = self._seat(50.0, product=self.product_setup, line_type="setup")
        plan = self._fx_plan("FXSETUP", [self._seat(), setup], allow_currency_conversion=True)
        sub = self._start(plan=plan, currency_id=self.chf.id)
        invoice = self._bill(sub, date(2026, 1, 1))
        fee = self._line_of(invoice, sub.line_ids.filtered(lambda line: line.line_type == "setup"))
        # 50 × 0.9437 = 47.185 -> 47.19 CHF (half away from zero)
        self.assertEqual(fee.price_unit, 47.19)
        self.assertEqual(fee.subscription_exchange_rate, 0.9437)

    # ------------------------------------------------------------------
    # MRR and the change preview
    # ------------------------------------------------------------------
    def test_mrr_is_in_the_subscription_currency_at_the_rate_of_the_reference_date(self):
        sub = self._start(plan=self.plan_fx, currency_id=self.chf.id)
        # 3 × 94.36 = 283.08 CHF at the January rate; 3 × 93.11 = 279.33 at February's
        self.assertEqual(float(sub._get_mrr(sub.line_ids, date(2026, 1, 15))), 283.08)
        self.assertEqual(float(sub._get_mrr(sub.line_ids, date(2026, 2, 15))), 279.33)
        yearly = self._fx_plan("FXY", [self._seat(1200.0)], billing_period_unit="year", allow_currency_conversion=True)
        sub_yearly = self._start(plan=yearly, currency_id=self.chf.id)
        # 1200 × 0.9437 = 1132.44 CHF a year -> 94.37 a month
        self.assertEqual(float(sub_yearly._get_mrr(sub_yearly.line_ids, date(2026, 1, 15))), 94.37)

    def test_change_preview_gives_mrr_and_proration_in_chf(self):
        sub = self._start(plan=self.plan_fx, currency_id=self.chf.id)
        self._bill(sub, date(2026, 2, 1))
        wizard = self.env["subscription.change.wizard"].create(
            {
                "subscription_id": sub.id,
                "new_plan_id": self.plan_fx.id,
                "timing": "immediate",
                "date_ref": date(2026, 2, 16),
            }
        )
        wizard.line_ids.quantity = 5.0
        values = self.env["subscription.change"]._prepare_change(
            sub, wizard._get_target(), "immediate", date(2026, 2, 16)
        )
        # at the rate of 16 February (0.9312): 3 × 93.11 = 279.33 CHF before, 5 × 93.11 = 465.55 after
        self.assertEqual((values["mrr_before"], values["mrr_after"]), (279.33, 465.55))
        change = self.env["subscription.change"].new(values)
        charges = change._prepare_proration_charges()
        # February (invoiced on 1 February at 0.9312), 16-28 = 13 of 28 days:
        # credit 279.33 × 13/28 = 129.689... -> 129.69; charge 465.55 × 13/28 = 216.148... -> 216.15
        self.assertEqual(sorted(charge["price_unit"] for charge in charges), [-129.69, 216.15])
        self.assertFalse(wizard.preview_error)
        for amount in (279.33, 465.55, -129.69, 216.15):
            self.assertIn(format_amount(self.env, amount, self.chf), wizard.preview_html)
