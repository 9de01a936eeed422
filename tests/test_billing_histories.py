"""Issue 9: random contract histories on real Odoo, checked in SQL after every step.

The pure state machine (``billing_core/tests/test_schedule.py``) runs thousands of
histories over the schedule functions; this one drives the model methods the
buttons and the cron call (start, end trial, pause, resume, cancel, reactivate,
usage, billing runs, a cancelled invoice billed again) through a seeded few
dozen, each in a savepoint rolled back afterwards, and checks the database:
no day of a subscription line on two live invoices, every usage record billed
at most once and all usage before the billed-until mark billed, no billing
error, and after each run every day of service up to the run's date billed.
"""

import os
from datetime import date, datetime, time, timedelta

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from odoo import Command
from odoo.exceptions import UserError
from odoo.tests import tagged

from .common import SubscriptionCommon, count_days_billed_twice

ONE_DAY = timedelta(days=1)
#: histories per run (the pure machine runs thousands; these are slower)
HISTORIES = int(os.environ.get("SB_ODOO_HISTORIES", "30"))


@tagged("post_install", "-at_install")
class TestBillingHistories(SubscriptionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        metric = cls.env["subscription.usage.metric"].create(
            {"name": "Histories API", "code": "hist_api", "aggregation": "sum"}
        )
        product_api = cls.env["product.product"].create(
            {"name": "History API", "type": "service", "subscription_ok": True}
        )
        cls.metric = metric
        usage_line = {
            "product_id": product_api.id,
            "name": "API usage",
            "price_unit": 0.1,
            "line_type": "usage",
            "metric_id": metric.id,
        }
        hosting = {"product_id": cls.product_hosting.id, "name": "Hosting", "price_unit": 31.0}
        plans = [
            ("H-MA", {}),
            ("H-MR", {"billing_timing": "arrears"}),
            ("H-WC", {"billing_period_unit": "week", "period_alignment": "calendar"}),
            ("H-Q", {"billing_period_count": 3, "period_alignment": "calendar"}),
            ("H-T", {"trial_period_count": 10, "trial_period_unit": "day"}),
            ("H-U", {"usage": True}),
            ("H-UR", {"usage": True, "billing_timing": "arrears"}),
        ]
        cls.history_plans = cls.env["subscription.plan"]
        for code, values in plans:
            values = dict(values)
            lines = [Command.create(hosting)]
            if values.pop("usage", False):
                lines.append(Command.create(usage_line))
            cls.history_plans |= cls.env["subscription.plan"].create(
                {"name": f"History {code}", "code": code, "line_ids": lines, **values}
            )

    def test_random_histories_keep_the_billing_invariants(self):
        """Seeded random histories of the model methods; see the module docstring for what is checked."""
        run_state_machine_as_test(
            lambda: OdooContractHistory(self),
            settings=settings(
                max_examples=HISTORIES,
                stateful_step_count=15,
                deadline=None,
                database=None,
                derandomize=True,
                suppress_health_check=list(HealthCheck),
            ),
        )


class OdooContractHistory(RuleBasedStateMachine):
    def __init__(self, case):
        super().__init__()
        self.case = case
        self.env = case.env
        self.savepoint = self.env.cr.savepoint()

    def teardown(self):
        self.savepoint.close(rollback=True)
        self.env.invalidate_all()

    # --- set-up -------------------------------------------------------------
    @initialize(plan_index=st.integers(0, 6), start=st.dates(date(2023, 1, 1), date(2023, 12, 31)))
    def begin(self, plan_index, start):
        plan = self.case.history_plans[plan_index]
        self.sub = self.case._create_subscription(plan=plan, start_date=start)
        self.sub._start(date_ref=start)
        self.today = start
        self.pauses = []  # [first paused day, resume day or None]
        self.usage_keys = 0
        self.has_usage = bool(plan.line_ids.filtered(lambda line: line.line_type == "usage"))

    # --- operations ---------------------------------------------------------
    @rule(n=st.integers(1, 45))
    def wait(self, n):
        self.today += timedelta(days=n)
        self.sub._update_state_from_dates(self.today)  # the daily cron

    @rule()
    def billing_run(self):
        result = self.sub._run_billing(self.today)
        assert not result["errors"], self.sub.billing_error
        self._check_nothing_left_behind()

    @precondition(lambda self: self.sub.state == "trial")
    @rule()
    def end_trial_today(self):
        self.sub._end_trial(self.today)

    @precondition(lambda self: self.sub.state in ("trial", "active", "notice"))
    @rule()
    def pause_today(self):
        self.sub._pause(self.today)
        self.pauses.append([self.sub.pause_date, None])

    @precondition(lambda self: self.sub.state == "paused")
    @rule()
    def resume_today(self):
        if self.today < self.sub.pause_date:
            return
        self.sub._resume(self.today)
        self.pauses[-1][1] = self.today

    @precondition(lambda self: self.sub.state in ("trial", "active"))
    @rule()
    def cancel_today(self):
        self.sub._request_cancellation(self.today)

    @precondition(lambda self: self.sub.state == "ended")
    @rule()
    def reactivate_today(self):
        ended = self.sub.end_date
        paused = self.sub.pause_date
        self.sub._reactivate(self.today)
        self.pauses.append([ended + ONE_DAY, self.today])
        if paused:
            self.pauses.append([paused, self.today])

    @precondition(lambda self: self.has_usage and self.sub.state in ("active", "notice", "paused"))
    @rule(quantity=st.integers(1, 50))
    def record_usage(self, quantity):
        self.usage_keys += 1
        self.env["subscription.usage.record"]._ingest(
            [
                {
                    "subscription_id": self.sub.id,
                    "metric": self.case.metric.code,
                    "quantity": quantity,
                    "timestamp": datetime.combine(self.today, time(12)),
                    "idempotency_key": f"h-{self.usage_keys}",
                }
            ]
        )

    @rule()
    def cancel_the_last_invoice_and_bill_it_again(self):
        invoices = self.sub.invoice_ids.filtered(
            lambda m: (
                m.state != "cancel"
                and m.move_type == "out_invoice"
                and not m.invoice_line_ids.filtered(lambda aml: aml.subscription_line_id.line_type == "usage")
            )
        )
        if not invoices:
            return
        invoices.sorted("id")[-1].button_cancel()
        try:
            self.sub._rewind_to_released_periods()
        except UserError:
            return  # released before a restart: refused with a message, billed by hand
        self.billing_run()

    # --- invariants ---------------------------------------------------------
    @invariant()
    def no_day_billed_twice(self):
        if not hasattr(self, "sub"):
            return
        self.env.flush_all()
        assert count_days_billed_twice(self.env.cr, self.sub.ids) == 0, "a day is billed twice"

    @invariant()
    def usage_billed_once_and_not_lost(self):
        if not hasattr(self, "sub") or not self.has_usage:
            return
        usage_line = self.sub.line_ids.filtered(lambda line: line.line_type == "usage")
        until = usage_line.usage_billed_until
        for record in self.env["subscription.usage.record"].search([("subscription_id", "=", self.sub.id)]):
            if until and record.timestamp.date() <= until:
                assert record.invoice_line_id, f"usage of {record.timestamp} is before {until} but unbilled"
                assert record.invoice_line_id.parent_state != "cancel"

    def _check_nothing_left_behind(self):
        sub = self.sub
        plan = sub.plan_id
        lag = 0 if plan.billing_timing == "advance" else 31 * plan.billing_period_count + 1
        horizon = self.today - timedelta(days=lag)
        if sub.end_date:
            horizon = min(horizon, sub.end_date)
        first = sub.trial_end_date + ONE_DAY if sub.trial_end_date else sub.start_date
        if horizon < first:
            return
        billed = set()
        for line in sub.invoice_line_ids.filtered(
            lambda aml: aml.parent_state != "cancel" and aml.subscription_line_id.line_type == "recurring"
        ):
            day = line.subscription_period_start
            while day <= line.subscription_period_end:
                billed.add(day)
                day += ONE_DAY
        day = first
        while day <= horizon:
            paused = any(p <= day and (r is None or day < r) for p, r in self.pauses)
            assert paused or day in billed, f"{day} never billed (run on {self.today}, {plan.code})"
            day += ONE_DAY
