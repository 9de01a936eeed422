import uuid
from datetime import date
from unittest.mock import patch

from freezegun import freeze_time
from psycopg2.errors import ExclusionViolation

from odoo import SUPERUSER_ID, Command, api
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.subscription_billing.models.subscription_subscription import SubscriptionSubscription

from .common import CommittedDataCase, SubscriptionCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestBillingErrors(SubscriptionCommon):
    """One bad subscription does not stop the run; the scheduled run works for real."""

    def test_failing_subscription_does_not_block_the_others(self):
        good_before = self._start(start_date=date(2026, 1, 1))
        bad = self._start(start_date=date(2026, 1, 1))
        good_after = self._start(start_date=date(2026, 1, 1))
        original = SubscriptionSubscription._prepare_invoice_line_values

        def failing_for_bad(subscription, line, period):
            if subscription == bad:
                raise ValueError("tax mapping is broken for this customer")
            return original(subscription, line, period)

        with (
            patch.object(SubscriptionSubscription, "_prepare_invoice_line_values", failing_for_bad),
            mute_logger("odoo.addons.subscription_billing.models.subscription_subscription"),
        ):
            result = (good_before | bad | good_after)._run_billing(date(2026, 1, 1))
        self.assertEqual(result["errors"], bad)
        self.assertEqual(result["invoices"].subscription_ids, good_before | good_after)
        self.assertFalse(bad.invoice_ids, "nothing of the failed subscription is written")
        self.assertEqual(bad.next_period_start, date(2026, 1, 1), "its schedule did not move")
        self.assertIn("tax mapping is broken", bad.billing_error)
        self.assertTrue(bad.has_billing_error)
        self.assertIn(bad, self.env["subscription.subscription"].search([("has_billing_error", "=", True)]))
        self.assertTrue(bad.activity_ids, "the responsible gets an activity")

        # once the cause is gone, the next run bills it and clears the error
        result = bad._run_billing(date(2026, 1, 1))
        self.assertEqual(len(result["invoices"]), 1)
        self.assertFalse(bad.billing_error)

    def test_scheduled_billing_cron_bills_due_subscriptions(self):
        sub = self._start(start_date=date(2026, 5, 1))
        cron = self.env.ref("subscription_billing.ir_cron_subscription_billing")
        with freeze_time("2026-05-01 10:00:00"), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        self.assertEqual(self._billed_periods(sub), [(date(2026, 5, 1), date(2026, 5, 31))])
        with freeze_time("2026-05-01 11:00:00"), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        self.assertEqual(len(sub.invoice_ids), 1, "triggering the cron again the same day bills nothing")

    def test_billing_run_wizard_bills_everything_due_up_to_its_date(self):
        sub = self._start(start_date=date(2026, 1, 1))
        wizard = self.env["subscription.billing.run.wizard"].create({"date_ref": date(2026, 2, 1)})
        action = wizard.action_run()
        self.assertEqual(
            self._billed_periods(sub), [(date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 28))]
        )
        # the summary also when invoices were created, then the customer invoice list with its columns
        self.assertEqual(action["tag"], "display_notification")
        self.assertIn("2 invoice(s) created, 0 subscription(s) in error", action["params"]["message"])
        invoices = action["params"]["next"]
        self.assertEqual(self.env["account.move"].search(invoices["domain"]), sub.invoice_ids)
        self.assertEqual(invoices["context"]["default_move_type"], "out_invoice", "customer and date columns")


