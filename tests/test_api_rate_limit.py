import threading
import time
from datetime import datetime, timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CommittedDataCase
from .common_api import ApiCommon

PARAM = "subscription_billing.api_rate_limit"


@tagged("post_install", "-at_install", "subscription_billing")
class TestApiRateLimit(ApiCommon):
    """The per-user fixed-window rate limit of the REST API, over real HTTP.

    The window is the current minute of the database clock; inside a test that clock stands
    still (one transaction), so "the next window" is reached by moving the stored window back.
    """

    def setUp(self):
        super().setUp()
        self.env["ir.config_parameter"].sudo().set_param(PARAM, "3")
        self.Counter = self.env["subscription.api.rate.limit"].sudo()

    def _counter(self, user):
        return self.Counter.search([("user_id", "=", user.id)])

    def _exhaust(self, key=None):
        for _i in range(3):
            status, _body, _response = self._call("GET", "/customers", key=key)
            self.assertEqual(status, 200)

    def test_fourth_request_of_three_per_minute_is_429_with_retry_after(self):
        """Limit 3: requests 1-3 pass with RateLimit-Remaining 2, 1, 0; request 4 is a documented
        429 problem (checked against the OpenAPI document by _call) with code rate_limited and a
        Retry-After of 1..60 s equal to RateLimit-Reset. The refused request is counted too (4)."""
        remaining = []
        for _i in range(3):
            status, _body, response = self._call("GET", "/customers")
            self.assertEqual(status, 200)
            self.assertEqual(response.headers["RateLimit-Limit"], "3")
            remaining.append(response.headers["RateLimit-Remaining"])
        self.assertEqual(remaining, ["2", "1", "0"])
        status, body, response = self._call("GET", "/customers")
        self.assertEqual((status, body["code"], body["status"]), (429, "rate_limited", 429))
        self.assertEqual(response.headers["Content-Type"].split(";")[0], "application/problem+json")
        retry_after = int(response.headers["Retry-After"])
        self.assertTrue(1 <= retry_after <= 60)
        self.assertEqual(response.headers["RateLimit-Reset"], str(retry_after))
        self.assertEqual(response.headers["RateLimit-Remaining"], "0")
        self.assertIn("3 per minute", body["detail"])
        self.assertEqual(self._counter(self.api_user).request_count, 4)

    def test_other_key_is_not_affected(self):
        """User A at its limit (3 of 3, a 4th refused): user B's first request passes with 2 left."""
        self._exhaust()
        self.assertEqual(self._call("GET", "/customers")[0], 429)
        status, _body, response = self._call("GET", "/customers", key=self.key_b)
        self.assertEqual(status, 200)
        self.assertEqual(response.headers["RateLimit-Remaining"], "2")

    def test_next_window_accepts_again(self):
        """Refused in this minute; once the stored window lies a minute back, the next request is
        number 1 of a new window: 200 with 2 of 3 left, and the old window row is kept apart."""
        self._exhaust()
        self.assertEqual(self._call("GET", "/customers")[0], 429)
        self.env.cr.execute(
            "UPDATE subscription_api_rate_limit SET window_start = window_start - interval '1 minute'"
            " WHERE user_id = %s",
            [self.api_user.id],
        )
        status, _body, response = self._call("GET", "/customers")
        self.assertEqual(status, 200)
        self.assertEqual(response.headers["RateLimit-Remaining"], "2")
        self.assertEqual(sorted(self._counter(self.api_user).mapped("request_count")), [1, 4])

    def test_refused_request_writes_nothing(self):
        """Over the limit, a POST (with and without Idempotency-Key) creates no customer and
        stores no idempotency row: the refusal comes before the handler runs."""
        self._exhaust()
        status, body, _response = self._call("POST", "/customers", {"name": "Too Many GmbH"})
        self.assertEqual((status, body["code"]), (429, "rate_limited"))
        status, body, _response = self._call(
            "POST", "/customers", {"name": "Too Many GmbH"}, headers={"Idempotency-Key": "late"}
        )
        self.assertEqual((status, body["code"]), (429, "rate_limited"))
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Too Many GmbH")]))
        self.assertFalse(self.env["subscription.api.idempotency"].sudo().search([("key", "=", "late")]))

    def test_refusal_is_translated(self):
        """The 429 in German for Accept-Language de, with the same stable code."""
        self._exhaust()
        status, body, _response = self._call("GET", "/customers", headers={"Accept-Language": "de-DE"})
        self.assertEqual((status, body["code"]), (429, "rate_limited"))
        self.assertIn("Zu viele Anfragen", body["detail"])

    def test_limit_zero_switches_it_off(self):
        """Parameter 0: five requests pass, no RateLimit headers, no counter row."""
        self.env["ir.config_parameter"].sudo().set_param(PARAM, "0")
        for _i in range(5):
            status, _body, response = self._call("GET", "/customers")
            self.assertEqual(status, 200)
            self.assertNotIn("RateLimit-Limit", response.headers)
        self.assertFalse(self._counter(self.api_user))

    def test_unauthenticated_requests_are_not_counted(self):
        """A wrong key is refused with 401 before counting: no counter row for anyone."""
        before = self.Counter.search_count([])
        self.assertEqual(self._call("GET", "/customers", key="0" * 40)[0], 401)
        self.assertEqual(self.Counter.search_count([]), before)

    def test_database_keeps_one_counter_per_user_and_window(self):
        """Two direct counts of one user in one window: one row with 2 (the upsert), and a second
        plain INSERT for the same (user, window) is refused by the unique constraint."""
        first, seconds = self.Counter._count_request(self.api_user_b.id)
        second, _seconds = self.Counter._count_request(self.api_user_b.id)
        self.assertEqual((first, second), (1, 2))
        self.assertTrue(0 < seconds <= 60)
        row = self._counter(self.api_user_b)
        self.assertEqual(len(row), 1)
        with (
            self.assertRaises(Exception),  # noqa: B017 - psycopg2 IntegrityError
            self.env.cr.savepoint(),
            mute_logger("odoo.sql_db"),  # the refused INSERT is logged as an error: expected here
        ):
            self.env.cr.execute(
                "INSERT INTO subscription_api_rate_limit (user_id, window_start, request_count) VALUES (%s, %s, 1)",
                [self.api_user_b.id, row.window_start],
            )

    def test_old_windows_are_purged(self):
        """The autovacuum removes windows older than an hour (2 h old) and keeps recent ones (5 min)."""
        now = fields.Datetime.now().replace(second=0, microsecond=0)
        old = self.Counter.create(
            {"user_id": self.api_user.id, "window_start": now - timedelta(hours=2), "request_count": 9}
        )
        recent = self.Counter.create(
            {"user_id": self.api_user.id, "window_start": now - timedelta(minutes=5), "request_count": 1}
        )
        self.Counter._gc_old_windows()
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists())

    def test_counters_are_readable_by_system_administrators_only(self):
        """API, subscription and portal users cannot read the counters."""
        self._call("GET", "/customers")
        for user in (self.api_user, self.plain_user, self.portal_api_user):
            with self.assertRaises(AccessError):
                self.env["subscription.api.rate.limit"].with_user(user).search([])
        self.assertTrue(self.env["subscription.api.rate.limit"].with_user(self.env.ref("base.user_admin")).search([]))


