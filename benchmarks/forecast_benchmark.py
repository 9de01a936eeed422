#!/usr/bin/env python3
"""Benchmark: the 12-month billing forecast, projected, against the dry run.

Creates a fresh database with subscription_billing and N started subscriptions from 1 Jan 2026 (ORM-created,
January billed by a real run): monthly in advance (80.00), monthly in arrears (60.00) and yearly (900.00)
in turns, every tenth with a 10 % coupon for three periods, every seventh with a scheduled downgrade. Then,
in the same process:

With ``--monthly-only`` all are on the monthly plan in advance (12 invoices each: 120,000 for 10,000).

(a) the projected forecast (``subscription.billing.forecast._forecast``) of 1 Feb 2026 – 31 Jan 2027 for
    all N: time, rows, the process's peak memory (RSS);
(b) the dry run (``_forecast_dry_run``, the real billing run replayed day by day in a rolled-back
    savepoint) of the same months for a sample of S subscriptions, extrapolated to N: ratio (b)/(a);
(c) that the projection of the sample equals its dry run row for row.

::

    python3 scripts/dev.py bench forecast --n 10000
    python3 benchmarks/forecast_benchmark.py -c odoo.conf --n 10000 --sample 100
"""

import argparse
import gc
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_common, from any cwd and under ``python3 -P``
from bench_common import (
    create_database,
    current_rss_mib,
    drop_database,
    ensure_chart,
    exit_on_sigterm,
    init_odoo,
    install_addon,
    machine_summary,
    peak_rss_mib,
    start_subscriptions,
    superuser_env,
)

FROM, TO = date(2026, 2, 1), date(2027, 1, 31)
JAN = date(2026, 1, 1)


def setup(env, count, monthly_only=False):
    """``count`` started subscriptions on three plans, January billed, some coupons and changes (committed)."""
    from odoo import Command

    product = env["product.product"].create(
        {"name": "Forecast hosting", "type": "service", "list_price": 80.0, "subscription_ok": True}
    )
    family = env["subscription.plan.family"].create({"name": "Forecast family"})

    def plan(code, price, rank, **values):
        return env["subscription.plan"].create(
            {
                "name": f"Forecast {code}",
                "code": code,
                "family_id": family.id,
                "rank": rank,
                "line_ids": [Command.create({"product_id": product.id, "price_unit": price})],
                **values,
            }
        )

    plans = [
        plan("FCM", 80.0, 2),
        plan("FCA", 60.0, 1, billing_timing="arrears", family_id=False),
        plan("FCY", 900.0, 1, billing_period_unit="year", family_id=False),
    ]
    if monthly_only:
        plans = plans[:1]
    basic = plan("FCB", 50.0, 1)
    partners = env["res.partner"].create([{"name": f"Forecast customer {i}"} for i in range(count)])
    env.cr.commit()
    ids = []
    for index, current in enumerate(plans):
        ids += start_subscriptions(env, partners[index :: len(plans)], current, JAN)
    subs = env["subscription.subscription"].browse(sorted(ids))
    for start in range(0, len(subs), 1000):
        chunk = subs[start : start + 1000]
        env["subscription.discount"].create(
            [
                {"subscription_id": sub.id, "name": "Welcome", "percent": 10.0, "duration_periods": 3}
                for sub in chunk
                if sub.id % 10 == 0
            ]
        )
        env["subscription.billing.run"]._run_billing(chunk, date(2026, 1, 31))
        env.cr.commit()
        env.invalidate_all()
    target = {"plan_id": basic.id, "lines": {str(pl.id): pl.quantity for pl in basic.line_ids}}
    for sub in subs.filtered(lambda s: s.id % 7 == 0 and s.plan_id == plans[0]):
        sub._change(target, "period_end", date(2026, 4, 10))
    env.cr.commit()
    env.invalidate_all()
    return subs


def key(row):
    return (
        row["invoice_date"],
        tuple(sorted(row["subscription_ids"])),
        row["currency_id"],
        row["amount_untaxed"],
        row["amount_tax"],
        row["amount_total"],
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file (db_host, addons_path, ...)")
    parser.add_argument("--n", type=int, default=10000, help="subscriptions (default 10000)")
    parser.add_argument("--sample", type=int, default=100, help="subscriptions of the dry run sample (default 100)")
    parser.add_argument("--db", help="database name (default: sb_bench_forecast_<n>_<time>)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    parser.add_argument("--profile", help="write cProfile statistics of the projection to this file")
    parser.add_argument(
        "--monthly-only", action="store_true", help="all on the monthly plan in advance (12 invoices each)"
    )
    args = parser.parse_args(argv)
    exit_on_sigterm()
    init_odoo(args.config)
    db_name = args.db or f"sb_bench_forecast_{args.n}_{int(time.time())}"
    create_database(db_name)
    registry = install_addon(db_name)
    try:
        with registry.cursor() as cr:
            env = superuser_env(cr)
            ensure_chart(env)
            env.cr.commit()
            t0 = time.perf_counter()
            subs = setup(env, args.n, monthly_only=args.monthly_only)
            print(f"Setup: {len(subs)} subscriptions in {time.perf_counter() - t0:.1f} s", flush=True)
            Forecast = env["subscription.billing.forecast"]
            gc.collect()
            rss_before = current_rss_mib()
            profiler = None
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                profiler.enable()
            start = time.perf_counter()
            rows = Forecast._forecast(subs, FROM, TO, date_today=FROM)
            projection_s = time.perf_counter() - start
            if profiler:
                from bench_common import dump_profile

                profiler.disable()
                dump_profile(profiler, args.profile)
            rss_after = current_rss_mib()
            peak = peak_rss_mib()
            projected = sum(1 for row in rows if row.get("projected"))
            env.invalidate_all()
            sample = subs[:: max(1, len(subs) // args.sample)][: args.sample]
            start = time.perf_counter()
            sample_projected = Forecast._forecast(sample, FROM, TO, date_today=FROM)
            sample_projection_s = time.perf_counter() - start
            start = time.perf_counter()
            sample_dry = Forecast._forecast_dry_run(sample, FROM, TO, date_today=FROM)
            dry_s = time.perf_counter() - start
            equal = sorted(map(key, sample_projected)) == sorted(map(key, sample_dry))
    finally:
        if not args.keep_db:
            drop_database(db_name)
    dry_extrapolated = dry_s * len(subs) / len(sample)
    print()
    print(f"N = {len(subs)} subscriptions, 12 months ({FROM} – {TO}); machine: {machine_summary()}")
    print(
        f"(a) projection: {projection_s:8.2f} s for {len(rows)} invoices ({projected} projected, "
        f"{len(rows) - projected} by the dry run fallback)   target <= 30 s"
    )
    print(
        f"    memory: RSS {rss_before:.0f} MiB before, {rss_after:.0f} MiB after; "
        f"peak RSS of the process {peak:.0f} MiB"
    )
    print(
        f"(b) dry run of {len(sample)} subscriptions: {dry_s:8.2f} s ({len(sample_dry)} invoices; projection of "
        f"the same sample {sample_projection_s:.2f} s); extrapolated to {len(subs)}: {dry_extrapolated:.0f} s; "
        f"ratio (b)/(a) {dry_extrapolated / projection_s:.0f}"
    )
    print(f"(c) sample projection equals its dry run row for row: {equal}")
    return 0 if equal and projection_s <= 30 else 1


if __name__ == "__main__":
    sys.exit(main())
