from odoo.tests import new_test_user, tagged

from .common_api import ApiCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestApiQuickStart(ApiCommon):
    """The README's quick start, call by call, on the demo plans (skipped without demo data)."""

    def test_quick_start_of_the_readme(self):
        """Customer, preview, subscription on Starter, preview and apply the upgrade to Team,
        usage on Team's api_calls, the invoices: every call answers as the README says."""
        starter = self.env.ref("subscription_billing.plan_starter_demo", raise_if_not_found=False)
        if not starter:
            self.skipTest("needs the demo plans")
        # an integration user of the company the demo plans belong to
        company = starter.sudo().company_id or self.env.ref("base.main_company")
        user = new_test_user(
            self.env,
            login="quickstart_api",
            groups="subscription_billing.group_subscription_api",
            company_id=company.id,
            company_ids=[(6, 0, company.ids)],
        )
        self.key = self._make_key(user)
        status, customer, _response = self._call(
            "POST",
            "/customers",
            {"name": "Kunde AG", "email": "info@kunde.example", "address": {"country": "DE"}},
            headers={"Idempotency-Key": "signup-42"},
        )
        self.assertEqual(status, 201, customer)
        body = {"customer_id": customer["id"], "plan_code": "SAAS-S"}
        status, preview, _response = self._call("POST", "/subscriptions/preview", body)
        self.assertEqual(status, 200, preview)
        status, sub, _response = self._call("POST", "/subscriptions", body, headers={"Idempotency-Key": "sub-42"})
        self.assertEqual(status, 201, sub)
        url = f"/subscriptions/{sub['id']}"
        status, change, _response = self._call("POST", f"{url}/change/preview", {"plan_code": "SAAS-T"})
        self.assertEqual(status, 200, change)
        status, change, _response = self._call("POST", f"{url}/change", {"plan_code": "SAAS-T"})
        self.assertEqual((status, change["subscription"]["plan_code"]), (200, "SAAS-T"), change)
        usage = {"subscription_id": sub["id"], "metric": "api_calls", "quantity": 120,
                 "timestamp": f"{sub['start_date']}T10:00:00Z", "idempotency_key": "evt-1"}  # fmt: skip
        status, result, _response = self._call("POST", "/usage_records", {"records": [usage]})
        self.assertEqual((status, result["results"][0]["status"]), (200, "created"), result)
        status, invoices, _response = self._call("GET", f"/invoices?subscription_id={sub['id']}")
        self.assertEqual(status, 200)
