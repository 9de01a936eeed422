#!/usr/bin/env python3
"""Benchmark: recognising one month of deferred revenue for N yearly invoices.

Creates a fresh database with subscription_billing, a deferred revenue account
on the company (a new current liability), N yearly subscriptions starting on
2026-01-01 and bills them with the billing run, so that there are N posted
yearly invoices whose revenue sits on the deferred account, with N schedules
of 12 months each. That is setup; then it measures in the same process:

(a) the recognition of January 2026 for all N schedules
    (``deferred.revenue.schedule.line._recognise_until(2026-01-31, commit=True)``,
    as the month-end cron does it): wall time, recognition entries and journal
    items created, schedule months marked recognised, SQL queries, RSS;
(a2) the same call a second time: it must create and mark nothing;
(b) the baseline: one entry with the same grouped lines (same journal, date,
    accounts and amounts, computed here in SQL from the pending months) created
    and posted by hand (``account.move.create`` + ``_post``) and committed; it
    is removed again before (a), so that the figures and balances below are the
    recognition's own.

The ratio a/b is the overhead of reading and marking the N schedule months
over booking the entry itself. Afterwards it checks that the recognition entry
has the baseline's lines, and the invariant: the credit balance of the deferred
account equals the sum of the schedule months still pending.

    python3 scripts/dev.py bench revenue --n 1000
    python3 scripts/dev.py bench revenue               # N = 10000

or directly with an Odoo configuration file::

    python3 benchmarks/revenue_recognition_benchmark.py -c odoo.conf --n 1000
    python3 benchmarks/revenue_recognition_benchmark.py -c odoo.conf --profile recognise.prof
"""

import argparse
import cProfile
import gc
import os
import platform
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_common, from any cwd and under ``python3 -P``
from bench_common import (
    create_database,
    current_rss_mib,
    drop_database,
    dump_profile,
    ensure_chart,
    exit_on_sigterm,
    init_odoo,
    install_addon,
    peak_rss_mib,
    start_subscriptions,
    superuser_env,
    usable_cpus,
)

BATCH_SIZE = 200
START_DATE = date(2026, 1, 1)
MONTH_END = date(2026, 1, 31)
YEARLY_PRICE = 1200.0


def reset_peak_rss():
    """Reset the process's high-water mark (Linux: ``VmHWM``); False where not possible."""
    try:
        with open("/proc/self/clear_refs", "w") as clear_refs:
            clear_refs.write("5")
        return True
    except OSError:
        return False


def high_water_rss_mib():
    """``VmHWM`` of /proc/self/status (peak RSS since the last reset), in MiB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return peak_rss_mib()


def sql_count():
    """Queries executed by every Odoo cursor of this process so far."""
    from odoo import sql_db

    return sql_db.sql_counter


def setup_company(env):
    """Chart of accounts if missing and a new current liability as the company's deferred revenue account."""
    company = env.company
    ensure_chart(env)
    deferred_account = env["account.account"].create(
        {"name": "Benchmark deferred revenue", "code": "DEFREV", "account_type": "liability_current"}
    )
    company.deferred_revenue_account_id = deferred_account
    env.cr.commit()
    return deferred_account


def setup_subscriptions(env, n):
    """One product, one yearly plan, N partners with one started subscription each."""
    from odoo import Command

    product = env["product.product"].create(
        {
            "name": "Benchmark yearly licence",
            "type": "service",
            "list_price": YEARLY_PRICE,
            "subscription_ok": True,
        }
    )
    plan = env["subscription.plan"].create(
        {
            "name": "Benchmark yearly",
            "code": "BENCHY",
            "billing_period_count": 1,
            "billing_period_unit": "year",
            "line_ids": [Command.create({"product_id": product.id, "price_unit": YEARLY_PRICE})],
        }
    )
    partners = env["res.partner"].create([{"name": f"Benchmark customer {i}"} for i in range(n)])
    env.cr.commit()
    return start_subscriptions(env, partners, plan, START_DATE)


