#!/usr/bin/env python3
"""Benchmark: a SEPA direct-debit collection of N invoices, gathered, written to pain.008 and booked.

Creates a fresh database with subscription_billing and a creditor company
(creditor identifier, a bank journal on a valid IBAN, the invoices in EUR),
N customers each with a valid German IBAN and an active mandate (one in ten
a business on the B2B scheme, two mandates in three already collected once,
so the file has FRST and RCUR blocks of both schemes) and one posted EUR
invoice each on that mandate, dated over the last 7 days (so 7 collection
dates, 14 days after the invoice dates). That is setup; then it measures,
each step committed like the separate requests of a user:

(1) gather: ``sepa.collection.create`` + ``action_gather()`` (one line per
    invoice due for debit up to the collection's date);
(2) generate: ``action_generate()`` (pain.008.001.08 built and validated
    against the XSD, attached to the collection);
(3) book: ``action_book()`` (one entry with a line per invoice, posted, and
    the N invoices reconciled with it; the mandates marked collected).

It prints the time of each step, invoices/s and ms per invoice, the file size,
a breakdown of (2) (collecting the data, building the XML, XSD validation,
measured again on their own), and checks that every invoice is paid, that the
file reads back (``read_pain008``) with N transactions and the invoices' total,
and the peak RSS.

    python3 benchmarks/sepa_collection_benchmark.py -c odoo.conf --n 1000
    python3 benchmarks/sepa_collection_benchmark.py -c odoo.conf
    python3 benchmarks/sepa_collection_benchmark.py -c odoo.conf --profile book.prof --profile-step book
"""

import argparse
import base64
import cProfile
import gc
import sys
import time
from datetime import timedelta
from decimal import Decimal
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
    machine_summary,
    peak_rss_mib,
    sale_journal,
    superuser_env,
)

BATCH_SIZE = 1000
CREDITOR_ID = "DE98ZZZ09999999999"
CREDITOR_IBAN = "DE89370400440532013000"
#: debtor accounts at this bank (Commerzbank Köln, COBADEFFXXX), running account numbers
DEBTOR_BANK_CODE = "37040044"
#: the invoices are dated over the last week (due on their date): debit dates 14 days later, one date a day
INVOICE_DAYS = 7
STEPS = ("gather", "generate", "book")


def german_ibans(count):
    """``count`` distinct valid German IBANs at :data:`DEBTOR_BANK_CODE` (national check digit included)."""
    from schwifty import IBAN

    ibans = []
    base = 100000
    while len(ibans) < count:
        base += 1
        for digit in range(10):  # the bank's check-digit method accepts one last digit of ten
            try:
                iban = IBAN.generate("DE", bank_code=DEBTOR_BANK_CODE, account_code=f"{base}{digit}")
                ibans.append(IBAN(iban.compact, validate_bban=True).compact)
                break
            except ValueError:
                continue
    return ibans


def setup_company(env, company_currency):
    """EUR active (the company's currency if ``company_currency`` is EUR), chart, creditor id, bank journal."""
    company = env.company
    eur = env.ref("base.EUR")
    eur.active = True
    if company_currency == "EUR" and company.currency_id != eur:
        company.currency_id = eur  # a fresh database: no journal item yet
    ensure_chart(env)
    journal = env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "bank")], limit=1)
    if not journal:
        journal = env["account.journal"].create({"name": "Bank", "code": "BNK1", "type": "bank"})
    bank_account = env["res.partner.bank"].create({"partner_id": company.partner_id.id, "acc_number": CREDITOR_IBAN})
    journal.bank_account_id = bank_account
    company.write(
        {
            "sepa_creditor_identifier": CREDITOR_ID,
            "sepa_journal_id": journal.id,
            "sepa_pain_version": "pain.008.001.08",
        }
    )
    env.cr.commit()
    return eur, journal


