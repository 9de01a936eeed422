"""Two companies with one record of every model of the addon, and users of every group.

Used by the access matrix (``test_access_matrix.py``) and its HTTP probes.
"""

import base64
from datetime import date, datetime

from odoo import Command
from odoo.tests import new_test_user

from .common import SubscriptionCommon

#: probing users: key -> groups (comma-separated xml ids, as new_test_user takes them)
GROUPS = {
    "employee": "base.group_user",
    "invoicing": "account.group_account_invoice",
    "accountant": "account.group_account_manager",
    "sub_user": "subscription_billing.group_subscription_user",
    "sub_manager": "subscription_billing.group_subscription_manager",
    "portal": "base.group_portal",
}

IBANS = {1: "DE89370400440532013000", 2: "DE62370400440532013001"}


class SecurityWorldCommon(SubscriptionCommon):
    """``cls.world[n][model_key]``: a record of each model in company ``n`` (1 or 2).

    Business records are created as superuser; transient records by
    ``cls.creators[n]``, a user of company ``n`` with every group, so that
    the probing users are *not* their creators.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_1 = cls.env.company
        cls.company_2 = cls.setup_other_company()["company"]
        cls.companies = {1: cls.company_1, 2: cls.company_2}
        cls.metric_product = cls.env["product.product"].create(
            {"name": "API calls", "type": "service", "subscription_ok": True, "taxes_id": [Command.clear()]}
        )
        cls.creators = {
            n: new_test_user(
                cls.env,
                login=f"creator_{n}",
                groups="subscription_billing.group_subscription_manager,account.group_account_manager",
                company_id=company.id,
                company_ids=[Command.set(company.ids)],
            )
            for n, company in cls.companies.items()
        }
        cls.users = {
            key: new_test_user(
                cls.env,
                login=f"probe_{key}",
                groups=groups,
                company_id=cls.company_1.id,
                company_ids=[Command.set(cls.company_1.ids)],
            )
            for key, groups in GROUPS.items()
        }
        cls.reason = cls.env["sepa.return.reason"].search([], limit=1) or cls.env["sepa.return.reason"].create(
            {"code": "AM04", "name": "Insufficient funds", "action": "dunning"}
        )
        cls.world = {n: cls._build_world(n) for n in cls.companies}

    @classmethod
    def _build_world(cls, n):
        company = cls.companies[n]
        env = cls.env(su=True, context=dict(cls.env.context, allowed_company_ids=[company.id]))
        currency = company.currency_id
        company.sepa_creditor_identifier = "DE98ZZZ09999999999"
        metric = env["subscription.usage.metric"].create(
            {"name": f"Calls {n}", "code": f"calls{n}", "company_id": company.id, "aggregation": "sum"}
        )
        family = env["subscription.plan.family"].create({"name": f"Family {n}", "company_id": company.id})
        plan = env["subscription.plan"].create(
            {
                "name": f"Plan {n}",
                "code": f"SEC{n}",
                "company_id": company.id,
                "family_id": family.id,
                "currency_id": currency.id,
                "line_ids": [
                    Command.create({"product_id": cls.product_hosting.id, "name": "Hosting", "price_unit": 10.0}),
                    Command.create(
                        {
                            "product_id": cls.metric_product.id,
                            "name": "Calls",
                            "price_unit": 0.5,
                            "line_type": "usage",
                            "metric_id": metric.id,
                        }
                    ),
                ],
            }
        )
        plan_line = plan.line_ids[0]
        other_currency = env.ref("base.CHF" if currency.name != "CHF" else "base.EUR")
        other_currency.active = True
        plan_price = env["subscription.plan.price"].create(
            {"plan_line_id": plan_line.id, "currency_id": other_currency.id, "price_unit": 9.0}
        )
        plan_tier = env["subscription.price.tier"].create(
            {"plan_line_id": plan_line.id, "currency_id": currency.id, "up_to_unlimited": True, "unit_price": 10.0}
        )
        partner = env["res.partner"].create({"name": f"Customer {n}", "company_id": company.id})
        sub = env["subscription.subscription"].create(
            {"partner_id": partner.id, "plan_id": plan.id, "start_date": date(2026, 1, 1), "company_id": company.id}
        )
        sub.action_start()
        sub_line = sub.line_ids.filtered(lambda line: line.line_type == "recurring")
        # the line copied the plan's tier
        sub_tier = sub_line.tier_ids[:1] or env["subscription.price.tier"].create(
            {
                "subscription_line_id": sub_line.id,
                "currency_id": currency.id,
                "up_to_unlimited": True,
                "unit_price": 10.0,
            }
        )
        usage = env["subscription.usage.record"].create(
            {
                "subscription_id": sub.id,
                "metric_id": metric.id,
                "quantity": 3.0,
                "timestamp": "2026-01-05 10:00:00",
                "idempotency_key": f"sec-{n}",
            }
        )
        charge = env["subscription.charge"].create(
            {"subscription_id": sub.id, "product_id": cls.product_support.id, "name": "Training", "price_unit": 50.0}
        )
        discount = env["subscription.discount"].create(
            {"subscription_id": sub.id, "name": "Loyalty", "discount_type": "percent", "percent": 5.0}
        )
        coupon = env["subscription.coupon"].create(
            {"name": f"Welcome {n}", "code": f"WELCOME{n}", "company_id": company.id, "percent": 10.0}
        )
        change = env["subscription.change"].create(
            {
                "subscription_id": sub.id,
                "change_type": "upgrade",
                "timing": "period_end",
                "effective_date": date(2026, 2, 1),
                "old_plan_id": plan.id,
                "new_plan_id": plan.id,
                "target": {"probe": True},
            }
        )
        mandate = (
            env["sepa.mandate.wizard"]
            .create({"partner_id": partner.id, "iban": IBANS[n], "signature_date": date(2025, 12, 1)})
            ._create_mandate()
        )
        invoice = env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": partner.id,
                "invoice_date": date(2026, 1, 1),
                "invoice_line_ids": [
                    Command.create({"name": "Hosting", "quantity": 1, "price_unit": 10.0, "tax_ids": []})
                ],
            }
        )
        journal = env["account.journal"].search(
            [("company_id", "=", company.id), ("type", "=", "bank")], limit=1
        ) or env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "general")], limit=1)
        collection = env["sepa.collection"].create(
            {"company_id": company.id, "date_ref": date(2026, 1, 10), "journal_id": journal.id}
        )
        collection_line = env["sepa.collection.line"].create(
            {
                "collection_id": collection.id,
                "invoice_id": invoice.id,
                "partner_id": partner.id,
                "mandate_id": mandate.id,
                "amount": 10.0,
                "collection_date": date(2026, 1, 10),
                "sequence_type": "FRST",
                "end_to_end_id": f"SEC-E2E-{n}",
                "scheme": "CORE",
            }
        )
        sepa_return = env["sepa.return"].create(
            {
                "collection_line_id": collection_line.id,
                "reason_id": cls.reason.id,
                "return_date": date(2026, 1, 20),
                "amount": 10.0,
            }
        )
        move_line = invoice.invoice_line_ids[:1]
        misc_journal = env["account.journal"].search(
            [("company_id", "=", company.id), ("type", "=", "general")], limit=1
        )
        schedule = env["deferred.revenue.schedule"].create(
            {
                "move_line_id": move_line.id,
                "currency_id": currency.id,
                "revenue_account_id": move_line.account_id.id,
                "deferred_account_id": move_line.account_id.id,
                "journal_id": misc_journal.id,
                "date": date(2026, 1, 1),
                "date_start": date(2026, 1, 1),
                "date_end": date(2026, 12, 31),
            }
        )
        schedule_line = env["deferred.revenue.schedule.line"].create(
            {"schedule_id": schedule.id, "date": date(2026, 1, 31), "amount": 10.0}
        )
        dunning = cls._build_dunning_world(env, company, partner, invoice)
        declaration = env["subscription.cancellation.declaration"].create(
            {
                "receipt_datetime": datetime(2026, 3, 10, 9, 0),
                "request_date": date(2026, 3, 10),
                "customer_name": partner.name,
                "email": "cancel@example.com",
                "kind": "ordinary",
                "end_choice": "earliest",
                "confirmation_email": "cancel@example.com",
                "company_id": company.id,
                "outcome": "merchant",
            }
        )
        world = {
            **dunning,
            "subscription.cancellation.declaration": declaration,
            "subscription.cancellation.reason": env.ref("subscription_billing.cancellation_reason_other"),
            "subscription.portal.session": env["subscription.portal.session"]._issue(sub)[0].sudo(),
            "subscription.signup": env["subscription.signup"].create(
                {"submission_key": f"sec-signup-{n}", "email": "signup@example.com", "company_id": company.id}
            ),
            "subscription.usage.metric": metric,
            "subscription.plan.family": family,
            "subscription.plan": plan,
            "subscription.plan.line": plan_line,
            "subscription.plan.price": plan_price,
            "subscription.price.tier (plan)": plan_tier,
            "subscription.subscription": sub,
            "subscription.line": sub_line,
            "subscription.price.tier (subscription)": sub_tier,
            "subscription.usage.record": usage,
            "subscription.charge": charge,
            "subscription.discount": discount,
            "subscription.coupon": coupon,
            "subscription.change": change,
            "subscription.mrr.movement": env["subscription.mrr.movement"].search([("subscription_id", "=", sub.id)]),
            "sepa.mandate": mandate,
            "sepa.collection": collection,
            "sepa.collection.line": collection_line,
            "sepa.return": sepa_return,
            "deferred.revenue.schedule": schedule,
            "deferred.revenue.schedule.line": schedule_line,
            "partner": partner,
            "invoice": invoice,
        }
        world.update(cls._build_webhook_world(env, company, sub))
        creator_env = env(user=cls.creators[n], su=False)
        for key, vals in cls._transient_values(world, n).items():
            model = key.split(" ")[0]
            world[key] = creator_env[model].create(vals)
        line_vals = cls._transient_child_values(world)
        for key, vals in line_vals.items():
            world[key] = creator_env[key].create(vals)
        creator_env.flush_all()
        wizard = world["subscription.change.wizard"]
        if not world["subscription.change.wizard.line"].exists():
            # the wizard computes its lines from the plan: take one of those (also created by the creator)
            world["subscription.change.wizard.line"] = creator_env["subscription.change.wizard.line"].search(
                [("wizard_id", "=", wizard.id)], limit=1
            )
        return world

    @classmethod
    def _build_webhook_world(cls, env, company, sub):
        """A webhook endpoint of ``company`` with an event, its delivery and a failed attempt."""
        endpoint = env["subscription.webhook.endpoint"].create(
            {"name": f"Hooks {company.name}", "url": "https://hooks.example/in", "company_id": company.id}
        )
        event = env["subscription.webhook.event"].create(
            {"event_type": "subscription.created", "company_id": company.id, "res_model": sub._name, "res_id": sub.id}
        )
        delivery = env["subscription.webhook.delivery"].create(
            {"event_id": event.id, "endpoint_id": endpoint.id, "company_id": company.id}
        )
        attempt = env["subscription.webhook.attempt"].create(
            {"delivery_id": delivery.id, "attempt_date": "2026-01-01 10:00:00", "status_code": 500}
        )
        return {
            "subscription.webhook.endpoint": endpoint,
            "subscription.webhook.event": event,
            "subscription.webhook.delivery": delivery,
            "subscription.webhook.attempt": attempt,
        }

    @classmethod
    def _transient_values(cls, world, n):
        """Values of a record of each transient model, for the world of company ``n``."""
        sub = world["subscription.subscription"]
        return {
            "deferred.revenue.recognition.wizard": {},
            "deferred.revenue.report": {"company_id": cls.companies[n].id},
            "sepa.mandate.wizard": {"partner_id": world["partner"].id, "iban": IBANS[n]},
            "sepa.return.wizard": {"collection_line_id": world["sepa.collection.line"].id, "reason_id": cls.reason.id},
            "sepa.status.import.wizard": {"data_file": base64.b64encode(b"<Document/>"), "filename": f"status{n}.xml"},
            "subscription.billing.run.wizard": {"date_ref": date(2026, 1, 1), "company_id": cls.companies[n].id},
            "subscription.cancel.wizard": {"subscription_id": sub.id, "request_date": date(2026, 1, 15)},
            "subscription.change.wizard": {"subscription_id": sub.id, "new_plan_id": sub.plan_id.id},
            "subscription.coupon.wizard": {"subscription_id": sub.id, "code": f"WELCOME{n}"},
            "subscription.receivable.statement": {
                "partner_id": world["partner"].id,
                "company_id": cls.companies[n].id,
            },
            "subscription.dunning.run.wizard": {"date_ref": date(2026, 3, 1), "company_id": cls.companies[n].id},
            "subscription.kpi.report": {
                "date_from": date(2026, 1, 1),
                "date_to": date(2026, 1, 31),
                "company_id": cls.companies[n].id,
            },
            "subscription.billing.forecast.report": {
                "date_from": date(2026, 1, 1),
                "date_to": date(2026, 1, 31),
                "company_id": cls.companies[n].id,
            },
        }

    @classmethod
    def _transient_child_values(cls, world):
        return {
            "deferred.revenue.report.line": {
                "report_id": world["deferred.revenue.report"].id,
                "month": date(2026, 1, 31),
                "closing": 1234.0,
            },
            "subscription.change.wizard.line": {
                "wizard_id": world["subscription.change.wizard"].id,
                "plan_line_id": world["subscription.plan.line"].id,
            },
            "subscription.receivable.statement.line": {
                "statement_id": world["subscription.receivable.statement"].id,
                "move_line_id": world["invoice"].line_ids[:1].id,
                "amount": 10.0,
            },
            "subscription.dunning.run.wizard.line": {"wizard_id": world["subscription.dunning.run.wizard"].id},
            "subscription.kpi.cohort.line": {
                "report_id": world["subscription.kpi.report"].id,
                "cohort_month": date(2026, 1, 1),
            },
            "subscription.billing.forecast.line": {
                "report_id": world["subscription.billing.forecast.report"].id,
                "invoice_date": date(2026, 1, 1),
            },
        }

    @classmethod
    def _build_dunning_world(cls, env, company, partner, invoice):
        """A dunning level, base rate, letter and history entry of ``company``."""
        level = env["subscription.dunning.level"].create(
            {"name": "Reminder", "company_id": company.id, "days_after_due": 7}
        )
        rate = env["subscription.dunning.base.rate"].search([], limit=1)
        letter = env["subscription.dunning.letter"].create(
            {"partner_id": partner.id, "company_id": company.id, "date": date(2026, 2, 1), "level_id": level.id}
        )
        entry = env["subscription.dunning.entry"].create(
            {
                "invoice_id": invoice.id,
                "partner_id": partner.id,
                "level_id": level.id,
                "letter_id": letter.id,
                "company_id": company.id,
                "date": date(2026, 2, 1),
            }
        )
        return {
            "subscription.dunning.level": level,
            "subscription.dunning.base.rate": rate,
            "subscription.dunning.letter": letter,
            "subscription.dunning.entry": entry,
        }