def bill(env):
    """The billing run of 2026-01-01, in the cron's committed batches: N yearly invoices."""
    result = env["subscription.subscription"]._run_billing_for_all(START_DATE, commit=True, batch_size=BATCH_SIZE)
    invoice_ids = result["invoices"].ids
    errors = len(result["errors"])
    env.invalidate_all()
    return invoice_ids, errors


def setup_figures(env, invoice_ids):
    """Posted invoices, their schedules and the schedule months, as the recognition will find them."""
    cr = env.cr
    cr.execute(
        "SELECT count(*) FROM account_move WHERE id = ANY(%s) AND state = 'posted' AND move_type = 'out_invoice'",
        [invoice_ids],
    )
    posted = cr.fetchone()[0]
    cr.execute(
        "SELECT count(DISTINCT s.id), count(l.id), count(l.id) FILTER (WHERE l.date <= %s AND l.state = 'pending') "
        "FROM deferred_revenue_schedule s JOIN deferred_revenue_schedule_line l ON l.schedule_id = s.id "
        "WHERE s.move_id = ANY(%s)",
        [MONTH_END, invoice_ids],
    )
    schedules, months, due = cr.fetchone()
    return {"posted": posted, "schedules": schedules, "months": months, "due": due}


def expected_entry_lines(env):
    """The grouped lines the recognition of January should post, from the pending months in SQL.

    One debit line per deferred account and currency, one credit line per revenue account and
    currency (the benchmark's schedules have no analytic distribution), rounded like the entry.
    Returns ``(journal, [(account_id, currency_id, balance, amount_currency)], months)``.
    """
    cr = env.cr
    cr.execute(
        "SELECT s.journal_id, s.deferred_account_id, s.revenue_account_id, s.currency_id, "
        "       sum(l.amount), sum(l.amount_currency), count(*), count(s.analytic_distribution) "
        "FROM deferred_revenue_schedule_line l JOIN deferred_revenue_schedule s ON s.id = l.schedule_id "
        "WHERE l.state = 'pending' AND l.date <= %s AND l.company_id = %s "
        "GROUP BY s.journal_id, s.deferred_account_id, s.revenue_account_id, s.currency_id",
        [MONTH_END, env.company.id],
    )
    rows = cr.fetchall()
    journal_ids = {row[0] for row in rows}
    if len(journal_ids) != 1 or any(row[7] for row in rows):
        raise RuntimeError(f"expected one journal and no analytic distribution, got {rows}")
    company_currency = env.company.currency_id
    deferred, revenue = {}, {}
    months = 0
    for _journal_id, deferred_id, revenue_id, currency_id, amount, amount_currency, count, _analytic in rows:
        months += count
        for bucket, key in ((deferred, (deferred_id, currency_id)), (revenue, (revenue_id, currency_id))):
            balance, in_currency = bucket.get(key, (0.0, 0.0))
            bucket[key] = (balance + amount, in_currency + amount_currency)
    lines = []
    for sign, bucket in ((1, deferred), (-1, revenue)):
        for (account_id, currency_id), (balance, amount_currency) in sorted(bucket.items()):
            currency = env["res.currency"].browse(currency_id)
            lines.append(
                (
                    account_id,
                    currency_id,
                    company_currency.round(sign * balance),
                    currency.round(sign * amount_currency),
                )
            )
    return env["account.journal"].browse(journal_ids.pop()), lines, months


