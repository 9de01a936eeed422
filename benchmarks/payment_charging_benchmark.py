#!/usr/bin/env python3
"""Benchmark: automatic charging of N subscription invoices to saved ``payment_demo`` tokens.

Creates a fresh database with subscription_billing and payment_demo (the demo
provider in test mode on a bank journal), N customers each with a demo token
(simulated state "done") and a monthly subscription paid by it, bills them
(the billing run posts N invoices, which enter automatic charging), then
measures in the same process:

(a) our charging job (``subscription.payment.charging._cron_charge_invoices``):
    claim each invoice, create its offline transaction, commit (crash safety),
    charge it with the token, post-process (account_payment posts the payment
    and reconciles the invoice), update the invoice, commit;
(b) the baseline: the same work without our bookkeeping, on N bare posted
    invoices of the same customers: ``payment.transaction.create`` +
    ``_charge_with_token`` + ``_post_process``, one commit per invoice.

It prints N, both times, charges per second, the ratio a/b (and a against the
billing run that posted the invoices), checks that every invoice is paid and
has one transaction, and the peak RSS::

    python3 benchmarks/payment_charging_benchmark.py -c odoo.conf --n 2000
"""

import argparse
import gc
import sys
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))  # bench_common, from any cwd and under ``python3 -P``
from bench_common import (
    ADDON,
    create_database,
    drop_database,
    ensure_chart,
    exit_on_sigterm,
    init_odoo,
    machine_summary,
    peak_rss_mib,
    sale_journal,
    superuser_env,
)

BATCH_SIZE = 500
BILLING_DATE = date(2026, 1, 1)


def install(db_name):
    from odoo.modules.registry import Registry

    return Registry.new(db_name, update_module=True, install_modules=[ADDON, "payment_demo"])


def setup_world(env, n):
    """Chart, demo provider, product, plan, N customers with a 'done' demo token and a started subscription."""
    from odoo import Command

    ensure_chart(env)
    provider = env.ref("payment.payment_provider_demo")
    method = env.ref("payment_demo.payment_method_demo")
    method.active = True
    provider.write({"state": "test", "allow_tokenization": True, "company_id": env.company.id})
    if not provider.journal_id:
        provider.journal_id = env["account.journal"].search(
            [("company_id", "=", env.company.id), ("type", "=", "bank")], limit=1
        )
    product = env["product.product"].create(
        {"name": "Benchmark hosting", "type": "service", "list_price": 50.0, "subscription_ok": True}
    )
    plan = env["subscription.plan"].create(
        {
            "name": "Benchmark monthly",
            "code": "BENCHPAY",
            "line_ids": [Command.create({"product_id": product.id, "price_unit": 50.0})],
        }
    )
    partner_ids = []
    for start in range(0, n, BATCH_SIZE):
        count = min(BATCH_SIZE, n - start)
        partners = env["res.partner"].create([{"name": f"Benchmark payer {start + i}"} for i in range(count)])
        tokens = env["payment.token"].create(
            [
                {
                    "provider_id": provider.id,
                    "payment_method_id": method.id,
                    "partner_id": partner.id,
                    "payment_details": f"{start + i:04d}",
                    "provider_ref": f"bench-{start + i}",
                    "demo_simulated_state": "done",
                }
                for i, partner in enumerate(partners)
            ]
        )
        subs = env["subscription.subscription"].create(
            [
                {
                    "partner_id": partner.id,
                    "plan_id": plan.id,
                    "start_date": BILLING_DATE,
                    "payment_method": "token",
                    "payment_token_id": token.id,
                }
                for partner, token in zip(partners, tokens, strict=True)
            ]
        )
        subs.action_start()
        partner_ids += partners.ids
        env.cr.commit()
        env.invalidate_all()
    return provider, product, partner_ids


def bare_invoices(env, product, partner_ids):
    """N posted invoices of the same customers without subscription: not in automatic charging."""
    from odoo import Command

    taxes = product.taxes_id._filter_taxes_by_company(env.company)
    journal = sale_journal(env)
    invoice_ids = []
    for start in range(0, len(partner_ids), BATCH_SIZE):
        moves = (
            env["account.move"]
            .with_context(default_move_type="out_invoice")
            .create(
                [
                    {
                        "move_type": "out_invoice",
                        "partner_id": partner_id,
                        "journal_id": journal.id,
                        "invoice_date": BILLING_DATE,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "product_id": product.id,
                                    "quantity": 1.0,
                                    "price_unit": 50.0,
                                    "tax_ids": [Command.set(taxes.ids)],
                                }
                            )
                        ],
                    }
                    for partner_id in partner_ids[start : start + BATCH_SIZE]
                ]
            )
        )
        moves._post()
        invoice_ids += moves.ids
        env.cr.commit()
        env.invalidate_all()
    return invoice_ids