def setup_debtors(env, n, today):
    """N customers, each with a bank account and an active mandate; returns the mandates' ids."""
    partner_vals = [
        {"name": f"Benchmark customer {i} Müller & Söhne", "is_company": i % 10 == 0, "city": "Köln"} for i in range(n)
    ]
    ibans = german_ibans(n)
    mandate_ids = []
    for start in range(0, n, BATCH_SIZE):
        stop = min(start + BATCH_SIZE, n)
        partners = env["res.partner"].create(partner_vals[start:stop])
        banks = env["res.partner.bank"].create(
            [
                {"partner_id": partner.id, "acc_number": iban}
                for partner, iban in zip(partners, ibans[start:stop], strict=True)
            ]
        )
        mandates = env["sepa.mandate"].create(
            [
                {
                    "partner_id": partner.id,
                    "partner_bank_id": bank.id,
                    "signature_date": today - timedelta(days=400),
                    "signature_place": "Köln",
                    "consent_channel": "online",
                    "scheme": "B2B" if partner.is_company else "CORE",
                    "mandate_type": "recurrent",
                }
                for partner, bank in zip(partners, banks, strict=True)
            ]
        )
        mandates.action_activate()
        # two mandates in three were collected before: their next debit is RCUR, the others' FRST
        collected = mandates.browse([mandate_id for k, mandate_id in enumerate(mandates.ids) if (start + k) % 3])
        collected.write(
            {
                "first_collection_date": today - timedelta(days=365),
                "last_collection_date": today - timedelta(days=30),
            }
        )
        mandate_ids += mandates.ids
        env.cr.commit()
        env.invalidate_all()
    return mandate_ids


def setup_invoices(env, mandate_ids, eur, today):
    """One posted EUR invoice per mandate (various amounts and dates, the default sales tax); returns their ids."""
    from odoo import Command

    product = env["product.product"].create({"name": "Benchmark subscription", "type": "service", "list_price": 10})
    taxes = product.taxes_id._filter_taxes_by_company(env.company)
    journal = sale_journal(env)
    invoice_ids = []
    for start in range(0, len(mandate_ids), BATCH_SIZE):
        mandates = env["sepa.mandate"].browse(mandate_ids[start : start + BATCH_SIZE])
        dates = [today - timedelta(days=(start + index) % INVOICE_DAYS) for index in range(len(mandates))]
        moves = (
            env["account.move"]
            .with_context(default_move_type="out_invoice")
            .create(
                [
                    {
                        "move_type": "out_invoice",
                        "partner_id": mandate.partner_id.id,
                        "journal_id": journal.id,
                        "currency_id": eur.id,
                        "invoice_date": dates[index],
                        "invoice_date_due": dates[index],
                        "invoice_origin": f"SUB/{today.year}/{start + index:05d}",
                        "sepa_mandate_id": mandate.id,
                        "invoice_line_ids": [
                            Command.create(
                                {
                                    "product_id": product.id,
                                    "name": "Benchmark subscription, monthly",
                                    "quantity": 1.0,
                                    "price_unit": 20.0 + (start + index) % 80 + 0.99,
                                    "tax_ids": [Command.set(taxes.ids)],
                                }
                            )
                        ],
                    }
                    for index, mandate in enumerate(mandates)
                ]
            )
        )
        moves._post()
        invoice_ids += moves.ids
        env.cr.commit()
        env.invalidate_all()
    return invoice_ids


def run_step(env, function, profiler=None):
    """Run ``function()`` with a cold cache and commit; returns (seconds, result)."""
    env.invalidate_all()
    gc.collect()
    start = time.perf_counter()
    if profiler:
        profiler.enable()
    result = function()
    env.cr.commit()
    if profiler:
        profiler.disable()
    return time.perf_counter() - start, result


