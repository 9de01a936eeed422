"""Demo data on a German company, for ``dev.py serve`` (run once in ``odoo shell`` after installing
``l10n_de``, ``l10n_eu_oss`` and the addon with demo data; prints ``SBDEMO OK`` at the end).

Abo Software GmbH (Berlin, EUR, SKR03): VAT number, bank journal with a valid IBAN, SEPA creditor
identifier, deferred revenue account 0990, OSS positions, reverse-charge and export positions;
customers in Germany (SEPA), France (OSS), Austria (VAT number: reverse charge) and Switzerland
(export); subscriptions in every state, billed up to today; posted yearly invoices with deferred
revenue recognised up to last month; usage on a metered plan; a SEPA collection ready to generate;
a portal user with subscriptions (login and password ``anna.mueller``). The admin user opens on
this company. Dates are relative to today, so every screen has current data.

Not part of the addon (not in the wheel): developer demo only.
"""

from datetime import timedelta

from dateutil.relativedelta import relativedelta

from odoo import Command, fields

COMPANY = "Abo Software GmbH"
IBAN_CREDITOR = "DE12500105170648489890"
CREDITOR_ID = "DE98ZZZ09999999999"
PORTAL_LOGIN = PORTAL_PASSWORD = "anna.mueller"

env = env  # noqa: F821,PLW0127 - given by odoo shell
today = fields.Date.context_today(env.user)
start = today.replace(day=1) - relativedelta(months=4)  # four months of history

company = env["res.company"].search([("name", "=", COMPANY)], limit=1)
if company:
    print("SBDEMO OK (already there)")
