#!/usr/bin/env python3
"""Benchmark: revenue analytics on a large MRR movement ledger, and the billing forecast.

Creates a fresh database with subscription_billing, then by SQL (for setup
speed) N customers, N subscriptions and 5 × N MRR movements spread over 30
months (each subscription: new, then four of expansion, contraction, churn
and reactivation), and ANALYZEs the tables. Measured in the same process:

(a) the MRR bridge of one month (``_get_bridge``: MRR at two dates over the
    whole ledger plus the month's movements by kind) and the full KPI set of
    that month (``_get_kpis``);
(b) the cohort retention table of 24 signup months (``_get_cohorts``);
(c) the baseline: one bare sequential aggregate over the whole movement
    table (``SELECT kind, SUM(...) GROUP BY kind``), the cheapest query that
    reads every row; ratios (a)/(c) and (b)/(c);
(d) the billing forecast of 12 months (the dry run of the daily billing) for
    F started monthly subscriptions (ORM-created), against (e) one real
    billing run of their first month in a rolled-back savepoint: ratio
    (d) / (12 × (e)).

It prints times, memory (RSS) and the ratios::

    python3 scripts/dev.py bench analytics --n 100000
    python3 benchmarks/analytics_benchmark.py -c odoo.conf --n 100000 --forecast-n 10000
"""

import argparse
import gc
import io
import random
import sys
import time
from datetime import date, timedelta
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
    start_subscriptions,
    superuser_env,
)

FIRST_DAY = date(2024, 1, 1)
MONTHS = 30
BRIDGE_MONTH = (date(2026, 3, 1), date(2026, 3, 31))
COHORT_FIRST = date(2024, 4, 1)
FORECAST_START = date(2026, 2, 1)


def _copy_rows(env, table, template_id, count, overrides):
    """Insert ``count`` copies of row ``template_id`` of ``table``; ``overrides`` maps columns to SQL
    expressions of ``i`` (1..count). Returns the new ids in order."""
    from odoo.tools import SQL

    env.cr.execute(
        SQL(
            "SELECT column_name FROM information_schema.columns WHERE table_name = %s AND column_name != 'id'",
            table,
        )
    )
    columns = [row[0] for row in env.cr.fetchall()]
    select = [SQL(overrides[col]) if col in overrides else SQL.identifier("t", col) for col in columns]
    env.cr.execute(
        SQL(
            "INSERT INTO %s (%s) SELECT %s FROM %s t, generate_series(1, %s) AS i WHERE t.id = %s ORDER BY i "
            "RETURNING id",
            SQL.identifier(table),
            SQL(", ").join(SQL.identifier(col) for col in columns),
            SQL(", ").join(select),
            SQL.identifier(table),
            count,
            template_id,
        )
    )
    return [row[0] for row in env.cr.fetchall()]


