"""A catalogue of bad inputs: each is refused with a clear message naming the field, and nothing is written.

The catalogue is data: one line per case,
``(model, operation, target, values, exception, substring, user)``:

* ``operation``: ``create`` (``values`` merged over the model's base values
  in :meth:`TestBadInputCatalogue._base_values`) or ``write`` (on the
  fixture ``target``);
* ``exception``: the class expected (``ValidationError`` for bad data,
  ``UserError`` for a forbidden change, ``AccessError`` for missing rights);
* ``substring``: found in the message, case-insensitive (names the field);
* ``user``: ``"user"`` (Subscriptions user), ``"manager"`` (Subscriptions
  administrator) or ``"su"`` (superuser).

Adding a case is adding a line.
"""

import math

from psycopg2 import IntegrityError

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon

NAN, INF = math.nan, math.inf
SUB, LINE, USAGE = "subscription.subscription", "subscription.line", "subscription.usage.record"
PLAN, PLAN_LINE, PRICE = "subscription.plan", "subscription.plan.line", "subscription.plan.price"
TIER, CHARGE, COUPON = "subscription.price.tier", "subscription.charge", "subscription.coupon"
DISCOUNT, CHANGE = "subscription.discount", "subscription.change"

# fmt: off
CATALOGUE = [
    # --- protected lifecycle, schedule and bookkeeping fields (refused for everyone, superuser included) ---
    (SUB, "write", "sub", {"state": "ended"}, UserError, "state", "user"),
    (SUB, "write", "sub", {"state": "draft"}, UserError, "state", "manager"),
    (SUB, "write", "sub", {"next_period_start": "2026-07-01"}, UserError, "next_period_start", "user"),
    (SUB, "write", "sub", {"billing_anchor_date": "2026-03-01"}, UserError, "billing_anchor_date", "manager"),
    (SUB, "write", "sub", {"pause_date": "2026-02-01"}, UserError, "pause_date", "user"),
    (SUB, "write", "sub", {"cancellation_request_date": "2026-02-01"}, UserError, "cancellation_request_date", "user"),
    (SUB, "write", "sub", {"billing_error": "none"}, UserError, "billing_error", "user"),
    (SUB, "write", "sub", {"billing_error_date": "2026-02-01 10:00:00"}, UserError, "billing_error_date", "user"),
    (SUB, "write", "sub", {"next_invoice_date": "2027-01-01"}, UserError, "next_invoice_date", "user"),
    (SUB, "write", "sub", {"current_period_end": "2027-01-01"}, UserError, "current_period_end", "su"),
    (SUB, "write", "sub", {"state": "ended"}, UserError, "state", "su"),
    (SUB, "create", None, {"state": "active"}, UserError, "state", "user"),
    (SUB, "create", None, {"next_period_start": "2030-01-01"}, UserError, "next_period_start", "user"),
    (SUB, "create", None, {"billing_anchor_date": "2030-01-01"}, UserError, "billing_anchor_date", "manager"),
    (LINE, "write", "line", {"usage_billed_until": "2026-12-31"}, UserError, "usage_billed_until", "user"),
    (CHANGE, "write", "change", {"state": "applied"}, UserError, "state", "user"),
    # --- contract dates ---
    (SUB, "create", None, {"start_date": "2026-03-01", "end_date": "2026-02-28"}, ValidationError, "end date", "user"),
    (SUB, "create", None, {"start_date": "1800-01-01"}, ValidationError, "start date", "user"),
    (SUB, "create", None, {"start_date": "9999-12-31"}, ValidationError, "start date", "user"),
    (SUB, "create", None, {"start_date": "2026-03-01", "trial_end_date": "2026-01-01"}, ValidationError, "trial end date", "user"),
    (SUB, "create", None, {"trial_end_date": "2400-01-01"}, ValidationError, "trial end date", "user"),
    (SUB, "create", None, {"start_date": "2026-02-30"}, ValidationError, "start date", "user"),
    (SUB, "write", "draft", {"end_date": "2500-01-01"}, ValidationError, "end date", "user"),
    (SUB, "write", "draft", {"start_date": "not a date"}, ValidationError, "start date", "user"),
    # --- subscription lines ---
    (LINE, "write", "line", {"quantity": NAN}, ValidationError, "quantity", "user"),
    (LINE, "write", "line", {"quantity": INF}, ValidationError, "quantity", "user"),
    (LINE, "write", "line", {"quantity": "-inf"}, ValidationError, "quantity", "user"),
    (LINE, "write", "line", {"quantity": 1e16}, ValidationError, "quantity", "user"),
    (LINE, "write", "line", {"quantity": -1}, ValidationError, "quantity", "user"),
    (LINE, "write", "line", {"price_unit": 1e20}, ValidationError, "unit price", "user"),
    (LINE, "write", "line", {"price_unit": NAN}, ValidationError, "unit price", "user"),
    (LINE, "write", "line", {"price_unit": -5}, ValidationError, "unit price", "user"),
    (LINE, "write", "line", {"included_quantity": -1}, ValidationError, "included", "user"),
    (LINE, "write", "line", {"discount": 150}, ValidationError, "discount", "user"),
    (LINE, "write", "line", {"date_end": "3000-01-01"}, ValidationError, "billed until", "user"),
    (LINE, "write", "line", {"sequence": 2**40}, ValidationError, "sequence", "user"),
    # --- usage records created directly (the checks of _ingest) ---
    (USAGE, "create", None, {"quantity": -5}, ValidationError, "quantity", "user"),
    (USAGE, "create", None, {"quantity": NAN}, ValidationError, "quantity", "user"),
    (USAGE, "create", None, {"quantity": 1e300}, ValidationError, "quantity", "user"),
    (USAGE, "create", None, {"timestamp": "2025-06-01 10:00:00"}, ValidationError, "not started", "user"),
    (USAGE, "create", None, {"timestamp": "2300-01-01 10:00:00"}, ValidationError, "timestamp", "user"),
    (USAGE, "create", None, {"timestamp": "yesterday"}, ValidationError, "timestamp", "user"),
    (USAGE, "create", None, {"idempotency_key": False}, ValidationError, "idempotency_key", "user"),
    (USAGE, "create", "ended", {}, ValidationError, "ended", "user"),
    (USAGE, "create", "billed", {}, ValidationError, "already billed", "user"),
    (USAGE, "create", "unmetered", {}, ValidationError, "does not meter", "user"),
    (USAGE, "create", "invoiced", {}, ValidationError, "invoice_line_id", "manager"),
    (USAGE, "write", "usage", {"quantity": 1000}, AccessError, "", "user"),
    # --- plans, prices and tiers ---
    (PLAN, "write", "plan", {"billing_period_count": 500}, ValidationError, "billing every", "manager"),
    (PLAN, "write", "plan", {"billing_period_count": 0}, ValidationError, "billing period", "manager"),
    (PLAN, "write", "plan", {"trial_period_count": 5000}, ValidationError, "trial length", "manager"),
    (PLAN, "write", "plan", {"notice_period_count": 20, "notice_period_unit": "year"}, ValidationError, "notice period", "manager"),
    (PLAN, "write", "plan", {"min_term_count": 2**31}, ValidationError, "minimum term", "manager"),
    (PLAN, "write", "plan", {"min_term_count": NAN}, ValidationError, "minimum term", "manager"),
    (PLAN, "write", "plan", {"billing_period_count": 2}, AccessError, "", "user"),
    (PLAN_LINE, "write", "plan_line", {"price_unit": NAN}, ValidationError, "unit price", "manager"),
    (PLAN_LINE, "write", "plan_line", {"price_unit": 1e14}, ValidationError, "unit price", "manager"),
    (PLAN_LINE, "write", "plan_line", {"quantity": INF}, ValidationError, "quantity", "manager"),
    (PRICE, "write", "plan_price", {"price_unit": 1e30}, ValidationError, "unit price", "manager"),
    (PRICE, "write", "plan_price", {"price_unit": "Infinity"}, ValidationError, "unit price", "manager"),
    (TIER, "write", "plan_tier", {"unit_price": NAN}, ValidationError, "unit price", "manager"),
    (TIER, "write", "plan_tier", {"flat_fee": 1e20}, ValidationError, "flat fee", "manager"),
    (TIER, "write", "plan_tier", {"up_to": INF}, ValidationError, "up to", "manager"),
    (TIER, "write", "plan_tier", {"unit_price": 0.0}, AccessError, "", "user"),
    # --- charges, coupons, discounts ---
    (CHARGE, "write", "charge", {"quantity": NAN}, ValidationError, "quantity", "user"),
    (CHARGE, "write", "charge", {"price_unit": -INF}, ValidationError, "unit price", "user"),
    (CHARGE, "write", "charge", {"price_unit": -1e15}, ValidationError, "unit price", "user"),
    (CHARGE, "write", "charge", {"date": "1500-01-01"}, ValidationError, "date", "user"),
    (CHARGE, "write", "charge", {"service_end": "2999-12-31"}, ValidationError, "service end", "user"),
    (COUPON, "write", "coupon", {"amount": 1e30, "discount_type": "fixed"}, ValidationError, "discount amount", "manager"),
    (COUPON, "write", "coupon", {"valid_to": "3000-01-01"}, ValidationError, "valid", "manager"),
    (COUPON, "write", "coupon", {"max_redemptions": 2**33}, ValidationError, "max redemptions", "manager"),
    (DISCOUNT, "write", "discount", {"percent": NAN}, ValidationError, "discount", "user"),
    (DISCOUNT, "write", "discount", {"duration_periods": -1}, ValidationError, "for billing periods", "user"),
]
# fmt: on


