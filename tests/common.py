import os
from datetime import date
from unittest import SkipTest

from odoo import SUPERUSER_ID, Command, api
from odoo.tests import TransactionCase, tagged
from odoo.tests.common import get_db_name
from odoo.tools import SQL

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
    def collect_company_accounting_data(cls, company):
        """Refresh the planner's statistics of the chart just loaded in this (uncommitted) transaction first.

        Why (issue 15, a full run stalled 13-20 min here): Odoo's account searches ordered by ``code``
        LEFT JOIN a ``DISTINCT ON`` sub-query over ``account_account_res_company_rel`` joined to
        ``res_company``. The new company's ~1,300 accounts are invisible to the statistics (uncommitted),
        so PostgreSQL estimates 1 row and picks a nested loop that re-runs the sub-query for every account
        of the type, with a sequential scan of ``res_company`` per row (~115,000 loops for "income").
        Measured by EXPLAIN ANALYZE on a SKR03 company: 131 ms for "income" and 398 ms for "expense" as is;
        with 2,000 versions of the company row in the table (each chart load and company write leaves
        one; a run with autovacuum behind or held back by an old transaction keeps them) 7.8 s and 29 s,
        ~50 s for the six searches, growing linearly. ``ANALYZE`` inside the transaction counts the
        transaction's own rows: the same searches then take 1-3 ms. No lock wait was involved (pg_stat_activity
        polled every 2 s during the worker tests followed by TestOssReport showed no session blocked).
        """
        cls.env.flush_all()
        cls.env.cr.execute(SQL("ANALYZE account_account, account_account_res_company_rel, res_company"))
        return super().collect_company_accounting_data(company)

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


#: tag of the test classes that commit; ``dev.py test`` runs them on a throw-away database of their own
COMMIT_TAG = "subscription_billing_commit"
#: environment variable naming that database; committing tests refuse to run on any other
COMMIT_DB_ENV = "SB_COMMIT_TEST_DB"