def run_baseline(env, invoice_ids):
    """(b): bare offline charging with the customer's token, one commit per invoice."""
    from odoo import Command

    Token = env["payment.token"]
    start = time.perf_counter()
    for invoice in env["account.move"].browse(invoice_ids):
        token = Token.search([("partner_id", "=", invoice.partner_id.id)], limit=1)
        tx = env["payment.transaction"].create(
            {
                "provider_id": token.provider_id.id,
                "payment_method_id": token.payment_method_id.id,
                "token_id": token.id,
                "operation": "offline",
                "amount": invoice.amount_residual,
                "currency_id": invoice.currency_id.id,
                "partner_id": invoice.partner_id.id,
                "invoice_ids": [Command.set(invoice.ids)],
            }
        )
        tx._charge_with_token()
        tx._post_process()
        env.cr.commit()
    return time.perf_counter() - start


def check(env, invoice_ids):
    """(paid invoices, transactions, invoices still pending) of ``invoice_ids``."""
    env.invalidate_all()
    Move = env["account.move"]
    paid = Move.search_count([("id", "in", invoice_ids), ("payment_state", "in", ("paid", "in_payment"))])
    txs = env["payment.transaction"].search_count([("invoice_ids", "in", invoice_ids), ("state", "=", "done")])
    pending = Move.search_count([("id", "in", invoice_ids), ("subscription_charge_pending", "=", True)])
    return paid, txs, pending


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file (db_host, addons_path, ...)")
    parser.add_argument("--n", type=int, default=2000, help="number of invoices to charge (default 2000)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    args = parser.parse_args(argv)

    init_odoo(args.config)
    exit_on_sigterm()
    db_name = f"sb_charging_bench_{args.n}_{int(time.time())}"
    t0 = time.perf_counter()
    create_database(db_name)
    try:
        registry = install(db_name)
        print(f"Database ready in {time.perf_counter() - t0:.0f} s", flush=True)
        with registry.cursor() as cr:
            env = superuser_env(cr)
            t0 = time.perf_counter()
            _provider, product, partner_ids = setup_world(env, args.n)
            print(f"Setup: {args.n} customers, tokens, subscriptions in {time.perf_counter() - t0:.1f} s", flush=True)
            t0 = time.perf_counter()
            result = env["subscription.subscription"]._run_billing_for_all(BILLING_DATE, commit=True, batch_size=200)
            billing_time = time.perf_counter() - t0
            invoice_ids = result["invoices"].ids if hasattr(result["invoices"], "ids") else list(result["invoices"])
            print(f"Billing run (creates + posts, enqueues): {len(invoice_ids)} invoices in {billing_time:.1f} s")
            bare_ids = bare_invoices(env, product, partner_ids)
            gc.collect()
            env.invalidate_all()

            time_bare = run_baseline(env, bare_ids)
            env.invalidate_all()
            gc.collect()
            t0 = time.perf_counter()
            env["subscription.payment.charging"]._cron_charge_invoices(date_ref=BILLING_DATE)
            time_ours = time.perf_counter() - t0

            paid, txs, pending = check(env, invoice_ids)
            bare_paid, bare_txs, _ = check(env, bare_ids)
            n = len(invoice_ids)
            print()
            print(f"N = {n} invoices charged ({machine_summary()})")
            print(f"(a) automatic charging job : {time_ours:8.1f} s  {n / time_ours:7.1f} charges/s")
            print(f"(b) bare offline charging  : {time_bare:8.1f} s  {n / time_bare:7.1f} charges/s")
            print(f"ratio a/b                  : {time_ours / time_bare:8.2f}")
            print(f"ratio a/billing run        : {time_ours / billing_time:8.2f}")
            print(f"check (a): {paid} paid, {txs} done transactions, {pending} still pending")
            print(f"check (b): {bare_paid} paid, {bare_txs} done transactions")
            print(f"peak RSS {peak_rss_mib():.0f} MiB")
    finally:
        if not args.keep_db:
            drop_database(db_name)


if __name__ == "__main__":
    main()
