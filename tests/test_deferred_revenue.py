import uuid
from datetime import date

from freezegun import freeze_time
from psycopg2.errors import SerializationFailure

from odoo import SUPERUSER_ID, Command, api
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.service.model import get_public_method
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import CommittedDataCase, SubscriptionCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestDeferredRevenue(SubscriptionCommon):
    """Revenue of later service months waits on the deferred account and is recognised month by month."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.deferred_account = cls.env["account.account"].create(
            {"name": "Deferred Revenue", "code": "DEFREV", "account_type": "liability_current"}
        )
        cls.company.deferred_revenue_account_id = cls.deferred_account
        cls.revenue_account = (
            cls.product_hosting.property_account_income_id or cls.company_data["default_account_revenue"]
        )
        cls.Line = cls.env["deferred.revenue.schedule.line"]

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def _bill(self, sub, date_ref):
        invoices = sub._run_billing(date_ref)["invoices"]
        self.assertTrue(invoices, f"the run of {date_ref} invoices {sub.name}")
        return invoices

    def _balance(self, account, date_to=None, line=None):
        """Credit balance of ``account`` over posted entries (optionally up to ``date_to``)."""
        domain = [("account_id", "=", account.id), ("parent_state", "=", "posted")]
        if date_to:
            domain.append(("date", "<=", date_to))
        if line is not None:
            domain.append(("id", "in", line.ids))
        return -sum(self.env["account.move.line"].search(domain).mapped("balance"))

    def _revenue_of(self, invoice):
        """Credit balance of the revenue account over the invoice and the entries recognising it."""
        schedules = invoice.deferred_schedule_ids
        entries = schedules.line_ids.recognition_move_id
        lines = (invoice | entries).line_ids.filtered(lambda line: line.account_id == self.revenue_account)
        return -sum(lines.mapped("balance"))

    def _yearly_invoice(self, start=date(2026, 1, 1), **values):
        sub = self._start(plan=self.plan_yearly, start_date=start, **values)
        return sub, self._bill(sub, start)

    # ------------------------------------------------------------------
    # Deferral at posting
    # ------------------------------------------------------------------
    def test_yearly_invoice_books_its_revenue_on_the_deferred_account_with_a_schedule_by_days(self):
        _sub, invoice = self._yearly_invoice()
        line = invoice.invoice_line_ids
        self.assertEqual(line.account_id, self.deferred_account)
        self.assertEqual(line.deferral_revenue_account_id, self.revenue_account)
        self.assertEqual(self._balance(self.deferred_account), 1200.0)
        schedule = invoice.deferred_schedule_ids
        self.assertEqual(len(schedule), 1)
        self.assertEqual((schedule.date_start, schedule.date_end), (date(2026, 1, 1), date(2026, 12, 31)))
        days = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]
        # cumulative rounding of 1200 * days / 365, by hand: each month is its running total minus the previous
        expected, previous, running = [], 0.0, 0
        for month_days in days:
            running += month_days
            cumulative = round(1200 * running / 365 + 1e-9, 2)
            expected.append(round(cumulative - previous, 2))
            previous = cumulative
        self.assertEqual([round(a, 2) for a in schedule.line_ids.mapped("amount")], expected)
        self.assertAlmostEqual(sum(schedule.line_ids.mapped("amount")), 1200.0, places=6)
        self.assertEqual(schedule.line_ids.mapped("date")[0], date(2026, 1, 31))
        self.assertEqual(schedule.line_ids.mapped("date")[-1], date(2026, 12, 31))
        self.assertEqual(set(schedule.line_ids.mapped("state")), {"pending"})

    def test_a_line_inside_the_invoice_month_is_not_deferred(self):
        plan = self._create_plan(code="CAL", name="Calendar monthly", period_alignment="calendar")
        sub = self._start(plan=plan, start_date=date(2026, 3, 1))
        invoice = self._bill(sub, date(2026, 3, 1))
        self.assertEqual(invoice.invoice_line_ids.account_id, self.revenue_account)
        self.assertFalse(invoice.invoice_line_ids.deferral_revenue_account_id)
        self.assertFalse(invoice.deferred_schedule_ids)

    def test_no_deferred_account_means_no_deferral(self):
        self.company.deferred_revenue_account_id = False
        _sub, invoice = self._yearly_invoice()
        self.assertEqual(invoice.invoice_line_ids.account_id, self.revenue_account)
        self.assertFalse(invoice.deferred_schedule_ids)

    def test_equal_monthly_parts(self):
        self.company.deferred_revenue_method = "equal"
        _sub, invoice = self._yearly_invoice(start=date(2026, 1, 15))
        amounts = invoice.deferred_schedule_ids.line_ids.mapped("amount")
        # 15 Jan - 14 Jan: January 17/31 of a month, eleven full months, January 14/31 (100.00 a month)
        self.assertEqual(len(amounts), 13)
        self.assertAlmostEqual(amounts[0], round(100 * 17 / 31, 2))
        self.assertEqual(amounts[1:12], [100.0] * 11)
        self.assertAlmostEqual(sum(amounts), 1200.0, places=6)

    def test_service_dates_on_a_manual_invoice_are_deferred(self):
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.customer.id,
                "invoice_date": date(2026, 4, 10),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_support.id,
                            "price_unit": 300.0,
                            "tax_ids": [Command.clear()],
                            "subscription_period_start": date(2026, 4, 1),
                            "subscription_period_end": date(2026, 6, 30),
                        }
                    )
                ],
            }
        )
        invoice.action_post()
        schedule = invoice.deferred_schedule_ids
        # 30, 31 and 30 of 91 days, rounded on the running total: 98.90, 201.10 - 98.90, 300 - 201.10
        april, to_may = round(300 * 30 / 91, 2), round(300 * 61 / 91, 2)
        expected = [april, round(to_may - april, 2), round(300 - to_may, 2)]
        self.assertEqual([round(a, 2) for a in schedule.line_ids.mapped("amount")], expected)
        # the revenue of April is recognised with April, the rest waits
        self.assertEqual(schedule.line_ids.mapped("date"), [date(2026, 4, 30), date(2026, 5, 31), date(2026, 6, 30)])

    def test_service_end_before_start_is_refused(self):
        with self.assertRaisesRegex(Exception, "Service End"):
            self.env["account.move"].create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.customer.id,
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": self.product_support.id,
                                "subscription_period_start": date(2026, 4, 1),
                                "subscription_period_end": date(2026, 3, 31),
                            }
                        )
                    ],
                }
            )

    # ------------------------------------------------------------------
    # Recognition
    # ------------------------------------------------------------------
    def test_recognising_a_month_twice_creates_nothing_and_catch_up_dates_each_month(self):
        sub, invoice = self._yearly_invoice()
        self.assertEqual(sub.deferred_revenue_amount, 1200.0)
        schedule = invoice.deferred_schedule_ids
        january = self.Line._recognise_until(date(2026, 1, 20))
        self.assertEqual(len(january), 1)
        self.assertEqual(january.date, date(2026, 1, 31))
        self.assertEqual(january.state, "posted")
        self.assertFalse(self.Line._recognise_until(date(2026, 1, 31)), "January is recognised once")
        catch_up = self.Line._recognise_until(date(2026, 3, 31))
        self.assertEqual(sorted(catch_up.mapped("date")), [date(2026, 2, 28), date(2026, 3, 31)])
        recognised = schedule.line_ids.filtered(lambda line: line.state == "recognised")
        self.assertEqual(len(recognised), 3)
        expected = sum(recognised.mapped("amount"))
        self.assertAlmostEqual(self._revenue_of(invoice), expected, places=2)
        self.assertAlmostEqual(self._balance(self.deferred_account), 1200.0 - expected, places=2)
        self.assertAlmostEqual(schedule.recognised_amount + schedule.residual_amount, 1200.0, places=2)
        sub.invalidate_recordset(["deferred_revenue_amount"])
        self.assertAlmostEqual(sub.deferred_revenue_amount, 1200.0 - expected, places=2)
        for entry in january | catch_up:
            self.assertAlmostEqual(sum(entry.line_ids.mapped("debit")), sum(entry.line_ids.mapped("credit")))
            self.assertTrue(entry.is_revenue_recognition)

    def test_one_entry_per_month_groups_lines_by_account(self):
        invoices = self.env["account.move"]
        for partner in (self.customer, self.other_customer):
            invoices |= self._yearly_invoice(partner=partner)[1]
        entry = self.Line._recognise_until(date(2026, 1, 31))
        self.assertEqual(len(entry), 1, "one entry per month and journal")
        self.assertEqual(len(entry.line_ids), 2, "one revenue line and one deferred line for two schedules")
        self.assertEqual(entry.recognition_line_ids.schedule_id, invoices.deferred_schedule_ids)
        revenue_line = entry.line_ids.filtered(lambda line: line.account_id == self.revenue_account)
        self.assertAlmostEqual(revenue_line.credit, 2 * round(1200 * 31 / 365, 2))

    def test_cron_recognises_the_months_that_have_ended(self):
        _sub, invoice = self._yearly_invoice()
        cron = self.env.ref("subscription_billing.ir_cron_deferred_revenue_recognition")
        with freeze_time("2026-03-05 02:00:00"), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        months = invoice.deferred_schedule_ids.line_ids
        self.assertEqual(months.mapped("state")[:3], ["recognised", "recognised", "pending"])
        self.assertEqual(months[:2].recognition_move_id.mapped("date"), [date(2026, 1, 31), date(2026, 2, 28)])
        with freeze_time("2026-03-06 02:00:00"), self.enter_registry_test_mode():
            cron.method_direct_trigger()
        self.assertEqual(len(months.recognition_move_id), 2, "the next day's run recognises nothing more")

    def test_locked_month_is_recognised_on_the_first_open_day(self):
        _sub, invoice = self._yearly_invoice()
        self.company.sudo().fiscalyear_lock_date = date(2026, 2, 15)
        moves = self.Line._recognise_until(date(2026, 1, 31))
        self.assertEqual(moves.date, date(2026, 2, 16))
        self.assertEqual(invoice.deferred_schedule_ids.line_ids[0].recognition_date, date(2026, 2, 16))

    def test_recognition_carries_the_plans_account_assignment(self):
        analytic_plan = self.env["account.analytic.plan"].create({"name": "Products"})
        analytic = self.env["account.analytic.account"].create({"name": "Cloud", "plan_id": analytic_plan.id})
        other_revenue = self.revenue_account.copy({"code": "REVSUB"})
        self.plan_yearly.write(
            {"revenue_account_id": other_revenue.id, "analytic_distribution": {str(analytic.id): 100}}
        )
        _sub, invoice = self._yearly_invoice()
        line = invoice.invoice_line_ids
        self.assertEqual(line.deferral_revenue_account_id, other_revenue)
        self.assertEqual(line.analytic_distribution, {str(analytic.id): 100})
        self.assertFalse(line.analytic_line_ids, "no analytic revenue before it is recognised")
        # what the schedule form's analytic widget reads
        [values] = invoice.deferred_schedule_ids.web_read({"analytic_distribution": {}, "analytic_precision": {}})
        self.assertEqual(values["analytic_distribution"], {str(analytic.id): 100})
        self.assertEqual(
            values["analytic_precision"], self.env["decimal.precision"].precision_get("Percentage Analytic")
        )
        entry = self.Line._recognise_until(date(2026, 1, 31))
        revenue_line = entry.line_ids.filtered(lambda aml: aml.account_id == other_revenue)
        self.assertEqual(revenue_line.analytic_distribution, {str(analytic.id): 100})
        self.assertAlmostEqual(sum(revenue_line.analytic_line_ids.mapped("amount")), round(1200 * 31 / 365, 2))

    def test_plan_deferred_account_wins_over_the_company(self):
        plan_deferred = self.deferred_account.copy({"code": "DEFPLAN"})
        self.plan_yearly.deferred_revenue_account_id = plan_deferred
        _sub, invoice = self._yearly_invoice()
        self.assertEqual(invoice.invoice_line_ids.account_id, plan_deferred)
        self.assertEqual(invoice.deferred_schedule_ids.deferred_account_id, plan_deferred)

    # ------------------------------------------------------------------
    # Credit notes and reset to draft
    # ------------------------------------------------------------------
    def _credit_note(self, invoice, date_ref):
        reversal = invoice._reverse_moves([{"invoice_date": date_ref, "date": date_ref}])
        reversal.action_post()
        return reversal

    def test_credit_note_after_three_recognised_months_leaves_the_deferred_account_at_zero(self):
        _sub, invoice = self._yearly_invoice()
        self.Line._recognise_until(date(2026, 3, 31))
        credit_note = self._credit_note(invoice, date(2026, 4, 10))
        self.assertEqual(credit_note.invoice_line_ids.account_id, self.deferred_account)
        self.assertAlmostEqual(self._balance(self.deferred_account), 0.0, places=2)
        self.assertAlmostEqual(self._revenue_of(invoice) + self._revenue_of(credit_note), 0.0, places=2)
        schedule = invoice.deferred_schedule_ids
        self.assertEqual(schedule.state, "done")
        self.assertEqual(set(schedule.line_ids[3:].mapped("state")), {"cancelled"})
        self.assertFalse(self.Line._recognise_until(date(2026, 12, 31)), "nothing left to recognise")
        credit_schedule = credit_note.deferred_schedule_ids
        self.assertEqual(credit_schedule.origin_schedule_id, schedule)
        self.assertAlmostEqual(credit_schedule.amount, -1200.0)

    def test_partial_credit_note_reduces_the_months_to_come(self):
        _sub, invoice = self._yearly_invoice()
        self.Line._recognise_until(date(2026, 6, 30))
        schedule = invoice.deferred_schedule_ids
        pending_before = schedule.residual_amount
        credit_note = self.env["account.move"].create(
            {
                "move_type": "out_refund",
                "partner_id": self.customer.id,
                "invoice_date": date(2026, 7, 1),
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": self.product_hosting.id,
                            "price_unit": 300.0,
                            "tax_ids": [Command.clear()],
                            "subscription_period_start": date(2026, 1, 1),
                            "subscription_period_end": date(2026, 12, 31),
                        }
                    )
                ],
            }
        )
        credit_note.action_post()
        self.assertAlmostEqual(schedule.residual_amount, pending_before - 300.0, places=2)
        self.assertAlmostEqual(self._balance(self.deferred_account), pending_before - 300.0, places=2)
        self.Line._recognise_until(date(2026, 12, 31))
        self.assertAlmostEqual(self._balance(self.deferred_account), 0.0, places=2)
        self.assertAlmostEqual(self._revenue_of(invoice), 900.0, places=2)

    def test_reset_to_draft_removes_the_schedule_or_refuses_when_recognised(self):
        _sub, invoice = self._yearly_invoice()
        invoice.button_draft()
        self.assertFalse(invoice.deferred_schedule_ids)
        self.assertEqual(invoice.invoice_line_ids.account_id, self.revenue_account)
        self.assertFalse(invoice.invoice_line_ids.deferral_revenue_account_id)
        invoice.action_post()
        entry = self.Line._recognise_until(date(2026, 1, 31))
        with self.assertRaisesRegex(UserError, "already recognised"):
            invoice.button_draft()
        with self.assertRaisesRegex(UserError, "reverse it instead"):
            entry.button_draft()
        reversal = entry._reverse_moves([{"date": date(2026, 2, 1)}])
        reversal.action_post()
        self.assertEqual(invoice.deferred_schedule_ids.line_ids[0].state, "pending", "the month is given back")
        invoice.button_draft()
        self.assertFalse(invoice.deferred_schedule_ids)
        self.assertAlmostEqual(self._balance(self.deferred_account), 0.0, places=2)

    def test_mid_year_upgrade_defers_the_proration_so_each_month_nets_to_its_plan(self):
        family = self.env["subscription.plan.family"].create({"name": "Yearly tiers"})
        basic = self._create_plan(
            code="YB",
            name="Yearly Basic",
            price=365.0,
            billing_period_unit="year",
            family_id=family.id,
            rank=1,
            change_invoicing="immediate",
        )
        pro = self._create_plan(
            code="YP",
            name="Yearly Pro",
            price=730.0,
            billing_period_unit="year",
            product=self.product_support,
            family_id=family.id,
            rank=2,
            change_invoicing="immediate",
        )
        sub = self._start(plan=basic, start_date=date(2026, 1, 1))
        yearly = self._bill(sub, date(2026, 1, 1))
        target = {"plan_id": pro.id, "lines": {str(line.id): 1.0 for line in pro.line_ids}}
        sub._change(target, "immediate", date(2026, 7, 1))
        proration = sub.invoice_ids - yearly
        self.assertEqual(len(proration), 1)
        self.assertEqual(len(proration.deferred_schedule_ids), 2, "credit for Basic and charge for Pro, both deferred")
        self.Line._recognise_until(date(2026, 12, 31))

        # July to December is 184 days: Basic 1.00 a day is replaced by Pro 2.00 a day
        def recognised_revenue(month_end):
            lines = self.env["account.move.line"].search(
                [
                    ("move_id.is_revenue_recognition", "=", True),
                    ("date", "=", month_end),
                    ("account_id", "!=", self.deferred_account.id),
                ]
            )
            return -sum(lines.mapped("balance"))

        self.assertAlmostEqual(recognised_revenue(date(2026, 8, 31)), 62.0, places=2, msg="August: 31 days of Pro")
        self.assertAlmostEqual(recognised_revenue(date(2026, 6, 30)), 30.0, places=2, msg="June: 30 days of Basic")
        self.assertAlmostEqual(self._balance(self.deferred_account), 0.0, places=2)

    def _manual_invoice(self, lines, move_type="out_invoice", invoice_date=date(2026, 1, 1), post=True):
        """A hand-written invoice; ``lines`` are (price, service start, service end[, product])."""
        move = self.env["account.move"].create(
            {
                "move_type": move_type,
                "partner_id": self.customer.id,
                "invoice_date": invoice_date,
                "invoice_line_ids": [
                    Command.create(
                        {
                            "product_id": (line[3] if len(line) > 3 else self.product_hosting).id,
                            "price_unit": line[0],
                            "tax_ids": [Command.clear()],
                            "subscription_period_start": line[1],
                            "subscription_period_end": line[2],
                        }
                    )
                    for line in lines
                ],
            }
        )
        if post:
            move.action_post()
        return move

    def test_duplicating_a_deferred_invoice_books_the_copy_on_revenue_until_posted(self):
        _sub, invoice = self._yearly_invoice()
        copy = invoice.copy()
        self.assertEqual(copy.invoice_line_ids.account_id, self.revenue_account, "the copy is a fresh draft")
        self.assertFalse(copy.invoice_line_ids.deferral_revenue_account_id)
        copy.invoice_date = date(2026, 1, 1)
        copy.action_post()
        self.assertEqual(copy.invoice_line_ids.account_id, self.revenue_account, "no service period: revenue now")
        self.assertFalse(copy.deferred_schedule_ids)

    def test_credit_note_reduces_the_schedule_of_the_very_line_it_reverses(self):
        # two lines with the same product and period: each credit line must meet its own schedule
        year = (date(2026, 1, 1), date(2026, 12, 31))
        invoice = self._manual_invoice([(1200.0, *year), (-120.0, *year)])
        self.assertEqual(len(invoice.deferred_schedule_ids), 2)
        self.Line._recognise_until(date(2026, 3, 31))
        credit_note = self._credit_note(invoice, date(2026, 4, 10))
        for line in invoice.invoice_line_ids:
            schedule = line.deferred_schedule_ids
            self.assertEqual(schedule.state, "done", line.name)
            self._assert_schedule_matches_line(schedule)
        self.assertEqual(
            credit_note.deferred_schedule_ids.origin_schedule_id, invoice.deferred_schedule_ids, "one each"
        )
        self.assertAlmostEqual(self._balance(self.deferred_account), 0.0, places=2)
        self.assertFalse(self.Line._recognise_until(date(2026, 12, 31)), "nothing keeps running")

    def test_credit_note_of_an_invoice_posted_before_deferral_is_not_deferred(self):
        self.company.deferred_revenue_account_id = False
        _sub, invoice = self._yearly_invoice()
        self.company.deferred_revenue_account_id = self.deferred_account
        credit_note = self._credit_note(invoice, date(2026, 3, 10))
        self.assertEqual(credit_note.invoice_line_ids.account_id, self.revenue_account, "mirrors the invoice")
        self.assertFalse(credit_note.deferred_schedule_ids)
        self.assertAlmostEqual(self._balance(self.deferred_account), 0.0, places=2)

    def test_a_draft_whose_period_changed_is_decided_again_at_posting(self):
        invoice = self._manual_invoice([(300.0, date(2026, 1, 1), date(2026, 3, 31))])
        self.assertEqual(invoice.invoice_line_ids.account_id, self.deferred_account)
        invoice.button_draft()
        invoice.invoice_line_ids.subscription_period_end = date(2026, 1, 31)
        invoice.action_post()
        self.assertEqual(invoice.invoice_line_ids.account_id, self.revenue_account)
        self.assertFalse(invoice.deferred_schedule_ids)

    def test_late_run_does_not_change_what_a_credit_note_takes_off(self):
        """A credit note in July takes its amount off July to December, whether or not the run caught up."""
        year = (date(2026, 1, 1), date(2026, 12, 31))
        invoice = self._manual_invoice([(1200.0, *year)])
        months_before = invoice.deferred_schedule_ids.line_ids.mapped("amount")
        self._manual_invoice([(300.0, *year)], move_type="out_refund", invoice_date=date(2026, 7, 1))
        months_after = invoice.deferred_schedule_ids.line_ids.sorted("date")
        self.assertEqual(months_after[:6].mapped("amount"), months_before[:6], "January to June untouched")
        july_to_december = sum(months_before[6:])
        self.assertAlmostEqual(sum(months_after[6:].mapped("amount")), july_to_december - 300.0, places=2)
        self.Line._recognise_until(date(2026, 12, 31))
        self.assertAlmostEqual(self._revenue_of(invoice), 900.0, places=2)
        self.assertAlmostEqual(self._balance(self.deferred_account), 0.0, places=2)

    def test_a_month_where_revenue_and_its_reduction_cancel_out_still_gets_its_entry(self):
        year = (date(2026, 1, 1), date(2026, 12, 31))
        invoice = self._manual_invoice([(1200.0, *year), (-1200.0, *year)])
        entry = self.Line._recognise_until(date(2026, 1, 31))
        self.assertEqual(len(entry), 1)
        self.assertEqual(len(entry.line_ids), 4, "revenue and reduction on their own items")
        self.assertEqual(
            set(invoice.deferred_schedule_ids.line_ids.filtered(lambda m: m.date == date(2026, 1, 31)).mapped("state")),
            {"recognised"},
        )

    def test_a_recognition_reversal_cannot_be_undone_and_only_whole_entries_are_reversed(self):
        self._yearly_invoice()
        entry = self.Line._recognise_until(date(2026, 1, 31))
        reversal = entry._reverse_moves([{"date": date(2026, 2, 1)}])
        reversal.action_post()
        self.assertTrue(reversal.is_revenue_recognition)
        with self.assertRaisesRegex(UserError, "reverse it instead"):
            reversal.button_draft()
        again = reversal._reverse_moves([{"date": date(2026, 2, 2)}])
        with self.assertRaisesRegex(UserError, "twice"):
            again.action_post()
        entry_2 = self.Line._recognise_until(date(2026, 1, 31))
        partial = entry_2._reverse_moves([{"date": date(2026, 2, 3)}])
        partial.line_ids[0].with_context(check_move_validity=False).balance /= 2
        partial.line_ids[1].with_context(check_move_validity=False).balance /= 2
        with self.assertRaisesRegex(UserError, "as a whole"):
            partial.action_post()

    def test_close_month_refuses_a_future_month(self):
        with freeze_time("2026-05-20"):
            with self.assertRaisesRegex(ValidationError, "cannot be recognised yet"):
                self.env["deferred.revenue.recognition.wizard"].create({"date": date(2026, 6, 30)})
            wizard = self.env["deferred.revenue.recognition.wizard"].create({"date": date(2026, 5, 31)})
        self.assertEqual(wizard.date, date(2026, 5, 31))

    # ------------------------------------------------------------------
    # Foreign currency
    # ------------------------------------------------------------------
    def _assert_schedule_matches_line(self, schedule):
        """Recognised + still deferred = the line's net amount, in company and invoice currency."""
        line = schedule.move_line_id
        # its own months (a credit note's include what it took off the invoice's months) ...
        own = schedule.line_ids.filtered(lambda m: m.state in ("pending", "recognised", "credited"))
        # ... plus what credit notes took off its months
        taken = self.Line.search([("credited_line_id", "in", schedule.line_ids.ids)])
        self.assertAlmostEqual(sum(own.mapped("amount")) - sum(taken.mapped("amount")), -line.balance, 2)
        self.assertAlmostEqual(
            sum(own.mapped("amount_currency")) - sum(taken.mapped("amount_currency")), -line.amount_currency, 2
        )

    def test_foreign_currency_revenue_is_recognised_at_the_invoice_rate(self):
        chf = self.setup_other_currency("CHF", rates=[("2026-01-01", 2.0), ("2026-02-01", 4.0)])
        self.plan_yearly.line_ids.price_ids = [Command.create({"currency_id": chf.id, "price_unit": 1200.0})]
        _sub, invoice = self._yearly_invoice(currency_id=chf.id)
        self.assertEqual(invoice.currency_id, chf)
        line = invoice.invoice_line_ids
        self.assertAlmostEqual(line.amount_currency, -1200.0)
        self.assertAlmostEqual(line.balance, -600.0, msg="1200 CHF at 2 CHF per company unit")
        schedule = invoice.deferred_schedule_ids
        self.assertAlmostEqual(schedule.amount, 600.0)
        self.assertAlmostEqual(schedule.amount_currency, 1200.0)
        # February is recognised after the rate moved to 4: still at the invoice's rate of 2
        entries = self.Line._recognise_until(date(2026, 2, 28))
        february = entries.filtered(lambda m: m.date == date(2026, 2, 28))
        revenue = february.line_ids.filtered(lambda aml: aml.account_id == self.revenue_account)
        chf_february = round(1200 * 59 / 365, 2) - round(1200 * 31 / 365, 2)
        company_february = round(600 * 59 / 365, 2) - round(600 * 31 / 365, 2)
        self.assertEqual(revenue.currency_id, chf)
        self.assertAlmostEqual(revenue.amount_currency, -chf_february, places=2)
        self.assertAlmostEqual(revenue.balance, -company_february, places=2)
        self._assert_schedule_matches_line(schedule)
        # deferred in company currency: 600 less what January and February recognised, no revaluation
        self.assertAlmostEqual(self._balance(self.deferred_account), 600.0 - round(600 * 59 / 365, 2), places=2)
        credit_note = self._credit_note(invoice, date(2026, 3, 15))
        self._assert_schedule_matches_line(schedule)
        self._assert_schedule_matches_line(credit_note.deferred_schedule_ids)
        self.assertAlmostEqual(self._balance(self.deferred_account), 0.0, places=2)
        deferred_lines = self.env["account.move.line"].search(
            [("account_id", "=", self.deferred_account.id), ("parent_state", "=", "posted")]
        )
        self.assertAlmostEqual(sum(deferred_lines.mapped("amount_currency")), 0.0, places=2, msg="also in CHF")

    # ------------------------------------------------------------------
    # Report and ledger
    # ------------------------------------------------------------------
    def test_waterfall_reconciles_with_the_ledger(self):
        _sub, invoice = self._yearly_invoice()
        self.Line._recognise_until(date(2026, 2, 28))
        self._credit_note(invoice, date(2026, 3, 10))
        report = self.env["deferred.revenue.report"].create(
            {"date_from": date(2026, 1, 1), "date_to": date(2026, 3, 31)}
        )
        rows = report._get_waterfall()
        january, february, march = rows
        jan_amount = round(1200 * 31 / 365, 2)
        feb_amount = round(1200 * 59 / 365, 2) - jan_amount
        self.assertEqual(float(january["opening"]), 0.0)
        self.assertEqual(float(january["added"]), 1200.0)
        self.assertAlmostEqual(float(january["recognised"]), jan_amount)
        self.assertAlmostEqual(float(february["recognised"]), feb_amount)
        self.assertEqual(float(march["reduced"]), -1200.0)
        self.assertAlmostEqual(float(march["recognised"]), -(jan_amount + feb_amount), msg="credited back at once")
        self.assertAlmostEqual(float(march["closing"]), 0.0)
        self.assertEqual(report.difference, 0.0)
        for month_end, row in zip((date(2026, 1, 31), date(2026, 2, 28), date(2026, 3, 31)), rows, strict=True):
            self.assertAlmostEqual(float(row["closing"]), self._balance(self.deferred_account, date_to=month_end))
        report.action_show()
        self.assertEqual(report.line_ids.mapped("month_label"), ["01/2026", "02/2026", "03/2026"])

    def test_waterfall_shows_planned_recognition_for_months_not_recognised_yet(self):
        _sub, invoice = self._yearly_invoice()
        self.Line._recognise_until(date(2026, 1, 31))
        report = self.env["deferred.revenue.report"].create(
            {"date_from": date(2026, 1, 1), "date_to": date(2026, 12, 31)}
        )
        rows = report._get_waterfall()
        self.assertEqual(len(rows), 12)
        schedule_months = invoice.deferred_schedule_ids.line_ids.sorted("date")
        self.assertEqual(float(rows[0]["planned"]), 0.0, "January is recognised (booked)")
        for row, month in zip(rows[1:], schedule_months[1:], strict=True):
            self.assertEqual(row["month"], month.date)
            self.assertAlmostEqual(float(row["planned"]), month.amount, msg=month.date)
            self.assertAlmostEqual(float(row["closing"]), 1200.0 - schedule_months[0].amount, msg="booked")
        self.assertAlmostEqual(float(rows[-1]["planned_closing"]), 0.0, msg="all of it recognised by December")
        report.action_show()
        self.assertAlmostEqual(sum(report.line_ids.mapped("planned")), 1200.0 - schedule_months[0].amount)


