"""Test data of the SDK phase of ``dev.py test``: run by ``odoo shell`` on the throw-away database.

Creates an API user with an API key, a plan family with a usage-metered plan and an upgrade,
one customer with a running subscription (for the self-service session calls) and the browser
origins the company allows, commits, and prints ``SBSDK NAME VALUE`` lines that dev.py hands to
``node --test`` as environment variables. ``env`` is the shell's environment (superuser).
"""

# ruff: noqa: F821 - ``env`` is provided by odoo shell
from odoo import Command, fields
from odoo.tests import new_test_user


def marker(name, value):
    print("SBSDK", name, value, flush=True)


company = env.company
company.subscription_sdk_allowed_origins = "https://shop.example.com"
currency = company.currency_id
user = new_test_user(
    env,
    login="sdk_api",
    groups="subscription_billing.group_subscription_api",
    company_id=company.id,
    name="SDK tests",
)
key = env["res.users.apikeys"].with_user(user).sudo()._generate(scope="rpc", name="sdk tests", expiration_date=None)
product = env["product.product"].create(
    {"name": "SDK Hosting", "type": "service", "list_price": 10.0, "subscription_ok": True}
)
metric = env["subscription.usage.metric"].create({"name": "SDK calls", "code": "sdk_calls", "aggregation": "sum"})
family = env["subscription.plan.family"].create({"name": "SDK plans", "company_id": company.id})


def plan(code, name, price, rank):
    return env["subscription.plan"].create(
        {
            "code": code,
            "name": name,
            "company_id": company.id,
            "currency_id": currency.id,
            "family_id": family.id,
            "rank": rank,
            "portal_pause_allowed": True,
            "portal_max_pause_days": 60,
            "line_ids": [
                Command.create({"product_id": product.id, "quantity": 1.0, "price_unit": price}),
                Command.create(
                    {
                        "product_id": product.id,
                        "name": "Calls",
                        "price_unit": 0.0,
                        "line_type": "usage",
                        "pricing_model": "per_unit",
                        "metric_id": metric.id,
                    }
                ),
            ],
        }
    )


basic = plan("SDK-B", "SDK Basic", 10.0, 1)
pro = plan("SDK-P", "SDK Pro", 20.0, 2)
customer = env["res.partner"].create({"name": "SDK Kunde GmbH", "company_id": company.id, "customer_rank": 1})
today = fields.Date.context_today(env.user)
other = env["subscription.subscription"].create(
    {"partner_id": customer.id, "plan_id": basic.id, "start_date": today, "company_id": company.id}
)
other._start(date_ref=today)
env.cr.commit()

marker("SB_API_KEY", key)
marker("SB_PLAN_ID", basic.id)
marker("SB_PLAN_UPGRADE_ID", pro.id)
marker("SB_FAMILY_ID", family.id)
marker("SB_METRIC_CODE", metric.code)
marker("SB_OTHER_SUBSCRIPTION_ID", other.id)
marker("SB_ALLOWED_ORIGIN", "https://shop.example.com")
marker("SB_SETUP", "done")
