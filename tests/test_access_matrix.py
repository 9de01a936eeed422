"""The access matrix, probed: every model × every group × two companies × read/write/create/unlink.

The expected matrix below is the one documented in the README ("Access
matrix"); ``security/`` must implement it. Letters are the probing users'
groups: E employee, I Invoicing, A Accounting administrator, U Subscriptions
user, M Subscriptions administrator, P portal. A user of company 1 probes
the record of company 1 (expected as in the table) and the record of
company 2 (always refused), each with ``check_access`` for read, write,
create and unlink. Transient models are probed on records another user
created (refused) and on records the user creates themselves (as in the
table).
"""

import json
from datetime import datetime, timedelta

from odoo.exceptions import AccessError
from odoo.tests import HttpCase, tagged
from odoo.tools import mute_logger

from .common_security import GROUPS, SecurityWorldCommon

LETTERS = {"E": "employee", "I": "invoicing", "A": "accountant", "U": "sub_user", "M": "sub_manager", "P": "portal"}
OPERATIONS = ("read", "write", "create", "unlink")

#: model -> groups allowed to (read, write, create, unlink) a record of their own company
MATRIX = {
    "subscription.plan": ("UM", "M", "M", "M"),
    "subscription.plan.line": ("UM", "M", "M", "M"),
    "subscription.plan.price": ("UM", "M", "M", "M"),
    "subscription.plan.family": ("UM", "M", "M", "M"),
    "subscription.usage.metric": ("UM", "M", "M", "M"),
    "subscription.coupon": ("UM", "M", "M", "M"),
    "subscription.price.tier (plan)": ("IAUM", "M", "M", "M"),
    "subscription.subscription": ("IAUM", "UM", "UM", "M"),
    "subscription.line": ("IAUM", "UM", "UM", "UM"),
    "subscription.price.tier (subscription)": ("IAUM", "UM", "UM", "UM"),
    "subscription.usage.record": ("UM", "M", "UM", "M"),
    "subscription.charge": ("UM", "UM", "UM", "UM"),
    "subscription.discount": ("UM", "UM", "UM", "UM"),
    "subscription.change": ("UM", "UM", "UM", "M"),
    "sepa.mandate": ("IAUM", "UM", "UM", "M"),
    "sepa.collection": ("UM", "UM", "UM", "M"),
    "sepa.collection.line": ("IAUM", "UM", "UM", "UM"),
    "sepa.return": ("UM", "UM", "UM", "M"),
    "sepa.return.reason": ("UM", "M", "M", "M"),
    "deferred.revenue.schedule": ("IAUM", "", "", ""),
    "deferred.revenue.schedule.line": ("IAUM", "", "", ""),
    "subscription.oss.report": ("UM", "", "", ""),
    "subscription.dunning.level": ("IAUM", "A", "A", "A"),
    "subscription.dunning.base.rate": ("EIAUM", "A", "A", "A"),
    "subscription.dunning.entry": ("IAUM", "", "", ""),
    "subscription.dunning.letter": ("IAUM", "", "", ""),
    "subscription.mrr.movement": ("UM", "", "", ""),
    "subscription.webhook.endpoint": ("UM", "M", "M", "M"),
    "subscription.webhook.event": ("UM", "", "", ""),
    "subscription.webhook.delivery": ("UM", "M", "", ""),
    "subscription.webhook.attempt": ("UM", "", "", ""),
    "subscription.cancellation.declaration": ("UM", "", "", ""),
    "subscription.cancellation.reason": ("UM", "M", "M", "M"),
    "subscription.signup": ("UM", "", "", ""),
    "subscription.portal.session": ("UM", "M", "", "M"),
}

