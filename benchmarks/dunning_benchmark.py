#!/usr/bin/env python3
"""Benchmark: the dunning run over N overdue invoices of N/2 customers versus bare writes of its rows.

Creates a fresh database with subscription_billing, N/2 customers with one
started monthly subscription each, and two posted invoices per customer due
on 1 January 2026. The shipped levels of the main company apply; on 25 January
(24 days overdue) every invoice reaches the first dunning notice: one letter
per customer listing both invoices, one history entry per invoice, the 2.50 €
fee and the default interest of each invoice as one-time charges on the
customer's subscription (billed with the next invoice).

Measured in the same process:

(a) the dunning run (``_run_for_all`` with commits per batch of customers, as the
    cron): selection, advisory locks, levels, interest, letters, entries, charges.
    Sending (PDF rendering and the e-mail) is deferred: the letters are left "to
    send" and are measured apart, on a sample, in (c);
(b) the baseline: bare ORM ``create`` of the same rows (letters, entries,
    charges) in the same batches, without selection, locking or computation;
    deleted again before (a) runs;
(c) sending a sample of letters (QWeb PDF through wkhtmltopdf, attachment, queued
    e-mail), per letter.

It prints the times, items per second, the ratio a/b and the memory (RSS)::

    python3 scripts/dev.py bench dunning --n 10000
    python3 benchmarks/dunning_benchmark.py -c odoo.conf --n 10000
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

BATCH_SIZE = 100  # customers per commit, as the cron
INVOICE_BATCH = 500
DUE = date(2026, 1, 1)
RUN = date(2026, 1, 25)
SEND_SAMPLE = 20


def setup_world(env, n):
    """N/2 customers with a subscription and two invoices each, posted, due on DUE."""
    from odoo import Command

    ensure_chart(env)
    product = env["product.product"].create(
        {"name": "Benchmark hosting", "type": "service", "list_price": 50.0, "subscription_ok": True, "taxes_id": []}
    )
    plan = env["subscription.plan"].create(
        {
            "name": "Benchmark monthly",
            "code": "BENCHDUN",
            "line_ids": [Command.create({"product_id": product.id, "price_unit": 50.0})],
        }
    )
    customers = n // 2
    partners = env["res.partner"].create(
        [{"name": f"Benchmark customer {i}", "email": f"c{i}@example.com"} for i in range(customers)]
    )
    env.cr.commit()
    start_subscriptions(env, partners, plan, DUE)
    journal = sale_journal(env)
    invoice_ids = []
    partner_ids = partners.ids
    rows = [(pid, k) for pid in partner_ids for k in range(2)]
    for offset in range(0, len(rows), INVOICE_BATCH):
        moves = env["account.move"].create(
            [
                {
                    "move_type": "out_invoice",
                    "partner_id": pid,
                    "journal_id": journal.id,
                    "invoice_date": DUE,
                    "invoice_date_due": DUE,
                    "invoice_line_ids": [
                        Command.create(
                            {"product_id": product.id, "quantity": 1.0, "price_unit": 50.0 + k, "tax_ids": []}
                        )
                    ],
                }
                for pid, k in rows[offset : offset + INVOICE_BATCH]
            ]
        )
        moves._post()
        invoice_ids += moves.ids
        env.cr.commit()
        env.invalidate_all()
    return partner_ids, invoice_ids


def run_baseline(env, partner_ids):
    """(b): bare creates of one letter per customer, one entry per invoice, two charges per customer."""
    level = env.ref("subscription_billing.dunning_level_first")
    company = env.company
    fee_product = env.ref("subscription_billing.product_dunning_fee")
    interest_product = env.ref("subscription_billing.product_dunning_interest")
    Move = env["account.move"]
    Sub = env["subscription.subscription"]
    rows = 0
    start = time.perf_counter()
    for offset in range(0, len(partner_ids), BATCH_SIZE):
        batch = partner_ids[offset : offset + BATCH_SIZE]
        invoices = Move.search([("partner_id", "in", batch), ("move_type", "=", "out_invoice")])
        subs = {sub.partner_id.id: sub.id for sub in Sub.search([("partner_id", "in", batch)])}
        letters = env["subscription.dunning.letter"].create(
            [
                {"partner_id": pid, "company_id": company.id, "date": RUN, "level_id": level.id, "amount_total": 1.0}
                for pid in batch
            ]
        )
        letter_of = dict(zip(batch, letters.ids, strict=True))
        env["subscription.dunning.entry"].create(
            [
                {
                    "invoice_id": inv.id,
                    "partner_id": inv.partner_id.id,
                    "level_id": level.id,
                    "letter_id": letter_of[inv.partner_id.id],
                    "company_id": company.id,
                    "date": RUN,
                    "amount_overdue": inv.amount_residual,
                    "interest": 0.2,
                }
                for inv in invoices
            ]
        )
        env["subscription.charge"].create(
            [
                {"subscription_id": subs[pid], "product_id": product.id, "name": "Fee", "date": RUN, "price_unit": 1.0}
                for pid in batch
                for product in (fee_product, interest_product, interest_product)
            ]
        )
        rows += len(letters) + len(invoices) + 3 * len(batch)
        env.cr.commit()
        env.invalidate_all()
    elapsed = time.perf_counter() - start
    # remove the baseline's rows: the run must find the items undunned
    env["subscription.charge"].search([("date", "=", RUN)]).unlink()
    env["subscription.dunning.entry"].search([]).unlink()
    env["subscription.dunning.letter"].search([]).unlink()
    env.cr.commit()
    return elapsed, rows


def run_dunning(env):
    """(a): the dunning run as the cron does it, letters left to send."""
    start = time.perf_counter()
    letters = env["subscription.dunning.run"]._run_for_all(RUN, commit=True, send=False, batch_size=BATCH_SIZE)
    return time.perf_counter() - start, len(letters)


def run_send_sample(env):
    """(c): send SEND_SAMPLE letters (PDF, attachment, queued e-mail)."""
    letters = env["subscription.dunning.letter"].search([("state", "=", "to_send")], limit=SEND_SAMPLE)
    start = time.perf_counter()
    letters._send()
    env.cr.commit()
    return time.perf_counter() - start, len(letters)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file (db_host, addons_path, ...)")
    parser.add_argument("--n", type=int, default=10000, help="number of overdue invoices (default 10000)")
    parser.add_argument("--db", help="database name (default: sb_bench_dunning_<n>_<time>)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    parser.add_argument("--profile", help="write cProfile statistics of the dunning run to this file")
    args = parser.parse_args(argv)

    init_odoo(args.config)
    db_name = args.db or f"sb_bench_dunning_{args.n}_{int(time.time())}"
    create_database(db_name)
    registry = install_addon(db_name)
    try:
        with registry.cursor() as cr:
            env = superuser_env(cr)
            t0 = time.perf_counter()
            partner_ids, invoice_ids = setup_world(env, args.n)
            print(
                f"Setup: {len(invoice_ids)} overdue invoices of {len(partner_ids)} customers in "
                f"{time.perf_counter() - t0:.1f} s",
                flush=True,
            )
            gc.collect()
            rss_before = current_rss_mib()
            baseline_s, baseline_rows = run_baseline(env, partner_ids)
            rss_after_baseline = current_rss_mib()
            gc.collect()
            if args.profile:
                import cProfile

                profiler = cProfile.Profile()
                dunning_s, letter_count = profiler.runcall(run_dunning, env)
                profiler.dump_stats(args.profile)
            else:
                dunning_s, letter_count = run_dunning(env)
            rss_after_run = current_rss_mib()
            entries = env["subscription.dunning.entry"].search_count([])
            charges = env["subscription.charge"].search_count([("date", "=", RUN)])
            fees = sum(env["subscription.dunning.letter"].search([]).mapped("amount_total"))
            send_s, sent = run_send_sample(env)
            rerun_s, rerun_letters = run_dunning(env)
    finally:
        if not args.keep_db:
            drop_database(db_name)

    print()
    print(f"N = {len(invoice_ids)} overdue invoices of {len(partner_ids)} customers, batch {BATCH_SIZE} customers")
    print(f"machine: {machine_summary()}")
    print(
        f"(a) dunning run:        {dunning_s:8.2f} s  {entries / dunning_s:8.1f} items/s  "
        f"({letter_count} letters, {entries} entries, {charges} fee/interest charges, total due {fees:.2f})"
    )
    print(f"(b) bare row creates:   {baseline_s:8.2f} s  ({baseline_rows} rows: letters, entries, charges)")
    print(f"ratio a/b: {dunning_s / baseline_s:.3f}   target for (a): <= 60 s")
    print(f"(c) sending {sent} letters (PDF + queued e-mail): {send_s:.2f} s, {send_s / max(sent, 1):.3f} s/letter")
    print(f"rerun on the same day: {rerun_s:.2f} s, {rerun_letters} letters")
    print(
        f"RSS: {rss_before:.0f} MiB before, {rss_after_baseline:.0f} MiB after (b), {rss_after_run:.0f} MiB after (a); "
        f"peak RSS of the process {peak_rss_mib():.0f} MiB"
    )
    ok = letter_count == len(partner_ids) and entries == len(invoice_ids) and not rerun_letters
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