@tagged("post_install", "-at_install", "subscription_billing")
class TestRevenueRecognitionConcurrency(CommittedDataCase):
    """Two workers recognising the same month: each month is recognised once.

    The data is committed (several real cursors must see it) and lives in 2091, where no other test looks.
    """

    START = date(2091, 1, 1)

    def setUp(self):
        super().setUp()
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = self._main_company_with_chart(env)
            deferred = env["account.account"].create(
                {
                    "name": "Concurrency deferred revenue",
                    "code": f"DR{uuid.uuid4().hex[:6]}",
                    "account_type": "liability_current",
                    "company_ids": [Command.set(company.ids)],
                }
            )
            product = env["product.product"].create(
                {"name": "Concurrency yearly", "type": "service", "subscription_ok": True, "taxes_id": False}
            )
            plan = env["subscription.plan"].create(
                {
                    "name": "Concurrency yearly",
                    "code": f"CONCY-{uuid.uuid4().hex}",
                    "company_id": company.id,
                    "billing_period_unit": "year",
                    "deferred_revenue_account_id": deferred.id,  # the plan's account: the company stays untouched
                    "line_ids": [Command.create({"product_id": product.id, "price_unit": 365.0})],
                }
            )
            partner = env["res.partner"].create({"name": "Concurrency customer"})
            subs = env["subscription.subscription"].create(
                [
                    {"partner_id": partner.id, "plan_id": plan.id, "start_date": self.START, "company_id": company.id}
                    for _i in range(3)
                ]
            )
            self._delete_later(deferred, product, plan, partner, subs)
            subs.action_start()
            invoices = subs._run_billing(self.START)["invoices"]
            drafts = invoices.filtered(lambda m: m.state == "draft")
            drafts.auto_post = "no"
            drafts._post(soft=False)  # future-dated, so posted by hand
            cr.commit()  # pylint: disable=invalid-commit  # the workers under test run in their own cursors
            self.schedule_ids = invoices.deferred_schedule_ids.ids
            self.company_id = company.id
        self.assertEqual(len(self.schedule_ids), 3)

    def _january(self, env):
        return env["deferred.revenue.schedule.line"].search(
            [("schedule_id", "in", self.schedule_ids), ("date", "=", date(2091, 1, 31))]
        )

    def test_two_workers_recognise_a_month_once(self):
        env_a, env_b = self._env(), self._env()
        company_a = env_a["res.company"].browse(self.company_id)
        company_b = env_b["res.company"].browse(self.company_id)
        stale_b = self._january(env_b)
        self.assertEqual(set(stale_b.mapped("state")), {"pending"})

        moves_a = env_a["deferred.revenue.schedule.line"]._recognise_until(date(2091, 1, 31), companies=company_a)
        self.assertEqual(len(moves_a), 1)
        # while A holds the months, B skips them
        moves_b = env_b["deferred.revenue.schedule.line"]._recognise_until(date(2091, 1, 31), companies=company_b)
        self.assertFalse(moves_b)
        env_a.cr.commit()

        # B acting on its stale view after A committed is stopped by the database (Odoo's repeatable-read
        # transactions fail to update rows another transaction changed; the update also re-checks the state)
        with self.assertRaises(SerializationFailure), mute_logger("odoo.sql_db"):
            stale_b._recognise(date(2091, 1, 31))
        env_b.cr.rollback()
        env_b.invalidate_all()
        self.assertFalse(
            env_b["deferred.revenue.schedule.line"]._recognise_until(date(2091, 1, 31), companies=company_b)
        )
        january = self._january(env_b)
        self.assertEqual(set(january.mapped("state")), {"recognised"})
        self.assertEqual(january.recognition_move_id, moves_a.with_env(env_b))
        self.assertEqual(
            env_b["account.move"].search_count([("recognition_line_ids", "in", january.ids)]), 1, "one entry only"
        )