def run_baseline(env, journal, lines):
    """(b): create + post + commit one entry with ``lines``; then remove it again (not timed)."""
    from odoo import Command
    from odoo.exceptions import UserError

    label = env._("Revenue recognition %(month)s", month=MONTH_END.strftime("%m/%Y"))
    env.invalidate_all()
    gc.collect()
    queries = sql_count()
    start = time.perf_counter()
    move = env["account.move"].create(
        {
            "move_type": "entry",
            "journal_id": journal.id,
            "company_id": env.company.id,
            "date": MONTH_END,
            "ref": label,
            "line_ids": [
                Command.create(
                    {
                        "name": label,
                        "account_id": account_id,
                        "currency_id": currency_id,
                        "balance": balance,
                        "amount_currency": amount_currency,
                        "analytic_distribution": False,
                    }
                )
                for account_id, currency_id, balance, amount_currency in lines
            ],
        }
    )
    move._post(soft=False)
    env.cr.commit()
    seconds = time.perf_counter() - start
    queries = sql_count() - queries
    posted_lines = sorted(
        (line.account_id.id, line.currency_id.id, line.balance, line.amount_currency) for line in move.line_ids
    )
    name = move.name
    # out of the way of (a) and of the balances: the last entry of its journal may be deleted
    move.button_draft()
    try:
        move.unlink()
        removed = "deleted"
    except UserError:
        move.button_cancel()
        removed = "cancelled"
    env.cr.commit()
    return {"seconds": seconds, "queries": queries, "lines": posted_lines, "name": name, "removed": removed}


def count_rows(env):
    cr = env.cr
    cr.execute("SELECT count(*) FROM account_move")
    moves = cr.fetchone()[0]
    cr.execute("SELECT count(*) FROM account_move_line")
    items = cr.fetchone()[0]
    cr.execute("SELECT count(*) FROM deferred_revenue_schedule_line WHERE state = 'recognised'")
    recognised = cr.fetchone()[0]
    return moves, items, recognised


def run_recognition(env, profiler=None):
    """(a): ``_recognise_until`` of January with a cold cache, committed like the cron."""
    before = count_rows(env)
    env.invalidate_all()
    gc.collect()
    rss_before = current_rss_mib()
    peak_reset = reset_peak_rss()
    queries = sql_count()
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    moves = env["deferred.revenue.schedule.line"]._recognise_until(MONTH_END, commit=True)
    env.cr.commit()
    if profiler:
        profiler.disable()
    seconds = time.perf_counter() - start
    queries = sql_count() - queries
    peak = high_water_rss_mib() if peak_reset else None
    rss_after = current_rss_mib()
    after = count_rows(env)
    return {
        "seconds": seconds,
        "queries": queries,
        "move_ids": moves.ids,
        "moves": after[0] - before[0],
        "items": after[1] - before[1],
        "marked": after[2] - before[2],
        "rss_before": rss_before,
        "rss_after": rss_after,
        "rss_peak": peak,
    }


def check_results(env, recognition, baseline, deferred_account):
    """The entry's lines against the baseline's, the months it marked, and the deferred account's invariant."""
    env.invalidate_all()
    cr = env.cr
    moves = env["account.move"].browse(recognition["move_ids"])
    entry_lines = sorted(
        (line.account_id.id, line.currency_id.id, line.balance, line.amount_currency) for line in moves.line_ids
    )
    cr.execute(
        "SELECT count(*), count(*) FILTER (WHERE recognition_move_id = ANY(%s) AND recognition_date = %s) "
        "FROM deferred_revenue_schedule_line WHERE state = 'recognised'",
        [recognition["move_ids"], MONTH_END],
    )
    recognised, recognised_by_entry = cr.fetchone()
    cr.execute(
        "SELECT count(*) FROM deferred_revenue_schedule_line WHERE state = 'pending' AND date <= %s", [MONTH_END]
    )
    still_due = cr.fetchone()[0]
    cr.execute(
        "SELECT coalesce(-sum(balance), 0) FROM account_move_line WHERE account_id = %s AND parent_state = 'posted'",
        [deferred_account.id],
    )
    deferred_balance = float(cr.fetchone()[0])
    cr.execute(
        "SELECT coalesce(sum(amount), 0) FROM deferred_revenue_schedule_line "
        "WHERE state = 'pending' AND company_id = %s",
        [env.company.id],
    )
    pending_sum = float(cr.fetchone()[0])
    currency = env.company.currency_id
    return {
        "states": sorted(set(moves.mapped("state"))),
        "entries": [f"{move.name} ({move.date}, {len(move.line_ids)} lines)" for move in moves],
        "lines_match": entry_lines == baseline["lines"],
        "entry_lines": entry_lines,
        "recognised": recognised,
        "recognised_by_entry": recognised_by_entry,
        "still_due": still_due,
        "deferred_balance": deferred_balance,
        "pending_sum": pending_sum,
        "invariant": currency.is_zero(deferred_balance - pending_sum),
        "currency": currency.name,
    }


