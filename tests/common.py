from datetime import date

from odoo import SUPERUSER_ID, Command, api
from odoo.tests import TransactionCase

from odoo.addons.account.tests.common import AccountTestInvoicingCommon


class SubscriptionCommon(AccountTestInvoicingCommon):
    """A company with a chart of accounts, subscription products, three plans and customers.

    Factories: :meth:`_create_plan`, :meth:`_create_subscription`,
    :meth:`_start`; everything dated explicitly.
    """

    @classmethod
    def get_default_groups(cls):
        return super().get_default_groups() | cls.env.ref("subscription_billing.group_subscription_manager")

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.currency = cls.env.company.currency_id
        cls.tax_sale = cls.company_data["default_tax_sale"]
        cls.product_hosting = cls.env["product.product"].create(
            {
                "name": "Hosting",
                "type": "service",
                "list_price": 100.0,
                "subscription_ok": True,
                "taxes_id": [Command.set(cls.tax_sale.ids)],
            }
        )
        cls.product_support = cls.env["product.product"].create(
            {
                "name": "Support",
                "type": "service",
                "list_price": 30.0,
                "subscription_ok": True,
                "taxes_id": [Command.set(cls.tax_sale.ids)],
            }
        )
        cls.plan_monthly = cls._create_plan(code="M", name="Monthly")
        cls.plan_yearly = cls._create_plan(code="Y", name="Yearly", billing_period_unit="year", price=1200.0)
        cls.plan_arrears = cls._create_plan(code="A", name="Monthly in arrears", billing_timing="arrears")
        cls.customer = cls.env["res.partner"].create({"name": "Müller GmbH", "email": "billing@mueller.example"})
        cls.customer_contact = cls.env["res.partner"].create(
            {
                "name": "Anna Müller",
                "parent_id": cls.customer.id,
                "email": "anna@mueller.example",
            }
        )
        cls.other_customer = cls.env["res.partner"].create({"name": "Schmidt AG", "email": "ap@schmidt.example"})

    # ------------------------------------------------------------------
    # Factories
    # ------------------------------------------------------------------
    @classmethod
    def _create_plan(cls, code, name, price=100.0, product=None, **values):
        product = product or cls.product_hosting
        return cls.env["subscription.plan"].create(
            {
                "name": name,
                "code": code,
                "line_ids": [Command.create({"product_id": product.id, "name": product.name, "price_unit": price})],
                **values,
            }
        )

    @classmethod
    def _create_subscription(cls, plan=None, partner=None, start_date=date(2026, 1, 1), **values):
        return cls.env["subscription.subscription"].create(
            {
                "partner_id": (partner or cls.customer).id,
                "plan_id": (plan or cls.plan_monthly).id,
                "start_date": start_date,
                **values,
            }
        )

    @classmethod
    def _start(cls, plan=None, partner=None, start_date=date(2026, 1, 1), **values):
        subscription = cls._create_subscription(plan=plan, partner=partner, start_date=start_date, **values)
        # started on its start date: a trial is running then, whatever today is
        subscription._start(date_ref=start_date)
        return subscription

    @staticmethod
    def _billed_periods(subscription):
        """(start, end) of every non-cancelled invoice line of ``subscription``, oldest first."""
        lines = subscription.invoice_line_ids.filtered(lambda line: line.parent_state != "cancel")
        return sorted((line.subscription_period_start, line.subscription_period_end) for line in lines)


def count_days_billed_twice(cr, subscription_ids):
    """Pairs of live invoice lines of one subscription line of ``subscription_ids`` whose service
    periods overlap (what the exclusion constraint forbids), counted in SQL."""
    cr.execute(
        """SELECT count(*) FROM account_move_line a JOIN account_move_line b
             ON a.subscription_line_id = b.subscription_line_id AND a.id < b.id
            AND daterange(a.subscription_period_start, a.subscription_period_end, '[]')
             && daterange(b.subscription_period_start, b.subscription_period_end, '[]')
          WHERE a.subscription_id = ANY(%s) AND a.parent_state != 'cancel' AND b.parent_state != 'cancel'""",
        [list(subscription_ids)],
    )
    return cr.fetchone()[0]


class CommittedDataCase(TransactionCase):
    """Tests that need committed data seen by several real database cursors (workers, crashes).

    :meth:`_committed_env` yields an environment whose changes are committed at the end of the
    ``with`` block; :meth:`_env` opens a worker cursor, rolled back and closed after the test.
    Committed data is not rolled back: put it in a far-away year no other test looks at.
    """

    def setUp(self):
        super().setUp()
        self.cursors = []
        self.addCleanup(self._close_cursors)

    def _close_cursors(self):
        for cr in self.cursors:
            cr.rollback()
            cr.close()

    def _env(self):
        cr = self.env.registry.cursor()
        self.cursors.append(cr)
        return api.Environment(cr, SUPERUSER_ID, {})

    @staticmethod
    def _main_company_with_chart(env):
        """The main company, with the generic chart loaded if it has no sales journal yet."""
        company = env.ref("base.main_company")
        if not env["account.journal"].search([("company_id", "=", company.id), ("type", "=", "sale")], limit=1):
            env["account.chart.template"].try_loading("generic_coa", company=company, install_demo=False)
        return company
