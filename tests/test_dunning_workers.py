"""Two dunning workers at once, and one killed mid-run followed by a rerun: nothing sent twice.

Each worker is a thread with its own database connection, running the cron's
loop (``_run_for_all`` with a commit per batch of 2 customers). The killed
worker raises on its second batch: its open transaction is rolled back, as
when a process dies. Checked in SQL afterwards: one letter per customer, one
history entry per invoice, one fee invoice and one e-mail per letter. The data
(the main company, its shipped levels) is committed in the year 2093, which no
other test looks at; the test database is thrown away after the run.
"""

import threading
from datetime import date
from unittest.mock import patch

from odoo import SUPERUSER_ID, Command, api
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.subscription_billing.models.subscription_dunning_run import SubscriptionDunningRun

from .common import CommittedDataCase


@tagged("post_install", "-at_install", "subscription_billing")
class TestDunningWorkers(CommittedDataCase):
    DUE = date(2093, 1, 1)
    #: 24 days overdue: the shipped first dunning notice (21 days, 2.50 € fee, on its own invoice)
    RUN = date(2093, 1, 25)

    def setUp(self):
        super().setUp()
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = self._main_company_with_chart(env)
            partners = env["res.partner"].create(
                [{"name": f"Dunning worker customer {i}", "email": f"w{i}@example.com"} for i in range(8)]
            )
            invoices = env["account.move"].create(
                [
                    {
                        "move_type": "out_invoice",
                        "company_id": company.id,
                        "partner_id": partner.id,
                        "invoice_date": self.DUE,
                        "invoice_date_due": self.DUE,
                        "invoice_line_ids": [
                            Command.create(
                                {"name": "Service", "quantity": 1, "price_unit": 10.0 * (n + 1), "tax_ids": []}
                            )
                        ],
                    }
                    for partner in partners
                    for n in range(2)
                ]
            )
            invoices.action_post()
            cr.commit()  # pylint: disable=invalid-commit  # the workers under test run in their own cursors
            # deleted after the test with their invoices, fee invoices, letters and history
            self._delete_later(partners)
            self.company_id = company.id
            self.partner_ids = partners.ids
            self.invoice_ids = invoices.ids

    def _run(self, env):
        env["subscription.dunning.run"]._run_for_all(
            self.RUN,
            companies=env["res.company"].browse(self.company_id),
            commit=True,
            batch_size=2,
            partners=env["res.partner"].browse(self.partner_ids),
        )

    def _run_workers(self, count, killed=None):
        original = SubscriptionDunningRun._apply_plans
        local = threading.local()
        barrier = threading.Barrier(count)
        outcomes = {}

        def apply_plans(self_, company, date_ref, plans):
            local.calls = getattr(local, "calls", 0) + 1
            if killed is not None and getattr(local, "worker", None) == killed and local.calls == 2:
                raise KeyboardInterrupt("worker killed")
            return original(self_, company, date_ref, plans)

        cursors = [self.env.registry.cursor() for _n in range(count)]
        envs = [api.Environment(cr, SUPERUSER_ID, {}) for cr in cursors]

        def worker(number):
            local.worker = number
            env = envs[number]
            barrier.wait(timeout=60)
            try:
                self._run(env)
                outcomes[number] = "done"
            except KeyboardInterrupt:
                env.cr.rollback()
                outcomes[number] = "killed"
            except Exception as error:  # noqa: BLE001 - reported by the assertion below
                env.cr.rollback()
                outcomes[number] = repr(error)
            finally:
                env.cr.close()

        # The fee invoices raise their customers' rank in a post-commit hook that opens an environment,
        # which takes the registry lock: Odoo's test runner holds that lock in the main thread while it
        # joins these worker threads, so a thread-based worker would wait for it forever (a worker
        # process does not). The rank is not what this test is about: it is left alone.
        with (
            patch.object(SubscriptionDunningRun, "_apply_plans", apply_plans),
            patch.object(type(self.env["res.partner"]), "_increase_rank", lambda *_args, **_kwargs: None),
            # the loser of a race hits the letters' unique index, which odoo.sql_db logs as an error
            mute_logger("odoo.sql_db"),
        ):
            threads = [threading.Thread(target=worker, args=(n,)) for n in range(count)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=300)
            self.assertFalse(any(t.is_alive() for t in threads), "a worker hangs")
            self.assertEqual(outcomes, {n: "killed" if n == killed else "done" for n in range(count)})
            # the rerun (the cron's next run) duns whatever the killed worker left
            with self.env.registry.cursor() as cr:
                self._run(api.Environment(cr, SUPERUSER_ID, {}))

    def _check_database(self):
        with self.env.registry.cursor() as cr:
            cr.execute(
                "SELECT partner_id, count(*) FROM subscription_dunning_letter WHERE partner_id = ANY(%s) "
                "GROUP BY partner_id",
                [self.partner_ids],
            )
            self.assertEqual(dict(cr.fetchall()), dict.fromkeys(self.partner_ids, 1), "one letter per customer")
            cr.execute(
                "SELECT invoice_id, count(*) FROM subscription_dunning_entry WHERE invoice_id = ANY(%s) "
                "GROUP BY invoice_id",
                [self.invoice_ids],
            )
            self.assertEqual(dict(cr.fetchall()), dict.fromkeys(self.invoice_ids, 1), "one entry per invoice")
            cr.execute(
                """SELECT count(*), count(DISTINCT l.fee_invoice_id), count(DISTINCT l.mail_id),
                          count(*) FILTER (WHERE l.state = 'sent')
                     FROM subscription_dunning_letter l WHERE l.partner_id = ANY(%s)""",
                [self.partner_ids],
            )
            self.assertEqual(cr.fetchone(), (8, 8, 8, 8), "one fee invoice and one e-mail per letter, all sent")
            cr.execute(
                "SELECT count(*) FROM account_move WHERE partner_id = ANY(%s) AND move_type = 'out_invoice'",
                [self.partner_ids],
            )
            self.assertEqual(cr.fetchone()[0], 16 + 8, "the 16 overdue invoices and one fee invoice per letter")

    def test_two_workers_send_each_letter_once(self):
        self._run_workers(2)
        self._check_database()

    def test_killed_worker_and_a_rerun_send_nothing_twice(self):
        self._run_workers(2, killed=0)
        self._check_database()
