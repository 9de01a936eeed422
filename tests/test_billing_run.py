from datetime import date

from psycopg2.errors import ExclusionViolation

from odoo import Command
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestBillingRun(SubscriptionCommon):
    """The billing run on explicit dates: what is billed, when, and never twice."""

    def _run(self, date_ref, subscriptions=None):
        if subscriptions is None:
            return self.env["subscription.subscription"]._run_billing_for_all(date_ref)
        return subscriptions._run_billing(date_ref)

    # --- in advance ------------------------------------------------------
    def test_advance_bills_the_period_on_its_first_day(self):
        sub = self._start(start_date=date(2026, 1, 15))
        self.assertFalse(self._run(date(2026, 1, 14), sub)["invoices"], "nothing is due before the start")
        invoices = self._run(date(2026, 1, 15), sub)["invoices"]
        self.assertEqual(len(invoices), 1)
        line = invoices.invoice_line_ids
        self.assertEqual(
            (line.subscription_period_start, line.subscription_period_end), (date(2026, 1, 15), date(2026, 2, 14))
        )
        self.assertEqual(invoices.invoice_date, date(2026, 1, 15))
        self.assertEqual(line.subscription_id, sub)
        self.assertEqual(line.subscription_line_id, sub.line_ids)
        self.assertEqual(line.price_unit, 100.0)
        self.assertEqual(invoices.state, "posted", "the plan posts its invoices")
        self.assertEqual(sub.next_invoice_date, date(2026, 2, 15))
        self.assertEqual((sub.current_period_start, sub.current_period_end), (date(2026, 1, 15), date(2026, 2, 14)))

    def test_second_billing_run_creates_no_invoice(self):
        sub = self._start(start_date=date(2026, 1, 1))
        first = self._run(date(2026, 3, 10))
        self.assertEqual(len(first["invoices"].filtered(lambda m: sub in m.subscription_ids)), 3)
        second = self._run(date(2026, 3, 10))
        self.assertFalse(second["invoices"].filtered(lambda m: sub in m.subscription_ids))
        self.assertEqual(len(sub.invoice_ids), 3)

    def test_catch_up_bills_each_missed_period_once_oldest_first(self):
        sub = self._start(start_date=date(2026, 1, 31))
        invoices = self._run(date(2026, 4, 30), sub)["invoices"]
        self.assertEqual(len(invoices), 4)
        expected = [
            (date(2026, 1, 31), date(2026, 2, 27)),
            (date(2026, 2, 28), date(2026, 3, 30)),
            (date(2026, 3, 31), date(2026, 4, 29)),
            (date(2026, 4, 30), date(2026, 5, 30)),
        ]
        self.assertEqual(self._billed_periods(sub), expected, "month-end anniversary, no gap, no overlap")
        ordered = invoices.sorted("id")
        self.assertEqual(ordered.mapped("invoice_date"), [start for start, _end in expected], "oldest first")

    # --- in arrears ------------------------------------------------------
    def test_arrears_bills_the_period_after_it_ends(self):
        sub = self._start(plan=self.plan_arrears, start_date=date(2026, 1, 1))
        self.assertFalse(self._run(date(2026, 1, 31), sub)["invoices"])
        invoices = self._run(date(2026, 2, 1), sub)["invoices"]
        self.assertEqual(len(invoices), 1)
        self.assertEqual(self._billed_periods(sub), [(date(2026, 1, 1), date(2026, 1, 31))])
        self.assertEqual(invoices.invoice_date, date(2026, 2, 1))
        self.assertEqual(sub.next_invoice_date, date(2026, 3, 1))

    def test_calendar_alignment_prorates_the_first_period_by_days(self):
        plan = self._create_plan(code="CAL", name="Calendar", price=310.0, period_alignment="calendar")
        sub = self._start(plan=plan, start_date=date(2026, 1, 22))
        invoices = self._run(date(2026, 2, 1), sub)["invoices"].sorted("id")
        self.assertEqual(
            self._billed_periods(sub), [(date(2026, 1, 22), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 28))]
        )
        # 10 of 31 days of January
        self.assertEqual(invoices[0].invoice_line_ids.price_unit, sub.currency_id.round(310.0 * 10 / 31))
        self.assertEqual(invoices[1].invoice_line_ids.price_unit, 310.0)

    # --- trial and pause -------------------------------------------------
    def test_trial_is_not_billed(self):
        plan = self._create_plan(code="TRIAL", name="With trial", trial_period_count=14, trial_period_unit="day")
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        self.assertEqual(sub.state, "trial")
        self.assertEqual(sub.trial_end_date, date(2026, 1, 14))
        self.assertFalse(self._run(date(2026, 1, 14), sub)["invoices"])
        self._run(date(2026, 1, 15), sub)
        self.assertEqual(self._billed_periods(sub), [(date(2026, 1, 15), date(2026, 2, 14))])
        self.env["subscription.subscription"]._cron_update_states(date(2026, 1, 15))
        self.assertEqual(sub.state, "active", "the trial converts when it ends")

    def test_paused_periods_are_not_billed(self):
        sub = self._start(start_date=date(2026, 1, 1))
        self._run(date(2026, 1, 1), sub)
        sub._pause(date(2026, 1, 20))
        self.assertFalse(self._run(date(2026, 4, 1), sub)["invoices"], "no period is billed while paused")
        self.assertFalse(sub.next_invoice_date)
        sub._resume(date(2026, 4, 10))
        self._run(date(2026, 4, 10), sub)
        self.assertEqual(
            self._billed_periods(sub), [(date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 4, 10), date(2026, 5, 9))]
        )

    def test_arrears_bills_the_used_part_before_a_pause(self):
        sub = self._start(plan=self.plan_arrears, start_date=date(2026, 1, 1))
        sub._pause(date(2026, 1, 11))
        invoices = self._run(date(2026, 2, 1), sub)["invoices"]
        self.assertEqual(self._billed_periods(sub), [(date(2026, 1, 1), date(2026, 1, 10))])
        self.assertEqual(invoices.invoice_line_ids.price_unit, sub.currency_id.round(100.0 * 10 / 31))

    def test_last_period_is_cut_at_the_end_date(self):
        sub = self._start(start_date=date(2026, 1, 1), end_date=date(2026, 2, 10))
        self._run(date(2026, 6, 1), sub)
        self.assertEqual(
            self._billed_periods(sub), [(date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 2, 1), date(2026, 2, 10))]
        )
        self.assertFalse(sub.next_invoice_date, "nothing left to bill after the end date")

    # --- invoices --------------------------------------------------------
    def test_invoice_carries_customer_taxes_and_period_text(self):
        sub = self._start(start_date=date(2026, 3, 1))
        invoice = self._run(date(2026, 3, 1), sub)["invoices"]
        line = invoice.invoice_line_ids
        self.assertEqual(invoice.partner_id, self.customer)
        self.assertEqual(line.tax_ids, self.tax_sale)
        self.assertIn(sub.line_ids.name, line.name)
        self.assertEqual(invoice.amount_untaxed, 100.0)
        self.assertEqual(invoice.invoice_origin, sub.name)

    def test_plan_without_auto_post_leaves_draft_invoices(self):
        plan = self._create_plan(code="DRAFT", name="Draft invoices", auto_post_invoices=False)
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        invoice = self._run(date(2026, 1, 1), sub)["invoices"]
        self.assertEqual(invoice.state, "draft")
        self.assertFalse(self._run(date(2026, 1, 1), sub)["invoices"], "a draft invoice counts as billed")

    def test_grouping_option_puts_a_customers_subscriptions_due_the_same_day_on_one_invoice(self):
        self.customer.subscription_invoice_grouping = True
        sub_a = self._start(start_date=date(2026, 1, 1))
        sub_b = self._start(
            plan=self._create_plan(code="SUP", name="Support", product=self.product_support, price=30.0),
            start_date=date(2026, 1, 1),
        )
        sub_c = self._start(start_date=date(2026, 1, 5))
        invoices = self._run(date(2026, 1, 5), sub_a | sub_b | sub_c)["invoices"]
        self.assertEqual(len(invoices), 2, "subscriptions due on 1 Jan share an invoice; 5 Jan gets its own")
        shared = invoices.filtered(lambda m: m.invoice_date == date(2026, 1, 1))
        self.assertEqual(shared.subscription_ids, sub_a | sub_b)
        self.assertEqual(shared.amount_untaxed, 130.0)

    def test_without_grouping_each_subscription_gets_its_own_invoice(self):
        sub_a = self._start(start_date=date(2026, 1, 1))
        sub_b = self._start(start_date=date(2026, 1, 1))
        invoices = self._run(date(2026, 1, 1), sub_a | sub_b)["invoices"]
        self.assertEqual(len(invoices), 2)
        self.assertEqual(invoices.mapped(lambda m: len(m.subscription_ids)), [1, 1])

    # --- never twice -----------------------------------------------------
    def test_database_refuses_an_invoice_line_overlapping_a_billed_period(self):
        """January (1–31 Jan) is billed. A second line of the same subscription line for the same
        period, or for 15 Jan – 14 Feb (another start day, the old unique index let it through),
        is refused by the exclusion constraint; 1–28 Feb is not."""
        sub = self._start(start_date=date(2026, 1, 1))
        invoice = self._run(date(2026, 1, 1), sub)["invoices"]
        line = invoice.invoice_line_ids

        def second_invoice(start, end):
            return self.env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.customer.id,
                    "invoice_date": date(2026, 1, 2),
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": self.product_hosting.id,
                                "price_unit": 100.0,
                                "subscription_id": sub.id,
                                "subscription_line_id": line.subscription_line_id.id,
                                "subscription_period_start": start,
                                "subscription_period_end": end,
                            }
                        )
                    ],
                }
            )

        for start, end in ((date(2026, 1, 1), date(2026, 1, 31)), (date(2026, 1, 15), date(2026, 2, 14))):
            with (
                self.subTest(start=start),
                self.assertRaises(ExclusionViolation),
                mute_logger("odoo.sql_db"),
                self.env.cr.savepoint(),
            ):
                second_invoice(start, end)
        self.assertTrue(second_invoice(date(2026, 2, 1), date(2026, 2, 28)))

    def test_cancelled_invoice_releases_its_period_to_be_billed_again_on_purpose(self):
        sub = self._start(start_date=date(2026, 1, 1))
        invoice = self._run(date(2026, 1, 1), sub)["invoices"]
        self.assertFalse(sub.has_released_periods, "the form offers no rebilling")
        invoice.button_draft()
        invoice.button_cancel()
        self.assertTrue(sub.has_released_periods, "now it does")
        self.assertFalse(self._run(date(2026, 1, 1), sub)["invoices"], "a cancel does not rebill by itself")
        sub._rewind_to_released_periods()
        self.assertEqual(sub.next_period_start, date(2026, 1, 1))
        again = self._run(date(2026, 1, 1), sub)["invoices"]
        self.assertEqual(len(again), 1)
        self.assertEqual(self._billed_periods(sub), [(date(2026, 1, 1), date(2026, 1, 31))])
        self.assertFalse(sub.has_released_periods, "billed again: nothing left to release")

    def test_invoice_pdf_prints_the_subscription_and_service_period(self):
        sub = self._start(start_date=date(2026, 3, 1))
        invoice = self._run(date(2026, 3, 1), sub)["invoices"]
        html, _format = self.env["ir.actions.report"]._render_qweb_html("account.report_invoice", invoice.ids)
        html = html.decode()
        self.assertIn(sub.name, html)
        self.assertIn("o_subscription_period", html)

    def test_plan_sending_invoices_sends_each_posted_invoice(self):
        plan = self._create_plan(code="SEND", name="Sent by e-mail", send_invoices=True)
        sub = self._start(plan=plan, start_date=date(2026, 1, 1))
        invoice = self._run(date(2026, 1, 1), sub)["invoices"]
        self.assertTrue(invoice.is_move_sent, "the invoice was sent to the customer")

    def test_customer_without_email_still_gets_a_posted_invoice(self):
        plan = self._create_plan(code="SEND2", name="Sent by e-mail", send_invoices=True)
        no_email = self.env["res.partner"].create({"name": "No Mail KG"})
        sub = self._start(plan=plan, partner=no_email, start_date=date(2026, 1, 1))
        result = self._run(date(2026, 1, 1), sub)
        self.assertEqual(len(result["invoices"]), 1)
        self.assertFalse(result["errors"])
        self.assertEqual(result["invoices"].state, "posted")
