"""Automatic charging with committed data and several database cursors: a crash between the committed
transaction and the provider's answer, and two workers charging the same invoice at once.

The data is committed in the year 2092, which no other test charges; the provider is disabled again
after each test.
"""

import unittest
import uuid
from datetime import date

from odoo import SUPERUSER_ID, Command, api
from odoo.tests import tagged
from odoo.tools import mute_logger

from .common import CommittedDataCase


@tagged("post_install", "-at_install", "subscription_billing")
class TestPaymentChargingWorkers(CommittedDataCase):
    DAY = date(2092, 1, 1)

    def setUp(self):
        super().setUp()
        if self.env["ir.module.module"]._get("payment_demo").state != "installed":
            raise unittest.SkipTest("payment_demo is not installed: the automatic charging tests need its provider")
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            company = self._main_company_with_chart(env)
            method = env.ref("payment_demo.payment_method_demo")
            method.active = True
            provider = env["payment.provider"].create(
                {
                    "name": f"Demo (charging workers {uuid.uuid4().hex[:8]})",
                    "code": "demo",
                    "state": "test",
                    "company_id": company.id,
                    "allow_tokenization": True,
                    "payment_method_ids": [Command.set(method.ids)],
                }
            )
            if not provider.journal_id:
                provider.journal_id = env["account.journal"].search(
                    [("company_id", "=", company.id), ("type", "=", "bank")], limit=1
                )
            product = env["product.product"].create(
                {"name": "Charged hosting", "type": "service", "subscription_ok": True, "taxes_id": False}
            )
            plan = env["subscription.plan"].create(
                {
                    "name": "Charged monthly",
                    "code": f"CHG-{uuid.uuid4().hex}",
                    "company_id": company.id,
                    "line_ids": [Command.create({"product_id": product.id, "price_unit": 10.0})],
                }
            )
            partner = env["res.partner"].create({"name": "Charged customer"})
            token = env["payment.token"].create(
                {
                    "provider_id": provider.id,
                    "payment_method_id": method.id,
                    "partner_id": partner.id,
                    "payment_details": "4242",
                    "provider_ref": f"workers-{uuid.uuid4().hex}",
                    "demo_simulated_state": "done",
                }
            )
            sub = env["subscription.subscription"].create(
                {
                    "partner_id": partner.id,
                    "plan_id": plan.id,
                    "start_date": self.DAY,
                    "company_id": company.id,
                    "payment_method": "token",
                    "payment_token_id": token.id,
                }
            )
            sub._start(date_ref=self.DAY)
            sub._run_billing(self.DAY)
            # an invoice dated in 2092 waits for its date when posted softly: post it now
            drafts = sub.invoice_ids.filtered(lambda m: m.state == "draft")
            drafts.auto_post = "no"
            drafts._post(soft=False)
            self.invoice_id = sub.invoice_ids.id
            self.provider_id = provider.id
            cr.commit()  # pylint: disable=invalid-commit  # the workers under test run in their own cursors
            # deleted after the test with the invoice, its transactions, payments and the token
            self._delete_later(partner, sub, plan, product, provider)
        self.addCleanup(self._disable_provider)

    def _disable_provider(self):
        with self.env.registry.cursor() as cr:
            api.Environment(cr, SUPERUSER_ID, {})["payment.provider"].browse(self.provider_id).state = "disabled"

    def _transactions(self):
        with self.env.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            return (
                env["payment.transaction"]
                .search([("subscription_charge_invoice_id", "=", self.invoice_id)])
                .mapped("state")
            )

    def test_crash_after_committed_transaction_is_not_charged_again(self):
        """Worker A commits the new transaction, then dies before asking the provider. The next run
        (committing like the cron) leaves the invoice alone: still one transaction, in draft."""
        env_a = self._env()
        invoice = env_a["account.move"].browse(self.invoice_id)
        self.assertTrue(invoice.subscription_charge_pending)
        tx = env_a["subscription.payment.charging"]._create_charge_transaction(invoice, self.DAY)
        self.assertTrue(tx)
        env_a.cr.commit()  # pylint: disable=invalid-commit  # the transaction is committed, then A crashes
        env_a.cr.close()
        self.cursors.remove(env_a.cr)

        env_b = self._env()
        new = env_b["subscription.payment.charging"]._charge_invoices(
            env_b["account.move"].browse(self.invoice_id), self.DAY, commit=True
        )
        self.assertFalse(new)
        self.assertEqual(self._transactions(), ["draft"])

    def test_two_workers_open_one_transaction(self):
        """Worker B took its snapshot before worker A committed A's transaction, so B does not see it;
        B's own transaction is refused by the partial unique index: one open transaction in the end."""
        env_a, env_b = self._env(), self._env()
        invoice_b = env_b["account.move"].browse(self.invoice_id)
        # B's snapshot starts here: A's transaction will be invisible to B's searches
        self.assertEqual(
            env_b["payment.transaction"].search_count([("subscription_charge_invoice_id", "=", self.invoice_id)]), 0
        )
        self.assertTrue(invoice_b.subscription_charge_pending)
        tx_a = env_a["subscription.payment.charging"]._create_charge_transaction(
            env_a["account.move"].browse(self.invoice_id), self.DAY
        )
        self.assertTrue(tx_a)
        env_a.cr.commit()  # pylint: disable=invalid-commit  # A's transaction is committed before B creates one
        # the refused INSERT is logged by odoo.sql_db as an error: expected here
        with mute_logger("odoo.sql_db"):
            tx_b = env_b["subscription.payment.charging"]._create_charge_transaction(invoice_b, self.DAY)
        self.assertFalse(tx_b, "the second open transaction of the invoice is refused")
        # B still does not see A's transaction: what refused B's was the database's unique index
        self.assertEqual(
            env_b["payment.transaction"].search_count([("subscription_charge_invoice_id", "=", self.invoice_id)]), 0
        )
        env_b.cr.commit()  # pylint: disable=invalid-commit  # nothing of B's remains
        self.assertEqual(self._transactions(), ["draft"])
