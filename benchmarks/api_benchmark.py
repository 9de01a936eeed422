#!/usr/bin/env python3
"""Benchmark: the REST API over HTTP with Odoo in multi-worker mode, and webhook delivery.

Creates a fresh database with subscription_billing, an API user with an API key, a plan
billed monthly with a metered line, and S started subscriptions; starts Odoo with
``--workers`` on a free port; then measures:

(a) usage ingestion: R usage records sent to ``POST /api/subscription/v1/usage_records`` in
    batches of B (default 1,000) by C concurrent clients: records/s (target >= 10,000/s);
(b) latency of ``POST /subscriptions`` (create and start) and ``GET /subscriptions/{id}``
    under 8 concurrent clients: p50 and p99;
(c) webhook delivery: E events for one endpoint, delivered by the worker
    (``subscription.webhook.dispatch._deliver_due``) to a local receiver: events/s.

    python3 benchmarks/api_benchmark.py -c odoo.conf
    python3 benchmarks/api_benchmark.py -c odoo.conf --records 50000 --workers 2 --clients 4

The database is dropped at the end (``--keep-db`` keeps it).
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_common, from any cwd and under ``python3 -P``
from bench_common import (
    create_database,
    drop_database,
    ensure_chart,
    exit_on_sigterm,
    init_odoo,
    install_addon,
    machine_summary,
    start_subscriptions,
    superuser_env,
)

API = "/api/subscription/v1"
METRIC_CODE = "bench_api_calls"
START_DATE = date(2026, 1, 1)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file (database connection)")
    parser.add_argument("--db", default=f"sb_api_bench_{os.getpid()}", help="database to create")
    parser.add_argument("--subscriptions", type=int, default=200)
    parser.add_argument("--records", type=int, default=50_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients of the ingestion")
    parser.add_argument("--workers", type=int, default=2, help="Odoo HTTP worker processes")
    parser.add_argument("--latency-requests", type=int, default=200, help="creates (and as many reads)")
    parser.add_argument("--webhook-events", type=int, default=2000)
    parser.add_argument("--port", type=int, default=8569)
    parser.add_argument("--keep-db", action="store_true")
    parser.add_argument(
        "--profile",
        metavar="FILE",
        help="before the server starts: send batches of B new records through Odoo's WSGI application in this "
        "process (the whole request: routing, key check, rate limit, parsing, validation, insert, response) "
        "and write the cProfile statistics of the last one to FILE",
    )
    return parser.parse_args()


# --------------------------------------------------------------------------
# Set-up (in this process, committed)
# --------------------------------------------------------------------------


def set_up(db_name, n_subscriptions):
    """API user and key, metered plan, started subscriptions; returns what the clients need."""
    from odoo import Command
    from odoo.modules.registry import Registry

    registry = Registry(db_name)
    with registry.cursor() as cr:
        env = superuser_env(cr)
        ensure_chart(env)
        env.company.country_id = env.ref("base.de")
        metric = env["subscription.usage.metric"].create(
            {"name": "API calls", "code": METRIC_CODE, "aggregation": "sum"}
        )
        hosting = env["product.product"].create({"name": "Hosting", "type": "service", "subscription_ok": True})
        calls = env["product.product"].create({"name": "Calls", "type": "service", "subscription_ok": True})
        plan = env["subscription.plan"].create(
            {
                "name": "Bench API",
                "code": "BENCHAPI",
                "line_ids": [
                    Command.create({"product_id": hosting.id, "name": "Hosting", "price_unit": 50.0}),
                    Command.create(
                        {
                            "product_id": calls.id,
                            "name": "Calls",
                            "price_unit": 0.01,
                            "line_type": "usage",
                            "metric_id": metric.id,
                        }
                    ),
                ],
            }
        )
        partners = env["res.partner"].create(
            [{"name": f"Bench customer {i}", "customer_rank": 1} for i in range(n_subscriptions + 1)]
        )
        user = env["res.users"].create(
            {
                "name": "Bench API",
                "login": "bench_api",
                "group_ids": [Command.set([env.ref("subscription_billing.group_subscription_api").id])],
            }
        )
        cr.commit()
        subscription_ids = start_subscriptions(env, partners[:-1], plan, START_DATE)
        key = env["res.users.apikeys"].with_user(user).sudo()._generate(scope="rpc", name="bench", expiration_date=None)
        cr.commit()
        return {
            "key": key,
            "subscription_ids": subscription_ids,
            "customer_id": partners[-1].id,
            "plan_code": plan.code,
        }


# --------------------------------------------------------------------------
# The server
# --------------------------------------------------------------------------


def start_server(config, db_name, port, workers):
    cmd = [
        sys.executable,
        "-m",
        "odoo",
        "server",
        "-c",
        config,
        "-d",
        db_name,
        f"--db-filter=^{db_name}$",
        f"--workers={workers}",
        "--max-cron-threads=0",
        "--http-interface=127.0.0.1",
        f"--http-port={port}",
        "--log-level=warn",
        "--limit-time-real=600",
        "--limit-time-cpu=600",
        "--limit-memory-soft=4294967296",
        "--limit-memory-hard=5368709120",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # noqa: S603
    import requests

    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            if requests.get(f"http://127.0.0.1:{port}{API}/openapi.json", timeout=5).status_code == 200:
                return proc
        except requests.RequestException:
            time.sleep(1)
        if proc.poll() is not None:
            raise SystemExit(f"Odoo stopped: {proc.stderr.read()[-2000:]}")
    proc.terminate()
    raise SystemExit("Odoo did not answer within 180 s")


# --------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------


def bench_ingestion(base, key, subscription_ids, n_records, batch, clients, key_prefix="bench"):
    import requests

    def batch_body(index):
        records = []
        for i in range(index * batch, min((index + 1) * batch, n_records)):
            ts = datetime(2026, 1, 1) + timedelta(seconds=(i * 37) % (31 * 24 * 3600))
            records.append(
                {
                    "subscription_id": subscription_ids[i % len(subscription_ids)],
                    "metric": METRIC_CODE,
                    "quantity": 1 + i % 5,
                    "timestamp": ts.isoformat() + "Z",
                    "idempotency_key": f"{key_prefix}-{i}",
                }
            )
        return json.dumps({"records": records})

    n_batches = (n_records + batch - 1) // batch
    bodies = [batch_body(i) for i in range(n_batches)]
    local = threading.local()
    counts = {"created": 0, "duplicate": 0, "rejected": 0}
    lock = threading.Lock()

    def send(body):
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        response = session.post(
            f"{base}/usage_records",
            data=body,
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=600,
        )
        response.raise_for_status()
        result = response.json()
        with lock:
            for name in counts:
                counts[name] += result[name]

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(send, bodies))
    elapsed = time.perf_counter() - started
    return elapsed, counts


def bench_latency(base, key, customer_id, plan_code, n_requests, clients=8):
    import requests

    local = threading.local()
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}

    def one(i):
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        t0 = time.perf_counter()
        response = session.post(
            f"{base}/subscriptions",
            data=json.dumps({"customer_id": customer_id, "plan_code": plan_code, "start_date": "2026-01-01"}),
            headers=headers,
            timeout=120,
        )
        t1 = time.perf_counter()
        response.raise_for_status()
        sub_id = response.json()["id"]
        t2 = time.perf_counter()
        session.get(f"{base}/subscriptions/{sub_id}", headers=headers, timeout=120).raise_for_status()
        t3 = time.perf_counter()
        return t1 - t0, t3 - t2

    with ThreadPoolExecutor(clients) as pool:
        results = list(pool.map(one, range(n_requests)))
    creates = sorted(r[0] for r in results)
    reads = sorted(r[1] for r in results)
    return creates, reads


def profile_batch(db_name, key, subscription_ids, batch, path, rounds=3):
    """One batch of ``batch`` new records through ``odoo.http.root`` in this process, profiled.

    The first rounds warm the registry, the routing map and the caches; the last one is profiled.
    Prints the time of each round and the top of the profile.
    """
    import cProfile

    from bench_common import dump_profile
    from werkzeug.test import Client

    import odoo.http
    from odoo.tools import config

    config["dbfilter"] = f"^{db_name}$"
    client = Client(odoo.http.root)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    profiler = cProfile.Profile()
    for round_ in range(rounds):
        records = [
            {
                "subscription_id": subscription_ids[i % len(subscription_ids)],
                "metric": METRIC_CODE,
                "quantity": 1 + i % 5,
                "timestamp": (datetime(2026, 1, 1) + timedelta(seconds=i * 37)).isoformat() + "Z",
                "idempotency_key": f"profile-{round_}-{i}",
            }
            for i in range(batch)
        ]
        body = json.dumps({"records": records})
        last = round_ == rounds - 1
        started = time.perf_counter()
        if last:
            profiler.enable()
        response = client.post(f"{API}/usage_records", data=body, headers=headers)
        if last:
            profiler.disable()
        elapsed = time.perf_counter() - started
        result = response.get_json()
        print(
            f"    in-process batch {round_ + 1}/{rounds}: {batch} records in {elapsed * 1000:.0f} ms "
            f"(status {response.status_code}, created {result.get('created')})",
            flush=True,
        )
    dump_profile(profiler, path)


def percentile(sorted_values, p):
    index = min(len(sorted_values) - 1, max(0, round(p / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


def bench_webhooks(db_name, subscription_ids, n_events):
    from odoo.modules.registry import Registry

    received = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            received.append(self.headers["webhook-id"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    registry = Registry(db_name)
    try:
        with registry.cursor() as cr:
            env = superuser_env(cr)
            env["subscription.webhook.endpoint"].create(
                {"name": "Bench", "url": f"http://127.0.0.1:{server.server_address[1]}/", "event_types": "*"}
            )
            subs = env["subscription.subscription"].browse(subscription_ids)
            Event = env["subscription.webhook.event"]
            emitted = 0
            while emitted < n_events:
                chunk = subs[: min(len(subs), n_events - emitted)]
                Event._emit_webhook_event("subscription.changed", chunk)
                emitted += len(chunk)
            cr.commit()
            started = time.perf_counter()
            Dispatch = env["subscription.webhook.dispatch"]
            while env["subscription.webhook.delivery"].search_count([("state", "=", "pending")]):
                Dispatch._deliver_due(commit=True)
                env.invalidate_all()
            elapsed = time.perf_counter() - started
    finally:
        server.shutdown()
    return elapsed, len(received)


def main():
    args = parse_args()
    exit_on_sigterm()
    init_odoo(args.config)
    create_database(args.db)
    server = None
    try:
        t0 = time.perf_counter()
        install_addon(args.db)
        data = set_up(args.db, args.subscriptions)
        print(f"Set-up: {args.subscriptions} subscriptions in {time.perf_counter() - t0:.0f} s", flush=True)
        if args.profile:
            profile_batch(args.db, data["key"], data["subscription_ids"], args.batch, args.profile)
        server = start_server(args.config, args.db, args.port, args.workers)
        base = f"http://127.0.0.1:{args.port}{API}"
        print(f"Load average before the measurements: {os.getloadavg()}", flush=True)

        elapsed, counts = bench_ingestion(
            base, data["key"], data["subscription_ids"], args.records, args.batch, args.clients
        )
        print(
            f"(a) usage ingestion over HTTP: {args.records} records in batches of {args.batch}, "
            f"{args.clients} clients, {args.workers} Odoo workers: {elapsed:.1f} s = "
            f"{args.records / elapsed:,.0f} records/s (target >= 10,000/s); results {counts}",
            flush=True,
        )
        elapsed, counts = bench_ingestion(
            base, data["key"], data["subscription_ids"], min(args.records, 10 * args.batch), args.batch, args.clients
        )
        print(
            f"    re-sent (all duplicates): {min(args.records, 10 * args.batch) / elapsed:,.0f} records/s; {counts}",
            flush=True,
        )
        creates, reads = bench_latency(base, data["key"], data["customer_id"], data["plan_code"], args.latency_requests)
        print(
            f"(b) 8 concurrent clients, {args.latency_requests} creates and as many reads: create+start p50 "
            f"{percentile(creates, 50) * 1000:.0f} ms, p99 {percentile(creates, 99) * 1000:.0f} ms; read p50 "
            f"{percentile(reads, 50) * 1000:.0f} ms, p99 {percentile(reads, 99) * 1000:.0f} ms "
            f"(mean create {statistics.mean(creates) * 1000:.0f} ms)",
            flush=True,
        )
        server.terminate()
        server.wait(timeout=60)
        server = None
        elapsed, delivered = bench_webhooks(args.db, data["subscription_ids"], args.webhook_events)
        print(
            f"(c) webhook delivery to a local receiver: {delivered} events in {elapsed:.1f} s = "
            f"{delivered / elapsed:,.0f} events/s",
            flush=True,
        )
        print(f"Machine: {machine_summary()}, load average {os.getloadavg()}")
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=60)
        if not args.keep_db:
            drop_database(args.db)


if __name__ == "__main__":
    main()
