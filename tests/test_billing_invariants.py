"""Issue 9: no day billed twice, none lost — the defects found trying the billing by hand.

Each test recomputes its expected amounts by hand in its docstring.
"""

from datetime import date, datetime
from unittest.mock import patch

from odoo import Command
from odoo.exceptions import MissingError, UserError
from odoo.tests import tagged

from .common import SubscriptionCommon, count_days_billed_twice


@tagged("post_install", "-at_install")
class TestBillingInvariants(SubscriptionCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.product_api = cls.env["product.product"].create(
            {
                "name": "API calls",
                "type": "service",
                "subscription_ok": True,
                "taxes_id": [Command.set(cls.tax_sale.ids)],
            }
        )
        cls.metric = cls.env["subscription.usage.metric"].create(
            {"name": "API requests", "code": "inv_api_requests", "aggregation": "sum"}
        )
        cls.plan_trial = cls._create_plan(
            code="INV-TRIAL", name="With a 14-day trial", trial_period_count=14, trial_period_unit="day"
        )
        cls.plan_metered = cls.env["subscription.plan"].create(
            {
                "name": "Hosting + API",
                "code": "INV-MET",
                "line_ids": [
                    Command.create({"product_id": cls.product_hosting.id, "name": "Hosting", "price_unit": 100.0}),
                    Command.create(
                        {
                            "product_id": cls.product_api.id,
                            "name": "API usage",
                            "price_unit": 0.5,
                            "line_type": "usage",
                            "metric_id": cls.metric.id,
                        }
                    ),
                ],
            }
        )

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    def _bill(self, sub, day):
        result = sub._run_billing(day)
        self.assertFalse(result["errors"], sub.mapped("billing_error"))
        return result["invoices"]

    def _usage(self, sub, quantity, timestamp, key):
        return self.env["subscription.usage.record"]._ingest(
            [
                {
                    "subscription_id": sub.id,
                    "metric": self.metric.code,
                    "quantity": quantity,
                    "timestamp": timestamp,
                    "idempotency_key": key,
                }
            ]
        )[0]

    def _assert_no_day_twice(self, sub):
        self.env.flush_all()
        self.assertEqual(
            count_days_billed_twice(self.env.cr, sub.ids), 0, "a day of a subscription line is billed twice"
        )

    # ------------------------------------------------------------------
    # trial
    # ------------------------------------------------------------------
    def test_back_dated_start_whose_trial_has_ended_is_active_at_once(self):
        """Start 16 Nov, 14-day trial (16–29 Nov), started on 7 Dec: the trial is over, the
        subscription is active and its first paid period (30 Nov – 29 Dec) is due."""
        sub = self._create_subscription(plan=self.plan_trial, start_date=date(2026, 11, 16))
        sub._start(date_ref=date(2026, 12, 7))
        self.assertEqual(sub.state, "active")
        self.assertEqual(sub.trial_end_date, date(2026, 11, 29))
        self.assertEqual(sub.next_invoice_date, date(2026, 11, 30))
        invoice = self._bill(sub, date(2026, 12, 7))
        self.assertEqual(self._billed_periods(sub), [(date(2026, 11, 30), date(2026, 12, 29))])
        self.assertEqual(invoice.amount_untaxed, 100.0)

    def test_end_trial_after_the_first_paid_period_was_billed_bills_no_day_twice(self):
        """Trial 1–14 Nov; the run of 20 Nov bills 15 Nov – 14 Dec and converts the trial.
        "End Trial Today" is then refused (no trial any more). Even forced back into the trial,
        ending it on 7 Dec anchors the next period after the billed service (15 Dec), never on
        8 Dec: the next run bills 15 Dec – 14 Jan, and 8–14 Dec stay billed once."""
        sub = self._start(plan=self.plan_trial, start_date=date(2026, 11, 1))
        self.assertEqual(sub.state, "trial")
        self._bill(sub, date(2026, 11, 20))
        self.assertEqual(sub.state, "active", "the run converts the ended trial")
        self.assertEqual(self._billed_periods(sub), [(date(2026, 11, 15), date(2026, 12, 14))])
        with self.assertRaises(UserError):
            sub._end_trial(date(2026, 12, 7))
        sub._write_system_fields({"state": "trial"})
        sub._end_trial(date(2026, 12, 7))
        self.assertEqual(sub.billing_anchor_date, date(2026, 12, 15))
        self._bill(sub, date(2026, 12, 31))
        self.assertEqual(
            self._billed_periods(sub),
            [(date(2026, 11, 15), date(2026, 12, 14)), (date(2026, 12, 15), date(2027, 1, 14))],
        )
        self._assert_no_day_twice(sub)

    # ------------------------------------------------------------------
    # proration rounding
    # ------------------------------------------------------------------
    def test_partial_period_of_a_multi_unit_line_is_rounded_once(self):
        """12 seats × 8.00 on a calendar-aligned monthly plan starting 10 Jan: 22 of 31 days.
        96.00 × 22 / 31 = 68.129… → 68.13 (rounding the unit price first gave 12 × 5.68 = 68.16)."""
        plan = self._create_plan(code="INV-SEATS", name="Seats", price=8.0, period_alignment="calendar")
        plan.line_ids.quantity = 12.0
        sub = self._start(plan=plan, start_date=date(2026, 1, 10))
        invoice = self._bill(sub, date(2026, 1, 10))
        self.assertEqual(invoice.amount_untaxed, 68.13)
        self.assertIn("22/31", invoice.invoice_line_ids.name)
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(february.amount_untaxed, 96.0, "a full month: 12 × 8.00")

    # ------------------------------------------------------------------
    # usage across a pause
    # ------------------------------------------------------------------
    def test_usage_recorded_before_a_pause_is_billed_after_the_resume(self):
        """In advance from 1 Jan; 200 requests on 20 Jan; paused 1 Feb (only January billed),
        resumed 10 Mar. The invoice of 10 Mar (period 10 Mar – 9 Apr, 100.00) carries the usage
        of 1 Jan – 9 Mar: 200 × 0.50 = 100.00. Total 200.00; the usage is billed once."""
        sub = self._start(plan=self.plan_metered, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        self.assertEqual(self._usage(sub, 200, datetime(2026, 1, 20, 12), "pause-1")["status"], "created")
        sub._pause(date(2026, 2, 1))
        self.assertFalse(sub._run_billing(date(2026, 3, 1))["invoices"], "nothing billed while paused")
        sub._resume(date(2026, 3, 10))
        invoice = self._bill(sub, date(2026, 3, 10))
        usage_line = invoice.invoice_line_ids.filtered(lambda aml: aml.subscription_line_id.line_type == "usage")
        self.assertEqual(usage_line.price_subtotal, 100.0)
        self.assertEqual(
            (usage_line.subscription_period_start, usage_line.subscription_period_end),
            (date(2026, 1, 1), date(2026, 3, 9)),
        )
        self.assertEqual(invoice.amount_untaxed, 200.0)
        record = self.env["subscription.usage.record"].search([("subscription_id", "=", sub.id)])
        self.assertEqual(record.invoice_line_id, usage_line)
        self._assert_no_day_twice(sub)

    def test_duplicate_usage_key_is_a_duplicate_also_after_its_period_is_billed(self):
        """A record re-sent with a stored idempotency key answers "duplicate", not "rejected
        (period already billed)", after the period was invoiced."""
        sub = self._start(plan=self.plan_metered, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        self.assertEqual(self._usage(sub, 5, datetime(2026, 1, 5), "dup-1")["status"], "created")
        self._bill(sub, date(2026, 2, 1))
        self.assertEqual(self._usage(sub, 5, datetime(2026, 1, 5), "dup-1")["status"], "duplicate")

    # ------------------------------------------------------------------
    # net-negative documents and stranded charges
    # ------------------------------------------------------------------
    def test_downgrade_whose_credit_exceeds_the_next_period_becomes_a_credit_note(self):
        """5 seats × 10.00 billed for January; on 2 Jan down to 1 seat: credit −50 × 30/31 =
        −48.39, charge +10 × 30/31 = +9.68. February: 1 seat 10.00 − 48.39 + 9.68 = −28.71 once
        netted, which Odoo refuses as an invoice. The run bills February (10.00) on an invoice
        and the proration on a credit note of 48.39 − 9.68 = 38.71, without any error."""
        plan = self._create_plan(code="INV-DOWN", name="Seats", price=10.0)
        plan.line_ids.quantity = 5.0
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        sub._change({"plan_id": plan.id, "lines": {str(plan.line_ids.id): 1.0}}, "immediate", date(2026, 1, 2))
        self.assertEqual(sorted(sub.charge_ids.mapped("price_unit")), [-48.39, 9.68])
        moves = self._bill(sub, date(2026, 2, 1))
        invoice = moves.filtered(lambda m: m.move_type == "out_invoice")
        credit_note = moves.filtered(lambda m: m.move_type == "out_refund")
        self.assertEqual(invoice.amount_untaxed, 10.0)
        self.assertEqual(credit_note.amount_untaxed, 38.71)
        self.assertEqual(set(sub.charge_ids.mapped("state")), {"invoiced"})
        self.assertFalse(sub.billing_error)

    def test_pending_charge_on_an_ended_subscription_is_invoiced(self):
        """Ended 31 Jan after January was billed; a credit of −25.00 added on 5 Feb (the README's
        workaround for unused time) is credited by the run of 5 Feb: a credit note of 25.00."""
        sub = self._start(start_date=date(2026, 1, 1), end_date=date(2026, 1, 31))
        self._bill(sub, date(2026, 1, 1))
        sub._cron_update_states(date(2026, 2, 1))
        self.assertEqual(sub.state, "ended")
        self.env["subscription.charge"].create(
            {
                "subscription_id": sub.id,
                "product_id": self.product_hosting.id,
                "name": "Goodwill credit",
                "date": date(2026, 2, 5),
                "price_unit": -25.0,
            }
        )
        self.assertEqual(sub.next_invoice_date, date(2026, 2, 5))
        moves = self._bill(sub, date(2026, 2, 5))
        self.assertEqual(moves.move_type, "out_refund")
        self.assertEqual(moves.amount_untaxed, 25.0)
        self.assertEqual(sub.charge_ids.state, "invoiced")
        self.assertFalse(sub._run_billing(date(2026, 2, 6))["invoices"], "credited once")

    # ------------------------------------------------------------------
    # grouping customers
    # ------------------------------------------------------------------
    def _grouping_customer(self, name):
        return self.env["res.partner"].create(
            {"name": name, "email": "ap@grouped.example", "subscription_invoice_grouping": True}
        )

    def test_grouping_customer_split_over_batches_gets_one_invoice(self):
        """Three subscriptions of a grouping customer, billed with a batch size of 1: one invoice
        of 3 × 100.00 = 300.00 (the first batch claims the customer and bills all three)."""
        customer = self._grouping_customer("Batch Grouping GmbH")
        subs = self.env["subscription.subscription"]
        for _i in range(3):
            subs |= self._start(partner=customer, start_date=date(2026, 1, 1))
        result = subs.browse()._run_billing_for_all(date(2026, 1, 1), batch_size=1)
        invoices = result["invoices"].filtered(lambda m: m.partner_id == customer)
        self.assertEqual(len(invoices), 1)
        self.assertEqual(invoices.amount_untaxed, 300.0)
        self.assertEqual(invoices.invoice_line_ids.subscription_id, subs)

    def test_rebilling_a_cancelled_grouped_period_keeps_the_other_subscription_due(self):
        """Subscriptions A and B of a grouping customer: January and February billed on grouped
        invoices. January's invoice is cancelled and A billed again from 1 Jan on 1 Mar: A gets
        January again, February is not billed twice, and March of A and B share one invoice."""
        customer = self._grouping_customer("Rebill Grouping GmbH")
        sub_a = self._start(partner=customer, start_date=date(2026, 1, 1))
        sub_b = self._start(partner=customer, start_date=date(2026, 1, 1))
        january = self._bill(sub_a | sub_b, date(2026, 1, 1))
        self._bill(sub_a | sub_b, date(2026, 2, 1))
        january.button_cancel()
        sub_a._rewind_to_released_periods()
        result = (sub_a | sub_b)._run_billing(date(2026, 3, 1))
        self.assertFalse(result["errors"])
        self.assertEqual(
            self._billed_periods(sub_a),
            [
                (date(2026, 1, 1), date(2026, 1, 31)),
                (date(2026, 2, 1), date(2026, 2, 28)),
                (date(2026, 3, 1), date(2026, 3, 31)),
            ],
        )
        self.assertEqual(self._billed_periods(sub_b)[-1], (date(2026, 3, 1), date(2026, 3, 31)))
        march = result["invoices"].filtered(lambda m: m.invoice_date == date(2026, 3, 1))
        self.assertEqual(len(march), 1)
        self.assertEqual(march.invoice_line_ids.subscription_id, sub_a | sub_b)
        self.assertEqual(sub_a.next_period_start, date(2026, 4, 1))
        self._assert_no_day_twice(sub_a)

    def test_a_released_period_whose_rebilling_fails_stays_due_behind_later_billed_service(self):
        """January, February and March billed (100.00 each); January's and February's invoices are
        cancelled, March's stays. The run of 5 Mar bills January again, but February's invoice fails
        (an error injected into its invoice values): February must stay due, not be jumped over
        because March is billed (the schedule used to continue after the last billed run, 1 Apr, and
        February was lost for good). The next run bills February; every day of January to March is
        billed exactly once and the schedule continues on 1 Apr."""
        sub = self._start(start_date=date(2026, 1, 1))
        invoices = self._bill(sub, date(2026, 1, 1)) | self._bill(sub, date(2026, 2, 1))
        self._bill(sub, date(2026, 3, 1))
        invoices.button_cancel()
        sub._rewind_to_released_periods()
        self.assertEqual(sub.next_period_start, date(2026, 1, 1))
        billing_run = type(self.env["subscription.billing.run"])
        prepare = billing_run._prepare_invoice_values

        def failing_in_february(run, items, **kwargs):
            if any(period.start == date(2026, 2, 1) for _sub, period in items):
                raise UserError(run.env._("injected failure of February's invoice"))
            return prepare(run, items, **kwargs)

        with patch.object(billing_run, "_prepare_invoice_values", failing_in_february):
            result = sub._run_billing(date(2026, 3, 5))
        self.assertEqual(result["errors"], sub, "February's failure is stored on the subscription")
        self.assertEqual(
            self._billed_periods(sub),
            [(date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 3, 1), date(2026, 3, 31))],
        )
        self.assertEqual(sub.next_period_start, date(2026, 2, 1), "February is unbilled service: it stays due")
        self._bill(sub, date(2026, 3, 6))
        self.assertEqual(
            self._billed_periods(sub),
            [
                (date(2026, 1, 1), date(2026, 1, 31)),
                (date(2026, 2, 1), date(2026, 2, 28)),
                (date(2026, 3, 1), date(2026, 3, 31)),
            ],
        )
        self.assertEqual(sub.next_period_start, date(2026, 4, 1))
        self._assert_no_day_twice(sub)

    # ------------------------------------------------------------------
    # the run goes on
    # ------------------------------------------------------------------
    def test_an_error_while_sending_does_not_stop_the_run(self):
        """Sending raises MissingError (a record changed under the run): both invoices stay
        posted, no subscription is in error, and the run returns normally."""
        plan = self._create_plan(code="INV-SEND", name="Sent", send_invoices=True, auto_post_invoices=True)
        subs = self._start(plan=plan, start_date=date(2026, 1, 1)) | self._start(
            plan=plan, partner=self.other_customer, start_date=date(2026, 1, 1)
        )
        with patch.object(type(self.env["account.move"]), "_generate_and_send", side_effect=MissingError("gone")):
            result = subs._run_billing(date(2026, 1, 1))
        self.assertFalse(result["errors"])
        self.assertEqual(len(result["invoices"]), 2)
        self.assertEqual(set(result["invoices"].mapped("state")), {"posted"})

    # ------------------------------------------------------------------
    # coupons on prorations
    # ------------------------------------------------------------------
    def test_percentage_coupon_discounts_the_proration_of_a_change(self):
        """5 seats × 10.00 with a running 50 % discount; on 11 Jan up to 6 seats (21 of 31 days
        left): credit −50 × 21/31 = −33.87, charge +60 × 21/31 = +40.65, both at 50 % off on
        February's invoice: −16.94 + 20.33 = 3.39 (each within half a cent of the exact half)."""
        plan = self._create_plan(code="INV-CPN", name="Seats with coupon", price=10.0)
        plan.line_ids.quantity = 5.0
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        self.env["subscription.discount"].create(
            {"subscription_id": sub.id, "name": "Half price", "discount_type": "percent", "percent": 50.0}
        )
        self._bill(sub, date(2026, 1, 1))
        wizard = (
            self.env["subscription.change.wizard"]
            .with_context(default_subscription_id=sub.id, default_new_plan_id=plan.id)
            .create({"timing": "immediate", "date_ref": date(2026, 1, 11)})
        )
        wizard.line_ids.filtered(lambda line: line.plan_line_id == plan.line_ids).quantity = 6.0
        self.assertIn("50 %", str(wizard.preview_html))
        sub._change({"plan_id": plan.id, "lines": {str(plan.line_ids.id): 6.0}}, "immediate", date(2026, 1, 11))
        self.assertEqual(sorted(sub.charge_ids.mapped("price_unit")), [-33.87, 40.65])
        february = self._bill(sub, date(2026, 2, 1))
        proration = february.invoice_line_ids.filtered("subscription_charge_id")
        self.assertEqual(set(proration.mapped("discount")), {50.0})
        self.assertAlmostEqual(sum(proration.mapped("price_subtotal")), 3.39, delta=0.011)

    # ------------------------------------------------------------------
    # cancellation credit
    # ------------------------------------------------------------------
    def test_ending_inside_a_prepaid_year_credits_the_unused_days_and_their_deferred_revenue(self):
        """Yearly 1,200.00 for 2026, deferred by days; ends 31 Mar, the plan credits unused time.
        Unused: 1 Apr – 31 Dec = 275 of 365 days: 1,200 × 275 / 365 = 904.109… → 904.11 on a
        credit note. The schedule keeps only Jan–Mar (1,200 × 90 / 365 = 295.89 recognised);
        after the year the deferred account is at zero."""
        deferred = self.env["account.account"].create(
            {"name": "Deferred Revenue", "code": "DEFINV", "account_type": "liability_current"}
        )
        self.env.company.deferred_revenue_account_id = deferred
        plan = self._create_plan(
            code="INV-CRED",
            name="Yearly, credits",
            billing_period_unit="year",
            price=1200.0,
            credit_unused_on_cancel=True,
        )
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        invoice = self._bill(sub, date(2026, 1, 1))
        Line = self.env["deferred.revenue.schedule.line"]
        Line._recognise_until(date(2026, 3, 31))
        sub.end_date = date(2026, 3, 31)
        sub._update_state_from_dates(date(2026, 4, 1))
        self.assertEqual(sub.state, "ended")
        credit_note = sub.invoice_ids.filtered(lambda m: m.move_type == "out_refund")
        self.assertEqual(credit_note.amount_untaxed, 904.11)
        self.assertEqual(credit_note.state, "posted")
        line = credit_note.invoice_line_ids
        self.assertEqual(
            (line.subscription_period_start, line.subscription_period_end), (date(2026, 4, 1), date(2026, 12, 31))
        )
        self.assertAlmostEqual(invoice.deferred_schedule_ids.residual_amount, 0.0, places=2)
        Line._recognise_until(date(2026, 12, 31))
        self.env.flush_all()
        balance = -sum(
            self.env["account.move.line"]
            .search([("account_id", "=", deferred.id), ("parent_state", "=", "posted")])
            .mapped("balance")
        )
        self.assertAlmostEqual(balance, 0.0, places=2)

    def test_reactivating_inside_credited_time_charges_it_back(self):
        """Monthly 100.00, January billed; ends 10 Jan with credit: 21 of 31 days, 67.74. Reactivated
        on 20 Jan: the credited 20–31 Jan (12 of 21 days) are charged back, 67.74 × 12/21 = 38.71,
        on February's invoice: 100.00 + 38.71 = 138.71."""
        plan = self._create_plan(code="INV-REACT", name="Monthly, credits", credit_unused_on_cancel=True)
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        sub.end_date = date(2026, 1, 10)
        sub._update_state_from_dates(date(2026, 1, 11))
        credit_note = sub.invoice_ids.filtered(lambda m: m.move_type == "out_refund")
        self.assertEqual(credit_note.amount_untaxed, 67.74)
        sub._reactivate(date(2026, 1, 20))
        self.assertEqual(sub.state, "active")
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(february.amount_untaxed, 138.71)
        self._assert_no_day_twice(sub)