def machine(env):
    cr = env.cr
    cr.execute("SHOW server_version")
    pg_version = cr.fetchone()[0]
    cr.execute("SHOW fsync")
    fsync = cr.fetchone()[0]
    cpu_model = ""
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            cpu_model = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "")
    except OSError:
        pass
    return {
        "cpus": usable_cpus(),
        "cpu_count": os.cpu_count(),
        "cpu_model": cpu_model or platform.processor(),
        "python": platform.python_version(),
        "postgresql": f"{pg_version} (fsync {fsync})",
        "system": f"{platform.system()} {platform.release()}",
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file (db_host, addons_path, ...)")
    parser.add_argument("--n", type=int, default=10000, help="yearly subscriptions / invoices (default 10000)")
    parser.add_argument("--db", help="database name (default: sb_revrec_bench_<n>_<time>)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    parser.add_argument(
        "--profile", help="write cProfile statistics of the first recognition run to this file (and print the top)"
    )
    args = parser.parse_args(argv)

    import odoo

    init_odoo(args.config)
    # a terminated run (SIGTERM, e.g. a timeout) still drops its database in the ``finally`` below
    exit_on_sigterm()
    db_name = args.db or f"sb_revrec_bench_{args.n}_{int(time.time())}"
    t0 = time.perf_counter()
    create_database(db_name)
    profiler = cProfile.Profile() if args.profile else None
    setup = {}
    try:
        registry = install_addon(db_name)
        print(f"Database ready in {time.perf_counter() - t0:.0f} s", flush=True)
        with registry.cursor() as cr:
            env = superuser_env(cr)
            host = machine(env)
            deferred_account = setup_company(env)
            t0 = time.perf_counter()
            setup_subscriptions(env, args.n)
            setup["subscriptions"] = time.perf_counter() - t0
            print(f"Setup: {args.n} yearly subscriptions in {setup['subscriptions']:.1f} s", flush=True)
            t0 = time.perf_counter()
            invoice_ids, billing_errors = bill(env)
            setup["billing"] = time.perf_counter() - t0
            figures = setup_figures(env, invoice_ids)
            print(
                f"Setup: billing run of {START_DATE} in {setup['billing']:.1f} s: {len(invoice_ids)} invoices "
                f"({figures['posted']} posted, {billing_errors} errors), {figures['schedules']} schedules with "
                f"{figures['months']} months, {figures['due']} of them due by {MONTH_END}",
                flush=True,
            )
            journal, lines, due_months = expected_entry_lines(env)
            setup_peak_rss = peak_rss_mib()  # (a) resets the high-water mark

            # (b) first: one entry with the grouped lines the recognition will post, then removed again
            baseline = run_baseline(env, journal, lines)
            print(
                f"(b) baseline:   {baseline['seconds']:8.3f} s  entry {baseline['name']} with "
                f"{len(baseline['lines'])} lines, {baseline['queries']} queries ({baseline['removed']} afterwards)",
                flush=True,
            )
            first = run_recognition(env, profiler)
            print(
                f"(a) recognise:  {first['seconds']:8.3f} s  {first['moves']} entries, {first['items']} journal "
                f"items, {first['marked']} months marked, {first['queries']} queries",
                flush=True,
            )
            second = run_recognition(env)
            print(
                f"(a2) again:     {second['seconds']:8.3f} s  {second['moves']} entries, {second['items']} journal "
                f"items, {second['marked']} months marked, {second['queries']} queries",
                flush=True,
            )
            checks = check_results(env, first, baseline, deferred_account)
    finally:
        if not args.keep_db:
            drop_database(db_name)

    if profiler:
        dump_profile(profiler, args.profile)
        print(f"cProfile statistics of the first recognition run written to {args.profile}")

    n = args.n
    ratio = first["seconds"] / baseline["seconds"]
    peak = f"{first['rss_peak']:.0f} MiB" if first["rss_peak"] is not None else "n/a"
    print()
    print("=" * 100)
    print(
        f"Revenue recognition of {MONTH_END:%m/%Y}, N = {n} yearly invoices of {YEARLY_PRICE:.2f} "
        f"{checks['currency']} from {START_DATE}" + (" (under cProfile: (a) inflated)" if profiler else "")
    )
    print(
        f"machine: {host['cpus']} CPU(s) usable of {host['cpu_count']} ({host['cpu_model']}), {host['system']}, "
        f"Python {host['python']}, PostgreSQL {host['postgresql']}, Odoo {odoo.release.version}"
    )
    print(
        f"setup: {n} subscriptions {setup['subscriptions']:.1f} s, billing run {setup['billing']:.1f} s "
        f"({figures['posted']} posted invoices, {figures['schedules']} schedules, {figures['due']} months due)"
    )
    print(
        f"(a)  recognition:   {first['seconds']:8.3f} s  {first['marked'] / first['seconds']:8.0f} months/s  "
        f"{1000 * first['seconds'] / n:6.3f} ms/schedule  {first['moves']} entries, {first['items']} journal items, "
        f"{first['marked']} months marked, {first['queries']} SQL queries"
    )
    print(
        f"(a2) second run:    {second['seconds']:8.3f} s  {second['moves']} entries, {second['items']} journal items, "
        f"{second['marked']} months marked, {second['queries']} SQL queries"
    )
    print(
        f"(b)  bare entry:    {baseline['seconds']:8.3f} s  1 entry, {len(baseline['lines'])} journal items "
        f"(create + _post + commit), {baseline['queries']} SQL queries"
    )
    overhead = first["seconds"] - baseline["seconds"]
    print(
        f"ratio a/b: {ratio:.1f}  (overhead of reading and marking {due_months} months: "
        f"{overhead:.3f} s, {1e6 * overhead / due_months:.0f} µs/month)"
    )
    print(f"entries: {', '.join(checks['entries'])}; same lines as (b): {checks['lines_match']}")
    print(
        f"months: {checks['recognised']} recognised ({checks['recognised_by_entry']} by this entry, dated "
        f"{MONTH_END}), {checks['still_due']} still due by {MONTH_END}"
    )
    print(
        f"invariant: deferred account credit balance {checks['deferred_balance']:,.2f} == pending months "
        f"{checks['pending_sum']:,.2f}: {checks['invariant']}"
    )
    print(
        f"RSS: {first['rss_before']:.0f} MiB before (a), {first['rss_after']:.0f} MiB after, peak during (a) {peak}; "
        f"peak RSS of the setup {setup_peak_rss:.0f} MiB"
    )
    ok = (
        not billing_errors
        and figures["posted"] == n
        and figures["schedules"] == n
        and figures["due"] == n
        and first["moves"] == 1
        and first["items"] == len(baseline["lines"])
        and first["marked"] == n
        and checks["states"] == ["posted"]
        and checks["lines_match"]
        and checks["recognised_by_entry"] == n
        and not checks["still_due"]
        and not second["moves"]
        and not second["items"]
        and not second["marked"]
        and checks["invariant"]
    )
    if not checks["lines_match"]:
        print(f"entry lines {checks['entry_lines']} != baseline lines {baseline['lines']}")
    print("checks:", "OK" if ok else "FAILED")
    print("=" * 100)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