#: transient model -> groups allowed every operation on the records they created themselves
TRANSIENT_MATRIX = {
    "deferred.revenue.recognition.wizard": "A",
    "deferred.revenue.report": "IAUM",
    "deferred.revenue.report.line": "IAUM",
    "sepa.mandate.wizard": "UM",
    "sepa.return.wizard": "UM",
    "sepa.status.import.wizard": "UM",
    "subscription.billing.run.wizard": "UM",
    "subscription.cancel.wizard": "UM",
    "subscription.change.wizard": "UM",
    "subscription.change.wizard.line": "UM",
    "subscription.coupon.wizard": "UM",
    "subscription.receivable.statement": "UM",
    "subscription.receivable.statement.line": "UM",
    "subscription.dunning.run.wizard": "UM",
    "subscription.dunning.run.wizard.line": "UM",
    "subscription.kpi.report": "UM",
    "subscription.kpi.cohort.line": "UM",
    "subscription.billing.forecast.report": "UM",
    "subscription.billing.forecast.line": "UM",
}

#: no company: the same record in both worlds
SHARED = {"sepa.return.reason", "subscription.dunning.base.rate", "subscription.cancellation.reason"}
#: SQL views: only the model-level access is probed
VIEWS = {"subscription.oss.report"}


def _allowed(letters):
    return {LETTERS[letter] for letter in letters}