@tagged(COMMIT_TAG)
class CommittedDataCase(TransactionCase):
    """Tests that need committed data seen by several real database cursors (workers, crashes).

    :meth:`_committed_env` yields an environment whose changes are committed at the end of the
    ``with`` block; :meth:`_env` opens a worker cursor, rolled back and closed after the test.
    Committed data is not rolled back: put it in a far-away year no other test looks at.

    They commit, so they run only on a throw-away database of their own: ``dev.py test`` excludes
    their tag (:data:`COMMIT_TAG`) from the suite's database and runs them on a separate fresh one
    that it names in :data:`COMMIT_DB_ENV`; on any other database (a developer's, the suite's) the
    class is skipped with that explanation.
    """

    #: tables whose committed row counts must be the same after the class as before it
    COUNTED_TABLES = (
        "res_company",
        "res_partner",
        "product_product",
        "product_template",
        "account_account",
        "subscription_plan",
        "subscription_subscription",
        "account_move",
        "deferred_revenue_schedule",
        "mail_message",
    )
    #: models deleted by :meth:`_delete_committed_data`, the referencing ones first
    DELETE_ORDER = (
        "subscription.dunning.entry",
        "subscription.dunning.letter",
        "account.payment",
        "payment.transaction",
        "payment.token",
        "deferred.revenue.schedule.line",
        "deferred.revenue.schedule",
        "account.move",
        "subscription.subscription",
        "subscription.plan",
        "product.product",
        "product.template",
        "res.partner",
        "account.account",
        "payment.provider",
    )

    @classmethod
    def setUpClass(cls):
        if os.environ.get(COMMIT_DB_ENV) != get_db_name():
            raise SkipTest(
                f"{cls.__name__} commits: it runs only on the throw-away database that "
                f"'python3 scripts/dev.py test' creates for it ({COMMIT_DB_ENV})"
            )
        super().setUpClass()
        cls._rows_before = cls._count_committed_rows()

    @classmethod
    def tearDownClass(cls):
        """Prove that the class left no committed data behind (its tests' cleanups ran before this)."""
        rows_after = cls._count_committed_rows()
        super().tearDownClass()
        leftovers = {
            table: (before, rows_after[table])
            for table, before in cls._rows_before.items()
            if rows_after[table] != before
        }
        if leftovers:
            raise AssertionError(f"{cls.__name__} left committed rows behind (table: (before, after)): {leftovers}")

    @classmethod
    def _count_committed_rows(cls):
        with cls.registry.cursor() as cr:
            counts = {}
            for table in cls.COUNTED_TABLES:
                cr.execute(SQL("SELECT count(*) FROM %s", SQL.identifier(table)))
                counts[table] = cr.fetchone()[0]
            cr.rollback()
            return counts

    def setUp(self):
        super().setUp()
        self.cursors = []
        self._committed = {}
        # cleanups run last-in first-out: the worker cursors are rolled back and closed (releasing
        # their row locks) before the committed data is deleted, even when the test failed
        self.addCleanup(self._delete_committed_data)
        self.addCleanup(self._close_cursors)

    def _close_cursors(self):
        for cr in self.cursors:
            if not cr.closed:
                cr.rollback()
                cr.close()

    def _delete_later(self, *recordsets):
        """Delete ``recordsets`` (committed by the test) and what the test makes from them after the test."""
        for records in recordsets:
            self._committed.setdefault(records._name, set()).update(records.ids)

    def _delete_committed_data(self):
        """Delete, on a fresh cursor that is committed, exactly the records given to :meth:`_delete_later`
        plus what the code under test made from them: the invoices of those customers and subscriptions,
        their deferred revenue schedules and recognition entries, and the chatter of all of them.

        SQL, in :attr:`DELETE_ORDER`: posted invoices cannot be unlinked through the ORM.
        """
        if not self._committed:
            return
        unknown = set(self._committed) - set(self.DELETE_ORDER)
        assert not unknown, f"add {unknown} to DELETE_ORDER"
        ids = {model: set() for model in self.DELETE_ORDER} | {k: set(v) for k, v in self._committed.items()}
        with self.env.registry.cursor() as cr:
            subscriptions, partners = list(ids["subscription.subscription"]), list(ids["res.partner"])
            cr.execute(
                SQL(
                    """SELECT id FROM account_move WHERE partner_id = ANY(%(partners)s)
                        UNION SELECT move_id FROM account_move_line
                               WHERE subscription_id = ANY(%(subscriptions)s) OR partner_id = ANY(%(partners)s)""",
                    partners=partners,
                    subscriptions=subscriptions,
                )
            )
            ids["account.move"].update(row[0] for row in cr.fetchall())
            cr.execute(
                SQL(
                    "SELECT id FROM deferred_revenue_schedule WHERE move_id = ANY(%s) OR subscription_id = ANY(%s)",
                    list(ids["account.move"]),
                    subscriptions,
                )
            )
            ids["deferred.revenue.schedule"].update(row[0] for row in cr.fetchall())
            cr.execute(
                SQL(
                    "SELECT id, recognition_move_id FROM deferred_revenue_schedule_line WHERE schedule_id = ANY(%s)",
                    list(ids["deferred.revenue.schedule"]),
                )
            )
            for line_id, move_id in cr.fetchall():
                ids["deferred.revenue.schedule.line"].add(line_id)
                if move_id:
                    ids["account.move"].add(move_id)
            # what getting paid made for those customers and invoices: dunning history and letters,
            # charge transactions, payments and saved tokens
            moves = list(ids["account.move"])
            for model, query in (
                (
                    "subscription.dunning.entry",
                    "SELECT id FROM subscription_dunning_entry "
                    "WHERE partner_id = ANY(%(p)s) OR invoice_id = ANY(%(m)s)",
                ),
                (
                    "subscription.dunning.letter",
                    "SELECT id FROM subscription_dunning_letter WHERE partner_id = ANY(%(p)s)",
                ),
                ("account.payment", "SELECT id FROM account_payment WHERE partner_id = ANY(%(p)s)"),
                (
                    "payment.transaction",
                    "SELECT id FROM payment_transaction WHERE partner_id = ANY(%(p)s) "
                    "OR subscription_charge_invoice_id = ANY(%(m)s)",
                ),
                ("payment.token", "SELECT id FROM payment_token WHERE partner_id = ANY(%(p)s)"),
            ):
                cr.execute(SQL(query, p=partners, m=moves))
                ids[model].update(row[0] for row in cr.fetchall())
            cr.execute(SQL("SELECT move_id FROM account_payment WHERE id = ANY(%s)", list(ids["account.payment"])))
            ids["account.move"].update(row[0] for row in cr.fetchall() if row[0])
            cr.execute(
                SQL("SELECT product_tmpl_id FROM product_product WHERE id = ANY(%s)", list(ids["product.product"]))
            )
            ids["product.template"].update(row[0] for row in cr.fetchall())
            for model in self.DELETE_ORDER:
                record_ids = sorted(ids[model])
                if not record_ids:
                    continue
                for table, model_column in (
                    ("mail_message", "model"),
                    ("mail_followers", "res_model"),
                    ("mail_activity", "res_model"),
                ):
                    cr.execute(
                        SQL(
                            "DELETE FROM %s WHERE %s = %s AND res_id = ANY(%s)",
                            SQL.identifier(table),
                            SQL.identifier(model_column),
                            model,
                            record_ids,
                        )
                    )
                cr.execute(
                    SQL(
                        "DELETE FROM %s WHERE id = ANY(%s)",
                        SQL.identifier(self.env[model]._table),
                        record_ids,
                    )
                )
            cr.commit()  # pylint: disable=invalid-commit  # deletes the data the test committed
        self._committed = {}

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
