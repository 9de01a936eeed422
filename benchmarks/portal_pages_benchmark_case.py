"""Server time of the portal subscription page and the pricing page with 1,000 subscriptions on one account.

Not part of the test run (benchmarks/ is not imported by tests/); run it on purpose with::

    python3 scripts/dev.py pytest --db sb_bench benchmarks/portal_pages_benchmark_case.py -- --odoo-http -s

It prints p50/p99 of 200 requests per page (each timed on the client over the test server's loopback,
so server time plus a few tenths of a millisecond of HTTP overhead).
"""

import statistics
import time
from datetime import date

from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.subscription_billing.tests.common import SubscriptionCommon

N_SUBSCRIPTIONS = 1000
N_REQUESTS = 200


@tagged("-standard", "subscription_billing_bench")
class PortalPagesBenchmark(SubscriptionCommon, HttpCase):
    def test_portal_and_pricing_page_times(self):
        family = self.env["subscription.plan.family"].create({"name": "Bench family"})
        plans = [
            self._create_plan(code=f"BENCH{i}", name=f"Bench {i}", price=10.0 * (i + 1), family_id=family.id, rank=i)
            for i in range(3)
        ]
        user = new_test_user(
            self.env, login="bench_portal", groups="base.group_portal", partner_id=self.customer_contact.id
        )
        self.assertTrue(user)
        t0 = time.perf_counter()
        Subscription = self.env["subscription.subscription"]
        subs = Subscription.create(
            [
                {"partner_id": self.customer.id, "plan_id": plans[i % 3].id, "start_date": date(2026, 1, 1)}
                for i in range(N_SUBSCRIPTIONS)
            ]
        )
        for sub in subs:
            sub._start(date_ref=date(2026, 1, 1))
        self.env.flush_all()
        setup = time.perf_counter() - t0
        self.authenticate("bench_portal", "bench_portal")
        target = subs[N_SUBSCRIPTIONS // 2]
        figures = {}
        for label, url in (
            ("portal subscription page", f"/my/subscriptions/{target.id}"),
            ("portal subscription list", "/my/subscriptions"),
            ("pricing page", f"/subscribe/{family.id}"),
        ):
            self.url_open(url)  # warm-up (templates, assets)
            times = []
            for _ in range(N_REQUESTS):
                start = time.perf_counter()
                response = self.url_open(url)
                times.append((time.perf_counter() - start) * 1000)
                self.assertEqual(response.status_code, 200)
            times.sort()
            figures[label] = (statistics.median(times), times[int(len(times) * 0.99) - 1])
        print(f"\nsetup of {N_SUBSCRIPTIONS} subscriptions: {setup:.1f} s")
        for label, (p50, p99) in figures.items():
            print(f"{label}: p50 {p50:.1f} ms, p99 {p99:.1f} ms over {N_REQUESTS} requests")