@tagged("post_install", "-at_install", "subscription_billing")
class TestBadInputCatalogue(SubscriptionCommon):
    """Every line of :data:`CATALOGUE` is refused with its exception and message, and writes nothing."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.users = {
            "user": new_test_user(
                cls.env, login="catalogue_user", groups="subscription_billing.group_subscription_user"
            ),
            "manager": new_test_user(
                cls.env, login="catalogue_manager", groups="subscription_billing.group_subscription_manager"
            ),
        }
        cls.metric = cls.env["subscription.usage.metric"].create(
            {"name": "Calls", "code": "catalogue_calls", "aggregation": "sum"}
        )
        cls.other_metric = cls.env["subscription.usage.metric"].create(
            {"name": "Storage", "code": "catalogue_storage", "aggregation": "max"}
        )
        api_product = cls.env["product.product"].create(
            {"name": "API", "type": "service", "subscription_ok": True, "taxes_id": [Command.clear()]}
        )
        cls.plan_metered = cls._create_plan(code="CATM", name="Metered")
        cls.plan_metered.write(
            {
                "line_ids": [
                    Command.create(
                        {
                            "product_id": api_product.id,
                            "name": "Calls",
                            "price_unit": 0.01,
                            "line_type": "usage",
                            "metric_id": cls.metric.id,
                        }
                    )
                ]
            }
        )
        cls.sub = cls._start(plan=cls.plan_metered)
        cls.draft = cls._create_subscription()
        cls.ended = cls._start(plan=cls.plan_metered, end_date="2026-03-31")
        cls.ended._change_state("ended", cls.ended.end_date)
        cls.billed = cls._start(plan=cls.plan_metered)
        cls.billed.line_ids.filtered(lambda line: line.line_type == "usage")._write_system_fields(
            {"usage_billed_until": "2026-03-31"}
        )
        cls.plan_line = cls.plan_monthly.line_ids[:1]
        cls.fixtures = {
            "sub": cls.sub,
            "draft": cls.draft,
            "line": cls.sub.line_ids.filtered(lambda line: line.line_type == "recurring"),
            "usage": cls.env["subscription.usage.record"].create(cls._usage_values(cls.sub, "fixture")),
            "plan": cls.plan_monthly,
            "plan_line": cls.plan_line,
            "plan_price": cls.env["subscription.plan.price"].create(
                {
                    "plan_line_id": cls.plan_line.id,
                    "currency_id": cls.setup_other_currency("CHF").id,
                    "price_unit": 90.0,
                }
            ),
            "plan_tier": cls.env["subscription.price.tier"].create(
                {
                    "plan_line_id": cls.plan_line.id,
                    "currency_id": cls.currency.id,
                    "up_to_unlimited": True,
                    "unit_price": 5.0,
                }
            ),
            "charge": cls.env["subscription.charge"].create(
                {"subscription_id": cls.sub.id, "product_id": cls.product_support.id, "name": "Setup", "price_unit": 5}
            ),
            "coupon": cls.env["subscription.coupon"].create({"name": "Hello", "code": "HELLO", "percent": 10.0}),
            "discount": cls.env["subscription.discount"].create(
                {"subscription_id": cls.sub.id, "name": "Loyal", "discount_type": "percent", "percent": 5.0}
            ),
            "change": cls.env["subscription.change"].create(
                {
                    "subscription_id": cls.sub.id,
                    "change_type": "upgrade",
                    "timing": "period_end",
                    "effective_date": "2026-02-01",
                    "old_plan_id": cls.plan_metered.id,
                    "new_plan_id": cls.plan_monthly.id,
                    "target": {"probe": True},
                }
            ),
        }
        cls.invoice_line = (
            cls.env["account.move"]
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": cls.customer.id,
                    "invoice_line_ids": [Command.create({"name": "x", "price_unit": 1.0, "quantity": 1})],
                }
            )
            .invoice_line_ids
        )

    @classmethod
    def _usage_values(cls, subscription, key, **values):
        return {
            "subscription_id": subscription.id,
            "metric_id": cls.metric.id,
            "quantity": 1.0,
            "timestamp": "2026-04-10 10:00:00",
            "idempotency_key": key,
            **values,
        }

    def _base_values(self, model, target):
        """Valid create values of ``model``; ``target`` names a variant."""
        if model == SUB:
            return {"partner_id": self.customer.id, "plan_id": self.plan_monthly.id, "start_date": "2026-02-01"}
        if model == USAGE:
            if target == "ended":
                return self._usage_values(self.ended, "after-end")
            if target == "billed":
                return self._usage_values(self.billed, "billed", timestamp="2026-03-15 10:00:00")
            if target == "unmetered":
                return self._usage_values(self.sub, "unmetered", metric_id=self.other_metric.id)
            if target == "invoiced":
                return self._usage_values(self.sub, "invoiced", invoice_line_id=self.invoice_line[:1].id)
            return self._usage_values(self.sub, "catalogue")
        raise AssertionError(f"no base values for {model}")

    def _snapshot(self, model, record, values):
        fnames = [fname for fname in values if fname in self.env[model]._fields]
        record.invalidate_recordset()
        return record.read(fnames)[0] if record else None

    def test_every_bad_input_is_refused_naming_the_field_and_writes_nothing(self):
        self.assertGreaterEqual(len(CATALOGUE), 70)
        for index, (model, operation, target, values, exception, substring, user) in enumerate(CATALOGUE):
            with self.subTest(case=index, model=model, operation=operation, values=values):
                env = self.env(su=True) if user == "su" else self.env(user=self.users[user])
                Model = env[model].with_context(active_test=False)
                count_before = self.env[model].with_context(active_test=False).search_count([])
                record = self.fixtures.get(target) if operation == "write" else None
                before = self._snapshot(model, record, values) if record else None
                with self.assertRaises(Exception) as caught:
                    with mute_logger("odoo.sql_db", "odoo.models"), self.env.cr.savepoint():
                        if operation == "create":
                            Model.create({**self._base_values(model, target), **values})
                        else:
                            record.with_env(env).write(values)
                        self.env.flush_all()
                error = caught.exception
                if isinstance(error, IntegrityError):
                    # what the RPC layer answers for a database constraint
                    error = ValidationError(self.env[model]._sql_error_to_message(error))
                self.assertIsInstance(error, exception, f"case {index}: {type(error).__name__}: {error}")
                self.assertIn(substring.lower(), str(error).lower(), f"case {index}: message does not name the field")
                self.env.invalidate_all()
                self.assertEqual(
                    self.env[model].with_context(active_test=False).search_count([]),
                    count_before,
                    f"case {index}: a record was created",
                )
                if record:
                    self.assertEqual(self._snapshot(model, record, values), before, f"case {index}: written")

    def test_a_valid_line_of_each_kind_is_accepted(self):
        """The bounds do not refuse ordinary values (guards against a catalogue that refuses everything)."""
        line = self.fixtures["line"]
        line.with_user(self.users["user"]).write({"quantity": 12.5, "price_unit": 9999999.99})
        self.assertEqual(line.quantity, 12.5)
        usage = (
            self.env["subscription.usage.record"]
            .with_user(self.users["user"])
            .create(self._usage_values(self.sub, "valid-create", quantity=3))
        )
        self.assertEqual(usage.quantity, 3)
        self.fixtures["plan"].with_user(self.users["manager"]).write({"billing_period_count": 12})
        self.assertEqual(self.fixtures["plan"].billing_period_count, 12)
        sub = (
            self.env["subscription.subscription"]
            .with_user(self.users["user"])
            .create({**self._base_values(SUB, None), "trial_end_date": "2026-01-31"})
        )
        self.assertEqual(str(sub.trial_end_date), "2026-01-31", "a trial ending the day before the start: no trial")

    def test_refusals_are_translated(self):
        self.env["res.lang"]._activate_lang("de_DE")
        user_env = self.env(user=self.users["user"], context={"lang": "de_DE"})
        with self.assertRaises(UserError) as caught, self.env.cr.savepoint():
            self.sub.with_env(user_env).write({"next_period_start": "2026-07-01"})
        self.assertIn("kann nicht direkt geschrieben werden", str(caught.exception))
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self.fixtures["line"].with_env(user_env).write({"quantity": NAN})
        self.assertIn("muss eine endliche Zahl sein", str(caught.exception))
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self.fixtures["line"].with_env(user_env).write({"price_unit": 1e20})
            self.env.flush_all()
        self.assertIn("ist zu groß", str(caught.exception))
