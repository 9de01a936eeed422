#!/usr/bin/env python3
"""Benchmark: metered usage ingestion through ``_ingest`` and the billing run that rates it.

Creates a fresh database with subscription_billing, N subscriptions on a
monthly plan billed in arrears (hosting plus a metered line priced with
graduated tiers), then measures in the same process:

(a) ingestion: R usage records of January sent through
    ``subscription.usage.record._ingest`` in batches of B (one commit and a
    cleared cache per batch, as separate API calls would have), records
    interleaved over the subscriptions; then the first batches sent again to
    measure the idempotent re-delivery path (all acknowledged as duplicates);
(b) the billing run on 1 February (``_run_billing_for_all(commit=True)``):
    one invoice per subscription with January's hosting and usage.

It prints records/s (target >= 2,000/s), the billing time and invoices/s, the
peak RSS, and checks that every record was linked to an invoice line and
that each usage line has the amount computed here from the tier table.

    python3 benchmarks/usage_ingestion_benchmark.py -c odoo.conf
    python3 benchmarks/usage_ingestion_benchmark.py -c odoo.conf --subscriptions 1000 --records 100000
    python3 benchmarks/usage_ingestion_benchmark.py -c odoo.conf --profile ingest.prof --profile-phase ingest
"""

import argparse
import cProfile
import gc
import sys
import time
from collections import defaultdict
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_common, from any cwd and under ``python3 -P``
from bench_common import (
    create_database,
    current_rss_mib,
    drop_database,
    dump_profile,
    ensure_chart,
    init_odoo,
    install_addon,
    machine_summary,
    peak_rss_mib,
    start_subscriptions,
    superuser_env,
)

START_DATE = date(2026, 1, 1)
BILLING_DATE = date(2026, 2, 1)
JANUARY_SECONDS = 31 * 24 * 3600
METRIC_CODE = "bench_api_calls"
HOSTING_PRICE = Decimal("50.00")
#: graduated tiers of the metered line: (up_to or None, unit_price, flat_fee)
TIERS = [
    (200, Decimal("0.10"), Decimal("0")),
    (400, Decimal("0.08"), Decimal("5")),
    (None, Decimal("0.05"), Decimal("10")),
]
REDELIVERED_BATCHES = 10


def graduated_amount(units):
    """The price of ``units`` with :data:`TIERS`, written out here independently of the addon."""
    amount, lower = Decimal(0), Decimal(0)
    for up_to, unit_price, flat_fee in TIERS:
        if units <= lower:
            break
        upper = units if up_to is None else min(units, Decimal(up_to))
        amount += (upper - lower) * unit_price + flat_fee
        if up_to is None:
            break
        lower = Decimal(up_to)
    return amount.quantize(Decimal("0.01"))


def setup_world(env, n):
    """Chart of accounts, a metric, an arrears plan with a tiered metered line, N started subscriptions."""
    from odoo import Command

    company = env.company
    ensure_chart(env)
    product_vals = {"type": "service", "subscription_ok": True}
    hosting = env["product.product"].create({**product_vals, "name": "Benchmark hosting", "list_price": 50.0})
    api = env["product.product"].create({**product_vals, "name": "Benchmark API calls", "list_price": 0.0})
    metric = env["subscription.usage.metric"].create({"name": "API calls", "code": METRIC_CODE, "aggregation": "sum"})
    tiers = [
        Command.create(
            {
                "currency_id": company.currency_id.id,
                "up_to": up_to or 0.0,
                "up_to_unlimited": up_to is None,
                "unit_price": float(unit_price),
                "flat_fee": float(flat_fee),
            }
        )
        for up_to, unit_price, flat_fee in TIERS
    ]
    plan = env["subscription.plan"].create(
        {
            "name": "Benchmark metered",
            "code": "BENCH-USAGE",
            "billing_timing": "arrears",
            "line_ids": [
                Command.create({"product_id": hosting.id, "name": "Hosting", "price_unit": float(HOSTING_PRICE)}),
                Command.create(
                    {
                        "product_id": api.id,
                        "name": "API calls",
                        "price_unit": 0.0,
                        "line_type": "usage",
                        "metric_id": metric.id,
                        "pricing_model": "graduated",
                        "tier_ids": tiers,
                    }
                ),
            ],
        }
    )
    partners = env["res.partner"].create([{"name": f"Usage benchmark customer {i}"} for i in range(n)])
    return start_subscriptions(env, partners, plan, START_DATE, chunk_size=500)


def usage_records(subscription_ids, count):
    """``count`` January records, interleaved over the subscriptions; quantity 1..5 by subscription."""
    n = len(subscription_ids)
    spacing = JANUARY_SECONDS // max(count, 1)
    t0 = datetime.combine(START_DATE, datetime.min.time())
    records = []
    for i in range(count):
        index = i % n
        records.append(
            {
                "subscription_id": subscription_ids[index],
                "metric": METRIC_CODE,
                "quantity": 1 + index % 5,
                # ISO strings with an offset, as a JSON API receives them
                "timestamp": (t0 + timedelta(seconds=i * spacing)).isoformat() + "+00:00",
                "idempotency_key": f"evt-{i:07d}",
                "attributes": {"endpoint": "/v1/items", "status": 200},
            }
        )
    return records


def run_ingestion(env, records, batch_size):
    """(a): _ingest in batches, one commit and a fresh cache per batch; returns (seconds, statuses)."""
    Usage = env["subscription.usage.record"]
    statuses = defaultdict(int)
    start = time.perf_counter()
    for offset in range(0, len(records), batch_size):
        for result in Usage._ingest(records[offset : offset + batch_size]):
            statuses[result["status"]] += 1
        env.cr.commit()
        env.invalidate_all()
    return time.perf_counter() - start, dict(statuses)