@tagged("post_install", "-at_install", "subscription_billing")
class TestAccessMatrix(SecurityWorldCommon):
    """Every model, every group, two companies: the access matrix holds."""

    def _probe(self, records, user, operation):
        """True if ``user`` may do ``operation`` on ``records`` (ACL and record rules)."""
        try:
            records.with_user(user).check_access(operation)
        except AccessError:
            return False
        return True

    def test_every_model_of_the_addon_is_in_the_matrix(self):
        ours = {
            name
            for name in self.env["ir.model"].search([]).mapped("model")
            if name in self.env and self.env[name]._original_module == "subscription_billing"
        }
        # abstract: no table, no access (the billing run is a service model called by the subscription)
        ours -= {"subscription.input.guard.mixin", "subscription.billing.run", "subscription.dunning.run"}
        ours -= {"subscription.payment.charging"}  # abstract: the automatic charging service
        ours -= {"subscription.revenue.analytics", "subscription.billing.forecast"}
        ours -= {"subscription.webhook.dispatch"}  # abstract: the webhook delivery service
        # written as superuser by the REST API only, readable by system administrators (tests/test_api_foundation.py)
        ours -= {"subscription.api.idempotency"}
        ours -= {"subscription.api.rate.limit"}  # idem: tests/test_api_rate_limit.py
        probed = {key.split(" ")[0] for key in [*MATRIX, *TRANSIENT_MATRIX]}
        self.assertEqual(ours - probed, set(), "models missing from the access matrix")
        for model in ours:
            if model in VIEWS:
                continue
            Model = self.env[model]
            if "company_id" in Model._fields and Model._fields["company_id"].store:
                rules = self.env["ir.rule"].search([("model_id.model", "=", model), ("groups", "=", False)])
                self.assertTrue(
                    any("company_id" in rule.domain_force for rule in rules), f"{model} has no company record rule"
                )
            if Model._transient:
                rules = self.env["ir.rule"].search([("model_id.model", "=", model), ("groups", "=", False)])
                self.assertTrue(
                    any("create_uid" in rule.domain_force for rule in rules), f"{model} has no creator record rule"
                )

    def test_business_models_follow_the_matrix_in_both_companies(self):
        mismatches, probes = [], 0
        for key, allowed_per_op in MATRIX.items():
            model = key.split(" ")[0]
            for n in (1, 2):
                if key in VIEWS:
                    records = self.env[model]
                else:
                    records = self.world[n][key] if key in self.world[n] else self.reason
                for group, user in self.users.items():
                    probes += 1
                    for operation, allowed in zip(OPERATIONS, allowed_per_op, strict=True):
                        expected = group in _allowed(allowed) and (n == 1 or key in SHARED or key in VIEWS)
                        if self._probe(records, user, operation) != expected:
                            mismatches.append(
                                f"{key} company {n} {group} {operation}: {'allowed' if not expected else 'refused'}"
                            )
        self.assertFalse(mismatches, "\n".join(mismatches))
        self.assertEqual(probes, len(MATRIX) * len(GROUPS) * 2)

    def test_transient_records_are_their_creators_only(self):
        mismatches = []
        for model in TRANSIENT_MATRIX:
            for n in (1, 2):
                record = self.world[n][model]
                self.assertTrue(record.exists(), f"{model} of company {n} was deleted by the set-up")
                for group, user in self.users.items():
                    for operation in OPERATIONS:
                        if self._probe(record, user, operation):
                            mismatches.append(f"{model} of creator_{n}: {group} may {operation}")
        self.assertFalse(mismatches, "\n".join(mismatches))

    def test_users_use_the_transient_records_they_create_as_the_matrix_says(self):
        mismatches = []
        for group, user in self.users.items():
            own = {}
            values = self._transient_values(self.world[1], 1)
            for model in TRANSIENT_MATRIX:
                expected = group in _allowed(TRANSIENT_MATRIX[model])
                if model not in values:
                    parents = {**self.world[1], **own}
                    values.update(self._transient_child_values(parents))
                try:
                    with self.env.cr.savepoint(flush=False), mute_logger("odoo.models"):
                        record = self.env[model].with_user(user).create(values[model])
                        record.flush_recordset()
                except AccessError:
                    if expected:
                        mismatches.append(f"{model}: {group} cannot create their own")
                    continue
                if not expected:
                    mismatches.append(f"{model}: {group} may create")
                    continue
                own[model] = record.sudo(False)
                for operation in ("read", "write", "unlink"):
                    if not self._probe(record, user, operation):
                        mismatches.append(f"{model}: {group} cannot {operation} their own")
        self.assertFalse(mismatches, "\n".join(mismatches))

    # ------------------------------------------------------------------
    # the findings of issue 10, each as a regression test
    # ------------------------------------------------------------------
    def test_user_cannot_touch_price_tiers_of_another_company(self):
        user = self.users["sub_user"]
        for key in ("subscription.price.tier (plan)", "subscription.price.tier (subscription)"):
            tier = self.world[2][key]
            with self.subTest(key=key):
                with self.assertRaises(AccessError):
                    tier.with_user(user).read(["unit_price"])
                with self.assertRaises(AccessError), self.env.cr.savepoint():
                    tier.with_user(user).write({"unit_price": 0.0})
                with self.assertRaises(AccessError), self.env.cr.savepoint():
                    tier.with_user(user).unlink()
                self.assertFalse(self.env["subscription.price.tier"].with_user(user).search([("id", "=", tier.id)]))
                self.assertEqual(tier.unit_price, 10.0)
        line_2 = self.world[2]["subscription.line"]
        before = self.env["subscription.price.tier"].search_count([])
        with self.assertRaises(AccessError), self.env.cr.savepoint():
            self.env["subscription.price.tier"].with_user(user).create(
                {"subscription_line_id": line_2.id, "currency_id": line_2.currency_id.id, "up_to": 5.0}
            )
        self.assertEqual(self.env["subscription.price.tier"].search_count([]), before)

    def test_only_administrators_change_plan_tiers(self):
        tier = self.world[1]["subscription.price.tier (plan)"]
        with self.assertRaises(AccessError), self.env.cr.savepoint():
            tier.with_user(self.users["sub_user"]).write({"unit_price": 0.0})
        self.assertEqual(tier.unit_price, 10.0)
        with self.assertRaises(AccessError), self.env.cr.savepoint():
            self.env["subscription.price.tier"].with_user(self.users["sub_user"]).create(
                {"plan_line_id": tier.plan_line_id.id, "currency_id": tier.currency_id.id, "up_to": 5.0}
            )
        tier.with_user(self.users["sub_manager"]).write({"unit_price": 9.0})
        self.assertEqual(tier.unit_price, 9.0)
        # the tiers of a subscription line stay the user's to edit
        sub_tier = self.world[1]["subscription.price.tier (subscription)"]
        sub_tier.with_user(self.users["sub_user"]).write({"unit_price": 8.0})
        self.assertEqual(sub_tier.unit_price, 8.0)

    def test_wizards_and_report_lines_of_others_are_hidden(self):
        user = self.users["sub_manager"]
        for model in ("sepa.status.import.wizard", "sepa.mandate.wizard", "subscription.coupon.wizard"):
            with self.subTest(model=model):
                self.assertFalse(self.env[model].with_user(user).search([]), f"{model} of other users visible")
                with self.assertRaises(AccessError):
                    self.world[2][model].with_user(user).read(["create_uid"])
        report_user = self.users["invoicing"]
        self.assertFalse(self.env["deferred.revenue.report.line"].with_user(report_user).search([]))
        with self.assertRaises(AccessError):
            self.world[2]["deferred.revenue.report.line"].with_user(report_user).read(["closing"])


