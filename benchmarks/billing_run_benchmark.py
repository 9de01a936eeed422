#!/usr/bin/env python3
"""Benchmark: our billing run versus bare ``account.move`` create + post.

Creates a fresh database with subscription_billing, N monthly subscriptions
with one line each, then measures in the same process:

(a) the billing run (``_run_billing_for_all``) generating and posting their invoices;
(b) a bare ``account.move`` batch create + ``_post`` of the same invoices
    (same partners, product, price, taxes, date, batch size), without any
    subscription logic.

It prints both times, invoices per second, the ratio a/b and the peak RSS.
Run it through the dev script, which provides the PostgreSQL cluster and the
Odoo configuration::

    python3 scripts/dev.py bench --n 1000
    python3 scripts/dev.py bench --n 10000

or directly with an Odoo configuration file::

    python3 benchmarks/billing_run_benchmark.py -c odoo.conf --n 1000
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
    init_odoo,
    install_addon,
    machine_summary,
    peak_rss_mib,
    sale_journal,
    start_subscriptions,
    superuser_env,
)

BATCH_SIZE = 200
BILLING_DATE = date(2026, 1, 1)


def setup_world(env, n, deferred=False):
    """Company chart, one product, one monthly plan, N partners with one started subscription each.

    :param deferred: bill yearly instead, with a deferred revenue account on the company, so that every
        invoice line is booked on it and gets a twelve-month recognition schedule
    """
    from odoo import Command

    company = env.company
    ensure_chart(env)
    product = env["product.product"].create(
        {
            "name": "Benchmark hosting",
            "type": "service",
            "list_price": 50.0,
            "subscription_ok": True,
        }
    )
    plan_values = {}
    if deferred:
        company.deferred_revenue_account_id = env["account.account"].create(
            {"name": "Benchmark deferred revenue", "code": "BENCHDEF", "account_type": "liability_current"}
        )
        plan_values = {"billing_period_unit": "year"}
    plan = env["subscription.plan"].create(
        {
            "name": "Benchmark monthly",
            "code": "BENCH",
            "line_ids": [Command.create({"product_id": product.id, "price_unit": 50.0})],
            **plan_values,
        }
    )
    partners = env["res.partner"].create([{"name": f"Benchmark customer {i}"} for i in range(n)])
    subscription_ids = start_subscriptions(env, partners, plan, BILLING_DATE)
    return product, partners.ids, subscription_ids


def bare_invoice_values(env, product, partner_ids):
    """The same invoices as the billing run makes, without subscription data."""
    from odoo import Command

    taxes = product.taxes_id._filter_taxes_by_company(env.company)
    journal = sale_journal(env)
    return [
        {
            "move_type": "out_invoice",
            "partner_id": partner_id,
            "journal_id": journal.id,
            "invoice_date": BILLING_DATE,
            "invoice_origin": f"SUB/2026/{index:05d}",
            "invoice_user_id": env.user.id,
            "invoice_line_ids": [
                Command.create(
                    {
                        "product_id": product.id,
                        "name": "Benchmark hosting\nService period: 01/01/2026 - 01/31/2026",
                        "quantity": 1.0,
                        "product_uom_id": product.uom_id.id,
                        "price_unit": 50.0,
                        "discount": 0.0,
                        "tax_ids": [Command.set(taxes.ids)],
                    }
                )
            ],
        }
        for index, partner_id in enumerate(partner_ids)
    ]


def run_baseline(env, product, partner_ids):
    """(b): bare account.move create + post in batches of BATCH_SIZE, committed per batch."""
    count = 0
    start = time.perf_counter()
    for offset in range(0, len(partner_ids), BATCH_SIZE):
        vals = bare_invoice_values(env, product, partner_ids[offset : offset + BATCH_SIZE])
        moves = env["account.move"].with_context(default_move_type="out_invoice").create(vals)
        moves._post()
        count += len(moves)
        env.cr.commit()
        env.invalidate_all()
    return time.perf_counter() - start, count


def run_billing(env):
    """(a): our billing run, the same batches as the cron."""
    start = time.perf_counter()
    result = env["subscription.subscription"]._run_billing_for_all(BILLING_DATE, commit=True, batch_size=BATCH_SIZE)
    return time.perf_counter() - start, len(result["invoices"]), len(result["errors"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file (db_host, addons_path, ...)")
    parser.add_argument("--n", type=int, default=10000, help="number of subscriptions (default 10000)")
    parser.add_argument("--db", help="database name (default: sb_bench_<n>_<time>)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    parser.add_argument("--profile", help="write cProfile statistics of the billing run to this file")
    parser.add_argument(
        "--deferred",
        action="store_true",
        help="bill yearly with a deferred revenue account: (a) also books every line on it and creates its "
        "recognition schedule, (b) stays the bare invoices without service period",
    )
    args = parser.parse_args(argv)

    init_odoo(args.config)
    db_name = args.db or f"sb_bench_{args.n}_{int(time.time())}"
    create_database(db_name)
    registry = install_addon(db_name)
    try:
        with registry.cursor() as cr:
            env = superuser_env(cr)
            t0 = time.perf_counter()
            product, partner_ids, subscription_ids = setup_world(env, args.n, deferred=args.deferred)
            print(f"Setup: {args.n} subscriptions in {time.perf_counter() - t0:.1f} s", flush=True)
            gc.collect()
            rss_before = current_rss_mib()

            # (b) first, so that our run meets the larger account_move table (never flatters us)
            baseline_s, baseline_count = run_baseline(env, product, partner_ids)
            rss_after_baseline = current_rss_mib()
            gc.collect()
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                billing_s, billing_count, errors = profiler.runcall(run_billing, env)
                profiler.dump_stats(args.profile)
            else:
                billing_s, billing_count, errors = run_billing(env)
            rss_after_billing = current_rss_mib()
            posted = env["account.move"].search_count(
                [("invoice_line_ids.subscription_id", "in", subscription_ids), ("state", "=", "posted")]
            )
            schedules = env["deferred.revenue.schedule"].search_count([])
            schedule_months = env["deferred.revenue.schedule.line"].search_count([])
    finally:
        if not args.keep_db:
            drop_database(db_name)

    ratio = billing_s / baseline_s
    print()
    print(f"N = {args.n} subscriptions, batch size {BATCH_SIZE}, machine: {machine_summary()}")
    print(
        f"(a) billing run:        {billing_s:8.2f} s  {billing_count / billing_s:8.1f} invoices/s  "
        f"({billing_count} invoices, {posted} posted, {errors} errors)"
    )
    print(
        f"(b) bare create + post: {baseline_s:8.2f} s  {baseline_count / baseline_s:8.1f} invoices/s  "
        f"({baseline_count} invoices)"
    )
    print(f"ratio a/b: {ratio:.3f}  (target <= 1.15)" + ("  [yearly, deferred revenue on]" if args.deferred else ""))
    print(f"deferred revenue: {schedules} schedules with {schedule_months} months created by (a)")
    print(
        f"RSS: {rss_before:.0f} MiB before, {rss_after_baseline:.0f} MiB after (b), "
        f"{rss_after_billing:.0f} MiB after (a); peak RSS of the process {peak_rss_mib():.0f} MiB"
    )
    return 0 if billing_count == args.n and not errors else 1


if __name__ == "__main__":
    sys.exit(main())