@tagged("post_install", "-at_install", "subscription_billing")
class TestRateLimitAcrossWorkers(CommittedDataCase):
    """The counter on real, separate database cursors, as Odoo worker processes use them."""

    def setUp(self):
        super().setUp()
        self.user_id = self.env.ref("base.user_demo").id
        self.addCleanup(self._delete_counters)
        # 100 increments take well under a second: start them away from a minute boundary
        seconds_left = 60 - datetime.now().second
        if seconds_left < 10:
            time.sleep(seconds_left + 1)

    def _delete_counters(self):
        with self.env.registry.cursor() as cr:
            cr.execute("DELETE FROM subscription_api_rate_limit WHERE user_id = %s", [self.user_id])

    def test_rolled_back_request_still_counts_and_holds_no_lock(self):
        """Worker 1 counts request 1 and keeps its own transaction open; worker 2 counts at once
        (request 2, not blocked by a row lock); worker 1's transaction is rolled back (a failed
        request) and worker 2's next count is 3: the rollback undid nothing."""
        env1, env2 = self._env(), self._env()
        first, _seconds = env1["subscription.api.rate.limit"]._count_request(self.user_id)
        outcome = {}
        thread = threading.Thread(
            target=lambda: outcome.update(second=env2["subscription.api.rate.limit"]._count_request(self.user_id))
        )
        thread.start()
        thread.join(timeout=10)
        self.assertFalse(thread.is_alive(), "worker 2 waited for worker 1's transaction")
        env1.cr.rollback()
        third, _seconds = env2["subscription.api.rate.limit"]._count_request(self.user_id)
        self.assertEqual((first, outcome["second"][0], third), (1, 2, 3))

    def test_four_workers_counting_at_once_lose_no_request(self):
        """Four threads with their own cursors count 25 requests each at the same time: the
        counts handed out are exactly 1..100 (4 x 25), each once: no lost or doubled increment."""
        counts = []
        lock = threading.Lock()

        # _count_request opens and commits its own cursor per call. No environment is created in
        # the threads: that takes the registry lock, which Odoo's test runner holds in the main
        # thread while it joins them (a worker process does not share it).
        counter = self.env["subscription.api.rate.limit"]

        def worker():
            for _i in range(25):
                count, _seconds = counter._count_request(self.user_id)
                with lock:
                    counts.append(count)

        threads = [threading.Thread(target=worker) for _i in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        self.assertEqual(sorted(counts), list(range(1, 101)))