@tagged("post_install", "-at_install", "subscription_billing")
class TestAccessOverHttp(SecurityWorldCommon, HttpCase):
    """The same refusals over the wire: JSON-RPC (``/web/dataset/call_kw``) and ``/json/2``."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        user = cls.users["sub_user"]
        key = (
            cls.env["res.users.apikeys"]
            .with_user(user)
            ._generate(scope="rpc", name="probe", expiration_date=datetime.now() + timedelta(days=1))
        )
        cls.bearer = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def _json2(self, model, method, **params):
        with mute_logger("odoo.http"):
            response = self.url_open(f"/json/2/{model}/{method}", data=json.dumps(params), headers=self.bearer)
        return response.status_code, response.json()

    def _call_kw(self, model, method, args, kwargs=None):
        """``call_kw`` over JSON-RPC as the logged-in user: (result, error data)."""
        with mute_logger("odoo.http"):
            response = self.opener.post(
                f"{self.base_url()}/web/dataset/call_kw/{model}/{method}",
                json={
                    "jsonrpc": "2.0",
                    "method": "call",
                    "id": 1,
                    "params": {"model": model, "method": method, "args": args, "kwargs": kwargs or {}},
                },
                timeout=30,
            )
        body = response.json()
        return body.get("result"), (body.get("error") or {}).get("data") or {}

    def test_json2_refuses_price_tiers_of_another_company(self):
        tier = self.world[2]["subscription.price.tier (subscription)"]
        status, body = self._json2("subscription.price.tier", "read", ids=tier.ids, fields=["unit_price"])
        self.assertEqual(body.get("name"), "odoo.exceptions.AccessError", body)
        self.assertEqual(status, 403)
        status, body = self._json2("subscription.price.tier", "write", ids=tier.ids, vals={"unit_price": 0})
        self.assertEqual(body.get("name"), "odoo.exceptions.AccessError", body)
        status, body = self._json2("subscription.price.tier", "unlink", ids=tier.ids)
        self.assertEqual(body.get("name"), "odoo.exceptions.AccessError", body)
        self.assertTrue(tier.exists())
        self.assertEqual(tier.unit_price, 10.0)

    def test_json2_refuses_protected_fields_even_with_the_context_key(self):
        sub = self.world[1]["subscription.subscription"]
        for vals in (
            {"state": "ended"},
            {"next_period_start": "2026-07-01"},
            {"billing_error": "x"},
        ):
            with self.subTest(vals=vals):
                status, body = self._json2(
                    "subscription.subscription",
                    "write",
                    ids=sub.ids,
                    vals=vals,
                    context={"subscription_system_write": True},
                )
                self.assertEqual(body.get("name"), "odoo.exceptions.UserError", body)
                self.assertIn(next(iter(vals)), body.get("message", ""))
        sub.invalidate_recordset()
        self.assertEqual(sub.state, "active")
        self.assertFalse(sub.billing_error)
        self.assertEqual(str(sub.next_period_start), "2026-01-01")

    def test_json2_usage_create_is_checked_and_ingest_reports_per_record(self):
        sub = self.world[1]["subscription.subscription"]
        metric = self.world[1]["subscription.usage.metric"]
        status, body = self._json2(
            "subscription.usage.record",
            "create",
            vals_list=[
                {
                    "subscription_id": sub.id,
                    "metric_id": metric.id,
                    "quantity": -5,
                    "timestamp": "2026-01-06 10:00:00",
                    "idempotency_key": "neg",
                }
            ],
        )
        self.assertEqual(body.get("name"), "odoo.exceptions.ValidationError", body)
        self.assertIn("quantity", body.get("message", ""))
        usage = {"metric_id": metric.id, "quantity": 1, "timestamp": "2026-01-06T10:00:00"}
        status, body = self._json2(
            "subscription.usage.record",
            "ingest_usage",
            records=[
                {**usage, "subscription_id": sub.id, "quantity": 2, "idempotency_key": "ok-1"},
                {**usage, "subscription_id": sub.id, "quantity": -1, "idempotency_key": "bad-1"},
                {**usage, "subscription_id": self.world[2]["subscription.subscription"].id, "idempotency_key": "c2"},
            ],
        )
        self.assertEqual(status, 200, body)
        self.assertEqual([result["status"] for result in body], ["created", "rejected", "rejected"], body)
        self.assertIn("quantity", body[1]["error"])
        self.assertIn("does not exist", body[2]["error"])
        records = self.env["subscription.usage.record"].search([("idempotency_key", "in", ["ok-1", "bad-1", "neg"])])
        self.assertEqual(records.mapped("idempotency_key"), ["ok-1"])

    def test_call_kw_refuses_another_companys_wizard_and_report_lines(self):
        self.authenticate("probe_sub_manager", "probe_sub_manager")
        wizard = self.world[1]["sepa.status.import.wizard"]  # same company, another user's upload
        result, error = self._call_kw("sepa.status.import.wizard", "read", [wizard.ids, ["data_file", "filename"]])
        self.assertIsNone(result)
        self.assertEqual(error.get("name"), "odoo.exceptions.AccessError", error)
        mandate_wizard = self.world[2]["sepa.mandate.wizard"]
        result, error = self._call_kw("sepa.mandate.wizard", "read", [mandate_wizard.ids, ["iban"]])
        self.assertEqual(error.get("name"), "odoo.exceptions.AccessError", error)
        result, error = self._call_kw("subscription.coupon.wizard", "search_read", [[], ["code"]])
        self.assertEqual(result, [], "no coupon code of another user")
        result, error = self._call_kw("deferred.revenue.report.line", "search_read", [[], ["closing"]])
        self.assertEqual(result, [], "no report line of another user or company")

    def test_call_kw_refuses_plan_tier_changes_by_users(self):
        self.authenticate("probe_sub_user", "probe_sub_user")
        tier = self.world[1]["subscription.price.tier (plan)"]
        result, error = self._call_kw("subscription.price.tier", "write", [tier.ids, {"unit_price": 0}])
        self.assertEqual(error.get("name"), "odoo.exceptions.AccessError", error)
        tier.invalidate_recordset()
        self.assertEqual(tier.unit_price, 10.0)
        # reading stays allowed (the line's price is shown on the subscription)
        result, error = self._call_kw("subscription.price.tier", "read", [tier.ids, ["unit_price"]])
        self.assertEqual(result[0]["unit_price"], 10.0, error)

    def test_portal_user_gets_nothing_over_json_rpc(self):
        self.authenticate("probe_portal", "probe_portal")
        for model in ("subscription.price.tier", "subscription.usage.record", "sepa.mandate.wizard"):
            with self.subTest(model=model):
                result, error = self._call_kw(model, "search_read", [[], ["id"]])
                self.assertEqual(error.get("name"), "odoo.exceptions.AccessError", error)