@tagged("post_install", "-at_install", "subscription_billing")
class TestBillingConcurrency(CommittedDataCase):
    """Two workers, a crash halfway: each period is still billed exactly once.

    These tests need committed data visible to several real database cursors.
    The data lives in the year 2090 so that no other test ever finds it due.
    """

    START = date(2090, 1, 1)

    def setUp(self):
        super().setUp()
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = self._main_company_with_chart(env)
            product = env["product.product"].create(
                {"name": "Concurrency hosting", "type": "service", "subscription_ok": True, "taxes_id": False}
            )
            plan = env["subscription.plan"].create(
                {
                    "name": "Concurrency monthly",
                    "code": f"CONC-{uuid.uuid4().hex}",  # committed data: unique on every run
                    "company_id": company.id,
                    "line_ids": [Command.create({"product_id": product.id, "price_unit": 10.0})],
                }
            )
            partner = env["res.partner"].create({"name": "Concurrency customer"})
            subs = env["subscription.subscription"].create(
                [
                    {"partner_id": partner.id, "plan_id": plan.id, "start_date": self.START, "company_id": company.id}
                    for _i in range(5)
                ]
            )
            self._delete_later(product, plan, partner, subs)
            subs.action_start()
            cr.commit()  # pylint: disable=invalid-commit  # the workers under test run in their own cursors
            self.subscription_ids = subs.ids

    def _billed_line_count(self):
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return env["account.move.line"].search_count(
                [
                    ("subscription_id", "in", self.subscription_ids),
                    ("parent_state", "!=", "cancel"),
                ]
            )

    def test_two_workers_at_once_bill_each_period_once(self):
        env_a, env_b = self._env(), self._env()
        subs_a = env_a["subscription.subscription"].browse(self.subscription_ids)
        subs_b = env_b["subscription.subscription"].browse(self.subscription_ids)
        # worker B reads the due periods before worker A commits
        units_b, _failed = env_b["subscription.billing.run"]._get_billing_units(subs_b, self.START)
        self.assertEqual(len(units_b), 5)

        result_a = subs_a._run_billing(self.START)
        self.assertEqual(len(result_a["invoices"]), 5)
        # while A holds its locks, B skips the subscriptions instead of billing them
        result_b = subs_b._run_billing(self.START)
        self.assertFalse(result_b["invoices"])
        env_a.cr.commit()

        # B bypassing the locks with its stale view is stopped by the database
        with self.assertRaises(ExclusionViolation), mute_logger("odoo.sql_db"):
            env_b["subscription.billing.run"]._bill_units(units_b)
            env_b.cr.flush()
        env_b.cr.rollback()

        # B's next run sees the committed state and bills nothing
        env_b.invalidate_all()
        self.assertFalse(subs_b._run_billing(self.START)["invoices"])
        env_b.cr.commit()
        self.assertEqual(self._billed_line_count(), 5)

    def test_rerun_after_a_crash_halfway_bills_the_rest_once(self):
        env_a = self._env()
        Subscription = env_a["subscription.subscription"]
        original = SubscriptionSubscription._run_billing
        calls = []

        def crash_on_second_batch(subscriptions, date_ref):
            calls.append(subscriptions.ids)
            if len(calls) == 2:
                raise KeyboardInterrupt("worker killed")
            return original(subscriptions, date_ref)

        domain = [("id", "in", self.subscription_ids)]
        with (
            patch.object(SubscriptionSubscription, "_run_billing", crash_on_second_batch),
            patch.object(
                type(Subscription),
                "_get_subscriptions_to_bill_domain",
                lambda self, date_ref: domain + [("next_invoice_date", "<=", date_ref)],
            ),
        ):
            with self.assertRaises(KeyboardInterrupt):
                Subscription._run_billing_for_all(self.START, commit=True, batch_size=2)
        env_a.cr.rollback()
        self.assertEqual(self._billed_line_count(), 2, "the first batch was committed before the crash")

        env_b = self._env()
        with patch.object(
            type(env_b["subscription.subscription"]),
            "_get_subscriptions_to_bill_domain",
            lambda self, date_ref: domain + [("next_invoice_date", "<=", date_ref)],
        ):
            result = env_b["subscription.subscription"]._run_billing_for_all(self.START, commit=True, batch_size=2)
        self.assertEqual(len(result["invoices"]), 3, "the rerun bills exactly the three that were left")
        self.assertEqual(self._billed_line_count(), 5)
