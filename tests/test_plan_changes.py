import html
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from odoo import Command
from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import format_amount, format_date

from .common import SubscriptionCommon


def cents(amount):
    """``amount`` rounded to the cent, ties away from zero (the tests' own rounding, by hand)."""
    return float(Decimal(str(amount)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP))


@tagged("post_install", "-at_install", "subscription_billing")
class TestPlanChanges(SubscriptionCommon):
    """Upgrades, downgrades, quantity and add-on changes: proration, scheduling, rules, history, preview, trials.

    Every expected amount is worked out by hand in the test: a change on day d of
    a period of N days already billed in advance credits ``old × remaining/N``
    and charges ``new × remaining/N``, remaining = d..period end (inclusive).
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.family = cls.env["subscription.plan.family"].create({"name": "Hosting tiers"})
        cls.product_basic = cls._product("Basic hosting", 10.0)
        cls.product_pro = cls._product("Pro hosting", 20.0)
        cls.product_team = cls._product("Team hosting", 25.0)
        cls.product_seat = cls._product("Seat", 10.0)
        cls.product_backup = cls._product("Backup add-on", 30.0)
        # one family: Basic 10 (rank 1) < Pro 20 (rank 2) = Team 25 (rank 2)
        cls.plan_a = cls._family_plan("FAM-A", "Basic", 10.0, cls.product_basic, rank=1)
        cls.plan_b = cls._family_plan("FAM-B", "Pro", 20.0, cls.product_pro, rank=2)
        cls.plan_team = cls._family_plan("FAM-T", "Team", 25.0, cls.product_team, rank=2)
        # per seat: 10 a seat a month, 5 seats by default, and an optional backup add-on at 30
        cls.plan_seats = cls.env["subscription.plan"].create(
            {
                "name": "Seats",
                "code": "FAM-S",
                "family_id": cls.family.id,
                "rank": 1,
                "line_ids": [
                    Command.create(
                        {"product_id": cls.product_seat.id, "name": "Seat", "price_unit": 10.0, "quantity": 5.0}
                    ),
                    Command.create(
                        {
                            "product_id": cls.product_backup.id,
                            "name": "Backup add-on",
                            "price_unit": 30.0,
                            "optional": True,
                        }
                    ),
                ],
            }
        )
        cls.line_seat = cls.plan_seats.line_ids.filtered(lambda pl: pl.product_id == cls.product_seat)
        cls.line_backup = cls.plan_seats.line_ids.filtered(lambda pl: pl.product_id == cls.product_backup)
        cls.rate = cls.tax_sale.amount

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    @classmethod
    def _product(cls, name, price):
        return cls.env["product.product"].create(
            {
                "name": name,
                "type": "service",
                "list_price": price,
                "subscription_ok": True,
                "taxes_id": [Command.set(cls.tax_sale.ids)],
            }
        )

    @classmethod
    def _family_plan(cls, code, name, price, product, rank, family=None, **values):
        return cls._create_plan(
            code=code, name=name, price=price, product=product, family_id=(family or cls.family).id, rank=rank, **values
        )

    @staticmethod
    def _target(plan, quantities=None):
        """Change target; ``quantities`` maps plan lines to quantities (default: the non-optional lines)."""
        if quantities is None:
            quantities = {pl: pl.quantity for pl in plan.line_ids.filtered(lambda pl: not pl.optional)}
        return {"plan_id": plan.id, "lines": {str(pl.id): qty for pl, qty in quantities.items()}}

    @staticmethod
    def _bill(sub, day):
        return sub._run_billing(day)["invoices"]

    @staticmethod
    def _amounts(records):
        return sorted(records.mapped("price_unit"))

    def _with_tax(self, untaxed):
        """``untaxed`` plus the sales tax on it, rounded to the cent (by hand)."""
        return cents(untaxed + cents(untaxed * self.rate / 100))

    def _fmt(self, day):
        return format_date(self.env, day)

    def _snapshot(self, sub):
        """Everything a refused change or a preview must leave alone, read back from the database."""
        self.env.flush_all()
        self.env.invalidate_all()
        lines = sub.with_context(active_test=False).line_ids
        return {
            "changes": self.env["subscription.change"].search_count([]),
            "charges": self.env["subscription.charge"].search_count([]),
            "moves": self.env["account.move"].search_count([]),
            "plan": sub.plan_id.id,
            "messages": len(sub.message_ids),
            "lines": sorted(
                (line.id, line.plan_line_id.id, line.quantity, line.active, line.date_start, line.date_end)
                for line in lines
            ),
        }

    def _assert_refused(self, exception, sub, target, timing, day):
        """The change is refused with ``exception`` and nothing at all is written.

        No ``assertRaises`` here: Odoo's rolls back a savepoint, which would hide
        anything written before the error.
        """
        before = self._snapshot(sub)
        try:
            sub._change(target, timing, day)
        except exception as error:
            caught = error
        else:
            self.fail(f"the change to {target} ({timing}, {day}) was accepted")
        self.assertEqual(self._snapshot(sub), before, "a refused change writes nothing")
        return caught

    # ------------------------------------------------------------------
    # proration on the next invoice
    # ------------------------------------------------------------------
    def test_stripe_example_upgrade_halfway_credits_unused_and_charges_remaining_time_on_next_invoice(self):
        self.assertEqual(self.tax_sale.amount_type, "percent")
        self.assertFalse(self.tax_sale.price_include)
        sub = self._start(plan=self.plan_a, start_date=date(2026, 4, 1))
        april = self._bill(sub, date(2026, 4, 1))
        self.assertEqual(april.amount_untaxed, 10.0)

        change = sub._change(self._target(self.plan_b), "immediate", date(2026, 4, 16))
        self.assertEqual((change.change_type, change.state), ("upgrade", "applied"))
        self.assertEqual(sub.plan_id, self.plan_b)
        self.assertEqual(sub.line_ids.product_id, self.product_pro, "only the Pro line is still running")
        self.assertFalse(self._bill(sub, date(2026, 4, 30)), "the proration waits for the next invoice")

        may = self._bill(sub, date(2026, 5, 1))
        self.assertEqual(len(may), 1)
        self.assertEqual(len(may.invoice_line_ids), 3)
        unused, remaining, period = may.invoice_line_ids.sorted("price_unit")
        april_16, april_30 = self._fmt(date(2026, 4, 16)), self._fmt(date(2026, 4, 30))
        # April has 30 days; 16..30 April are 15 of them: 10 × 15/30 = 5, 20 × 15/30 = 10
        self.assertEqual(unused.price_unit, -5.0)
        self.assertIn("Unused time on Basic hosting", unused.name)
        self.assertIn(f"from {april_16} to {april_30}", unused.name)
        self.assertEqual(unused.product_id, self.product_basic)
        self.assertEqual(remaining.price_unit, 10.0)
        self.assertIn("Remaining time on Pro hosting", remaining.name)
        self.assertIn(f"from {april_16} to {april_30}", remaining.name)
        self.assertEqual(remaining.product_id, self.product_pro)
        for line in (unused, remaining):
            self.assertEqual(
                (line.subscription_period_start, line.subscription_period_end), (date(2026, 4, 16), date(2026, 4, 30))
            )
        self.assertEqual(period.price_unit, 20.0)
        self.assertEqual(period.product_id, self.product_pro)
        self.assertEqual(
            (period.subscription_period_start, period.subscription_period_end), (date(2026, 5, 1), date(2026, 5, 31))
        )
        self.assertEqual(may.invoice_line_ids.tax_ids, self.tax_sale)
        # 20 − 5 + 10 = 25 untaxed
        expected_tax = cents(25 * self.rate / 100)  # 15 %: 3.75
        self.assertEqual(may.amount_untaxed, 25.0)
        self.assertAlmostEqual(may.amount_tax, expected_tax, places=2)
        self.assertAlmostEqual(may.amount_total, 25.0 + expected_tax, places=2)
        self.assertEqual(sub.charge_ids.mapped("state"), ["invoiced", "invoiced"])
        self.assertFalse(self._bill(sub, date(2026, 5, 31)), "nothing more to bill in May")

    def test_seat_increase_mid_period_is_prorated_by_days(self):
        sub = self._start(plan=self.plan_seats, start_date=date(2026, 1, 1))
        self.assertEqual(sub.line_ids.quantity, 5.0)
        self.assertEqual(self._bill(sub, date(2026, 1, 1)).amount_untaxed, 50.0)
        change = sub._change(self._target(self.plan_seats, {self.line_seat: 8}), "immediate", date(2026, 1, 11))
        self.assertEqual(change.change_type, "quantity")
        self.assertEqual((change.old_quantity, change.new_quantity), (5.0, 8.0))
        self.assertEqual(sub.line_ids.quantity, 8.0)
        # 11..31 January = 21 of 31 days: −50 × 21/31 = −33.87, +80 × 21/31 = +54.19
        self.assertEqual(self._amounts(change.charge_ids), [-33.87, 54.19])
        self.assertEqual(self._amounts(sub.charge_ids), [-33.87, 54.19], "the charges belong to the subscription")
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(february.amount_untaxed, cents(80 - 33.87 + 54.19))

    def test_downgrade_immediately_is_prorated_and_lowers_the_next_invoice(self):
        sub = self._start(plan=self.plan_b, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        change = sub._change(self._target(self.plan_a), "immediate", date(2026, 1, 11))
        self.assertEqual(change.change_type, "downgrade")
        # −20 × 21/31 = −13.55, +10 × 21/31 = +6.77
        self.assertEqual(self._amounts(change.charge_ids), [-13.55, 6.77])
        self.assertIn("Unused time on Pro hosting", change.charge_ids.sorted("price_unit")[0].name)
        self.assertIn("Remaining time on Basic hosting", change.charge_ids.sorted("price_unit")[1].name)
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(february.amount_untaxed, cents(10 - 13.55 + 6.77))
        self.assertEqual(february.move_type, "out_invoice")

    def test_change_to_a_plan_of_the_same_rank_is_a_crossgrade(self):
        sub = self._start(plan=self.plan_b, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        change = sub._change(self._target(self.plan_team), "immediate", date(2026, 1, 11))
        self.assertEqual(change.change_type, "crossgrade")
        # −20 × 21/31 = −13.55, +25 × 21/31 = +16.94
        self.assertEqual(self._amounts(change.charge_ids), [-13.55, 16.94])
        self.assertEqual(sub.plan_id, self.plan_team)

    def test_add_on_added_then_removed_mid_period_is_prorated_for_its_days(self):
        sub = self._start(plan=self.plan_seats, start_date=date(2026, 1, 1))
        self.assertEqual(sub.line_ids.product_id, self.product_seat, "an optional add-on is not on a new subscription")
        self._bill(sub, date(2026, 1, 1))
        added = sub._change(
            self._target(self.plan_seats, {self.line_seat: 5, self.line_backup: 1}), "immediate", date(2026, 1, 11)
        )
        self.assertEqual(added.change_type, "addon")
        # only the add-on is charged, the seats are untouched: 30 × 21/31 = 20.32
        self.assertEqual(self._amounts(added.charge_ids), [20.32])
        self.assertIn("Remaining time on Backup add-on", added.charge_ids.name)
        backup = sub.line_ids.filtered(lambda line: line.product_id == self.product_backup)
        self.assertTrue(backup.is_addon)
        self.assertEqual(backup.date_start, date(2026, 1, 11))

        removed = sub._change(self._target(self.plan_seats, {self.line_seat: 5}), "immediate", date(2026, 1, 21))
        self.assertEqual(removed.change_type, "addon")
        # 21..31 January = 11 days: −30 × 11/31 = −10.65
        self.assertEqual(self._amounts(removed.charge_ids), [-10.65])
        self.assertIn("Unused time on Backup add-on", removed.charge_ids.name)
        self.assertFalse(backup.active)
        self.assertEqual(backup.date_end, date(2026, 1, 20))

        february = self._bill(sub, date(2026, 2, 1))
        # 50 for the seats, the backup not billed any more, its 10 days in January: 20.32 − 10.65
        self.assertEqual(february.amount_untaxed, cents(50 + 20.32 - 10.65))
        self.assertNotIn(
            (date(2026, 2, 1), date(2026, 2, 28)),
            [
                (line.subscription_period_start, line.subscription_period_end)
                for line in february.invoice_line_ids
                if line.product_id == self.product_backup
            ],
        )

    # ------------------------------------------------------------------
    # changing back and forth
    # ------------------------------------------------------------------
    def test_upgrade_and_back_on_the_same_day_nets_to_exactly_zero(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        up = sub._change(self._target(self.plan_b), "immediate", date(2026, 1, 11))
        down = sub._change(self._target(self.plan_a), "immediate", date(2026, 1, 11))
        self.assertEqual(self._amounts(up.charge_ids), [-6.77, 13.55])
        self.assertEqual(self._amounts(down.charge_ids), [-13.55, 6.77])
        self.assertEqual(sum(sub.charge_ids.mapped("price_unit")), 0.0)
        self.assertEqual(sub.plan_id, self.plan_a)
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(february.amount_untaxed, 10.0, "February at Basic, the proration cancels out")
        self.assertEqual(self._billed_periods(sub).count((date(2026, 2, 1), date(2026, 2, 28))), 1)

    def test_upgrade_and_back_ten_days_later_nets_to_the_price_difference_for_those_days(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        up = sub._change(self._target(self.plan_b), "immediate", date(2026, 1, 11))
        down = sub._change(self._target(self.plan_a), "immediate", date(2026, 1, 21))
        # 11 Jan: −10 × 21/31 = −6.77, +20 × 21/31 = +13.55; 21 Jan: −20 × 11/31 = −7.10, +10 × 11/31 = +3.55
        self.assertEqual(self._amounts(up.charge_ids), [-6.77, 13.55])
        self.assertEqual(self._amounts(down.charge_ids), [-7.10, 3.55])
        net = sum(sub.charge_ids.mapped("price_unit"))
        # Pro instead of Basic for 11..20 January: (20 − 10) × 10/31 = 3.2258...
        self.assertAlmostEqual(net, (20 - 10) * 10 / 31, delta=0.01)
        self.assertAlmostEqual(net, 3.23, places=2)

    # ------------------------------------------------------------------
    # changes billed immediately
    # ------------------------------------------------------------------
    def _immediate_family(self):
        family = self.env["subscription.plan.family"].create({"name": "Billed at once"})
        low = self._family_plan(
            "IMM-A", "Basic now", 10.0, self.product_basic, rank=1, family=family, change_invoicing="immediate"
        )
        high = self._family_plan(
            "IMM-B", "Pro now", 20.0, self.product_pro, rank=2, family=family, change_invoicing="immediate"
        )
        return low, high

    def test_immediate_invoicing_upgrade_invoices_the_proration_at_once_and_not_again(self):
        low, high = self._immediate_family()
        sub = self._start(plan=low, start_date=date(2026, 1, 1))
        january = self._bill(sub, date(2026, 1, 1))
        change = sub._change(self._target(high), "immediate", date(2026, 1, 11))
        proration = sub.invoice_ids - january
        self.assertEqual(len(proration), 1, "the upgrade is invoiced right away")
        self.assertEqual(proration.move_type, "out_invoice")
        self.assertEqual(proration.state, "posted")
        self.assertEqual(proration.invoice_date, date(2026, 1, 11))
        # −10 × 21/31 = −6.77, +20 × 21/31 = +13.55
        self.assertEqual(self._amounts(proration.invoice_line_ids), [-6.77, 13.55])
        self.assertEqual(proration.amount_untaxed, 6.78)
        self.assertEqual(proration.invoice_line_ids.subscription_charge_id, change.charge_ids)
        self.assertEqual(change.charge_ids.mapped("state"), ["invoiced", "invoiced"])
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(len(february.invoice_line_ids), 1, "the proration is not repeated")
        self.assertEqual(february.amount_untaxed, 20.0)

    def test_immediate_invoicing_downgrade_issues_a_credit_note(self):
        low, high = self._immediate_family()
        sub = self._start(plan=high, start_date=date(2026, 1, 1))
        january = self._bill(sub, date(2026, 1, 1))
        sub._change(self._target(low), "immediate", date(2026, 1, 11))
        credit_note = sub.invoice_ids - january
        self.assertEqual(len(credit_note), 1)
        self.assertEqual(credit_note.move_type, "out_refund")
        self.assertEqual(credit_note.state, "posted")
        # credit 20 × 21/31 = 13.55 for Pro, charge 10 × 21/31 = 6.77 for Basic: 6.78 to the customer
        self.assertEqual(self._amounts(credit_note.invoice_line_ids), [-6.77, 13.55])
        self.assertEqual(credit_note.amount_untaxed, 6.78)
        # the tax of the credit note is worked out on its net amount: 15 % of 6.78 = 1.017 -> 1.02
        self.assertAlmostEqual(credit_note.amount_tax, cents(6.78 * self.rate / 100), places=2)
        self.assertAlmostEqual(credit_note.amount_total, cents(6.78 + cents(6.78 * self.rate / 100)), places=2)
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(february.amount_untaxed, 10.0, "only February at Basic")
        self.assertEqual(len(february.invoice_line_ids), 1)

    # ------------------------------------------------------------------
    # in arrears
    # ------------------------------------------------------------------
    def test_arrears_change_has_no_proration_and_bills_each_line_for_its_own_days(self):
        family = self.env["subscription.plan.family"].create({"name": "In arrears"})
        low = self._family_plan("ARR-A", "Basic arrears", 10.0, self.product_basic, 1, family, billing_timing="arrears")
        high = self._family_plan("ARR-B", "Pro arrears", 20.0, self.product_pro, 2, family, billing_timing="arrears")
        sub = self._start(plan=low, start_date=date(2026, 1, 1))
        change = sub._change(self._target(high), "immediate", date(2026, 1, 11))
        self.assertEqual(change.change_type, "upgrade")
        self.assertFalse(change.charge_ids, "nothing was billed in advance: nothing to credit or charge")
        self.assertFalse(sub.charge_ids)
        january = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(len(january), 1)
        lines = {
            line.product_id: (line.subscription_period_start, line.subscription_period_end, line.price_unit)
            for line in january.invoice_line_ids
        }
        # Basic for 1..10 January: 10 × 10/31 = 3.23; Pro for 11..31 January: 20 × 21/31 = 13.55
        self.assertEqual(
            lines,
            {
                self.product_basic: (date(2026, 1, 1), date(2026, 1, 10), 3.23),
                self.product_pro: (date(2026, 1, 11), date(2026, 1, 31), 13.55),
            },
        )
        self.assertEqual(january.amount_untaxed, 16.78)
        february = self._bill(sub, date(2026, 3, 1))
        self.assertEqual(february.amount_untaxed, 20.0)
        self.assertEqual(february.invoice_line_ids.product_id, self.product_pro)

    def test_arrears_scheduled_change_bills_the_old_price_for_the_period_before(self):
        family = self.env["subscription.plan.family"].create({"name": "In arrears"})
        low = self._family_plan(
            "ARR-A2", "Basic arrears", 10.0, self.product_basic, 1, family, billing_timing="arrears"
        )
        high = self._family_plan("ARR-B2", "Pro arrears", 20.0, self.product_pro, 2, family, billing_timing="arrears")
        sub = self._start(plan=low, start_date=date(2026, 1, 1))
        change = sub._change(self._target(high), "period_end", date(2026, 1, 11))
        self.assertEqual(change.effective_date, date(2026, 2, 1))
        january = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(change.state, "applied")
        self.assertEqual(january.invoice_line_ids.product_id, self.product_basic)
        self.assertEqual(january.amount_untaxed, 10.0, "January was used on Basic")
        february = self._bill(sub, date(2026, 3, 1))
        self.assertEqual(february.invoice_line_ids.product_id, self.product_pro)
        self.assertEqual(february.amount_untaxed, 20.0)

    def test_immediate_change_before_the_period_is_invoiced_bills_both_lines_by_days(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        # January is not invoiced yet (the run has not happened) when the customer upgrades
        change = sub._change(self._target(self.plan_b), "immediate", date(2026, 1, 11))
        self.assertFalse(change.charge_ids)
        january = self._bill(sub, date(2026, 1, 11))
        # 10 × 10/31 = 3.23 and 20 × 21/31 = 13.55
        self.assertEqual(self._amounts(january.invoice_line_ids), [3.23, 13.55])

    # ------------------------------------------------------------------
    # scheduled changes
    # ------------------------------------------------------------------
    def test_change_at_period_end_is_scheduled_for_the_day_after_the_period(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        change = sub._change(self._target(self.plan_b), "period_end", date(2026, 1, 11))
        self.assertEqual(change.state, "scheduled")
        self.assertEqual(change.timing, "period_end")
        self.assertEqual(change.effective_date, date(2026, 2, 1))
        self.assertEqual(sub.scheduled_change_count, 1)
        self.assertEqual(sub.plan_id, self.plan_a, "nothing changes before the effective date")
        self.assertEqual(sub.line_ids.product_id, self.product_basic)
        self.assertFalse(sub.charge_ids)
        self.assertTrue(sub.message_ids.filtered(lambda m: "Change scheduled for" in (m.body or "")))

    def test_billing_run_applies_the_scheduled_change_before_billing_its_period(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        change = sub._change(self._target(self.plan_b), "period_end", date(2026, 1, 11))
        self.assertFalse(self._bill(sub, date(2026, 1, 31)))
        self.assertEqual(change.state, "scheduled", "not applied before its day")
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(change.state, "applied")
        self.assertEqual(sub.plan_id, self.plan_b)
        self.assertEqual(len(february.invoice_line_ids), 1, "no proration line")
        self.assertEqual(february.invoice_line_ids.product_id, self.product_pro)
        self.assertEqual(february.invoice_line_ids.price_unit, 20.0, "February at the new price")
        self.assertFalse(change.charge_ids)
        self.assertFalse(sub.charge_ids)

    def test_scheduled_change_can_be_cancelled(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        change = sub._change(self._target(self.plan_b), "period_end", date(2026, 1, 11))
        change.action_cancel()
        self.assertEqual(change.state, "cancelled")
        self.assertEqual(sub.scheduled_change_count, 0)
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(change.state, "cancelled", "the billing run does not apply a cancelled change")
        self.assertEqual(sub.plan_id, self.plan_a)
        self.assertEqual(february.amount_untaxed, 10.0)
        with self.assertRaises(UserError):
            change.action_cancel()

    def test_a_new_change_replaces_the_scheduled_one(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        first = sub._change(self._target(self.plan_b), "period_end", date(2026, 1, 11))
        second = sub._change(self._target(self.plan_team), "period_end", date(2026, 1, 12))
        self.assertEqual(first.state, "cancelled")
        self.assertEqual(second.state, "scheduled")
        self.assertEqual(sub.scheduled_change_count, 1)
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(sub.plan_id, self.plan_team)
        self.assertEqual(february.invoice_line_ids.price_unit, 25.0)

    def test_scheduled_change_is_applied_once_when_the_run_catches_up_several_periods(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        sub._change(self._target(self.plan_b), "period_end", date(2026, 1, 11))
        invoices = self._bill(sub, date(2026, 3, 1))
        self.assertEqual(len(invoices), 2)
        self.assertEqual(invoices.mapped("amount_untaxed"), [20.0, 20.0], "February and March at Pro")
        self.assertEqual(len(sub.change_ids.filtered(lambda c: c.state == "applied")), 1)

    # ------------------------------------------------------------------
    # what is allowed
    # ------------------------------------------------------------------
    def test_plan_outside_the_family_is_refused_and_nothing_is_written(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        error = self._assert_refused(UserError, sub, self._target(self.plan_monthly), "immediate", date(2026, 1, 11))
        self.assertIn("same plan family", str(error))
        # and a subscription on a plan without family cannot move into one
        other = self._start(plan=self.plan_monthly, start_date=date(2026, 1, 1))
        self._assert_refused(UserError, other, self._target(self.plan_b), "period_end", date(2026, 1, 11))

    def test_immediate_downgrade_is_refused_when_the_plan_allows_it_only_at_period_end(self):
        strict = self._family_plan("FAM-X", "Pro strict", 20.0, self.product_pro, rank=3, downgrade_timing="period_end")
        sub = self._start(plan=strict, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        error = self._assert_refused(UserError, sub, self._target(self.plan_a), "immediate", date(2026, 1, 11))
        self.assertIn("only at the end of the period", str(error))
        change = sub._change(self._target(self.plan_a), "period_end", date(2026, 1, 11))
        self.assertEqual((change.change_type, change.state), ("downgrade", "scheduled"))
        self.assertEqual(change.effective_date, date(2026, 2, 1))

    def test_negative_quantity_is_refused_and_nothing_is_written(self):
        sub = self._start(plan=self.plan_seats, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        self._assert_refused(
            ValidationError, sub, self._target(self.plan_seats, {self.line_seat: -2}), "immediate", date(2026, 1, 11)
        )
        self.assertEqual(sub.line_ids.quantity, 5.0)

    def test_plan_without_a_price_in_the_subscription_currency_is_refused(self):
        code = "CHF" if self.currency.name == "EUR" else "EUR"
        foreign = self.setup_other_currency(code)
        plan = self._family_plan("FAM-F", "Pro abroad", 20.0, self.product_pro, rank=2, currency_id=foreign.id)
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        error = self._assert_refused(ValidationError, sub, self._target(plan), "immediate", date(2026, 1, 11))
        self.assertIn(self.currency.name, str(error))

    def test_plan_with_a_price_in_the_subscription_currency_prorates_that_price(self):
        code = "CHF" if self.currency.name == "EUR" else "EUR"
        foreign = self.setup_other_currency(code)
        plan = self._family_plan("FAM-F2", "Pro abroad", 99.0, self.product_pro, rank=2, currency_id=foreign.id)
        self.env["subscription.plan.price"].create(
            {"plan_line_id": plan.line_ids.id, "currency_id": self.currency.id, "price_unit": 20.0}
        )
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        change = sub._change(self._target(plan), "immediate", date(2026, 1, 11))
        # the subscription's own currency price (20), not the plan's 99: 20 × 21/31 = 13.55
        self.assertEqual(self._amounts(change.charge_ids), [-6.77, 13.55])
        self.assertEqual(sub.line_ids.price_unit, 20.0)

    def test_refused_change_keeps_the_scheduled_change(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        scheduled = sub._change(self._target(self.plan_b), "period_end", date(2026, 1, 11))
        self._assert_refused(UserError, sub, self._target(self.plan_monthly), "period_end", date(2026, 1, 12))
        self.assertEqual(scheduled.state, "scheduled")

    # ------------------------------------------------------------------
    # history
    # ------------------------------------------------------------------
    def test_change_records_plans_quantities_mrr_date_user_and_a_chatter_message(self):
        family = self.env["subscription.plan.family"].create({"name": "Yearly"})
        small = self._family_plan(
            "YR-S", "Yearly small", 1200.0, self.product_basic, 1, family, billing_period_unit="year"
        )
        large = self._family_plan(
            "YR-L", "Yearly large", 2400.0, self.product_pro, 2, family, billing_period_unit="year"
        )
        sub = self._start(plan=small, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        self.assertEqual(sub.mrr, 100.0, "1200 a year is 100 a month")
        messages_before = sub.message_ids
        change = sub._change(self._target(large), "immediate", date(2026, 3, 1))
        self.assertEqual(change.old_plan_id, small)
        self.assertEqual(change.new_plan_id, large)
        self.assertEqual((change.old_quantity, change.new_quantity), (1.0, 1.0))
        self.assertEqual(change.mrr_before, 100.0)
        self.assertEqual(change.mrr_after, 200.0, "2400 a year is 200 a month")
        self.assertEqual(change.mrr_delta, 100.0)
        self.assertEqual(change.effective_date, date(2026, 3, 1))
        self.assertEqual(change.user_id, self.env.user)
        self.assertEqual(change.timing, "immediate")
        self.assertEqual(sub.mrr, 200.0)
        # 1 March .. 31 December = 306 of 365 days: −1200 × 306/365 = −1006.03, +2400 × 306/365 = +2012.05
        self.assertEqual(self._amounts(change.charge_ids), [-1006.03, 2012.05])
        new_messages = sub.message_ids - messages_before
        body = " ".join(new_messages.mapped(lambda m: str(m.body)))
        self.assertIn("Upgrade", body)
        self.assertIn("Yearly small → Yearly large", body)
        self.assertIn(self._fmt(date(2026, 3, 1)), body)
        self.assertIn(self.env.user.name, body)
        # MRR as money, not as a float
        money = [format_amount(self.env, amount, sub.currency_id) for amount in (100.0, 200.0)]
        self.assertIn(f"(MRR {money[0]} → {money[1]})", html.unescape(body))

    def test_quantity_change_history_counts_the_seats(self):
        sub = self._start(plan=self.plan_seats, start_date=date(2026, 1, 1))
        change = sub._change(self._target(self.plan_seats, {self.line_seat: 8}), "period_end", date(2026, 1, 11))
        self.assertEqual((change.old_quantity, change.new_quantity), (5.0, 8.0))
        self.assertEqual((change.mrr_before, change.mrr_after), (50.0, 80.0))
        self.assertEqual(change.old_plan_id, change.new_plan_id)
        self.assertEqual(change.user_id, self.env.user)
        self.assertEqual(sub.change_ids, change)

    # ------------------------------------------------------------------
    # preview
    # ------------------------------------------------------------------
    def test_preview_shows_the_amounts_without_writing_anything_and_confirm_writes_them(self):
        sub = self._start(plan=self.plan_seats, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        before = self._snapshot(sub)
        wizard = self.env["subscription.change.wizard"].create(
            {
                "subscription_id": sub.id,
                "new_plan_id": self.plan_seats.id,
                "timing": "immediate",
                "date_ref": date(2026, 1, 11),
            }
        )
        seats = wizard.line_ids.filtered(lambda line: line.plan_line_id == self.line_seat)
        self.assertEqual(seats.quantity, 5.0, "the wizard starts from the current quantity")
        seats.quantity = 8
        html = str(wizard.preview_html)
        self.assertFalse(wizard.preview_error)
        currency = sub.currency_id
        # −50 × 21/31 = −33.87 and +80 × 21/31 = +54.19; with tax per line
        for amount in (-33.87, 54.19, self._with_tax(-33.87), self._with_tax(54.19)):
            self.assertIn(format_amount(self.env, amount, currency), html)
        total_untaxed = cents(-33.87 + 54.19)
        total = cents(self._with_tax(-33.87) + self._with_tax(54.19))
        self.assertIn(format_amount(self.env, total_untaxed, currency), html)
        self.assertIn(format_amount(self.env, total, currency), html)
        after = self._snapshot(sub)
        # the wizard and its lines are transient records; nothing else may have been written
        self.assertEqual(after, before, "the preview writes nothing")

        wizard.action_confirm()
        change = sub.change_ids
        self.assertEqual(len(change), 1)
        self.assertEqual(self._amounts(change.charge_ids), [-33.87, 54.19], "the amounts previewed")
        self.assertEqual(sub.line_ids.quantity, 8.0)

    def test_preview_of_a_refused_change_shows_the_error_and_writes_nothing(self):
        strict = self._family_plan(
            "FAM-X2", "Pro strict", 20.0, self.product_pro, rank=3, downgrade_timing="period_end"
        )
        sub = self._start(plan=strict, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        before = self._snapshot(sub)
        wizard = self.env["subscription.change.wizard"].create(
            {
                "subscription_id": sub.id,
                "new_plan_id": self.plan_a.id,
                "timing": "immediate",
                "date_ref": date(2026, 1, 11),
            }
        )
        self.assertIn("only at the end of the period", wizard.preview_error)
        self.assertFalse(wizard.preview_html)
        self.assertEqual(self._snapshot(sub), before)

    # ------------------------------------------------------------------
    # trials
    # ------------------------------------------------------------------
    def _trial_plan(self, code, **values):
        return self._create_plan(
            code=code,
            name=f"Trial {code}",
            price=10.0,
            product=self.product_basic,
            trial_period_count=14,
            trial_period_unit="day",
            **values,
        )

    def test_trial_without_required_payment_method_ends_and_is_never_billed(self):
        sub = self._start(plan=self._trial_plan("PM1", requires_payment_method=True), start_date=date(2026, 1, 1))
        self.assertEqual((sub.state, sub.trial_end_date), ("trial", date(2026, 1, 14)))
        self.assertFalse(self._bill(sub, date(2026, 1, 15)), "no payment method: the first period is not billed")
        self.env["subscription.subscription"]._cron_update_states(date(2026, 1, 15))
        self.assertEqual(sub.state, "ended")
        self.assertEqual(sub.end_date, date(2026, 1, 14))
        self.assertFalse(self._bill(sub, date(2026, 6, 1)))
        self.assertFalse(sub.invoice_ids)

    def test_trial_with_payment_method_converts_and_bills_its_first_period(self):
        sub = self._start(
            plan=self._trial_plan("PM2", requires_payment_method=True),
            start_date=date(2026, 1, 1),
            payment_method="manual",
        )
        self.env["subscription.subscription"]._cron_update_states(date(2026, 1, 15))
        self.assertEqual(sub.state, "active")
        invoice = self._bill(sub, date(2026, 1, 15))
        self.assertEqual(self._billed_periods(sub), [(date(2026, 1, 15), date(2026, 2, 14))])
        self.assertEqual(invoice.amount_untaxed, 10.0)

    def test_extending_the_trial_moves_the_start_of_billing(self):
        sub = self._start(plan=self._trial_plan("EXT"), start_date=date(2026, 1, 1))
        sub._extend_trial(date(2026, 1, 31))
        self.assertEqual(sub.trial_end_date, date(2026, 1, 31))
        self.assertEqual(sub.billing_anchor_date, date(2026, 2, 1))
        self.assertEqual(sub.next_invoice_date, date(2026, 2, 1))
        self.assertFalse(self._bill(sub, date(2026, 1, 31)))
        self.env["subscription.subscription"]._cron_update_states(date(2026, 1, 15))
        self.assertEqual(sub.state, "trial", "still in the extended trial")
        self._bill(sub, date(2026, 2, 1))
        self.assertEqual(self._billed_periods(sub), [(date(2026, 2, 1), date(2026, 2, 28))])

    def test_ending_the_trial_early_bills_from_the_next_day(self):
        sub = self._start(plan=self._trial_plan("END"), start_date=date(2026, 1, 1))
        sub._end_trial(date(2026, 1, 5))
        self.assertEqual(sub.state, "active")
        self.assertEqual(sub.trial_end_date, date(2026, 1, 5))
        self.assertFalse(self._bill(sub, date(2026, 1, 5)))
        invoice = self._bill(sub, date(2026, 1, 6))
        self.assertEqual(self._billed_periods(sub), [(date(2026, 1, 6), date(2026, 2, 5))])
        self.assertEqual(invoice.amount_untaxed, 10.0)

    def test_upgrade_during_the_trial_has_no_proration_and_bills_the_new_plan(self):
        family = self.env["subscription.plan.family"].create({"name": "With trial"})
        low = self._family_plan(
            "TR-A", "Basic trial", 10.0, self.product_basic, 1, family, trial_period_count=14, trial_period_unit="day"
        )
        high = self._family_plan(
            "TR-B", "Pro trial", 20.0, self.product_pro, 2, family, trial_period_count=14, trial_period_unit="day"
        )
        sub = self._start(plan=low, start_date=date(2026, 1, 1))
        change = sub._change(self._target(high), "immediate", date(2026, 1, 5))
        self.assertEqual(change.state, "applied")
        self.assertFalse(change.charge_ids, "nothing billed during the trial: nothing to prorate")
        invoice = self._bill(sub, date(2026, 1, 15))
        self.assertEqual(invoice.invoice_line_ids.product_id, self.product_pro)
        self.assertEqual(invoice.amount_untaxed, 20.0)

    # ------------------------------------------------------------------
    # edges of the proration window
    # ------------------------------------------------------------------
    def test_change_in_a_last_period_cut_by_the_end_date_prorates_only_the_billed_days(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1), end_date=date(2026, 2, 10))
        self._bill(sub, date(2026, 2, 1))
        # 1..10 February billed: 10 × 10/28 = 3.57
        self.assertEqual(self._billed_periods(sub)[-1], (date(2026, 2, 1), date(2026, 2, 10)))
        change = sub._change(self._target(self.plan_b), "immediate", date(2026, 2, 6))
        self.assertEqual(
            {(c.service_start, c.service_end) for c in change.charge_ids}, {(date(2026, 2, 6), date(2026, 2, 10))}
        )
        self.assertEqual(self._amounts(change.charge_ids), [-1.79, 3.57])

    def test_proration_of_a_change_in_the_last_period_is_billed_although_no_period_follows(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1), end_date=date(2026, 2, 10))
        self._bill(sub, date(2026, 2, 1))
        change = sub._change(self._target(self.plan_b), "immediate", date(2026, 2, 6))
        self.assertTrue(change.charge_ids)
        self._bill(sub, date(2026, 2, 11))
        self.env["subscription.subscription"]._cron_update_states(date(2026, 2, 11))
        self._bill(sub, date(2026, 6, 1))
        self.assertEqual(change.charge_ids.mapped("state"), ["invoiced", "invoiced"])

    def test_backdated_change_does_not_leave_a_later_billed_period_at_the_old_price(self):
        sub = self._start(plan=self.plan_a, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 2, 1))  # January and February billed at Basic (10)
        try:
            change = sub._change(self._target(self.plan_b), "immediate", date(2026, 1, 20))
        except UserError:
            return  # refusing a change dated before the last billed period is fine too
        # Pro instead of Basic from 20 January: 20..31 January = 12 of 31 days, and all of February
        # credit −10 × 12/31 − 10 = −13.87, charge +20 × 12/31 + 20 = +27.74: net +13.87
        self.assertAlmostEqual(sum(change.charge_ids.mapped("price_unit")), 13.87, delta=0.02)

    def test_change_to_a_yearly_plan_charges_the_yearly_price_by_days(self):
        family = self.env["subscription.plan.family"].create({"name": "Monthly or yearly"})
        monthly = self._family_plan("MY-M", "Monthly", 100.0, self.product_basic, 1, family)
        yearly = self._family_plan("MY-Y", "Yearly", 1200.0, self.product_pro, 2, family, billing_period_unit="year")
        sub = self._start(plan=monthly, start_date=date(2026, 1, 1))
        self._bill(sub, date(2026, 1, 1))
        try:
            change = sub._change(self._target(yearly), "immediate", date(2026, 1, 16))
        except UserError:
            return  # refusing a change of billing interval is fine too
        self.assertEqual((change.mrr_before, change.mrr_after), (100.0, 100.0))
        remaining = change.charge_ids.filtered(lambda c: c.product_id == self.product_pro)
        # 16..31 January at the yearly plan's price: 1200 × 16/365 = 52.60
        self.assertEqual(remaining.price_unit, 52.60)
