from datetime import date

from psycopg2 import IntegrityError

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestInputValidation(SubscriptionCommon):
    """Bad input is refused with a message that says what is wrong, and nothing is written."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.chf = cls.setup_other_currency("CHF")

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    def _refused(self, model, operation, exceptions=(ValidationError, IntegrityError)):
        """Run ``operation`` (flushed) in a savepoint, expect it to be refused; return the user message.

        A database constraint violation is turned into the message the user would see
        (as the RPC layer does with ``_sql_error_to_message``).
        """
        # (Odoo's assertRaises takes a single exception class)
        with self.assertRaises(Exception) as caught:
            with mute_logger("odoo.sql_db"), self.env.cr.savepoint():
                operation()
                self.env.flush_all()
        error = caught.exception
        self.assertIsInstance(error, exceptions, f"refused with an unexpected {type(error).__name__}: {error}")
        if isinstance(error, IntegrityError):
            return self.env[model]._sql_error_to_message(error)
        return str(error)

    def _count(self, model, domain=()):
        return self.env[model].with_context(active_test=False).search_count(list(domain))

    # ------------------------------------------------------------------
    # dates
    # ------------------------------------------------------------------
    def test_create_with_end_before_start_is_refused(self):
        before = self._count("subscription.subscription")
        message = self._refused(
            "subscription.subscription",
            lambda: self._create_subscription(start_date=date(2026, 3, 1), end_date=date(2026, 2, 28)),
        )
        self.assertIn("end date", message.lower())
        self.assertEqual(self._count("subscription.subscription"), before, "no subscription was created")

    def test_write_end_before_start_is_refused_naming_the_subscription(self):
        sub = self._start(start_date=date(2026, 3, 1))
        message = self._refused("subscription.subscription", lambda: sub.write({"end_date": date(2026, 2, 28)}))
        self.assertIn(sub.name, message)
        self.assertIn("end date", message.lower())
        sub.invalidate_recordset()
        self.assertFalse(sub.end_date, "the end date was not written")

    def test_moving_the_start_after_the_end_is_refused(self):
        sub = self._create_subscription(start_date=date(2026, 3, 1), end_date=date(2026, 6, 30))
        message = self._refused("subscription.subscription", lambda: sub.write({"start_date": date(2026, 7, 1)}))
        self.assertIn(sub.name, message)
        sub.invalidate_recordset()
        self.assertEqual(sub.start_date, date(2026, 3, 1))

    def test_end_on_the_start_day_is_accepted(self):
        sub = self._create_subscription(start_date=date(2026, 3, 1), end_date=date(2026, 3, 1))
        self.assertEqual(sub.end_date, sub.start_date)

    # ------------------------------------------------------------------
    # subscription lines
    # ------------------------------------------------------------------
    def test_negative_quantity_on_a_new_line_is_refused(self):
        sub = self._create_subscription()
        lines_before = len(sub.line_ids)
        message = self._refused(
            "subscription.line",
            lambda: self.env["subscription.line"].create(
                {
                    "subscription_id": sub.id,
                    "product_id": self.product_support.id,
                    "quantity": -2,
                }
            ),
        )
        self.assertIn("quantity", message.lower())
        sub.invalidate_recordset()
        self.assertEqual(len(sub.line_ids), lines_before)

    def test_negative_quantity_on_an_existing_line_is_refused_naming_product_and_subscription(self):
        sub = self._create_subscription()
        line = sub.line_ids
        message = self._refused(
            "subscription.line",
            lambda: sub.write(
                {
                    "line_ids": [Command.update(line.id, {"quantity": -1})],
                }
            ),
        )
        self.assertIn(sub.name, message)
        self.assertIn(self.product_hosting.name, message)
        line.invalidate_recordset()
        self.assertEqual(line.quantity, 1.0)

    def test_negative_unit_price_on_a_line_is_refused(self):
        sub = self._create_subscription()
        line = sub.line_ids
        message = self._refused("subscription.line", lambda: line.write({"price_unit": -5.0}))
        self.assertIn(sub.name, message)
        line.invalidate_recordset()
        self.assertEqual(line.price_unit, 100.0)

    def test_discount_over_100_percent_is_refused(self):
        line = self._create_subscription().line_ids
        message = self._refused("subscription.line", lambda: line.write({"discount": 150.0}))
        self.assertIn("discount", message.lower())
        line.invalidate_recordset()
        self.assertEqual(line.discount, 0.0)

    # ------------------------------------------------------------------
    # companies
    # ------------------------------------------------------------------
    def test_line_with_a_product_of_another_company_is_refused(self):
        company_2 = self.setup_other_company()["company"]
        foreign_product = self.env["product.product"].create(
            {
                "name": "Foreign Hosting",
                "type": "service",
                "list_price": 10.0,
                "subscription_ok": True,
                "company_id": company_2.id,
            }
        )
        sub = self._create_subscription()
        lines_before = len(sub.line_ids)
        message = self._refused(
            "subscription.line",
            lambda: self.env["subscription.line"].create(
                {
                    "subscription_id": sub.id,
                    "product_id": foreign_product.id,
                }
            ),
            exceptions=(UserError, ValidationError),
        )
        self.assertIn("Foreign Hosting", message)
        sub.invalidate_recordset()
        self.assertEqual(len(sub.line_ids), lines_before)

    def test_plan_line_with_a_product_of_another_company_is_refused(self):
        company_2 = self.setup_other_company()["company"]
        foreign_product = self.env["product.product"].create(
            {
                "name": "Foreign Support",
                "type": "service",
                "subscription_ok": True,
                "company_id": company_2.id,
            }
        )
        plans_before = self._count("subscription.plan")
        message = self._refused(
            "subscription.plan",
            lambda: self._create_plan(
                code="FOREIGN",
                name="Plan with foreign product",
                product=foreign_product,
                company_id=self.env.company.id,
            ),
            exceptions=(UserError, ValidationError),
        )
        self.assertIn("Foreign Support", message)
        self.assertEqual(self._count("subscription.plan"), plans_before)

    def test_subscription_for_a_customer_of_another_company_is_refused(self):
        company_2 = self.setup_other_company()["company"]
        foreign_customer = self.env["res.partner"].create({"name": "Foreign Customer", "company_id": company_2.id})
        before = self._count("subscription.subscription")
        message = self._refused(
            "subscription.subscription",
            lambda: self._create_subscription(partner=foreign_customer),
            exceptions=(UserError, ValidationError),
        )
        self.assertIn("Foreign Customer", message)
        self.assertEqual(self._count("subscription.subscription"), before)

    def test_subscription_on_a_plan_of_another_company_is_refused(self):
        company_2 = self.setup_other_company()["company"]
        foreign_plan = self._create_plan(code="C2", name="Company 2 plan", company_id=company_2.id)
        before = self._count("subscription.subscription")
        message = self._refused(
            "subscription.subscription",
            lambda: self._create_subscription(plan=foreign_plan),
            exceptions=(UserError, ValidationError),
        )
        self.assertIn("Company 2 plan", message)
        self.assertEqual(self._count("subscription.subscription"), before)

    # ------------------------------------------------------------------
    # currencies and prices
    # ------------------------------------------------------------------
    def test_subscription_in_a_currency_without_plan_price_is_refused(self):
        self.assertNotEqual(self.plan_monthly.currency_id, self.chf)
        before = self._count("subscription.subscription")
        message = self._refused("subscription.subscription", lambda: self._create_subscription(currency_id=self.chf.id))
        self.assertIn(self.plan_monthly.name, message)
        self.assertIn("CHF", message)
        self.assertEqual(self._count("subscription.subscription"), before)
        self.assertEqual(self._count("subscription.line", [("currency_id", "=", self.chf.id)]), 0)

    def test_switching_to_a_currency_without_plan_price_is_refused(self):
        sub = self._create_subscription()
        currency = sub.currency_id
        message = self._refused("subscription.subscription", lambda: sub.write({"currency_id": self.chf.id}))
        self.assertIn(self.plan_monthly.name, message)
        self.assertIn("CHF", message)
        sub.invalidate_recordset()
        self.assertEqual(sub.currency_id, currency)

    def test_plan_price_in_another_currency_is_used_for_the_subscription(self):
        plan = self._create_plan(code="CH", name="Swiss plan", price=100.0)
        plan.line_ids.price_ids = [Command.create({"currency_id": self.chf.id, "price_unit": 95.0})]
        sub = self._start(plan=plan, currency_id=self.chf.id, start_date=date(2026, 1, 1))
        self.assertEqual(sub.currency_id, self.chf)
        self.assertEqual(sub.line_ids.price_unit, 95.0, "the CHF price, not a conversion of 100")
        invoice = sub._run_billing(date(2026, 1, 1))["invoices"]
        self.assertEqual(invoice.currency_id, self.chf)
        self.assertEqual(invoice.invoice_line_ids.price_unit, 95.0)

    def test_subscription_defaults_to_the_plan_currency_and_price(self):
        plan = self._create_plan(code="DEF", name="Default currency plan", price=42.0)
        plan.line_ids.price_ids = [Command.create({"currency_id": self.chf.id, "price_unit": 40.0})]
        sub = self._create_subscription(plan=plan)
        self.assertEqual(sub.currency_id, plan.currency_id)
        self.assertEqual(sub.line_ids.price_unit, 42.0)

    def test_second_price_in_the_same_currency_is_refused(self):
        plan = self._create_plan(code="DUP", name="Duplicate price plan")
        plan_line = plan.line_ids
        plan_line.price_ids = [Command.create({"currency_id": self.chf.id, "price_unit": 95.0})]
        message = self._refused(
            "subscription.plan.price",
            lambda: self.env["subscription.plan.price"].create(
                {
                    "plan_line_id": plan_line.id,
                    "currency_id": self.chf.id,
                    "price_unit": 90.0,
                }
            ),
        )
        self.assertIn("currency", message.lower())
        plan_line.invalidate_recordset()
        self.assertEqual(plan_line.price_ids.mapped("price_unit"), [95.0])

    def test_negative_plan_line_price_is_refused_naming_plan_and_product(self):
        plans_before = self._count("subscription.plan")
        message = self._refused(
            "subscription.plan", lambda: self._create_plan(code="NEG", name="Negative plan", price=-10.0)
        )
        self.assertIn("Negative plan", message)
        self.assertIn(self.product_hosting.name, message)
        self.assertEqual(self._count("subscription.plan"), plans_before)

    def test_negative_plan_price_in_another_currency_is_refused(self):
        plan_line = self.plan_monthly.line_ids
        message = self._refused(
            "subscription.plan.price",
            lambda: self.env["subscription.plan.price"].create(
                {
                    "plan_line_id": plan_line.id,
                    "currency_id": self.chf.id,
                    "price_unit": -1.0,
                }
            ),
        )
        self.assertIn("negative", message.lower())
        self.assertEqual(self._count("subscription.plan.price", [("plan_line_id", "=", plan_line.id)]), 0)

    # ------------------------------------------------------------------
    # plan rhythm and terms
    # ------------------------------------------------------------------
    def test_billing_period_of_zero_is_refused_on_a_new_plan(self):
        plans_before = self._count("subscription.plan")
        message = self._refused(
            "subscription.plan", lambda: self._create_plan(code="ZERO", name="Zero period plan", billing_period_count=0)
        )
        self.assertIn("billing period", message.lower())
        self.assertEqual(self._count("subscription.plan"), plans_before)

    def test_billing_period_of_zero_is_refused_on_a_plan_in_use(self):
        # A plan with running subscriptions: the user must get a validation message, not a crash
        # in the schedule computation.
        plan = self._create_plan(code="USED", name="Plan in use")
        self._start(plan=plan)
        message = self._refused("subscription.plan", lambda: plan.write({"billing_period_count": 0}))
        self.assertIn("billing period", message.lower())
        plan.invalidate_recordset()
        self.assertEqual(plan.billing_period_count, 1)

    def test_negative_billing_period_is_refused(self):
        message = self._refused(
            "subscription.plan",
            lambda: self._create_plan(code="NEGP", name="Negative period plan", billing_period_count=-1),
        )
        self.assertIn("billing period", message.lower())

    def test_negative_notice_period_is_refused(self):
        plan = self._create_plan(code="NOT", name="Notice plan")
        message = self._refused("subscription.plan", lambda: plan.write({"notice_period_count": -1}))
        self.assertIn("notice", message.lower())
        plan.invalidate_recordset()
        self.assertEqual(plan.notice_period_count, 0)

    def test_duplicate_plan_code_in_a_company_is_refused(self):
        plans_before = self._count("subscription.plan")
        message = self._refused("subscription.plan", lambda: self._create_plan(code="M", name="Another monthly"))
        self.assertIn("code", message.lower())
        self.assertEqual(self._count("subscription.plan"), plans_before)
