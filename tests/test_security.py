from datetime import date

from odoo import Command
from odoo.exceptions import AccessError, UserError
from odoo.service.model import call_kw, get_public_method
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestSecurity(SubscriptionCommon):
    """Access rights, record rules and multi-company isolation, tried the hard way."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # customer A is cls.customer (company) with its contact Anna; customer B is cls.other_customer
        cls.sub_a = cls._start(partner=cls.customer, start_date=date(2026, 1, 1))
        cls.sub_a_contact = cls._start(partner=cls.customer_contact, start_date=date(2026, 1, 1))
        cls.sub_a_draft = cls._create_subscription(partner=cls.customer)
        cls.sub_b = cls._start(partner=cls.other_customer, start_date=date(2026, 1, 1))

        cls.portal_anna = new_test_user(
            cls.env,
            login="portal_anna",
            groups="base.group_portal",
            partner_id=cls.customer_contact.id,
            name=cls.customer_contact.name,
            email=cls.customer_contact.email,
        )
        cls.employee = new_test_user(cls.env, login="plain_employee", groups="base.group_user")
        cls.invoicing_user = new_test_user(cls.env, login="invoicing_clerk", groups="account.group_account_invoice")
        cls.sub_user = new_test_user(cls.env, login="sub_user", groups="subscription_billing.group_subscription_user")
        cls.sub_manager = new_test_user(
            cls.env,
            login="sub_manager",
            groups="subscription_billing.group_subscription_manager",
        )

    def _subscription_vals(self, partner=None, **values):
        return {
            "partner_id": (partner or self.customer).id,
            "plan_id": self.plan_monthly.id,
            "start_date": date(2026, 2, 1),
            **values,
        }

    # ------------------------------------------------------------------
    # portal
    # ------------------------------------------------------------------
    def test_portal_user_reads_the_subscriptions_of_their_company(self):
        Subscription = self.env["subscription.subscription"].with_user(self.portal_anna)
        visible = Subscription.search([])
        self.assertEqual(
            visible,
            self.sub_a | self.sub_a_contact | self.sub_a_draft,
            "own contact's and commercial partner's subscriptions, nothing else",
        )
        names = {row["name"] for row in (self.sub_a | self.sub_a_contact).with_user(self.portal_anna).read(["name"])}
        self.assertEqual(names, {self.sub_a.name, self.sub_a_contact.name})
        # and their lines
        self.assertTrue(self.sub_a.line_ids.with_user(self.portal_anna).read(["price_unit"]))

    def test_portal_user_cannot_read_another_customers_subscription(self):
        sub_b = self.sub_b.with_user(self.portal_anna)
        with self.assertRaises(AccessError):
            sub_b.read(["name"])
        with self.assertRaises(AccessError):
            sub_b.check_access("read")
        with self.assertRaises(AccessError):
            self.sub_b.line_ids.with_user(self.portal_anna).read(["price_unit"])
        self.assertFalse(
            self.env["subscription.subscription"].with_user(self.portal_anna).search([("id", "=", self.sub_b.id)])
        )
        self.assertFalse(
            self.env["subscription.line"].with_user(self.portal_anna).search([("subscription_id", "=", self.sub_b.id)])
        )

    def test_portal_user_cannot_write_create_or_delete_subscriptions(self):
        sub_a = self.sub_a.with_user(self.portal_anna)
        with self.assertRaises(AccessError):
            sub_a.write({"note": "<p>free forever</p>"})
        with self.assertRaises(AccessError):
            sub_a.line_ids.write({"price_unit": 0.0})
        with self.assertRaises(AccessError):
            self.env["subscription.subscription"].with_user(self.portal_anna).create(self._subscription_vals())
        with self.assertRaises(AccessError):
            self.sub_a_draft.with_user(self.portal_anna).unlink()
        self.assertTrue(self.sub_a_draft.exists())
        self.assertEqual(self.sub_a.line_ids.price_unit, 100.0)

    def test_portal_user_cannot_drive_the_lifecycle_or_billing_through_public_methods(self):
        with self.assertRaises(AccessError):
            self.sub_a_draft.with_user(self.portal_anna).action_start()
        self.assertEqual(self.sub_a_draft.state, "draft")
        invoices_before = self.env["account.move"].search_count([])
        billing_logger = "odoo.addons.subscription_billing.models.subscription_subscription"
        with self.assertRaises(AccessError), mute_logger(billing_logger):
            self.sub_a.with_user(self.portal_anna).action_bill_now()
        self.assertEqual(self.env["account.move"].search_count([]), invoices_before)
        self.assertFalse(self.sub_a.invoice_ids)

    # ------------------------------------------------------------------
    # internal users
    # ------------------------------------------------------------------
    def test_employee_without_subscription_rights_gets_no_access(self):
        Subscription = self.env["subscription.subscription"].with_user(self.employee)
        with self.assertRaises(AccessError):
            Subscription.search([])
        with self.assertRaises(AccessError):
            self.sub_a.with_user(self.employee).read(["name"])
        with self.assertRaises(AccessError):
            Subscription.create(self._subscription_vals())
        with self.assertRaises(AccessError):
            self.plan_monthly.with_user(self.employee).read(["name"])

    def test_invoicing_user_reads_subscriptions_but_cannot_change_them(self):
        sub_a = self.sub_a.with_user(self.invoicing_user)
        self.assertEqual(sub_a.read(["name"])[0]["name"], self.sub_a.name)
        with self.assertRaises(AccessError):
            sub_a.write({"note": "<p>changed</p>"})
        with self.assertRaises(AccessError):
            sub_a._request_cancellation(date(2026, 2, 1))
        self.assertEqual(self.sub_a.state, "active")
        self.assertFalse(self.sub_a.end_date)

    def test_subscription_user_creates_subscriptions_but_not_plans(self):
        Subscription = self.env["subscription.subscription"].with_user(self.sub_user)
        sub = Subscription.create(self._subscription_vals())
        self.assertEqual(len(sub.line_ids), 1, "the plan's lines are copied")
        sub.action_start()
        self.assertEqual(sub.state, "active")
        plans_before = self.env["subscription.plan"].search_count([])
        with self.assertRaises(AccessError):
            self.env["subscription.plan"].with_user(self.sub_user).create({"name": "Rogue", "code": "ROGUE"})
        with self.assertRaises(AccessError):
            self.plan_monthly.with_user(self.sub_user).write({"billing_period_count": 12})
        with self.assertRaises(AccessError):
            self.plan_monthly.line_ids.with_user(self.sub_user).write({"price_unit": 1.0})
        self.assertEqual(self.env["subscription.plan"].search_count([]), plans_before)
        self.assertEqual(self.plan_monthly.billing_period_count, 1)
        self.assertEqual(self.plan_monthly.line_ids.price_unit, 100.0)

    def test_subscription_user_cannot_delete_subscriptions(self):
        with self.assertRaises(AccessError):
            self.sub_a_draft.with_user(self.sub_user).unlink()
        self.assertTrue(self.sub_a_draft.exists())

    def test_subscription_user_can_run_the_billing(self):
        # The group "Subscriptions / User" is documented as "sees and manages subscriptions, runs the
        # billing", and it has access to the billing run wizard.
        sub = self._start(start_date=date(2026, 1, 1))
        wizard = (
            self.env["subscription.billing.run.wizard"]
            .with_user(self.sub_user)
            .create(
                {
                    "date_ref": date(2026, 1, 1),
                    "subscription_ids": [Command.set(sub.ids)],
                }
            )
        )
        try:
            with mute_logger("odoo.addons.subscription_billing.models.subscription_subscription"):
                wizard.action_run()
        except AccessError as error:
            self.fail(f"a subscription user cannot run the billing: {error}")
        self.assertFalse(sub.billing_error, sub.billing_error)
        self.assertEqual(self._billed_periods(sub), [(date(2026, 1, 1), date(2026, 1, 31))])

    def test_manager_creates_plans_and_deletes_draft_subscriptions_only(self):
        plan = (
            self.env["subscription.plan"]
            .with_user(self.sub_manager)
            .create(
                {
                    "name": "Manager plan",
                    "code": "MGR",
                    "line_ids": [Command.create({"product_id": self.product_support.id, "price_unit": 30.0})],
                }
            )
        )
        self.assertTrue(plan.exists())
        self.sub_a_draft.with_user(self.sub_manager).unlink()
        self.assertFalse(self.sub_a_draft.exists())
        with self.assertRaises(UserError):
            self.sub_a.with_user(self.sub_manager).unlink()
        self.assertTrue(self.sub_a.exists())

    # ------------------------------------------------------------------
    # multi-company
    # ------------------------------------------------------------------
    def _company_2_manager(self):
        company_2 = self.setup_other_company()["company"]
        user = new_test_user(
            self.env,
            login="c2_manager",
            groups="subscription_billing.group_subscription_manager",
            company_id=company_2.id,
            company_ids=[Command.set(company_2.ids)],
        )
        return company_2, user

    def test_user_of_another_company_cannot_see_this_companys_subscriptions(self):
        company_2, user_2 = self._company_2_manager()
        Subscription = self.env["subscription.subscription"].with_user(user_2)
        self.assertFalse(Subscription.search([("id", "in", (self.sub_a | self.sub_b).ids)]))
        self.assertFalse(Subscription.search([]).filtered(lambda s: s.company_id != company_2))
        with self.assertRaises(AccessError):
            self.sub_a.with_user(user_2).read(["name"])
        with self.assertRaises(AccessError):
            self.sub_a.line_ids.with_user(user_2).read(["price_unit"])
        with self.assertRaises(AccessError):
            self.sub_a.with_user(user_2).write({"note": "<p>cross-company</p>"})
        self.assertFalse(
            self.env["subscription.plan"].with_user(user_2).search([("id", "=", self.plan_monthly.id)]),
            "company 1's plans are hidden too",
        )

    def test_subscriptions_of_another_company_are_hidden_from_this_company(self):
        company_2, user_2 = self._company_2_manager()
        customer_2 = self.env["res.partner"].create({"name": "Kunde Zwei", "company_id": company_2.id})
        plan_2 = (
            self.env["subscription.plan"]
            .with_user(user_2)
            .create(
                {
                    "name": "Plan Zwei",
                    "code": "Z2",
                    "line_ids": [Command.create({"product_id": self.product_hosting.id, "price_unit": 50.0})],
                }
            )
        )
        sub_2 = (
            self.env["subscription.subscription"]
            .with_user(user_2)
            .create(
                {
                    "partner_id": customer_2.id,
                    "plan_id": plan_2.id,
                    "start_date": date(2026, 1, 1),
                }
            )
        )
        self.assertEqual(sub_2.company_id, company_2)
        self.assertFalse(self.env["subscription.subscription"].with_user(self.sub_user).search([("id", "=", sub_2.id)]))
        with self.assertRaises(AccessError):
            sub_2.with_user(self.sub_user).read(["name"])

    def test_user_cannot_create_a_subscription_in_a_company_they_do_not_belong_to(self):
        company_2, _user_2 = self._company_2_manager()
        before = self.env["subscription.subscription"].search_count([])
        with self.assertRaises(AccessError), self.env.cr.savepoint():
            self.env["subscription.subscription"].with_user(self.sub_user).create(
                self._subscription_vals(company_id=company_2.id)
            )
        self.assertEqual(self.env["subscription.subscription"].search_count([]), before)

    def test_user_of_another_company_cannot_cancel_through_the_wizard(self):
        _company_2, user_2 = self._company_2_manager()
        wizard = (
            self.env["subscription.cancel.wizard"]
            .with_user(user_2)
            .create(
                {
                    "subscription_id": self.sub_a.id,
                    "request_date": date(2026, 2, 1),
                }
            )
        )
        with self.assertRaises(AccessError):
            wizard.action_confirm()
        self.assertEqual(self.sub_a.state, "active")
        self.assertFalse(self.sub_a.end_date)

    def test_user_of_another_company_cannot_bill_this_companys_subscriptions(self):
        _company_2, user_2 = self._company_2_manager()
        try:
            with (
                self.env.cr.savepoint(),
                mute_logger("odoo.addons.subscription_billing.models.subscription_subscription"),
            ):
                wizard = (
                    self.env["subscription.billing.run.wizard"]
                    .with_user(user_2)
                    .create(
                        {
                            "date_ref": date(2026, 3, 1),
                            "subscription_ids": [Command.set(self.sub_a.ids)],
                        }
                    )
                )
                wizard.action_run()
        except AccessError:  # pylint: disable=except-pass
            pass  # refused loudly (Odoo checks read access on the many2many targets); a silent no-op is fine too
        self.assertFalse(self.sub_a.invoice_ids, "nothing billed across companies")
        self.assertEqual(self.sub_a.next_period_start, date(2026, 1, 1))

    # ------------------------------------------------------------------
    # RPC
    # ------------------------------------------------------------------
    def test_private_methods_cannot_be_called_over_rpc(self):
        Subscription = self.env["subscription.subscription"]
        for name in (
            "_run_billing",
            "_change_state",
            "_start",
            "_request_cancellation",
            "_reactivate",
            "_run_billing_for_all",
            "_cron_update_states",
            "_cron_run_billing",
        ):
            with self.subTest(method=name), self.assertRaises(AccessError):
                get_public_method(Subscription, name)
        self.assertTrue(get_public_method(Subscription, "action_start"))
        # the full RPC entry point, even for the manager
        with self.assertRaises(AccessError):
            call_kw(
                Subscription.with_user(self.sub_manager), "_change_state", [self.sub_a.ids, "ended", "2026-02-01"], {}
            )
        self.assertEqual(self.sub_a.state, "active")