def run_billing(env):
    """(b): the billing run over every due subscription, committed batch by batch as the cron does."""
    start = time.perf_counter()
    result = env["subscription.subscription"]._run_billing_for_all(BILLING_DATE, commit=True)
    return time.perf_counter() - start, len(result["invoices"]), len(result["errors"])


def profiled(path, function, *args):
    profiler = cProfile.Profile()
    result = profiler.runcall(function, *args)
    dump_profile(profiler, path)
    return result


def check_billing(env, subscription_ids, records):
    """(unlinked records, usage lines with a wrong amount, invoices) after the billing run."""
    unlinked = env["subscription.usage.record"].search_count(
        [("subscription_id", "in", subscription_ids), ("invoice_line_id", "=", False)]
    )
    units = defaultdict(Decimal)
    for record in records:
        units[record["subscription_id"]] += Decimal(record["quantity"])
    usage_lines = env["account.move.line"].search_fetch(
        [("subscription_id", "in", subscription_ids), ("subscription_line_id.line_type", "=", "usage")],
        ["subscription_id", "price_unit", "parent_state"],
    )
    wrong = [
        line
        for line in usage_lines
        if Decimal(str(line.price_unit)) != graduated_amount(units[line.subscription_id.id])
        or line.parent_state != "posted"
    ]
    missing = len(subscription_ids) - len(usage_lines)
    invoices = env["account.move"].search_count(
        [("invoice_line_ids.subscription_id", "in", subscription_ids), ("state", "=", "posted")]
    )
    return unlinked, len(wrong) + max(missing, 0), invoices


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file (db_host, addons_path, ...)")
    parser.add_argument("--subscriptions", type=int, default=1000, help="number of subscriptions (default 1000)")
    parser.add_argument("--records", type=int, default=100000, help="number of usage records (default 100000)")
    parser.add_argument("--batch", type=int, default=1000, help="records per _ingest call (default 1000)")
    parser.add_argument("--db", help="database name (default: sb_usage_bench_<time>)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    parser.add_argument("--profile", help="write cProfile statistics to this file (and print the top functions)")
    parser.add_argument(
        "--profile-phase", choices=["ingest", "billing"], default="ingest", help="phase to profile (default ingest)"
    )
    args = parser.parse_args(argv)

    init_odoo(args.config)
    db_name = args.db or f"sb_usage_bench_{int(time.time())}"
    t0 = time.perf_counter()
    create_database(db_name)
    registry = install_addon(db_name)
    print(f"Database ready in {time.perf_counter() - t0:.0f} s", flush=True)
    try:
        with registry.cursor() as cr:
            env = superuser_env(cr)
            t0 = time.perf_counter()
            subscription_ids = setup_world(env, args.subscriptions)
            print(f"Setup: {args.subscriptions} subscriptions in {time.perf_counter() - t0:.1f} s", flush=True)
            records = usage_records(subscription_ids, args.records)
            gc.collect()
            rss_before = current_rss_mib()

            if args.profile and args.profile_phase == "ingest":
                ingest_s, statuses = profiled(args.profile, run_ingestion, env, records, args.batch)
            else:
                ingest_s, statuses = run_ingestion(env, records, args.batch)
            print(f"Ingestion: {args.records} records in {ingest_s:.1f} s", flush=True)
            rss_after_ingest = current_rss_mib()
            redelivered = records[: REDELIVERED_BATCHES * args.batch]
            redeliver_s, redeliver_statuses = run_ingestion(env, redelivered, args.batch)
            stored = env["subscription.usage.record"].search_count([("subscription_id", "in", subscription_ids)])

            gc.collect()
            if args.profile and args.profile_phase == "billing":
                billing_s, billing_count, errors = profiled(args.profile, run_billing, env)
            else:
                billing_s, billing_count, errors = run_billing(env)
            rss_after_billing = current_rss_mib()
            unlinked, wrong_amounts, posted = check_billing(env, subscription_ids, records)
    finally:
        if not args.keep_db:
            drop_database(db_name)

    rate = args.records / ingest_s
    print()
    print(
        f"{args.subscriptions} subscriptions, {args.records} usage records in batches of {args.batch}; "
        f"Odoo {machine_summary()}"
    )
    print(
        f"(a) ingestion:      {ingest_s:8.2f} s  {rate:8.0f} records/s  (target >= 2000)  statuses {statuses}; "
        f"{stored} stored"
    )
    print(
        f"    re-delivery:    {redeliver_s:8.2f} s  {len(redelivered) / redeliver_s:8.0f} records/s  "
        f"statuses {redeliver_statuses}"
    )
    print(
        f"(b) billing run:    {billing_s:8.2f} s  {billing_count / billing_s:8.1f} invoices/s  "
        f"({billing_count} invoices, {posted} posted, {errors} errors)"
    )
    print(f"    records not linked to an invoice line: {unlinked}; usage lines with a wrong amount: {wrong_amounts}")
    print(
        f"RSS: {rss_before:.0f} MiB before, {rss_after_ingest:.0f} MiB after (a), {rss_after_billing:.0f} MiB "
        f"after (b); peak RSS of the process {peak_rss_mib():.0f} MiB"
    )
    ok = (
        statuses == {"created": args.records}
        and stored == args.records
        and set(redeliver_statuses) == {"duplicate"}
        and billing_count == args.subscriptions
        and not errors
        and not unlinked
        and not wrong_amounts
    )
    print("checks:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