def generate_breakdown(env, collection):
    """The parts of (2) timed on their own: message data from the ORM, XML build, XSD validation, read-back."""
    from odoo.addons.subscription_billing.billing_core import sepa

    env.invalidate_all()
    timings = {}
    start = time.perf_counter()
    message = collection._prepare_message()
    timings["collect data (_prepare_message)"] = time.perf_counter() - start
    start = time.perf_counter()
    xml = sepa.build_pain008(message, version=collection.pain_version)
    timings["build XML (build_pain008)"] = time.perf_counter() - start
    start = time.perf_counter()
    sepa.validate_pain008(xml, version=collection.pain_version)
    timings["XSD validation (validate_pain008)"] = time.perf_counter() - start
    start = time.perf_counter()
    sepa.read_pain008(xml)
    timings["read-back (read_pain008, not in (2))"] = time.perf_counter() - start
    return timings


def check_results(env, collection, invoice_ids, mandate_ids):
    """Figures to check after booking: paid invoices, the file read back, the entry, the mandates."""
    from odoo.addons.subscription_billing.billing_core import sepa

    env.invalidate_all()
    invoices = env["account.move"].browse(invoice_ids)
    paid = env["account.move"].search_count(
        [("id", "in", invoice_ids), ("payment_state", "in", ("paid", "in_payment"))]
    )
    expected_sum = sum((Decimal(str(amount)) for amount in invoices.mapped("amount_total")), Decimal(0))
    summary = sepa.read_pain008(base64.b64decode(collection.xml_file))
    mandates_frst = env["sepa.mandate"].search_count([("id", "in", mandate_ids), ("first_collection_date", "=", False)])
    return {
        "paid": paid,
        "expected_sum": expected_sum,
        "file_count": summary.count,
        "file_sum": summary.control_sum,
        "blocks": [
            f"{info.scheme}/{info.sequence_type}/{info.collection_date}: {info.count}" for info in summary.payment_infos
        ],
        "end_to_end_unique": len({tx.end_to_end_id for info in summary.payment_infos for tx in info.transactions}),
        "collection_state": collection.state,
        "transaction_count": collection.transaction_count,
        "refused": len(collection.refused_line_ids),
        "move_state": collection.move_id.state,
        "move_lines": len(collection.move_id.line_ids),
        "mandates_still_frst": mandates_frst,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("-c", "--config", required=True, help="Odoo configuration file (db_host, addons_path, ...)")
    parser.add_argument("--n", type=int, default=10000, help="number of customers / invoices (default 10000)")
    parser.add_argument(
        "--company-currency",
        choices=["EUR", "USD"],
        default="EUR",
        help="currency of the company (default EUR; the invoices are in EUR either way)",
    )
    parser.add_argument("--db", help="database name (default: sb_sepa_bench_<n>_<time>)")
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database afterwards")
    parser.add_argument("--profile", help="write cProfile statistics to this file (and print the top functions)")
    parser.add_argument(
        "--profile-step", choices=[*STEPS, "all"], default="all", help="step(s) to profile (default all)"
    )
    args = parser.parse_args(argv)

    from odoo import fields

    init_odoo(args.config)
    # a terminated run (SIGTERM, e.g. a timeout) still drops its database in the ``finally`` below
    exit_on_sigterm()
    db_name = args.db or f"sb_sepa_bench_{args.n}_{int(time.time())}"
    t0 = time.perf_counter()
    create_database(db_name)
    profiler = cProfile.Profile() if args.profile else None
    times = {}
    try:
        registry = install_addon(db_name)
        print(f"Database ready in {time.perf_counter() - t0:.0f} s", flush=True)
        with registry.cursor() as cr:
            env = superuser_env(cr)
            today = fields.Date.context_today(env["res.partner"])
            t0 = time.perf_counter()
            eur, journal = setup_company(env, args.company_currency)
            mandate_ids = setup_debtors(env, args.n, today)
            print(f"Setup: {args.n} customers with IBAN and mandate in {time.perf_counter() - t0:.1f} s", flush=True)
            t0 = time.perf_counter()
            invoice_ids = setup_invoices(env, mandate_ids, eur, today)
            print(f"Setup: {len(invoice_ids)} posted invoices in {time.perf_counter() - t0:.1f} s", flush=True)
            debit_dates = env["account.move"].browse(invoice_ids).mapped("sepa_debit_date")
            date_ref = max(debit_dates)
            print(
                f"Company currency {env.company.currency_id.name}, invoices in EUR dated "
                f"{today - timedelta(days=INVOICE_DAYS - 1)}..{today}, debit dates {min(debit_dates)}.."
                f"{max(debit_dates)}, collection of the invoices due up to {date_ref}",
                flush=True,
            )
            gc.collect()
            rss_before = current_rss_mib()

            def step_profiler(step):
                return profiler if profiler and args.profile_step in (step, "all") else None

            def gather():
                collection = env["sepa.collection"].create({"date_ref": date_ref, "journal_id": journal.id})
                collection.action_gather()
                return collection

            times["gather"], collection = run_step(env, gather, step_profiler("gather"))
            print(
                f"(1) gather:   {times['gather']:8.2f} s  ({len(collection.line_ids)} included, "
                f"{len(collection.refused_line_ids)} refused)",
                flush=True,
            )
            times["generate"], _ = run_step(env, collection.action_generate, step_profiler("generate"))
            xml_size = len(base64.b64decode(collection.xml_file))
            print(f"(2) generate: {times['generate']:8.2f} s  (file {xml_size / 1024 / 1024:.2f} MiB)", flush=True)
            times["book"], _ = run_step(env, collection.action_book, step_profiler("book"))
            print(f"(3) book:     {times['book']:8.2f} s  (entry {collection.move_id.name})", flush=True)
            rss_after = current_rss_mib()
            breakdown = generate_breakdown(env, collection)
            checks = check_results(env, collection, invoice_ids, mandate_ids)
            collection_name = collection.name
    finally:
        if not args.keep_db:
            drop_database(db_name)

    if profiler:
        dump_profile(profiler, args.profile, top_cumulative=45)
        print(f"cProfile statistics of step(s) {args.profile_step} written to {args.profile}")

    n = args.n
    total = sum(times.values())
    print()
    print(
        f"SEPA collection {collection_name} of {n} invoices, pain.008.001.08; Odoo {machine_summary()}"
        + (" (under cProfile: times inflated)" if profiler else "")
    )
    for index, step in enumerate(STEPS, start=1):
        seconds = times[step]
        rates = f"{n / seconds:8.0f} invoices/s  {1000 * seconds / n:7.3f} ms/invoice"
        print(f"({index}) {step:9s} {seconds:8.2f} s  {rates}")
    print(f"    total     {total:8.2f} s  {n / total:8.0f} invoices/s  {1000 * total / n:7.3f} ms/invoice")
    print(f"pain.008 file: {xml_size:,} bytes ({xml_size / n:.0f} bytes/transaction); blocks {checks['blocks']}")
    print("(2) on its own: " + ", ".join(f"{label} {seconds:.2f} s" for label, seconds in breakdown.items()))
    print(
        f"checks: {checks['paid']}/{n} invoices paid; file reads back with {checks['file_count']} transactions "
        f"({checks['end_to_end_unique']} distinct end-to-end ids), control sum {checks['file_sum']} "
        f"(invoices total {checks['expected_sum']}); collection {checks['collection_state']} with "
        f"{checks['transaction_count']} transactions, {checks['refused']} refused; entry {checks['move_state']} "
        f"with {checks['move_lines']} lines; {checks['mandates_still_frst']} mandates still FRST"
    )
    print(f"RSS: {rss_before:.0f} MiB before (1), {rss_after:.0f} MiB after (3); peak RSS {peak_rss_mib():.0f} MiB")
    ok = (
        checks["paid"] == n
        and checks["file_count"] == n
        and checks["end_to_end_unique"] == n
        and checks["file_sum"] == checks["expected_sum"]
        and checks["collection_state"] == "booked"
        and checks["transaction_count"] == n
        and not checks["refused"]
        and checks["move_state"] == "posted"
        and checks["move_lines"] == n + 1
        and not checks["mandates_still_frst"]
    )
    print("checks:", "OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
