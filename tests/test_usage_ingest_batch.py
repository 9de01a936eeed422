from datetime import date, datetime

from odoo import Command
from odoo.tests import tagged

from .common import SubscriptionCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestUsageIngestBatch(SubscriptionCommon):
    """The set-based ``_ingest``: one batch mixing created, duplicate and rejected records gives one
    result per record in order, stores exactly the created ones with the values and log columns an
    ORM create writes, and bills each key once."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        product = cls.env["product.product"].create(
            {"name": "Batch API calls", "type": "service", "subscription_ok": True, "list_price": 0.0}
        )
        cls.metric = cls.env["subscription.usage.metric"].create(
            {"name": "Batch requests", "code": "batch_requests", "aggregation": "sum"}
        )
        cls.plan = cls.env["subscription.plan"].create(
            {
                "name": "Batch metered",
                "code": "BATCH-METERED",
                "billing_timing": "arrears",
                "line_ids": [
                    Command.create({"product_id": cls.product_hosting.id, "name": "Hosting", "price_unit": 100.0}),
                    Command.create(
                        {
                            "product_id": product.id,
                            "name": "Batch API calls",
                            "price_unit": 0.5,
                            "line_type": "usage",
                            "metric_id": cls.metric.id,
                        }
                    ),
                ],
            }
        )

    def _usage(self, sub, quantity, timestamp, key, **values):
        return {
            "subscription_id": sub.id,
            "metric": self.metric.code,
            "quantity": quantity,
            "timestamp": timestamp,
            "idempotency_key": key,
            **values,
        }

    def _ingest_batch(self, sub):
        """The batch of the test below, in its order."""
        return self.env["subscription.usage.record"]._ingest(
            [
                self._usage(sub, 10, "2026-01-05T10:00:00", "evt-1"),
                self._usage(sub, 4, "2026-01-03T08:00:00", "evt-0"),
                dict(self._usage(sub, 1, "2026-01-06T10:00:00", "evt-bad-metric"), metric="nope"),
                self._usage(sub, 10, "2026-01-05T10:00:00", "evt-1"),
                self._usage(sub, 2.5, "2026-01-10T12:00:00+02:00", "evt-2", attributes={"endpoint": "/v1/items"}),
                self._usage(sub, "abc", "2026-01-11T10:00:00", "evt-bad-quantity"),
                self._usage(sub, 1, "2026-01-12T10:00:00", False),
            ]
        )

    def test_mixed_batch_gives_created_duplicate_and_rejected_in_order(self):
        """A batch of seven records of one subscription, after ``evt-0`` (4 units) was stored alone:

        1. ``evt-1``, 10 units → created;
        2. ``evt-0`` again → duplicate of the stored record (its id), not counted;
        3. an unknown metric → rejected, "Metric nope does not exist.";
        4. ``evt-1`` again in the same batch → duplicate with the id of record 1;
        5. ``evt-2``, 2.5 units at 12:00 +02:00 → created, stored at 10:00 UTC with its attributes;
        6. quantity "abc" → rejected, "must be a finite number";
        7. no idempotency key → rejected, "Field idempotency_key is required.".

        Stored: evt-0, evt-1, evt-2 = 3 records. The invoice of January (arrears, billed on
        1 February): hosting 100 + (4 + 10 + 2.5) × 0.50 = 100 + 8.25 = 108.25.
        """
        sub = self._start(plan=self.plan)
        Usage = self.env["subscription.usage.record"]
        (stored,) = Usage._ingest([self._usage(sub, 4, "2026-01-03T08:00:00", "evt-0")])
        self.assertEqual(stored["status"], "created", stored["error"])

        # the set-based insert stores the batch: its fallback (the ORM, record by record) logs at INFO
        with self.assertNoLogs("odoo.addons.subscription_billing.models.subscription_usage_record", "INFO"):
            results = self._ingest_batch(sub)
        self.assertEqual(
            [r["status"] for r in results],
            ["created", "duplicate", "rejected", "duplicate", "created", "rejected", "rejected"],
        )
        self.assertEqual(
            [r["idempotency_key"] for r in results],
            ["evt-1", "evt-0", "evt-bad-metric", "evt-1", "evt-2", "evt-bad-quantity", False],
        )
        self.assertEqual(results[1]["id"], stored["id"], "a key stored earlier points at the stored record")
        self.assertEqual(results[3]["id"], results[0]["id"], "a key twice in the batch points at its one record")
        self.assertFalse(results[0]["error"] or results[1]["error"] or results[3]["error"] or results[4]["error"])
        self.assertFalse(results[2]["id"] or results[5]["id"] or results[6]["id"])
        self.assertEqual(results[2]["error"], "Metric nope does not exist.")
        self.assertIn("must be a finite number", results[5]["error"])
        self.assertEqual(results[6]["error"], "Field idempotency_key is required.")

        records = Usage.search([("subscription_id", "=", sub.id)], order="id")
        self.assertEqual(records.mapped("idempotency_key"), ["evt-0", "evt-1", "evt-2"])
        self.assertEqual(records.ids, [stored["id"], results[0]["id"], results[4]["id"]])
        evt2 = records[2]
        self.assertEqual(evt2.quantity, 2.5)
        self.assertEqual(evt2.timestamp, datetime(2026, 1, 10, 10, 0), "12:00 at +02:00 is 10:00 UTC")
        self.assertEqual(evt2.attributes, {"endpoint": "/v1/items"})
        self.assertEqual(evt2.company_id, sub.company_id, "the stored related company is the subscription's")
        self.assertEqual(evt2.metric_id, self.metric)
        self.assertEqual((evt2.create_uid, evt2.write_uid), (self.env.user, self.env.user))
        self.assertTrue(evt2.create_date and evt2.write_date)
        self.assertEqual(sub.usage_record_count, 3)

        again = Usage._ingest([self._usage(sub, 10, "2026-01-05T10:00:00", "evt-1")])
        self.assertEqual((again[0]["status"], again[0]["id"]), ("duplicate", results[0]["id"]))

        result = sub._run_billing(date(2026, 2, 1))
        self.assertFalse(result["errors"], sub.billing_error)
        self.assertEqual(result["invoices"].amount_untaxed, 108.25, "100 hosting + (4 + 10 + 2.5) × 0.50")
        self.assertEqual(len(records.filtered("invoice_line_id")), 3, "every stored record is billed once")

    def test_records_by_customer_resolve_once_per_customer_and_metric(self):
        """Three records by ``partner_id`` of the customer (one running subscription metering the
        metric) and one of a customer id that does not exist, in one batch: the three are stored on
        that subscription (3 records, 1 + 2 + 3 = 6 units), the fourth is rejected with
        "Customer <id> does not exist."."""
        sub = self._start(plan=self.plan)
        missing = self.env["res.partner"].search([], order="id desc", limit=1).id + 1000
        by_customer = [
            {"partner_id": self.customer.id, "metric": self.metric.code, "quantity": quantity} for quantity in (1, 2, 3)
        ]
        records = [
            dict(values, timestamp=f"2026-01-0{index + 2}T10:00:00", idempotency_key=f"cust-{index}")
            for index, values in enumerate(by_customer)
        ]
        records.append(dict(records[0], partner_id=missing, idempotency_key="cust-missing"))
        results = self.env["subscription.usage.record"]._ingest(records)
        self.assertEqual([r["status"] for r in results], ["created", "created", "created", "rejected"])
        self.assertEqual(results[3]["error"], f"Customer {missing} does not exist.")
        stored = self.env["subscription.usage.record"].search([("subscription_id", "=", sub.id)])
        self.assertEqual(len(stored), 3)
        self.assertEqual(sum(stored.mapped("quantity")), 6.0)
