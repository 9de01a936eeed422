"""Issue 9: two and three workers billing the same due set at once, one killed mid-run, a rerun.

Each worker is a thread with its own database connection and transaction,
running the cron's loop (``_run_billing_for_all`` with commits per batch of 2).
The killed worker raises on its second batch: its open transaction is rolled
back, as when a process dies. After a rerun, SQL checks: no day billed twice,
no subscription's period lost, one invoice per grouping customer, no invoice
without lines. The data is committed in the year 2091, which no other test
bills, and deleted after each test (``CommittedDataCase._delete_later``).
"""

import threading
import uuid
from datetime import date
from unittest.mock import patch

from odoo import SUPERUSER_ID, Command, api
from odoo.tests import tagged

from odoo.addons.subscription_billing.models.subscription_subscription import SubscriptionSubscription

from .common import CommittedDataCase, count_days_billed_twice


@tagged("post_install", "-at_install", "subscription_billing")
class TestBillingWorkers(CommittedDataCase):
    START = date(2091, 1, 1)

    def setUp(self):
        super().setUp()
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = self._main_company_with_chart(env)
            product = env["product.product"].create(
                {"name": "Worker hosting", "type": "service", "subscription_ok": True, "taxes_id": False}
            )
            plan = env["subscription.plan"].create(
                {
                    "name": "Worker monthly",
                    "code": f"WRK-{uuid.uuid4().hex}",
                    "company_id": company.id,
                    "line_ids": [Command.create({"product_id": product.id, "price_unit": 10.0})],
                }
            )
            grouping = env["res.partner"].create(
                [{"name": f"Grouping customer {i}", "subscription_invoice_grouping": True} for i in range(3)]
            )
            single = env["res.partner"].create([{"name": f"Single customer {i}"} for i in range(6)])
            # interleave the customers so that batches of two cut through each grouping customer
            partners = [p for _round in range(3) for p in grouping] + list(single)
            subs = env["subscription.subscription"].create(
                [
                    {"partner_id": p.id, "plan_id": plan.id, "start_date": self.START, "company_id": company.id}
                    for p in partners
                ]
            )
            self._delete_later(product, plan, grouping, single, subs)
            for sub in subs:
                sub._start(date_ref=self.START)
            cr.commit()  # pylint: disable=invalid-commit  # the workers under test run in their own cursors
            self.subscription_ids = subs.ids
            self.grouping_ids = grouping.ids
            self.partner_ids = grouping.ids + single.ids

    def _run_workers(self, count, killed=None):
        """Run ``count`` workers at once; worker number ``killed`` dies on its second batch."""
        domain = [("id", "in", self.subscription_ids)]
        original = SubscriptionSubscription._run_billing
        local = threading.local()
        barrier = threading.Barrier(count)
        outcomes = {}

        def run_billing(subscriptions, date_ref):
            local.calls = getattr(local, "calls", 0) + 1
            if local.worker == killed and local.calls == 2:
                raise KeyboardInterrupt("worker killed")
            return original(subscriptions, date_ref)

        # environments are made here: building one in a thread would wait for the registry lock
        # that the test runner holds while it runs the tests
        # closed by the workers, and by the test's cleanup should a worker never get to its ``finally``
        cursors = [self.env.registry.cursor() for _n in range(count)]
        self.cursors.extend(cursors)
        envs = [api.Environment(cr, SUPERUSER_ID, {}) for cr in cursors]

        def worker(number):
            local.worker = number
            env = envs[number]
            try:
                barrier.wait(timeout=60)
                env["subscription.subscription"]._run_billing_for_all(self.START, commit=True, batch_size=2)
                outcomes[number] = "done"
            except KeyboardInterrupt:
                env.cr.rollback()
                outcomes[number] = "killed"
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                env.cr.rollback()
                outcomes[number] = repr(error)
            finally:
                env.cr.close()

        with (
            patch.object(SubscriptionSubscription, "_run_billing", run_billing),
            patch.object(
                SubscriptionSubscription,
                "_get_subscriptions_to_bill_domain",
                lambda self, date_ref: domain + [("next_invoice_date", "<=", date_ref)],
            ),
        ):
            threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            self.assertFalse(any(t.is_alive() for t in threads), "a worker hangs")
            expected = {n: "killed" if n == killed else "done" for n in range(count)}
            self.assertEqual(outcomes, expected)
            # the rerun (the cron's next run) bills whatever the killed worker left
            local.worker = None
            with self.env.registry.cursor() as cr:
                env = api.Environment(cr, SUPERUSER_ID, {})
                env["subscription.subscription"]._run_billing_for_all(self.START, commit=True, batch_size=2)

    def _check_database(self):
        with self.env.registry.cursor() as cr:
            self.assertEqual(count_days_billed_twice(cr, self.subscription_ids), 0, "a day is billed twice")
            cr.execute(
                """SELECT s.id FROM subscription_subscription s
                    WHERE s.id = ANY(%s) AND NOT EXISTS (
                          SELECT 1 FROM account_move_line l
                           WHERE l.subscription_id = s.id AND l.parent_state != 'cancel'
                             AND l.subscription_period_start = %s AND l.subscription_period_end = %s)""",
                [self.subscription_ids, self.START, date(2091, 1, 31)],
            )
            self.assertEqual(cr.fetchall(), [], "a subscription's January is lost")
            cr.execute(
                """SELECT m.partner_id, count(DISTINCT m.id) FROM account_move m
                    WHERE m.partner_id = ANY(%s) AND m.state != 'cancel' AND m.invoice_date = %s
                    GROUP BY m.partner_id""",
                [self.grouping_ids, self.START],
            )
            self.assertEqual(
                dict(cr.fetchall()), dict.fromkeys(self.grouping_ids, 1), "one invoice per grouping customer"
            )
            cr.execute(
                """SELECT count(*) FROM account_move m
                    WHERE m.partner_id = ANY(%s) AND m.move_type = 'out_invoice'
                      AND NOT EXISTS (SELECT 1 FROM account_move_line l
                                       WHERE l.move_id = m.id AND l.subscription_id IS NOT NULL)""",
                [self.partner_ids],
            )
            self.assertEqual(cr.fetchone()[0], 0, "an invoice without subscription lines")

    def test_two_workers_bill_each_period_once_and_group_per_customer(self):
        self._run_workers(2)
        self._check_database()

    def test_three_workers_one_killed_midway_then_a_rerun_lose_and_double_nothing(self):
        self._run_workers(3, killed=1)
        self._check_database()
