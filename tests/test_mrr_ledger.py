from datetime import date

from psycopg2.errors import UniqueViolation

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestMrrLedger(SubscriptionCommon):
    """The MRR movement ledger written by the subscriptions' lifecycle, rebuilt from history, immutable."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Movement = cls.env["subscription.mrr.movement"]
        cls.family = cls.env["subscription.plan.family"].create({"name": "Hosting sizes"})
        cls.plan_basic = cls._create_plan("MRR-B", "Basic", price=100.0, family_id=cls.family.id, rank=1)
        cls.plan_pro = cls._create_plan("MRR-P", "Pro", price=150.0, family_id=cls.family.id, rank=2)
        cls.plan_trial = cls._create_plan("MRR-T", "Trial", price=100.0, trial_period_count=14, trial_period_unit="day")

    def _ledger(self, sub):
        moves = self.Movement.search([("subscription_id", "=", sub.id)], order="sequence")
        return [(m.date, m.kind, m.mrr_before, m.mrr_after, m.mrr_delta) for m in moves]

    @staticmethod
    def _target(plan):
        return {"plan_id": plan.id, "lines": {str(pl.id): pl.quantity for pl in plan.line_ids}}

    def _assert_ledger_right(self, subs, day):
        self.assertEqual(self.Movement._get_ledger_discrepancies(subs, day), {})

    def test_lifecycle_writes_one_movement_per_mrr_change(self):
        """Basic (100 a month) from 1 Jan: new +100 on 1 Jan. Upgrade to Pro (150) on 10 Feb:
        expansion +50. Downgrade to Basic on 5 Mar: contraction −50 (150 → 100). Pause on 1 Apr:
        churn −100. Resume on 1 May: reactivation +100. Notice on 1 May to end 31 May, the state
        cron on 1 Jun ends it: churn −100 dated 1 Jun (the first day without service).
        The ledger then sums to 0 and matches the subscription on every date checked."""
        sub = self._start(plan=self.plan_basic, start_date=date(2026, 1, 1))
        sub._change(self._target(self.plan_pro), "immediate", date(2026, 2, 10))
        sub._change(self._target(self.plan_basic), "immediate", date(2026, 3, 5))
        self._assert_ledger_right(sub, date(2026, 3, 5))
        sub._pause(date(2026, 4, 1))
        self._assert_ledger_right(sub, date(2026, 4, 1))
        sub._resume(date(2026, 5, 1))
        sub._request_cancellation(date(2026, 5, 1), end_date=date(2026, 5, 31))
        self.env["subscription.subscription"]._cron_update_states(date(2026, 6, 1))
        self.assertEqual(sub.state, "ended")
        self.assertEqual(
            self._ledger(sub),
            [
                (date(2026, 1, 1), "new", 0.0, 100.0, 100.0),
                (date(2026, 2, 10), "expansion", 100.0, 150.0, 50.0),
                (date(2026, 3, 5), "contraction", 150.0, 100.0, -50.0),
                (date(2026, 4, 1), "churn", 100.0, 0.0, -100.0),
                (date(2026, 5, 1), "reactivation", 0.0, 100.0, 100.0),
                (date(2026, 6, 1), "churn", 100.0, 0.0, -100.0),
            ],
        )
        moves = self.Movement.search([("subscription_id", "=", sub.id)])
        self.assertEqual(set(moves.mapped("commercial_partner_id")), {self.customer})
        self.assertEqual(moves.filtered(lambda m: m.date == date(2026, 2, 10)).plan_id, self.plan_pro)
        self.assertEqual(moves.mapped("mrr_delta_company"), moves.mapped("mrr_delta"), "company currency is EUR")
        self._assert_ledger_right(sub, date(2026, 6, 1))

    def test_trial_conversion_is_new_revenue_on_the_first_paid_day(self):
        """A 14-day trial from 3 Feb ends on 16 Feb: no MRR in the trial, new +100 on 17 Feb."""
        sub = self._start(plan=self.plan_trial, start_date=date(2026, 2, 3))
        self.assertEqual(self._ledger(sub), [])
        self.env["subscription.subscription"]._cron_update_states(date(2026, 2, 17))
        self.assertEqual(self._ledger(sub), [(date(2026, 2, 17), "new", 0.0, 100.0, 100.0)])

    def test_yearly_plan_counts_one_twelfth(self):
        """A yearly plan of 1,200 has an MRR of 1,200 / 12 = 100."""
        sub = self._start(plan=self.plan_yearly, start_date=date(2026, 1, 1))
        self.assertEqual(self._ledger(sub), [(date(2026, 1, 1), "new", 0.0, 100.0, 100.0)])

    def test_editing_a_line_quantity_moves_the_mrr(self):
        """Quantity 1 → 3 on a Basic line (100 each): expansion +200 (100 → 300); back to 2: contraction −100."""
        sub = self._start(plan=self.plan_basic, start_date=date(2026, 1, 1))
        sub.line_ids.quantity = 3
        sub.line_ids.quantity = 2
        kinds = [(kind, before, after) for _day, kind, before, after, _delta in self._ledger(sub)]
        self.assertEqual(kinds, [("new", 0.0, 100.0), ("expansion", 100.0, 300.0), ("contraction", 300.0, 200.0)])

    def test_rebuild_reproduces_the_history_and_is_idempotent(self):
        """Rebuilt: start (new +100 on 1 Jan), the applied upgrade (+50 on 10 Feb) and the end (churn −150 on
        1 May, the day after the end date 30 Apr). Rebuilding twice gives the same rows."""
        sub = self._start(plan=self.plan_basic, start_date=date(2026, 1, 1))
        sub._change(self._target(self.plan_pro), "immediate", date(2026, 2, 10))
        sub._request_cancellation(date(2026, 3, 1), end_date=date(2026, 4, 30))
        self.env["subscription.subscription"]._cron_update_states(date(2026, 5, 1))
        expected = [
            (date(2026, 1, 1), "new", 0.0, 100.0, 100.0),
            (date(2026, 2, 10), "expansion", 100.0, 150.0, 50.0),
            (date(2026, 5, 1), "churn", 150.0, 0.0, -150.0),
        ]
        self.assertEqual(self._ledger(sub), expected, "written live")
        sub._rebuild_mrr_ledger(date(2026, 5, 1))
        self.assertEqual(self._ledger(sub), expected, "rebuilt from the history")
        sub._rebuild_mrr_ledger(date(2026, 5, 1))
        self.assertEqual(self._ledger(sub), expected, "rebuilt again")
        self.assertEqual(set(self.Movement.search([("subscription_id", "=", sub.id)]).mapped("reason")), {"rebuild"})

    def test_rebuild_gives_no_revenue_to_trials_that_did_not_convert(self):
        """A trial running (last day 14 Jan, rebuilt on 10 Jan) and a trial that ended unconverted (cancelled to end
        on its last trial day, 14 Jan) never had MRR: the rebuild writes no movement for either."""
        running = self._start(plan=self.plan_trial, start_date=date(2026, 1, 1))
        ended = self._start(plan=self.plan_trial, start_date=date(2026, 1, 1))
        ended._request_cancellation(date(2026, 1, 5), end_date=date(2026, 1, 14))
        ended._update_state_from_dates(date(2026, 1, 15))
        self.assertEqual(ended.state, "ended")
        (running | ended)._rebuild_mrr_ledger(date(2026, 1, 10))
        self.assertEqual(self._ledger(running), [])
        self.assertEqual(self._ledger(ended), [])

    def test_rebuild_corrects_a_ledger_that_drifted(self):
        """Lines changed behind the ledger's back (SQL): the rebuild starts from the lines' 250 and the check
        finds no discrepancy afterwards; before, it reported ledger 100 against MRR 250."""
        sub = self._start(plan=self.plan_basic, start_date=date(2026, 1, 1))
        self.env.cr.execute("UPDATE subscription_line SET quantity = 2.5 WHERE subscription_id = %s", [sub.id])
        self.env.invalidate_all()
        self.assertEqual(self.Movement._get_ledger_discrepancies(sub, date(2026, 3, 1)), {sub: (100, 250)})
        sub._rebuild_mrr_ledger(date(2026, 3, 1))
        self.assertEqual(self._ledger(sub), [(date(2026, 1, 1), "new", 0.0, 250.0, 250.0)])
        self._assert_ledger_right(sub, date(2026, 3, 1))

    def test_movements_are_immutable(self):
        """Nobody writes, deletes or creates a movement directly, not even the superuser."""
        sub = self._start(plan=self.plan_basic, start_date=date(2026, 1, 1))
        move = self.Movement.search([("subscription_id", "=", sub.id)])
        with self.assertRaises(UserError):
            move.write({"mrr_after": 1.0})
        with self.assertRaises(UserError):
            move.unlink()
        with self.assertRaises(UserError):
            self.Movement.create(
                {
                    "subscription_id": sub.id,
                    "sequence": 2,
                    "company_id": sub.company_id.id,
                    "commercial_partner_id": self.customer.id,
                    "plan_id": sub.plan_id.id,
                    "date": date(2026, 2, 1),
                    "kind": "churn",
                    "reason": "state",
                    "currency_id": sub.currency_id.id,
                    "company_currency_id": sub.currency_id.id,
                    "mrr_before": 100.0,
                    "mrr_after": 0.0,
                    "mrr_delta": -100.0,
                }
            )

    @mute_logger("odoo.sql_db")
    def test_database_refuses_two_movements_at_one_position(self):
        """Two workers appending from the same last movement: PostgreSQL refuses the second row."""
        sub = self._start(plan=self.plan_basic, start_date=date(2026, 1, 1))
        with self.assertRaises(UniqueViolation), self.env.cr.savepoint():
            self.env.cr.execute(
                """INSERT INTO subscription_mrr_movement (subscription_id, sequence, company_id,
                       commercial_partner_id, plan_id, date, kind, reason, currency_id, company_currency_id,
                       mrr_before, mrr_after, mrr_delta, mrr_before_company, mrr_after_company, mrr_delta_company)
                   SELECT subscription_id, sequence, company_id, commercial_partner_id, plan_id, date, kind, reason,
                          currency_id, company_currency_id, mrr_before, mrr_after, mrr_delta, mrr_before_company,
                          mrr_after_company, mrr_delta_company
                     FROM subscription_mrr_movement WHERE subscription_id = %s""",
                [sub.id],
            )

    def test_portal_user_and_other_company_see_no_movement(self):
        """A portal user of the customer cannot read movements; a subscription user of another company
        does not see this company's movements."""
        sub = self._start(plan=self.plan_basic, start_date=date(2026, 1, 1))
        moves = self.Movement.search([("subscription_id", "=", sub.id)])
        portal = new_test_user(
            self.env, login="mrr_portal", groups="base.group_portal", partner_id=self.customer_contact.id
        )
        with self.assertRaises(AccessError):
            moves.with_user(portal).read(["mrr_after"])
        other = self.env["res.company"].create({"name": "Other GmbH", "currency_id": sub.currency_id.id})
        outsider = new_test_user(
            self.env,
            login="mrr_outsider",
            groups="subscription_billing.group_subscription_user",
            company_id=other.id,
            company_ids=[Command.set(other.ids)],
        )
        self.assertFalse(self.Movement.with_user(outsider).search([("subscription_id", "=", sub.id)]))
        with self.assertRaises(AccessError):
            moves.with_user(outsider).read(["mrr_after"])