def setup_ledger(env, n, seed=14):
    """N customers and subscriptions (SQL copies of one ORM-made row) and 5 × N movements (COPY)."""
    from odoo import Command

    ensure_chart(env)
    product = env["product.product"].create(
        {"name": "Analytics hosting", "type": "service", "list_price": 100.0, "subscription_ok": True, "taxes_id": []}
    )
    plans = env["subscription.plan"].create(
        [
            {
                "name": f"Analytics plan {k}",
                "code": f"BENCHAN{k}",
                "line_ids": [Command.create({"product_id": product.id, "price_unit": 50.0 * (k + 1)})],
            }
            for k in range(3)
        ]
    )
    partner = env["res.partner"].create({"name": "Analytics template customer"})
    sub = env["subscription.subscription"].create(
        {"partner_id": partner.id, "plan_id": plans[0].id, "start_date": FIRST_DAY}
    )
    env.flush_all()
    partner_ids = _copy_rows(
        env,
        "res_partner",
        partner.id,
        n,
        {"name": "'Analytics customer ' || i", "complete_name": "'Analytics customer ' || i"},
    )
    env.cr.execute("UPDATE res_partner SET commercial_partner_id = id WHERE id = ANY(%s)", [partner_ids])
    first_partner = partner_ids[0]
    sub_ids = _copy_rows(
        env,
        "subscription_subscription",
        sub.id,
        n,
        {
            "name": "'BENCH-' || i",
            "partner_id": f"{first_partner} - 1 + i",
            "partner_invoice_id": f"{first_partner} - 1 + i",
            "commercial_partner_id": f"{first_partner} - 1 + i",
            "state": "'active'",
        },
    )
    company = env.company
    currency = company.currency_id.id
    rng = random.Random(seed)
    buffer = io.StringIO()
    movements = 0
    for sub_id, partner_id in zip(sub_ids, partner_ids, strict=True):
        plan = plans[rng.randrange(3)].id
        day = FIRST_DAY + timedelta(days=rng.randrange(MONTHS * 30 - 150))
        value = 50 * rng.randint(1, 6)
        history = [(day, "new", 0, value)]
        for kind in rng.sample(["expansion", "contraction", "churnreact", "expansion2"], 4):
            day += timedelta(days=rng.randint(5, 35))
            if kind.startswith("expansion"):
                history.append((day, "expansion", value, value + 50))
                value += 50
            elif kind == "contraction":
                if value <= 50:
                    history.append((day, "expansion", value, value + 25))
                    value += 25
                else:
                    history.append((day, "contraction", value, value - 25))
                    value -= 25
            else:
                history.append((day, "churn", value, 0))
                day += timedelta(days=rng.randint(1, 20))
                history.append((day, "reactivation", 0, value))
        for sequence, (when, kind, before, after) in enumerate(history[:5], start=1):
            buffer.write(
                f"{sub_id}\t{sequence}\t{company.id}\t{partner_id}\t{plan}\t{when}\t{kind}\trebuild\t"
                f"{currency}\t{currency}\t{before}\t{after}\t{after - before}\t{before}\t{after}\t{after - before}\n"
            )
            movements += 1
    buffer.seek(0)
    env.cr._obj.copy_from(
        buffer,
        "subscription_mrr_movement",
        columns=(
            "subscription_id",
            "sequence",
            "company_id",
            "commercial_partner_id",
            "plan_id",
            "date",
            "kind",
            "reason",
            "currency_id",
            "company_currency_id",
            "mrr_before",
            "mrr_after",
            "mrr_delta",
            "mrr_before_company",
            "mrr_after_company",
            "mrr_delta_company",
        ),
    )
    env.cr.commit()
    env.cr.execute("ANALYZE res_partner, subscription_subscription, subscription_mrr_movement")
    env.cr.commit()
    return len(sub_ids), movements


def timed(function, *args, repeat=3):
    """Best of ``repeat`` runs (the first warms the caches): (seconds, result)."""
    best, result = None, None
    for _ in range(repeat):
        start = time.perf_counter()
        result = function(*args)
        elapsed = time.perf_counter() - start
        best = elapsed if best is None else min(best, elapsed)
    return best, result


def bare_scan(env):
    env.cr.execute("SELECT kind, SUM(mrr_delta_company) FROM subscription_mrr_movement GROUP BY kind")
    return env.cr.fetchall()


def setup_forecast(env, count):
    """``count`` started monthly subscriptions from 1 Jan 2026, January billed (committed)."""
    from odoo import Command

    product = env["product.product"].create(
        {"name": "Forecast hosting", "type": "service", "list_price": 80.0, "subscription_ok": True, "taxes_id": []}
    )
    plan = env["subscription.plan"].create(
        {
            "name": "Forecast monthly",
            "code": "BENCHFC",
            "line_ids": [Command.create({"product_id": product.id, "price_unit": 80.0})],
        }
    )
    partners = env["res.partner"].create([{"name": f"Forecast customer {i}"} for i in range(count)])
    env.cr.commit()
    ids = start_subscriptions(env, partners, plan, date(2026, 1, 1))
    subs = env["subscription.subscription"].browse(ids)
    env["subscription.billing.run"]._run_billing(subs, date(2026, 1, 31))
    env.cr.commit()
    return subs


