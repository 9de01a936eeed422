import threading
import time
import uuid

from psycopg2 import errors as pg_errors

from odoo import SUPERUSER_ID, api
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CommittedDataCase


@tagged("post_install", "-at_install", "subscription_billing")
class TestIdempotencyUnderConcurrency(CommittedDataCase):
    """Two real transactions claim one Idempotency-Key at the same time: exactly one executes."""

    def test_concurrent_claims_execute_once(self):
        """Worker 1 claims the key and is still executing; worker 2, whose transaction started
        before worker 1 committed, blocks on the unique (user, key) constraint, then fails with a
        serialization error (what makes Odoo retry the request); its retry, in a new transaction,
        finds the claimed row and replays it. Claims that executed: 1."""
        key = f"concurrent-{uuid.uuid4()}"
        env1, env2 = self._env(), self._env()
        admin = env1.ref("base.user_admin").id
        self.addCleanup(self._delete_key, key)
        env2.cr.execute("SELECT 1")  # worker 2's snapshot predates worker 1's commit
        claimed1, row1 = env1["subscription.api.idempotency"]._claim(admin, key, "hash", "POST", "/customers")
        outcome = {}

        def worker2():
            try:
                outcome["first"] = env2["subscription.api.idempotency"]._claim(admin, key, "hash", "POST", "/x")
            except pg_errors.SerializationFailure:
                outcome["first"] = "serialization_failure"
                env2.cr.rollback()
            outcome["retry"] = env2["subscription.api.idempotency"]._claim(admin, key, "hash", "POST", "/x")

        thread = threading.Thread(target=worker2)
        # worker 2's refused INSERT is logged by odoo.sql_db as an error: expected here
        self.enterContext(mute_logger("odoo.sql_db"))
        thread.start()
        time.sleep(0.5)
        self.assertTrue(thread.is_alive(), "worker 2 must wait for worker 1's uncommitted claim")
        row1._store_response(201, '{"id": 1}')
        env1.cr.commit()
        thread.join(timeout=30)
        self.assertTrue(claimed1)
        self.assertEqual(outcome["first"], "serialization_failure")
        claimed2, row2 = outcome["retry"]
        self.assertFalse(claimed2)
        self.assertEqual((row2.id, row2.status_code, row2.response_body), (row1.id, 201, '{"id": 1}'))

    def _delete_key(self, key):
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["subscription.api.idempotency"].search([("key", "=", key)]).unlink()
