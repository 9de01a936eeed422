from datetime import date, timedelta

from odoo.exceptions import UserError, ValidationError
from odoo.tests import Form, new_test_user, tagged
from odoo.tools import format_date

from .common import SubscriptionCommon

STATES = ("draft", "trial", "active", "paused", "notice", "ended")

#: the lifecycle as specified (written out here, not imported from the code under test)
ALLOWED = {
    ("draft", "trial"),
    ("draft", "active"),
    ("trial", "active"),
    ("trial", "paused"),
    ("trial", "notice"),
    ("trial", "ended"),
    ("active", "paused"),
    ("active", "notice"),
    ("active", "ended"),
    ("paused", "active"),
    ("paused", "notice"),
    ("paused", "ended"),
    ("notice", "active"),
    ("notice", "paused"),
    ("notice", "ended"),
    ("ended", "active"),
}


@tagged("post_install", "-at_install", "subscription_billing")
class TestLifecycle(SubscriptionCommon):
    """State machine, chatter log, term and notice rules, reactivation, cancel wizard."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # 12-month minimum term renewing by 12 months, one month's notice
        cls.plan_term = cls._create_plan(
            code="T12",
            name="Twelve months",
            min_term_count=12,
            min_term_unit="month",
            notice_period_count=1,
            notice_period_unit="month",
        )
        # 12-month term that does not renew
        cls.plan_fixed = cls._create_plan(
            code="FIX12",
            name="Fixed twelve months",
            min_term_count=12,
            min_term_unit="month",
            auto_renew=False,
            notice_period_count=1,
            notice_period_unit="month",
        )
        # consumer contract (§ 309 Nr. 9 BGB): 12-month term, one month's notice
        cls.plan_consumer = cls._create_plan(
            code="B2C12",
            name="Consumer twelve months",
            min_term_count=12,
            min_term_unit="month",
            notice_period_count=1,
            notice_period_unit="month",
            consumer_contract_rule=True,
        )
        cls.plan_trial = cls._create_plan(
            code="TRIAL14", name="Trial plan", trial_period_count=14, trial_period_unit="day"
        )
        cls.clerk = new_test_user(
            cls.env,
            login="lifecycle_clerk",
            name="Lifecycle Clerk",
            groups="subscription_billing.group_subscription_user",
        )

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    @staticmethod
    def _state_messages(sub):
        """Chatter messages of ``sub`` that log a state change, newest first."""
        return sub.message_ids.filtered(lambda m: "→" in (m.body or "")).sorted("id", reverse=True)

    def _assert_contiguous(self, sub, first_day, last_day):
        """The non-cancelled invoice lines of ``sub`` cover first_day..last_day exactly once."""
        periods = self._billed_periods(sub)
        self.assertTrue(periods, "something must have been billed")
        self.assertEqual(periods[0][0], first_day, f"billing starts on {first_day}: {periods}")
        for (_start, end), (next_start, _end) in zip(periods, periods[1:], strict=False):
            self.assertEqual(next_start, end + timedelta(days=1), f"gap or overlap in {periods}")
        self.assertGreaterEqual(periods[-1][1], last_day, f"billing covers up to {last_day}: {periods}")

    # ------------------------------------------------------------------
    # state machine
    # ------------------------------------------------------------------
    def test_every_allowed_transition_changes_the_state_and_logs_it(self):
        sub = self._create_subscription()
        for source, target in sorted(ALLOWED):
            with self.subTest(source=source, target=target):
                sub._write_system_fields({"state": source})
                before = len(self._state_messages(sub))
                sub._change_state(target, date(2026, 2, 1))
                self.assertEqual(sub.state, target)
                self.assertEqual(len(self._state_messages(sub)), before + 1, "one chatter entry per transition")

    def test_every_other_transition_is_refused_and_changes_nothing(self):
        sub = self._create_subscription()
        forbidden = [(s, t) for s in STATES for t in STATES if (s, t) not in ALLOWED]
        # sanity: the refused set contains the obvious ones
        self.assertIn(("ended", "paused"), forbidden)
        self.assertIn(("draft", "notice"), forbidden)
        self.assertIn(("active", "draft"), forbidden)
        for source, target in forbidden:
            with self.subTest(source=source, target=target):
                sub._write_system_fields({"state": source})
                messages_before = len(sub.message_ids)
                with self.assertRaises(UserError) as caught:
                    sub._change_state(target, date(2026, 2, 1))
                self.assertIn(sub.name, str(caught.exception), "the error names the subscription")
                self.assertEqual(sub.state, source, "a refused transition leaves the state alone")
                self.assertEqual(len(sub.message_ids), messages_before, "and logs nothing")

    def test_refused_transition_on_ended_subscription_is_not_persisted(self):
        sub = self._start(end_date=date(2026, 3, 31))
        self.env["subscription.subscription"]._cron_update_states(date(2026, 4, 1))
        self.assertEqual(sub.state, "ended")
        with self.assertRaises(UserError):
            sub._pause(date(2026, 4, 15))
        sub.invalidate_recordset()
        self.assertEqual(sub.state, "ended")
        self.assertFalse(sub.pause_date)

    def test_transition_message_names_user_dates_and_states(self):
        sub = self._start(start_date=date(2026, 1, 1))
        sub.with_user(self.clerk)._change_state("paused", date(2026, 3, 15))
        message = self._state_messages(sub)[0]
        self.assertIn("Lifecycle Clerk", message.body)
        self.assertIn(format_date(self.env, date(2026, 3, 15)), message.body)
        self.assertIn("Active", message.body)
        self.assertIn("Paused", message.body)
        self.assertEqual(message.author_id, self.clerk.partner_id)

    def test_transition_reason_is_appended_to_the_message(self):
        sub = self._start(start_date=date(2026, 1, 1))
        sub._change_state("ended", date(2026, 5, 1), reason="Customer went bankrupt")
        self.assertIn("Customer went bankrupt", self._state_messages(sub)[0].body)

    # ------------------------------------------------------------------
    # start, trial, pause, resume
    # ------------------------------------------------------------------
    def test_start_without_trial_is_active_and_billable_from_the_start_date(self):
        sub = self._create_subscription(start_date=date(2026, 2, 3))
        self.assertEqual(sub.state, "draft")
        sub._start()
        self.assertEqual(sub.state, "active")
        self.assertFalse(sub.trial_end_date)
        self.assertEqual(sub.billing_anchor_date, date(2026, 2, 3))
        self.assertEqual(sub.next_invoice_date, date(2026, 2, 3))
        self.assertIn(format_date(self.env, date(2026, 2, 3)), self._state_messages(sub)[0].body)

    def test_start_with_trial_enters_the_trial_and_bills_after_it(self):
        sub = self._start(plan=self.plan_trial, start_date=date(2026, 2, 3))
        self.assertEqual(sub.state, "trial")
        # 14 days: 3 Feb .. 16 Feb
        self.assertEqual(sub.trial_end_date, date(2026, 2, 16))
        self.assertEqual(sub.billing_anchor_date, date(2026, 2, 17))
        self.assertEqual(sub.next_invoice_date, date(2026, 2, 17))

    def test_start_twice_is_refused(self):
        sub = self._start()
        with self.assertRaises(UserError):
            sub._start()
        self.assertEqual(sub.state, "active")

    def test_start_without_lines_is_refused(self):
        sub = self._create_subscription()
        sub.line_ids.unlink()
        with self.assertRaises(UserError) as caught:
            sub._start()
        self.assertIn(sub.name, str(caught.exception))
        self.assertEqual(sub.state, "draft")

    def test_trial_ends_into_active_through_the_state_cron(self):
        sub = self._start(plan=self.plan_trial, start_date=date(2026, 2, 3))
        Subscription = self.env["subscription.subscription"]
        Subscription._cron_update_states(date(2026, 2, 16))
        self.assertEqual(sub.state, "trial", "still the last trial day")
        Subscription._cron_update_states(date(2026, 2, 17))
        self.assertEqual(sub.state, "active")
        self.assertIn(format_date(self.env, date(2026, 2, 17)), self._state_messages(sub)[0].body)

    def test_pause_then_resume_re_anchors_billing_at_the_resume_date(self):
        sub = self._start(start_date=date(2026, 1, 1))
        sub._run_billing(date(2026, 1, 1))
        sub._pause(date(2026, 1, 20))
        self.assertEqual(sub.state, "paused")
        self.assertEqual(sub.pause_date, date(2026, 1, 20))
        sub._resume(date(2026, 3, 5))
        self.assertEqual(sub.state, "active")
        self.assertFalse(sub.pause_date)
        self.assertEqual(sub.billing_anchor_date, date(2026, 3, 5))
        self.assertEqual(sub.next_invoice_date, date(2026, 3, 5))
        sub._run_billing(date(2026, 3, 5))
        self.assertEqual(
            self._billed_periods(sub), [(date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 3, 5), date(2026, 4, 4))]
        )

    def test_resume_never_bills_again_a_period_paid_before_the_pause(self):
        sub = self._start(start_date=date(2026, 1, 1))
        sub._run_billing(date(2026, 1, 1))  # January paid in advance
        sub._pause(date(2026, 1, 10))
        sub._resume(date(2026, 1, 20))  # resumed within the paid period
        self.assertEqual(sub.billing_anchor_date, date(2026, 2, 1), "billing resumes after the paid period")
        sub._run_billing(date(2026, 2, 1))
        self.assertEqual(
            self._billed_periods(sub), [(date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 28))]
        )

    def test_current_period_right_after_a_resume_within_the_paid_period_is_that_period(self):
        sub = self._start(start_date=date(2026, 1, 1))
        sub._run_billing(date(2026, 3, 1))  # January to March paid in advance
        sub._pause(date(2026, 3, 10))
        sub._resume(date(2026, 3, 20))
        # March is paid and running, April starts the new schedule
        self.assertEqual((sub.current_period_start, sub.current_period_end), (date(2026, 3, 1), date(2026, 3, 31)))
        self.assertEqual(sub.next_invoice_date, date(2026, 4, 1))
        sub._run_billing(date(2026, 4, 1))
        self.assertEqual((sub.current_period_start, sub.current_period_end), (date(2026, 4, 1), date(2026, 4, 30)))

    def test_resume_keeps_the_used_days_before_the_pause_billable(self):
        # In arrears, February 1-9 is used before the pause of 10 February and due on 10 February.
        # The customer resumes the same day, before the daily billing run: those days must still
        # be invoiced once (whatever the period split), not dropped by the re-anchoring.
        sub = self._start(plan=self.plan_arrears, start_date=date(2026, 1, 1))
        sub._run_billing(date(2026, 2, 1))  # January, in arrears
        sub._pause(date(2026, 2, 10))
        sub._resume(date(2026, 2, 10))
        sub._run_billing(date(2026, 3, 20))
        self._assert_contiguous(sub, date(2026, 1, 1), date(2026, 3, 9))

    def test_resume_of_a_subscription_that_is_not_paused_is_refused(self):
        sub = self._start()
        with self.assertRaises(UserError):
            sub._resume(date(2026, 2, 1))
        self.assertEqual(sub.state, "active")
        self.assertEqual(sub.billing_anchor_date, date(2026, 1, 1))

    def test_resume_after_notice_returns_to_notice(self):
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        sub._request_cancellation(date(2026, 6, 10))
        self.assertEqual(sub.state, "notice")
        self.assertEqual(sub.end_date, date(2026, 12, 31))
        sub._pause(date(2026, 7, 1))
        self.assertEqual(sub.state, "paused")
        sub._resume(date(2026, 8, 1))
        self.assertEqual(sub.state, "notice", "the cancellation still stands")
        self.assertEqual(sub.end_date, date(2026, 12, 31))

    def test_reactivating_a_cancellation_given_while_paused_does_not_leave_it_active_but_unbilled(self):
        # paused on 1 June, notice on 10 June (paused -> notice keeps the pause), notice withdrawn
        # on 20 June: the subscription must not end up 'active' while its pause still blocks billing.
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        sub._pause(date(2026, 6, 1))
        sub._request_cancellation(date(2026, 6, 10))
        self.assertEqual(sub.state, "notice")
        sub._reactivate(date(2026, 6, 20))
        self.assertFalse(
            sub.state == "active" and sub.pause_date,
            f"state {sub.state!r} with pause date {sub.pause_date}: active but never billed",
        )

    # ------------------------------------------------------------------
    # cancellation: minimum term, notice period, renewal
    # ------------------------------------------------------------------
    def test_notice_received_by_30_november_ends_the_term_on_31_december(self):
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        end = sub._request_cancellation(date(2026, 11, 30), reason="Moving to a competitor")
        self.assertEqual(end, date(2026, 12, 31))
        self.assertEqual(sub.end_date, date(2026, 12, 31))
        self.assertEqual(sub.state, "notice")
        self.assertEqual(sub.cancellation_request_date, date(2026, 11, 30))
        self.assertEqual(sub.cancellation_reason, "Moving to a competitor")
        message = self._state_messages(sub)[0]
        self.assertIn(format_date(self.env, date(2026, 11, 30)), message.body, "effective on the request")
        self.assertIn(format_date(self.env, date(2026, 12, 31)), message.body, "and tells the end date")
        self.assertIn("Reason: Moving to a competitor", message.body, "the customer's reason in the chatter")

    def test_notice_received_after_30_november_renews_for_another_year(self):
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        self.assertEqual(sub._request_cancellation(date(2026, 12, 2)), date(2027, 12, 31))
        self.assertEqual(sub.end_date, date(2027, 12, 31))

    def test_notice_early_in_the_term_still_ends_at_the_term_end(self):
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        self.assertEqual(sub._request_cancellation(date(2026, 2, 1)), date(2026, 12, 31))

    def test_notice_in_a_renewal_term_ends_that_renewal_term(self):
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        # renewal terms: 2027, 2028; notice on 1 Feb 2028 reaches the end of 2028
        self.assertEqual(sub._request_cancellation(date(2028, 2, 1)), date(2028, 12, 31))

    def test_requested_later_end_date_is_kept(self):
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        self.assertEqual(sub._request_cancellation(date(2026, 11, 30), end_date=date(2027, 3, 31)), date(2027, 3, 31))
        self.assertEqual(sub.end_date, date(2027, 3, 31))

    def test_end_date_before_the_earliest_allowed_is_refused_and_nothing_changes(self):
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        with self.assertRaises(ValidationError) as caught:
            sub._request_cancellation(date(2026, 11, 30), reason="too early", end_date=date(2026, 12, 15))
        self.assertIn(sub.name, str(caught.exception))
        self.assertIn(
            format_date(self.env, date(2026, 12, 31)),
            str(caught.exception),
            "the message tells the earliest possible end",
        )
        sub.invalidate_recordset()
        self.assertEqual(sub.state, "active")
        self.assertFalse(sub.end_date)
        self.assertFalse(sub.cancellation_request_date)
        self.assertFalse(sub.cancellation_reason)

    def test_cancellation_of_an_ended_subscription_is_refused(self):
        sub = self._start(plan=self.plan_fixed, start_date=date(2026, 1, 1))
        self.env["subscription.subscription"]._cron_update_states(date(2027, 1, 1))
        self.assertEqual(sub.state, "ended")
        with self.assertRaises(UserError):
            sub._request_cancellation(date(2027, 1, 5))
        self.assertEqual(sub.state, "ended")
        self.assertFalse(sub.cancellation_request_date)

    def test_cancellation_in_the_trial_ends_on_the_request_day(self):
        sub = self._start(plan=self.plan_trial, start_date=date(2026, 2, 3))
        self.assertEqual(sub._request_cancellation(date(2026, 2, 6)), date(2026, 2, 6))
        self.assertEqual(sub.state, "notice")

    def test_without_auto_renewal_the_contract_ends_with_its_initial_term(self):
        sub = self._start(plan=self.plan_fixed, start_date=date(2026, 1, 1))
        self.assertEqual(sub.end_date, date(2026, 12, 31), "set when the subscription starts")
        Subscription = self.env["subscription.subscription"]
        Subscription._cron_update_states(date(2026, 12, 31))
        self.assertEqual(sub.state, "active", "the last day is still served")
        Subscription._cron_update_states(date(2027, 1, 1))
        self.assertEqual(sub.state, "ended")
        self.assertIn(format_date(self.env, date(2027, 1, 1)), self._state_messages(sub)[0].body)

    def test_without_auto_renewal_the_last_period_is_billed_and_nothing_after(self):
        sub = self._start(plan=self.plan_fixed, start_date=date(2026, 1, 1))
        sub._run_billing(date(2027, 3, 1))
        periods = self._billed_periods(sub)
        self.assertEqual(len(periods), 12)
        self.assertEqual(periods[-1], (date(2026, 12, 1), date(2026, 12, 31)))
        self.assertFalse(sub.next_invoice_date)

    # ------------------------------------------------------------------
    # § 309 Nr. 9 BGB
    # ------------------------------------------------------------------
    def test_consumer_rule_refuses_a_notice_period_over_one_month(self):
        plans_before = self.env["subscription.plan"].search_count([])
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self._create_plan(
                code="B2C-N3",
                name="Consumer long notice",
                min_term_count=12,
                notice_period_count=3,
                notice_period_unit="month",
                consumer_contract_rule=True,
            )
        self.assertIn("Consumer long notice", str(caught.exception))
        self.assertEqual(self.env["subscription.plan"].search_count([]), plans_before)

    def test_consumer_rule_refuses_an_initial_term_over_24_months(self):
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self._create_plan(
                code="B2C-25",
                name="Consumer 25 months",
                min_term_count=25,
                notice_period_count=1,
                consumer_contract_rule=True,
            )
        self.assertIn("Consumer 25 months", str(caught.exception))
        # 24 months is the maximum and is accepted
        plan = self._create_plan(
            code="B2C-24",
            name="Consumer 24 months",
            min_term_count=24,
            notice_period_count=1,
            consumer_contract_rule=True,
        )
        self.assertTrue(plan.consumer_contract_rule)

    def test_consumer_rule_cannot_be_switched_on_for_a_long_notice_plan(self):
        plan = self._create_plan(
            code="B2B-N3",
            name="Business long notice",
            min_term_count=12,
            notice_period_count=3,
            notice_period_unit="month",
        )
        with self.assertRaises(ValidationError), self.env.cr.savepoint():
            plan.consumer_contract_rule = True
            plan.flush_recordset()
        plan.invalidate_recordset()
        self.assertFalse(plan.consumer_contract_rule)

    def test_consumer_contract_after_initial_term_ends_one_month_after_notice(self):
        sub = self._start(plan=self.plan_consumer, start_date=date(2026, 1, 1))
        # initial term ended on 31 Dec 2026; the contract runs on indefinitely
        end = sub._request_cancellation(date(2027, 3, 10))
        self.assertEqual(end, date(2027, 4, 10), "one month after the notice, not 31 Dec 2027")
        self.assertEqual(sub.end_date, date(2027, 4, 10))

    def test_consumer_contract_within_initial_term_ends_at_its_end(self):
        sub = self._start(plan=self.plan_consumer, start_date=date(2026, 1, 1))
        self.assertEqual(sub._request_cancellation(date(2026, 11, 10)), date(2026, 12, 31))

    def test_consumer_contract_notice_late_in_initial_term_does_not_renew_for_a_year(self):
        sub = self._start(plan=self.plan_consumer, start_date=date(2026, 1, 1))
        # too late for 31 Dec 2026: a month after the notice instead of a 12-month renewal
        self.assertEqual(sub._request_cancellation(date(2026, 12, 15)), date(2027, 1, 15))

    def test_business_contract_with_same_terms_renews_instead(self):
        # the same request as above without the consumer rule: a renewal year
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        self.assertEqual(sub._request_cancellation(date(2027, 3, 10)), date(2027, 12, 31))

    # ------------------------------------------------------------------
    # reactivation
    # ------------------------------------------------------------------
    def test_reactivate_from_notice_withdraws_the_cancellation(self):
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        sub._request_cancellation(date(2026, 11, 30), reason="budget")
        sub._reactivate(date(2026, 12, 10))
        self.assertEqual(sub.state, "active")
        self.assertFalse(sub.end_date)
        self.assertFalse(sub.cancellation_request_date)
        self.assertFalse(sub.cancellation_reason)
        self.assertEqual(sub.billing_anchor_date, date(2026, 1, 1), "billing continues unchanged")
        # the contract renews again: billing continues into 2027
        sub._run_billing(date(2027, 1, 1))
        self.assertIn((date(2027, 1, 1), date(2027, 1, 31)), self._billed_periods(sub))

    def test_reactivate_from_notice_without_auto_renewal_restores_the_term_end(self):
        sub = self._start(plan=self.plan_fixed, start_date=date(2026, 1, 1))
        sub._request_cancellation(date(2026, 3, 1), end_date=date(2026, 12, 31))
        sub._reactivate(date(2026, 4, 1))
        self.assertEqual(sub.state, "active")
        self.assertEqual(sub.end_date, date(2026, 12, 31), "a fixed term still ends with its term")
        self.assertFalse(sub.cancellation_request_date)

    def test_reactivate_from_ended_bills_from_the_reactivation_date_only(self):
        sub = self._start(start_date=date(2026, 1, 1), end_date=date(2026, 3, 31))
        sub._run_billing(date(2026, 3, 31))
        self.env["subscription.subscription"]._cron_update_states(date(2026, 4, 1))
        self.assertEqual(sub.state, "ended")
        self.assertFalse(sub._run_billing(date(2026, 6, 14))["invoices"], "nothing is billed after the end")

        sub._reactivate(date(2026, 6, 15))
        self.assertEqual(sub.state, "active")
        self.assertFalse(sub.end_date)
        self.assertEqual(sub.billing_anchor_date, date(2026, 6, 15))
        self.assertEqual(sub.next_invoice_date, date(2026, 6, 15))
        invoice = sub._run_billing(date(2026, 6, 15))["invoices"]
        self.assertEqual(len(invoice), 1)
        line = invoice.invoice_line_ids
        self.assertEqual(
            (line.subscription_period_start, line.subscription_period_end), (date(2026, 6, 15), date(2026, 7, 14))
        )
        self.assertEqual(line.price_unit, 100.0, "a full period, no proration")
        self.assertEqual(
            self._billed_periods(sub),
            [
                (date(2026, 1, 1), date(2026, 1, 31)),
                (date(2026, 2, 1), date(2026, 2, 28)),
                (date(2026, 3, 1), date(2026, 3, 31)),
                (date(2026, 6, 15), date(2026, 7, 14)),
            ],
            "nothing for April 1 - June 14",
        )

    def test_reactivate_after_end_keeps_the_unbilled_last_period_billable(self):
        # In arrears March is due on 1 April. The subscription ends on 31 March and is reactivated
        # on 1 April before that day's billing run: March must still be invoiced.
        sub = self._start(plan=self.plan_arrears, start_date=date(2026, 1, 1), end_date=date(2026, 3, 31))
        sub._run_billing(date(2026, 3, 1))  # January and February
        self.env["subscription.subscription"]._cron_update_states(date(2026, 4, 1))
        self.assertEqual(sub.state, "ended")
        sub._reactivate(date(2026, 4, 1))
        sub._run_billing(date(2026, 5, 1))
        self._assert_contiguous(sub, date(2026, 1, 1), date(2026, 4, 30))

    def test_reactivate_of_an_active_subscription_is_refused(self):
        sub = self._start()
        with self.assertRaises(UserError):
            sub._reactivate(date(2026, 2, 1))
        self.assertEqual(sub.state, "active")
        self.assertEqual(sub.billing_anchor_date, date(2026, 1, 1))

    # ------------------------------------------------------------------
    # cancel wizard
    # ------------------------------------------------------------------
    def test_cancel_wizard_shows_the_earliest_end_date_and_records_the_request(self):
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        action = sub.action_open_cancel_wizard()
        self.assertEqual(action["res_model"], "subscription.cancel.wizard")
        # the action's context as the web client opens it
        wizard_form = Form(self.env["subscription.cancel.wizard"].with_context(action["context"]))  # pylint: disable=context-overridden
        wizard_form.request_date = date(2026, 11, 30)
        self.assertEqual(wizard_form.earliest_end_date, date(2026, 12, 31))
        wizard_form.request_date = date(2026, 12, 2)
        self.assertEqual(wizard_form.earliest_end_date, date(2027, 12, 31))
        wizard_form.reason = "Too expensive"
        wizard = wizard_form.save()
        wizard.action_confirm()
        self.assertEqual(sub.state, "notice")
        self.assertEqual(sub.end_date, date(2027, 12, 31))
        self.assertEqual(sub.cancellation_request_date, date(2026, 12, 2))
        self.assertEqual(sub.cancellation_reason, "Too expensive")

    def test_cancel_wizard_refuses_an_end_date_before_the_earliest(self):
        sub = self._start(plan=self.plan_term, start_date=date(2026, 1, 1))
        wizard = self.env["subscription.cancel.wizard"].create(
            {
                "subscription_id": sub.id,
                "request_date": date(2026, 11, 30),
                "end_date": date(2026, 12, 1),
            }
        )
        with self.assertRaises(ValidationError):
            wizard.action_confirm()
        self.assertEqual(sub.state, "active")
        self.assertFalse(sub.end_date)

    # ------------------------------------------------------------------
    # choosing the plan of a new or draft subscription
    # ------------------------------------------------------------------
    def test_plan_chosen_on_a_new_subscription_shows_its_lines_and_mrr_before_saving(self):
        form = Form(self.env["subscription.subscription"])
        form.partner_id = self.customer
        form.plan_id = self.plan_yearly
        self.assertEqual(len(form.line_ids), 1, "the plan's line, before saving")
        self.assertEqual(form.line_ids.edit(0).product_id, self.product_hosting)
        self.assertEqual(form.mrr, 100.0, "1200.00 a year")
        form.plan_id = self.plan_monthly
        self.assertEqual(len(form.line_ids), 1, "the other plan's line replaces it")
        self.assertEqual(form.mrr, 100.0)
        sub = form.save()
        self.assertEqual(sub.line_ids.plan_line_id, self.plan_monthly.line_ids)

    def test_changing_the_plan_of_a_draft_replaces_its_lines(self):
        plan_two = self._create_plan(code="TWO", name="Two lines", price=10.0)
        self.env["subscription.plan.line"].create(
            {"plan_id": plan_two.id, "product_id": self.product_support.id, "price_unit": 30.0, "quantity": 2}
        )
        sub = self._create_subscription()
        self.assertEqual(sub.line_ids.plan_line_id, self.plan_monthly.line_ids)
        with Form(sub) as form:
            form.plan_id = plan_two
            self.assertEqual(len(form.line_ids), 2)
            self.assertEqual(form.mrr, 70.0, "10.00 + 2 x 30.00")
        self.assertEqual(sub.line_ids.plan_line_id, plan_two.line_ids)
        sub.write({"plan_id": self.plan_yearly.id})  # without the form (import, RPC)
        self.assertEqual(sub.line_ids.plan_line_id, self.plan_yearly.line_ids)
        self.assertEqual(sub.mrr, 100.0)
