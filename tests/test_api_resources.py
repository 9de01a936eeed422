from datetime import date

from odoo import Command
from odoo.tests import tagged

from .common_api import ApiCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestApiResources(ApiCommon):
    """Plans, subscriptions, usage and invoices over real HTTP, every response checked against the
    OpenAPI document. The plan API1 bills 100.00 a month in advance; its product carries a 19 % tax."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tax_19 = cls.env["account.tax"].create(
            {"name": "VAT 19 % (API)", "amount": 19.0, "amount_type": "percent", "type_tax_use": "sale"}
        )
        cls.product_api = cls.env["product.product"].create(
            {
                "name": "API Hosting",
                "type": "service",
                "list_price": 40.0,
                "subscription_ok": True,
                "taxes_id": [Command.set(cls.tax_19.ids)],
            }
        )
        cls.product_seat = cls.env["product.product"].create(
            {
                "name": "Extra Seat",
                "type": "service",
                "list_price": 10.0,
                "subscription_ok": True,
                "taxes_id": [Command.set(cls.tax_19.ids)],
            }
        )
        cls.metric = cls.env["subscription.usage.metric"].create(
            {"name": "API calls", "code": "api_calls", "aggregation": "sum"}
        )
        cls.plan_api = cls._create_plan(code="API1", name="API Monthly", price=100.0, product=cls.product_api)
        cls.plan_api.write(
            {
                "line_ids": [
                    Command.create(
                        {
                            "product_id": cls.product_seat.id,
                            "name": "Calls",
                            "price_unit": 0.0,
                            "line_type": "usage",
                            "pricing_model": "graduated",
                            "metric_id": cls.metric.id,
                            "tier_ids": [
                                Command.create(
                                    {"currency_id": cls.currency.id, "up_to": 1000, "unit_price": 0.0, "flat_fee": 0.0}
                                ),
                                Command.create(
                                    {
                                        "currency_id": cls.currency.id,
                                        "up_to_unlimited": True,
                                        "unit_price": 0.01,
                                        "flat_fee": 0.0,
                                    }
                                ),
                            ],
                        }
                    )
                ]
            }
        )
        family = cls.env["subscription.plan.family"].create({"name": "API plans"})
        cls.plan_api.write({"family_id": family.id, "rank": 1})
        cls.plan_api2 = cls._create_plan(
            code="API2", name="API Monthly Pro", price=200.0, product=cls.product_api, family_id=family.id, rank=2
        )
        cls.api_customer = cls.env["res.partner"].create(
            {"name": "Integrator GmbH", "company_id": cls.env.company.id, "customer_rank": 1}
        )

    def _create(self, **overrides):
        body = {"customer_id": self.api_customer.id, "plan_code": "API1", "start_date": "2026-01-01", **overrides}
        status, data, _response = self._call("POST", "/subscriptions", body)
        self.assertEqual(status, 201, data)
        return data

    # ------------------------------------------------------------------
    # Plans
    # ------------------------------------------------------------------
    def test_plan_read_shows_prices_and_tiers(self):
        """The plan API1: a 100.00 recurring line and a graduated usage line whose first 1,000 calls are
        free and each further one costs 0.01, as decimal strings in the currency precision."""
        status, plan, _response = self._call("GET", f"/plans/{self.plan_api.id}")
        self.assertEqual(status, 200)
        self.assertEqual(plan["code"], "API1")
        self.assertEqual(plan["billing_period"], {"count": 1, "unit": "month"})
        recurring, usage = plan["lines"]
        self.assertEqual(recurring["prices"], [{"currency": self.currency.name, "unit_price": "100.00"}])
        self.assertEqual(usage["metric"], "api_calls")
        self.assertEqual(
            [(tier["up_to"], tier["unit_price"]) for tier in usage["tiers"]], [(1000.0, "0.00"), (None, "0.01")]
        )
        status, page, _response = self._call("GET", "/plans?limit=100")
        self.assertIn(self.plan_api.id, [p["id"] for p in page["data"]])

    def test_unknown_plan_is_404(self):
        status, body, _response = self._call("GET", "/plans/999999")
        self.assertEqual((status, body["code"]), (404, "not_found"))

    # ------------------------------------------------------------------
    # Subscriptions
    # ------------------------------------------------------------------
    def test_create_from_plan_starts_and_reads_back(self):
        """Started on 2026-01-01 from plan API1: active, first period January, 100.00 recurring."""
        sub = self._create()
        self.assertEqual(sub["state"], "active")
        self.assertEqual(sub["current_period_start"], "2026-01-01")
        self.assertEqual(sub["current_period_end"], "2026-01-31")
        self.assertEqual(sub["next_invoice_date"], "2026-01-01")
        self.assertEqual(sub["recurring_total"], "100.00")
        status, read, _response = self._call("GET", f"/subscriptions/{sub['id']}")
        self.assertEqual((status, read), (200, sub))

    def test_create_with_lines_and_trial(self):
        """Given lines replace the plan's: 3 seats at the product price 10.00 = 30.00 and the plan's
        hosting line at 100.00; a trial to 2026-01-14 means the first invoice is due 2026-01-15."""
        sub = self._create(
            trial_end_date="2026-01-14",
            lines=[{"product_id": self.product_api.id}, {"product_id": self.product_seat.id, "quantity": 3}],
        )
        self.assertEqual(sub["trial_end_date"], "2026-01-14")
        self.assertEqual(sub["next_invoice_date"], "2026-01-15")
        by_product = {line["product_id"]: line for line in sub["lines"]}
        self.assertEqual(by_product[self.product_api.id]["unit_price"], "100.00")
        self.assertEqual(by_product[self.product_seat.id]["quantity"], 3.0)

    def test_create_refusals_name_the_field(self):
        status, body, _response = self._call("POST", "/subscriptions", {"customer_id": 999999, "plan_code": "API1"})
        self.assertEqual((status, body["code"], body["field"]), (422, "invalid_customer", "customer_id"))
        status, body, _response = self._call(
            "POST", "/subscriptions", {"customer_id": self.api_customer.id, "plan_code": "NOPE"}
        )
        self.assertEqual((status, body["code"], body["field"]), (422, "invalid_plan", "plan_code"))
        status, body, _response = self._call("POST", "/subscriptions", {"customer_id": self.api_customer.id})
        self.assertEqual((status, body["code"]), (422, "validation_error"))
        self.assertFalse(self.env["subscription.subscription"].search([("partner_id", "=", self.api_customer.id)]))

    def test_preview_computes_first_invoice_and_writes_nothing(self):
        """Plan API1 from 2026-01-01: January in advance, 100.00 + 19 % tax 19.00 = 119.00; the
        usage line has nothing yet (0.00). No subscription, invoice or line remains afterwards, and
        no subscription number is used up (PostgreSQL sequences do not roll back)."""
        Sub, Move = self.env["subscription.subscription"], self.env["account.move"]
        before = (Sub.search_count([]), Move.search_count([]))
        sequence = self.env["ir.sequence"].search([("code", "=", "subscription.subscription")], limit=1)
        next_number = sequence.number_next_actual
        body = {"customer_id": self.api_customer.id, "plan_code": "API1", "start_date": "2026-01-01"}
        status, preview, _response = self._call("POST", "/subscriptions/preview", body)
        self.assertEqual(status, 200, preview)
        self.assertEqual(
            (preview["amount_untaxed"], preview["amount_tax"], preview["amount_total"]), ("100.00", "19.00", "119.00")
        )
        hosting = [line for line in preview["lines"] if line["unit_price"] == "100.00"]
        self.assertEqual((hosting[0]["period_start"], hosting[0]["period_end"]), ("2026-01-01", "2026-01-31"))
        self.assertEqual((Sub.search_count([]), Move.search_count([])), before)
        sequence.invalidate_recordset(["number_next_actual"])
        self.assertEqual(sequence.number_next_actual, next_number, "the preview used up a subscription number")

    def test_lifecycle_pause_resume_cancel_reactivate(self):
        """Pause on 2026-02-01, pausing again is refused (409), resume on 2026-03-01, give notice
        on 2026-03-10 (no term: ends at the end of the period in progress), then withdraw it."""
        sub = self._create()
        status, paused, _response = self._call("POST", f"/subscriptions/{sub['id']}/pause", {"date": "2026-02-01"})
        self.assertEqual((status, paused["state"]), (200, "paused"))
        self.assertEqual(paused["pause_date"], "2026-02-01")
        status, body, _response = self._call("POST", f"/subscriptions/{sub['id']}/pause", {"date": "2026-02-02"})
        self.assertEqual((status, body["code"]), (409, "action_refused"))
        status, resumed, _response = self._call("POST", f"/subscriptions/{sub['id']}/resume", {"date": "2026-03-01"})
        self.assertEqual((status, resumed["state"]), (200, "active"), resumed)
        status, cancelled, _response = self._call(
            "POST", f"/subscriptions/{sub['id']}/cancel", {"request_date": "2026-03-10", "reason": "Too expensive"}
        )
        self.assertEqual((status, cancelled["state"]), (200, "notice"), cancelled)
        self.assertEqual(cancelled["cancellation_request_date"], "2026-03-10")
        self.assertTrue(cancelled["end_date"])
        status, back, _response = self._call("POST", f"/subscriptions/{sub['id']}/reactivate", {"date": "2026-03-11"})
        self.assertEqual((status, back["state"], back["end_date"]), (200, "active", None))

    def test_list_filters_and_isolation(self):
        """Filter by customer and state; company B's key neither lists nor reads nor pauses A's subscription."""
        sub = self._create()
        status, page, _response = self._call("GET", f"/subscriptions?customer_id={self.api_customer.id}&state=active")
        self.assertEqual((status, [s["id"] for s in page["data"]]), (200, [sub["id"]]))
        status, page, _response = self._call("GET", f"/subscriptions?customer_id={self.api_customer.id}&state=paused")
        self.assertEqual(page["data"], [])
        status, body, _response = self._call("GET", "/subscriptions?state=bogus")
        self.assertEqual((status, body["code"]), (400, "invalid_parameter"))
        status, page, _response = self._call("GET", "/subscriptions?limit=100", key=self.key_b)
        self.assertNotIn(sub["id"], [s["id"] for s in page["data"]])
        status, body, _response = self._call("GET", f"/subscriptions/{sub['id']}", key=self.key_b)
        self.assertEqual(status, 404)
        status, body, _response = self._call("POST", f"/subscriptions/{sub['id']}/pause", {}, key=self.key_b)
        self.assertEqual(status, 404)
        self.assertEqual(self.env["subscription.subscription"].browse(sub["id"]).state, "active")

    # ------------------------------------------------------------------
    # Usage
    # ------------------------------------------------------------------
    def test_usage_batch_reports_created_duplicate_rejected(self):
        """Three records: a new one, the same key again (duplicate), one with a negative quantity
        for a metric that does not allow it (rejected with the model's reason)."""
        sub = self._create()
        records = [
            {"subscription_id": sub["id"], "metric": "api_calls", "quantity": 5, "timestamp": "2026-01-05T10:00:00Z",
             "idempotency_key": "u-1"},
            {"subscription_id": sub["id"], "metric": "api_calls", "quantity": 5, "timestamp": "2026-01-05T10:00:00Z",
             "idempotency_key": "u-1"},
            {"subscription_id": sub["id"], "metric": "api_calls", "quantity": -5, "timestamp": "2026-01-05T11:00:00Z",
             "idempotency_key": "u-2"},
        ]  # fmt: skip
        status, result, _response = self._call("POST", "/usage_records", {"records": records})
        self.assertEqual(status, 200, result)
        self.assertEqual((result["created"], result["duplicate"], result["rejected"]), (1, 1, 1))
        self.assertEqual([r["status"] for r in result["results"]], ["created", "duplicate", "rejected"])
        self.assertTrue(result["results"][2]["error"])
        status, again, _response = self._call("POST", "/usage_records", {"records": records[:1]})
        self.assertEqual(again["results"][0]["status"], "duplicate")
        by_customer = [{**records[0], "idempotency_key": "u-3", "customer_id": self.api_customer.id}]
        del by_customer[0]["subscription_id"]
        status, result, _response = self._call("POST", "/usage_records", {"records": by_customer})
        self.assertEqual(result["results"][0]["status"], "created", result)

    def test_usage_batch_over_1000_is_refused(self):
        record = {"subscription_id": 1, "metric": "api_calls", "quantity": 1, "timestamp": "2026-01-05T10:00:00Z"}
        status, body, _response = self._call("POST", "/usage_records", {"records": [record] * 1001})
        self.assertEqual((status, body["code"], body["field"]), (422, "validation_error", "records"))

    def test_usage_for_company_a_subscription_is_rejected_for_key_b(self):
        sub = self._create()
        record = {"subscription_id": sub["id"], "metric": "api_calls", "quantity": 1,
                  "timestamp": "2026-01-05T10:00:00Z", "idempotency_key": "b-1"}  # fmt: skip
        status, result, _response = self._call("POST", "/usage_records", {"records": [record]}, key=self.key_b)
        self.assertEqual((status, result["results"][0]["status"]), (200, "rejected"))
        self.assertFalse(self.env["subscription.usage.record"].search([("idempotency_key", "=", "b-1")]))

    # ------------------------------------------------------------------
    # Invoices
    # ------------------------------------------------------------------
    def test_invoice_list_read_and_pdf(self):
        """Billed on 2026-01-01: one invoice of 119.00 with the hosting line for 2026-01-01..2026-01-31."""
        sub = self._create()
        self.env["subscription.subscription"].browse(sub["id"])._run_billing(date(2026, 1, 1))
        status, page, _response = self._call("GET", f"/invoices?subscription_id={sub['id']}")
        self.assertEqual(status, 200)
        self.assertEqual(len(page["data"]), 1)
        invoice = page["data"][0]
        self.assertEqual((invoice["amount_total"], invoice["subscription_ids"]), ("119.00", [sub["id"]]))
        status, read, _response = self._call("GET", f"/invoices/{invoice['id']}")
        self.assertEqual((status, read), (200, invoice))
        hosting = [line for line in read["lines"] if line["unit_price"] == "100.00"][0]
        self.assertEqual((hosting["period_start"], hosting["period_end"]), ("2026-01-01", "2026-01-31"))
        status, page_b, _response = self._call("GET", f"/invoices/{invoice['id']}", key=self.key_b)
        self.assertEqual(status, 404)
        status, _body, response = self._call("GET", f"/invoices/{invoice['id']}/pdf")
        self.assertEqual(status, 200)
        self.assertEqual(response.headers["Content-Type"], "application/pdf")
        # under test, Odoo renders reports as HTML instead of running wkhtmltopdf: the bytes are
        # that invoice's report either way
        self.assertTrue(response.content.startswith(b"%PDF") or invoice["number"].encode() in response.content)
        self.assertIn(invoice["number"].replace("/", "_"), response.headers["Content-Disposition"])

    # ------------------------------------------------------------------
    # Changes
    # ------------------------------------------------------------------
    def test_change_preview_then_upgrade(self):
        """January (100.00) is billed; an upgrade to API2 (200.00) on 2026-01-15 prorates the 17
        billed days 15-31 of 31: a credit of 100 x 17/31 = 54.84 and a charge of
        200 x 17/31 = 109.68. The preview says so and stores nothing; the change then applies it."""
        sub = self._create()
        self.env["subscription.subscription"].browse(sub["id"])._run_billing(date(2026, 1, 1))
        body = {"plan_code": "API2", "timing": "immediate", "date": "2026-01-15"}
        status, preview, _response = self._call("POST", f"/subscriptions/{sub['id']}/change/preview", body)
        self.assertEqual(status, 200, preview)
        self.assertEqual((preview["change_type"], preview["id"]), ("upgrade", None))
        self.assertEqual((preview["mrr_before"], preview["mrr_after"]), ("100.00", "200.00"))
        self.assertEqual(sorted(c["amount"] for c in preview["charges"]), ["-54.84", "109.68"])
        record = self.env["subscription.subscription"].browse(sub["id"])
        self.assertEqual((record.plan_id, record.change_ids), (self.plan_api, self.env["subscription.change"]))
        status, change, _response = self._call("POST", f"/subscriptions/{sub['id']}/change", body)
        self.assertEqual((status, change["state"]), (200, "applied"), change)
        self.assertEqual(change["subscription"]["plan_code"], "API2")
        self.assertEqual(sorted(c["amount"] for c in change["charges"]), ["-54.84", "109.68"])

    def test_change_to_unrelated_plan_is_refused(self):
        sub = self._create()
        body = {"plan_code": "M", "timing": "period_end"}
        status, body, _response = self._call("POST", f"/subscriptions/{sub['id']}/change", body)
        self.assertEqual((status, body["code"]), (409, "action_refused"))

    # ------------------------------------------------------------------
    # Payment methods
    # ------------------------------------------------------------------
    def test_sepa_mandate_from_iban_and_consent(self):
        """A mandate from the IBAN DE89 3704 0044 0532 0130 00 and online consent: active at once and
        listed. Linking it to a subscription billed in the company's non-euro currency is refused
        (422) and the refused call leaves no mandate; a wrong check digit is 422 too."""
        self.env.company.sepa_creditor_identifier = "DE98ZZZ09999999999"
        url = f"/customers/{self.api_customer.id}/payment_methods"
        body = {"iban": "DE89 3704 0044 0532 0130 00", "consent": {"date": "2026-01-01", "channel": "online"}}
        status, mandate, _response = self._call("POST", f"{url}/sepa_debit", body)
        self.assertEqual(status, 201, mandate)
        self.assertEqual((mandate["state"], mandate["iban_last4"], mandate["type"]), ("active", "3000", "sepa_debit"))
        status, page, _response = self._call("GET", url)
        self.assertEqual([m["id"] for m in page["data"]], [mandate["id"]])
        if self.currency.name != "EUR":
            sub = self._create()
            status, error, _response = self._call("POST", f"{url}/sepa_debit", {**body, "subscription_id": sub["id"]})
            self.assertEqual((status, error["code"]), (422, "validation_error"))
            self.assertEqual(self.env["sepa.mandate"].search_count([("partner_id", "=", self.api_customer.id)]), 1)
        status, error, _response = self._call("POST", f"{url}/sepa_debit", {**body, "iban": "DE00370400440532013000"})
        self.assertEqual((status, error["code"]), (422, "validation_error"))
        status, error, _response = self._call("GET", url, key=self.key_b)
        self.assertEqual(status, 404)