def real_month_rolled_back(env, subs):
    """(e): the real billing run of February for ``subs``, in a savepoint rolled back afterwards."""
    start = time.perf_counter()
    try:
        with env.cr.savepoint():
            result = env["subscription.billing.run"]._run_billing(subs, FORECAST_START)
            count = len(result["invoices"])
            raise RuntimeError("roll back")
    except RuntimeError:
        pass
    env.invalidate_all(flush=False)
    return time.perf_counter() - start, count


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file (db_host, addons_path, ...)")
    parser.add_argument("--n", type=int, default=100000, help="subscriptions of the ledger (default 100000)")
    parser.add_argument(
        "--forecast-n", type=int, default=300, help="subscriptions of the 12-month forecast (default 300)"
    )
    parser.add_argument("--db", help="database name (default: sb_bench_analytics_<n>_<time>)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    parser.add_argument("--profile", help="unused (kept for scripts/dev.py bench)")
    args = parser.parse_args(argv)
    init_odoo(args.config)
    db_name = args.db or f"sb_bench_analytics_{args.n}_{int(time.time())}"
    create_database(db_name)
    registry = install_addon(db_name)
    try:
        with registry.cursor() as cr:
            env = superuser_env(cr)
            t0 = time.perf_counter()
            subs, movements = setup_ledger(env, args.n)
            print(f"Setup: {subs} subscriptions, {movements} movements in {time.perf_counter() - t0:.1f} s", flush=True)
            analytics = env["subscription.revenue.analytics"]
            company = env.company
            gc.collect()
            rss_before = current_rss_mib()
            scan_s, _rows = timed(bare_scan, env)
            bridge_s, (bridge, _transfer) = timed(analytics._get_bridge, *BRIDGE_MONTH, company)
            kpis_s, kpis = timed(analytics._get_kpis, *BRIDGE_MONTH, company)
            cohort_s, cells = timed(analytics._get_cohorts, COHORT_FIRST, 24, company)
            rss_after_kpis = current_rss_mib()
            t1 = time.perf_counter()
            forecast_subs = setup_forecast(env, args.forecast_n)
            print(f"Forecast setup: {len(forecast_subs)} subscriptions in {time.perf_counter() - t1:.1f} s", flush=True)
            month_s, month_invoices = real_month_rolled_back(env, forecast_subs)
            start = time.perf_counter()
            rows = env["subscription.billing.forecast"]._forecast(
                forecast_subs, FORECAST_START, date(2027, 1, 31), date_today=FORECAST_START
            )
            forecast_s = time.perf_counter() - start
            rss_after_forecast = current_rss_mib()
    finally:
        if not args.keep_db:
            drop_database(db_name)
    print()
    print(f"N = {subs} subscriptions, {movements} MRR movements over {MONTHS} months")
    print(f"machine: {machine_summary()}")
    print(f"(c) bare aggregate over all movements: {scan_s:8.3f} s")
    print(
        f"(a) MRR bridge of {BRIDGE_MONTH[0]:%B %Y}: {bridge_s:8.3f} s  ratio a/c {bridge_s / scan_s:.2f}  "
        f"(opening {bridge.opening}, new {bridge.new}, expansion {bridge.expansion}, contraction "
        f"{bridge.contraction}, churn {bridge.churn}, reactivation {bridge.reactivation}, closing {bridge.closing}, "
        f"balances: {bridge.balances()})   target <= 2 s"
    )
    print(f"    all KPIs of the month: {kpis_s:8.3f} s  ({kpis['customers']} customers, ARPA {kpis['arpa']:.2f})")
    print(
        f"(b) cohort table, 24 signup months: {cohort_s:8.3f} s  ratio b/c {cohort_s / scan_s:.2f}  "
        f"({len(cells)} cells)   target <= 2 s"
    )
    print(
        f"(d) 12-month billing forecast for {len(forecast_subs)} subscriptions: {forecast_s:8.2f} s  "
        f"({len(rows)} invoices, {len(rows) / forecast_s:.1f} invoices/s)"
    )
    print(
        f"(e) one real billing run of a month (rolled back): {month_s:.2f} s ({month_invoices} invoices); "
        f"ratio d/(12 × e) {forecast_s / (12 * month_s):.2f}"
    )
    print(
        f"    extrapolated forecast for 10,000 subscriptions: {forecast_s * 10000 / len(forecast_subs):.0f} s   "
        "target <= 30 s"
    )
    print(
        f"RSS: {rss_before:.0f} MiB before, {rss_after_kpis:.0f} MiB after the KPIs, {rss_after_forecast:.0f} MiB "
        f"after the forecast; peak RSS of the process {peak_rss_mib():.0f} MiB"
    )
    return 0 if bridge.balances() and len(rows) == 12 * len(forecast_subs) else 1


if __name__ == "__main__":
    sys.exit(main())
