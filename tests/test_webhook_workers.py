from odoo import SUPERUSER_ID, api
from odoo.tests import tagged

from .common import CommittedDataCase
from .test_webhooks import Receiver


@tagged("post_install", "-at_install", "subscription_billing")
class TestWebhookWorkers(CommittedDataCase):
    """Two delivery workers on real database connections split the endpoints: an endpoint one worker
    holds is skipped by the other (FOR UPDATE SKIP LOCKED), never sent twice."""

    def setUp(self):
        super().setUp()
        self.receivers = [Receiver(), Receiver()]
        for receiver in self.receivers:
            self.addCleanup(receiver.close)
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            Endpoint = env["subscription.webhook.endpoint"]
            self.endpoint_ids = [
                Endpoint.create({"name": f"Worker test {i}", "url": receiver.url}).id
                for i, receiver in enumerate(self.receivers)
            ]
            env["subscription.webhook.event"]._emit_webhook_event("test.ping", env.company)
            self.event_ids = Endpoint.browse(self.endpoint_ids).delivery_ids.event_id.ids
        self.addCleanup(self._clean)

    def _clean(self):
        self._close_cursors()  # the workers' transactions first: they hold locks on these rows
        self.cursors = []
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["subscription.webhook.event"].browse(self.event_ids).unlink()
            env["subscription.webhook.endpoint"].browse(self.endpoint_ids).unlink()

    def test_a_held_endpoint_is_skipped_by_the_other_worker(self):
        """Worker 1 holds endpoint 0 (as while it sends); worker 2 delivers endpoint 1 only. Once
        worker 1 is done (its transaction ends), worker 2 delivers endpoint 0: each receiver got
        the event exactly once."""
        worker1, worker2 = self._env(), self._env()
        held = worker1["subscription.webhook.endpoint"].browse(self.endpoint_ids[0]).try_lock_for_update()
        self.assertTrue(held)
        worker2["subscription.webhook.dispatch"]._deliver_due()
        self.assertEqual([len(r.requests) for r in self.receivers], [0, 1])
        worker1.cr.rollback()
        worker2["subscription.webhook.dispatch"]._deliver_due()
        worker2["subscription.webhook.dispatch"]._deliver_due()
        self.assertEqual([len(r.requests) for r in self.receivers], [1, 1])
