from odoo.tests import tagged

from .common_api import ApiCommon
from .test_webhooks import Receiver


@tagged("post_install", "-at_install", "subscription_billing")
class TestApiWebhooks(ApiCommon):
    """Webhook endpoints and events over the API, and the whole path: an API call, its event,
    the signed delivery to a local receiver."""

    def test_endpoint_created_over_api_receives_signed_events_of_api_calls(self):
        """Register an endpoint, create a customer's subscription over the API: the receiver gets
        subscription.created then subscription.activated, verified with the secret the API
        returned once; the events list shows the same events newest first."""
        receiver = Receiver()
        self.addCleanup(receiver.close)
        status, endpoint, _response = self._call(
            "POST", "/webhook_endpoints", {"url": receiver.url, "event_types": "subscription.*"}
        )
        self.assertEqual(status, 201, endpoint)
        self.assertTrue(endpoint["secret"].startswith("whsec_"))
        status, read, _response = self._call("GET", f"/webhook_endpoints/{endpoint['id']}")
        self.assertNotIn("secret", read)
        status, customer, _response = self._call("POST", "/customers", {"name": "Hooked GmbH"})
        status, sub, _response = self._call(
            "POST", "/subscriptions", {"customer_id": customer["id"], "plan_code": "M", "start_date": "2026-01-01"}
        )
        self.assertEqual(status, 201, sub)
        self.env["subscription.webhook.dispatch"]._deliver_due()
        events = receiver.verified(endpoint["secret"])
        self.assertEqual([e["type"] for e in events], ["subscription.created", "subscription.activated"])
        self.assertEqual({e["data"]["id"] for e in events}, {sub["id"]})
        self.assertEqual(events[1]["data"]["state"], "active")
        status, page, _response = self._call("GET", "/events?type=subscription.activated")
        self.assertEqual(status, 200)
        self.assertEqual(page["data"][0]["id"], events[1]["id"])
        self.assertEqual(page["data"][0]["data"], events[1]["data"])

    def test_endpoint_update_and_isolation(self):
        status, endpoint, _response = self._call(
            "POST", "/webhook_endpoints", {"url": "https://hooks.example/a", "name": "A"}
        )
        status, updated, _response = self._call(
            "PATCH", f"/webhook_endpoints/{endpoint['id']}", {"active": False, "event_types": "invoice.*"}
        )
        self.assertEqual((status, updated["active"], updated["event_types"]), (200, False, "invoice.*"))
        status, updated, _response = self._call("PATCH", f"/webhook_endpoints/{endpoint['id']}", {"active": True})
        self.assertTrue(updated["active"])
        status, body, _response = self._call("GET", f"/webhook_endpoints/{endpoint['id']}", key=self.key_b)
        self.assertEqual((status, body["code"]), (404, "not_found"))
        status, page, _response = self._call("GET", "/webhook_endpoints", key=self.key_b)
        self.assertNotIn(endpoint["id"], [e["id"] for e in page["data"]])
        status, body, _response = self._call("POST", "/webhook_endpoints", {"url": "ftp://nope.example/x"})
        self.assertEqual((status, body["code"]), (422, "validation_error"))