else:
    germany = env.ref("base.de")
    # chart_template_load: no automatic install of every German localisation module (some need packages
    # the machine may not have); the chart is loaded below
    company = (
        env["res.company"]
        .with_context(chart_template_load=True)
        .create(
            {
                "name": COMPANY,
                "country_id": germany.id,
                "currency_id": env.ref("base.EUR").id,
                "street": "Friedrichstraße 123",
                "zip": "10117",
                "city": "Berlin",
                "vat": "DE123456788",
                "email": "buchhaltung@abo-software.example",
                "phone": "+49 30 1234567",
            }
        )
    )
    admin = env.ref("base.user_admin")
    admin.write({"company_ids": [Command.link(company.id)], "company_id": company.id})
    env = env(context=dict(env.context, allowed_company_ids=[company.id]), user=admin)
    company = company.with_env(env)
    env["account.chart.template"].try_loading("de_skr03", company=company, install_demo=False)
    env.flush_all()
    if env["ir.module.module"]._get("l10n_eu_oss").state == "installed":
        company._map_eu_taxes()

    # bank and SEPA
    bank_journal = env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "bank")], limit=1)
    bank_journal.bank_account_id = env["res.partner.bank"].create(
        {"partner_id": company.partner_id.id, "acc_number": IBAN_CREDITOR, "company_id": company.id}
    )
    company.write({"sepa_creditor_identifier": CREDITOR_ID, "sepa_journal_id": bank_journal.id})

    # products and plans
    tax_19 = env["account.chart.template"].with_company(company).ref("tax_ust_19_skr03")

    def product(name, price):
        return env["product.product"].create(
            {
                "name": name,
                "type": "service",
                "list_price": price,
                "subscription_ok": True,
                "taxes_id": [Command.set(tax_19.ids)],
                "company_id": company.id,
            }
        )

    cloud = product("Cloud-Hosting", 49.0)
    seats = product("Benutzerlizenz", 8.0)
    api = product("API-Aufrufe", 0.01)
    metric = env["subscription.usage.metric"].create(
        {"name": "API-Aufrufe", "code": "de_api_calls", "aggregation": "sum", "company_id": company.id}
    )

    def plan(name, code, lines, **values):
        return env["subscription.plan"].create(
            {
                "name": name,
                "code": code,
                "company_id": company.id,
                "line_ids": [Command.create(line) for line in lines],
                **values,
            }
        )

    monthly = plan(
        "Cloud Monatlich",
        "DE-M",
        [
            {"product_id": cloud.id, "price_unit": 49.0},
            {"product_id": seats.id, "price_unit": 8.0, "quantity": 5},
        ],
    )
    yearly = plan("Cloud Jährlich", "DE-Y", [{"product_id": cloud.id, "price_unit": 490.0}], billing_period_unit="year")
    metered = plan(
        "API nach Verbrauch",
        "DE-API",
        [
            {"product_id": cloud.id, "price_unit": 29.0},
            {
                "product_id": api.id,
                "price_unit": 0.01,
                "line_type": "usage",
                "metric_id": metric.id,
                "included_quantity": 1000,
            },
        ],
    )
    trial_plan = plan(
        "Cloud Test 30 Tage", "DE-T", [{"product_id": cloud.id, "price_unit": 49.0}], trial_period_count=30
    )

    # customers
    def customer(name, country, **values):
        return (
            env["res.partner"]
            .with_context(no_vat_validation=True)
            .create({"name": name, "country_id": env.ref(f"base.{country}").id, "company_id": company.id, **values})
        )

    mueller = customer(
        "Müller Maschinenbau GmbH",
        "de",
        is_company=True,
        street="Hauptstraße 5",
        zip="80331",
        city="München",
        email="buchhaltung@mueller.example",
    )
    anna = customer("Anna Müller", "de", parent_id=mueller.id, email="anna@mueller.example", type="invoice")
    max_m = customer("Max Mustermann", "de", street="Lindenweg 7", zip="50667", city="Köln", email="max@example.com")
    jeanne = customer(
        "Jeanne Martin", "fr", street="12 rue de la Paix", zip="75002", city="Paris", email="jeanne@example.fr"
    )
    wien = customer(
        "Wiener Software GmbH", "at", is_company=True, vat="ATU13585627", city="Wien", email="office@wien.example"
    )
    zurich = customer("Zürcher Treuhand AG", "ch", is_company=True, city="Zürich", email="info@zuerich.example")

    # SEPA mandates (signed before the start)
    def mandate(partner, iban, **values):
        wizard = env["sepa.mandate.wizard"].create(
            {"partner_id": partner.id, "iban": iban, "signature_date": start - timedelta(days=10), **values}
        )
        return wizard._create_mandate()

    mandate_mueller = mandate(mueller, "DE89370400440532013000", scheme="B2B", signature_place="München")
    mandate_max = mandate(max_m, "DE62370400440532013001", signature_place="Köln")

    Subscription = env["subscription.subscription"]

    def subscription(partner, plan, begin, **values):
        return Subscription.create(
            {"partner_id": partner.id, "plan_id": plan.id, "start_date": begin, "company_id": company.id, **values}
        )

    sepa = {"payment_method": "sepa_dd"}
    subs = {
        "active_sepa_b2b": subscription(mueller, monthly, start, sepa_mandate_id=mandate_mueller.id, **sepa),
        "yearly_sepa": subscription(max_m, yearly, start, sepa_mandate_id=mandate_max.id, **sepa),
        "oss_france": subscription(jeanne, monthly, start),
        "reverse_charge_austria": subscription(wien, yearly, start),
        "export_switzerland": subscription(zurich, monthly, start),
        "metered": subscription(mueller, metered, start),
        "paused": subscription(max_m, monthly, start + relativedelta(months=1)),
        "notice": subscription(jeanne, yearly, start),
        "ended": subscription(zurich, metered, start),
        "trial": subscription(wien, trial_plan, today - timedelta(days=10)),
    }
    subscription(mueller, monthly, today + timedelta(days=14))  # a draft
    for sub in subs.values():
        sub._start()
    # usage on the metered plan: a few reports per month
    records = []
    month = start
    while month <= today:
        for day, calls in ((3, 900), (12, 1400), (24, 700)):
            stamp = month.replace(day=day)
            if stamp <= today:
                records.append(
                    {
                        "subscription_id": subs["metered"].id,
                        "metric": metric.code,
                        "quantity": calls,
                        "timestamp": fields.Datetime.to_datetime(stamp) + timedelta(hours=10),
                        "idempotency_key": f"demo-{stamp.isoformat()}",
                    }
                )
        month += relativedelta(months=1)
    env["subscription.usage.record"]._ingest(records)

    # bill month by month up to today (catch-up), with the lifecycle events in between
    subs["ended"]._request_cancellation(
        start + timedelta(days=5), reason="Projekt beendet", end_date=start + relativedelta(months=2, days=-1)
    )
    month = start
    while month <= today:
        Subscription.search([("company_id", "=", company.id)])._run_billing(month)
        if month == start + relativedelta(months=2):
            subs["paused"]._pause(month + timedelta(days=9))
            subs["ended"]._cron_update_states(month)
        month += relativedelta(months=1)
    Subscription.search([("company_id", "=", company.id)])._run_billing(today)
    subs["notice"]._request_cancellation(today - timedelta(days=3), reason="Zu teuer")

    # deferred revenue of the yearly invoices recognised up to last month's end
    env["deferred.revenue.schedule.line"]._recognise_until(today.replace(day=1) - timedelta(days=1))

    # a collection of the due direct-debit invoices, ready to generate the pain.008
    collection = env["sepa.collection"].create({"company_id": company.id, "date_ref": today + timedelta(days=30)})
    collection.action_gather()

    # portal user for Müller Maschinenbau
    env["res.users"].with_context(no_reset_password=True).create(
        {
            "name": anna.name,
            "login": PORTAL_LOGIN,
            "password": PORTAL_PASSWORD,
            "partner_id": anna.id,
            "company_id": company.id,
            "company_ids": [Command.set(company.ids)],
            "group_ids": [Command.set(env.ref("base.group_portal").ids)],
        }
    )
    env.cr.commit()
    invoices = env["account.move"].search_count([("company_id", "=", company.id), ("move_type", "=", "out_invoice")])
    print(f"SBDEMO OK {COMPANY}: {len(subs) + 1} subscriptions, {invoices} invoices, collection {collection.name}")