@tagged("post_install", "-at_install", "subscription_billing")
class TestDeferredRevenueSecurity(SubscriptionCommon):
    """Who may see, change and recognise deferred revenue — tried the hard way."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        deferred = cls.env["account.account"].create(
            {"name": "Deferred Revenue", "code": "DEFSEC", "account_type": "liability_current"}
        )
        cls.env.company.deferred_revenue_account_id = deferred
        sub = cls._start(plan=cls.plan_yearly, start_date=date(2026, 1, 1))
        cls.invoice = sub._run_billing(date(2026, 1, 1))["invoices"]
        cls.schedule = cls.invoice.deferred_schedule_ids
        cls.portal_user = new_test_user(
            cls.env, login="portal_deferred", groups="base.group_portal", partner_id=cls.customer_contact.id
        )
        cls.employee = new_test_user(cls.env, login="employee_deferred", groups="base.group_user")
        cls.clerk = new_test_user(cls.env, login="clerk_deferred", groups="account.group_account_invoice")

    def test_schedule_exists(self):
        self.assertEqual(len(self.schedule), 1)

    def test_portal_user_and_plain_employee_cannot_read_schedules(self):
        for user in (self.portal_user, self.employee):
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.schedule.with_user(user).read(["amount"])
            with self.subTest(user=user.login), self.assertRaises(AccessError):
                self.schedule.line_ids.with_user(user).read(["amount"])

    def test_invoicing_clerk_posts_deferred_invoices_but_cannot_edit_schedules_or_close_months(self):
        invoice = (
            self.env["account.move"]
            .with_user(self.clerk)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": self.customer.id,
                    "invoice_date": date(2026, 5, 1),
                    "invoice_line_ids": [
                        Command.create(
                            {
                                "product_id": self.product_support.id,
                                "price_unit": 90.0,
                                "tax_ids": [Command.clear()],
                                "subscription_period_start": date(2026, 5, 1),
                                "subscription_period_end": date(2026, 7, 31),
                            }
                        )
                    ],
                }
            )
        )
        invoice.action_post()
        schedule = invoice.deferred_schedule_ids
        self.assertEqual(len(schedule), 1, "posting creates the schedule with the clerk's rights")
        self.assertEqual(len(schedule.line_ids), 3)
        with self.assertRaises(AccessError):
            schedule.line_ids[0].write({"amount": 0.0})
        with self.assertRaises(AccessError):
            schedule.unlink()
        with self.assertRaises(AccessError):
            self.env["deferred.revenue.recognition.wizard"].with_user(self.clerk).create({"date": date(2026, 5, 31)})
        self.assertEqual(set(self.schedule.line_ids.mapped("state")), {"pending"})

    def test_user_of_another_company_sees_no_schedule_of_this_company(self):
        company_2 = self.setup_other_company()["company"]
        user_2 = new_test_user(
            self.env,
            login="c2_accountant",
            groups="account.group_account_manager",
            company_id=company_2.id,
            company_ids=[Command.set(company_2.ids)],
        )
        Schedule = self.env["deferred.revenue.schedule"].with_user(user_2)
        self.assertFalse(Schedule.search([]))
        self.assertFalse(self.env["deferred.revenue.schedule.line"].with_user(user_2).search([]))
        with self.assertRaises(AccessError):
            self.schedule.with_user(user_2).read(["amount"])
        # closing a month in company 2 leaves company 1's months alone
        with freeze_time("2027-01-15"):
            wizard = (
                self.env["deferred.revenue.recognition.wizard"].with_user(user_2).create({"date": date(2026, 12, 31)})
            )
            wizard.action_recognise()
        self.assertEqual(set(self.schedule.line_ids.mapped("state")), {"pending"})

    def test_recognition_methods_cannot_be_called_over_rpc(self):
        Line = self.env["deferred.revenue.schedule.line"]
        for name in ("_recognise", "_recognise_until", "_cron_recognise", "_mark_recognised", "_unrecognise"):
            with self.subTest(method=name), self.assertRaises(AccessError):
                get_public_method(Line, name)
        for name in ("_reduce_by_credit", "_remove", "_prepare_schedule_values"):
            with self.subTest(method=name), self.assertRaises(AccessError):
                get_public_method(self.env["deferred.revenue.schedule"], name)
        self.assertTrue(get_public_method(self.env["deferred.revenue.recognition.wizard"], "action_recognise"))
