from datetime import date

from freezegun import freeze_time

from odoo import Command
from odoo.exceptions import AccessError
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from .common import SubscriptionCommon

STATEMENT_DATE = date(2026, 6, 30)


@tagged("post_install", "-at_install", "subscription_billing")
class TestReceivables(SubscriptionCommon):
    """Open items, ageing, balances and the customer statement, on real invoices, credit notes and
    payments with explicit dates.

    Open items of Müller GmbH on 30 June 2026 (amounts without tax, company currency):

    ========================  ==========  =========  ====  ========
    document                  due         open       days  bucket
    ========================  ==========  =========  ====  ========
    invoice, not due          2026-07-20   100.00       0  not due
    invoice, due that day     2026-06-30   120.00       0  not due
    invoice 200, 50 paid      2026-06-15   150.00      15  1-30
    credit note               2026-06-05   -80.00      25  1-30
    payment (Anna), unmatched 2026-06-25   -60.00       5  1-30
    invoice                   2026-05-01   300.00      60  31-60
    invoice                   2026-04-01   400.00      90  61-90
    invoice                   2026-03-31   500.00      91  over 90
    ========================  ==========  =========  ====  ========

    Not due 220.00, 1-30 10.00 (150 - 80 - 60), 31-60 300.00, 61-90 400.00, over 90 500.00;
    total 1,430.00, overdue 1,210.00. Not open on 30 June: an invoice of 250.00 paid in full on 12 June,
    an invoice dated 5 July, a draft invoice, another customer's invoice and an invoice of the second
    company.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company = cls.env.company
        cls.inv_not_due = cls._invoice(100.0, date(2026, 6, 20), date(2026, 7, 20))
        cls.inv_due_today = cls._invoice(120.0, date(2026, 6, 1), date(2026, 6, 30))
        cls.inv_partial = cls._invoice(200.0, date(2026, 5, 15), date(2026, 6, 15))
        cls._pay(cls.inv_partial, 50.0, date(2026, 6, 20))
        cls.credit_note = cls._invoice(80.0, date(2026, 6, 5), date(2026, 6, 5), move_type="out_refund")
        cls.payment = cls.init_payment(60.0, post=True, date=date(2026, 6, 25), partner=cls.customer_contact)
        cls.inv_31_60 = cls._invoice(300.0, date(2026, 4, 1), date(2026, 5, 1))
        cls.inv_61_90 = cls._invoice(400.0, date(2026, 3, 1), date(2026, 4, 1))
        cls.inv_over_90 = cls._invoice(500.0, date(2026, 3, 1), date(2026, 3, 31))
        cls.inv_paid = cls._invoice(250.0, date(2026, 5, 10), date(2026, 6, 10))
        cls._pay(cls.inv_paid, 250.0, date(2026, 6, 12))
        cls.inv_future = cls._invoice(90.0, date(2026, 7, 5), date(2026, 8, 4))
        cls.inv_draft = cls._invoice(777.0, date(2026, 6, 1), date(2026, 6, 1), post=False)
        cls.inv_other_customer = cls._invoice(333.0, date(2026, 3, 1), date(2026, 3, 1), partner=cls.other_customer)

        cls.company_2 = cls.setup_other_company(name="Receivables Company 2")["company"]
        cls.inv_company_2 = cls._invoice(999.0, date(2026, 3, 1), date(2026, 3, 1), company=cls.company_2)

    @classmethod
    def _invoice(cls, amount, invoice_date, due_date, partner=None, move_type="out_invoice", **options):
        """A posted (``post=False``: draft) invoice without tax; options ``company``, ``currency``, ``post``."""
        company = options.get("company")
        currency = options.get("currency")
        post = options.get("post", True)
        move = (
            cls.env["account.move"]
            .with_company(company or cls.env.company)
            .create(
                {
                    "move_type": move_type,
                    "partner_id": (partner or cls.customer).id,
                    "currency_id": (currency or (company or cls.env.company).currency_id).id,
                    "invoice_date": invoice_date,
                    "invoice_date_due": due_date,
                    "invoice_line_ids": [
                        Command.create({"name": "Hosting", "quantity": 1, "price_unit": amount, "tax_ids": []})
                    ],
                }
            )
        )
        if post:
            move.action_post()
        return move

    @classmethod
    def _pay(cls, invoice, amount, payment_date):
        """Register a payment of ``amount`` (in the invoice's currency) on ``payment_date``."""
        return (
            cls.env["account.payment.register"]
            .with_context(active_model="account.move", active_ids=invoice.ids)
            .create({"amount": amount, "payment_date": payment_date})
            ._create_payments()
        )

    def _items_by_move(self, partner=None, date_ref=STATEMENT_DATE):
        items = (partner or self.customer)._get_subscription_open_items(date_ref)
        return {item["move"]: item for item in items}

    # ------------------------------------------------------------------
    # Open items
    # ------------------------------------------------------------------
    def test_open_items_have_residual_due_date_days_and_bucket(self):
        items = self._items_by_move()
        expected = {
            # move: (due date, original, open, days overdue, bucket)
            self.inv_not_due: (date(2026, 7, 20), 100.0, 100.0, 0, "not_due"),
            self.inv_due_today: (date(2026, 6, 30), 120.0, 120.0, 0, "not_due"),
            self.inv_partial: (date(2026, 6, 15), 200.0, 150.0, 15, "1_30"),
            self.credit_note: (date(2026, 6, 5), -80.0, -80.0, 25, "1_30"),
            self.payment.move_id: (date(2026, 6, 25), -60.0, -60.0, 5, "1_30"),
            self.inv_31_60: (date(2026, 5, 1), 300.0, 300.0, 60, "31_60"),
            self.inv_61_90: (date(2026, 4, 1), 400.0, 400.0, 90, "61_90"),
            self.inv_over_90: (date(2026, 3, 31), 500.0, 500.0, 91, "over_90"),
        }
        self.assertEqual(set(items), set(expected), "exactly the open posted items of the customer")
        for move, (due, original, residual, days, bucket) in expected.items():
            item = items[move]
            self.assertEqual(
                (item["date_maturity"], item["amount"], item["amount_residual"], item["days_overdue"], item["bucket"]),
                (due, original, residual, days, bucket),
                move.name,
            )
            self.assertEqual(item["currency"], self.currency)
            self.assertEqual(item["amount_residual_currency"], residual)
        self.assertEqual(items[self.inv_partial]["date"], date(2026, 5, 15))
        # oldest due date first
        dues = [item["date_maturity"] for item in self.customer._get_subscription_open_items(STATEMENT_DATE)]
        self.assertEqual(dues, sorted(dues))

    def test_fully_paid_draft_and_other_customers_invoices_are_not_open_items(self):
        moves = set(self._items_by_move())
        self.assertNotIn(self.inv_paid, moves)
        self.assertNotIn(self.inv_future, moves)
        self.assertIn(self.inv_future, self._items_by_move(date_ref=date(2026, 7, 5)))
        self.assertNotIn(self.inv_draft, moves)
        self.assertNotIn(self.inv_other_customer, moves)
        self.assertEqual(set(self._items_by_move(self.other_customer)), {self.inv_other_customer})

    def test_a_contact_sees_its_commercial_partners_items(self):
        self.assertEqual(set(self._items_by_move(self.customer_contact)), set(self._items_by_move(self.customer)))

    def test_open_items_on_an_earlier_date_ignore_later_payments_and_documents(self):
        # 11 June: the 250.00 invoice is paid only on the 12th, the partial payment comes on the 20th;
        # credit note (5 June) is there, documents dated after the 11th are not.
        items = self._items_by_move(date_ref=date(2026, 6, 11))
        self.assertEqual(items[self.inv_paid]["amount_residual"], 250.0)
        self.assertEqual(items[self.inv_paid]["bucket"], "1_30")  # due 10 June: 1 day
        self.assertEqual(items[self.inv_partial]["amount_residual"], 200.0)
        self.assertEqual(items[self.credit_note]["amount_residual"], -80.0)
        self.assertNotIn(self.inv_not_due, items)  # dated 20 June
        self.assertNotIn(self.payment.move_id, items)  # dated 25 June
        # on the payment date itself the paid invoice is gone
        self.assertNotIn(self.inv_paid, self._items_by_move(date_ref=date(2026, 6, 12)))

    def test_ageing_totals_per_bucket(self):
        totals = self.customer._get_subscription_ageing(STATEMENT_DATE)
        self.assertEqual(
            totals,
            {
                "not_due": 220.0,
                "1_30": 10.0,
                "31_60": 300.0,
                "61_90": 400.0,
                "over_90": 500.0,
                "total": 1430.0,
                "overdue": 1210.0,
            },
        )
        # each day later moves the edge items one bucket on
        later = self.customer._get_subscription_ageing(date(2026, 7, 1))
        self.assertEqual(later["not_due"], 100.0)  # the invoice due 30 June is now 1 day overdue
        self.assertEqual(later["1_30"], 130.0)  # 10 + 120
        self.assertEqual(later["31_60"], 0.0)  # 300 (due 1 May) is 61 days overdue now
        self.assertEqual(later["61_90"], 300.0)
        self.assertEqual(later["over_90"], 900.0)  # 400 + 500

    def test_foreign_currency_item_has_residual_in_both_currencies(self):
        # EUR at 2.0 per company-currency unit since 2017 (AccountTestInvoicingCommon's rates)
        eur = self.setup_other_currency("EUR")
        dupont = self.env["res.partner"].create({"name": "Dupont SARL"})
        invoice = self._invoice(100.0, date(2026, 5, 1), date(2026, 6, 1), partner=dupont, currency=eur)
        self._pay(invoice, 40.0, date(2026, 6, 10))
        (item,) = dupont._get_subscription_open_items(STATEMENT_DATE)
        self.assertEqual(item["currency"], eur)
        self.assertEqual((item["amount_currency"], item["amount_residual_currency"]), (100.0, 60.0))
        self.assertEqual((item["amount"], item["amount_residual"]), (50.0, 30.0))
        self.assertEqual((item["days_overdue"], item["bucket"]), (29, "1_30"))
        # before the payment: all of it, in both currencies
        (item,) = dupont._get_subscription_open_items(date(2026, 6, 9))
        self.assertEqual((item["amount_residual_currency"], item["amount_residual"]), (100.0, 50.0))
        self.assertEqual(dupont._get_subscription_ageing(STATEMENT_DATE)["1_30"], 30.0)
        html = self._render_statement(dupont)
        self.assertIn("30.00", html)
        self.assertIn("60.00", html)

    # ------------------------------------------------------------------
    # Balances
    # ------------------------------------------------------------------
    @freeze_time("2026-06-30 12:00:00")
    def test_balance_fields_on_customer_and_subscription(self):
        self.customer.invalidate_recordset()
        self.assertEqual(self.customer.subscription_receivable_balance, 1430.0)
        self.assertEqual(self.customer.subscription_overdue_amount, 1210.0)
        self.assertEqual(self.customer.subscription_balance_currency_id, self.currency)
        self.assertEqual(self.customer_contact.subscription_receivable_balance, 1430.0)
        self.assertEqual(self.other_customer.subscription_receivable_balance, 333.0)
        self.assertEqual(self.other_customer.subscription_overdue_amount, 333.0)

        subscription = self._create_subscription(partner=self.customer_contact)
        self.assertEqual(subscription.customer_receivable_balance, 1430.0)
        self.assertEqual(subscription.customer_overdue_amount, 1210.0)
        self.assertEqual(subscription.customer_balance_currency_id, self.currency)

    @freeze_time("2026-06-30 12:00:00")
    def test_an_item_without_due_date_is_overdue_from_its_date_in_list_and_balance(self):
        receivable = self.company_data["default_account_receivable"]
        entry = self.env["account.move"].create(
            {
                "move_type": "entry",
                "date": date(2026, 6, 1),
                "line_ids": [
                    Command.create(
                        {"account_id": receivable.id, "partner_id": self.other_customer.id, "balance": 50.0}
                    ),
                    Command.create({"account_id": self.company_data["default_account_revenue"].id, "balance": -50.0}),
                ],
            }
        )
        entry.action_post()
        item = entry.line_ids.filtered(lambda line: line.account_id == receivable)
        item.date_maturity = False
        self.other_customer.invalidate_recordset()
        # 333.00 overdue invoice + 50.00 dated 1 June without a due date
        self.assertEqual(self.other_customer.subscription_receivable_balance, 383.0)
        self.assertEqual(self.other_customer.subscription_overdue_amount, 383.0)
        items = self.other_customer._get_subscription_open_items(date(2026, 6, 30))
        self.assertEqual(sum(i["amount_residual"] for i in items if i["days_overdue"] > 0), 383.0)

    # ------------------------------------------------------------------
    # Multi-company
    # ------------------------------------------------------------------
    @freeze_time("2026-06-30 12:00:00")
    def test_second_companys_items_never_appear(self):
        self.assertNotIn(self.inv_company_2, self._items_by_move())
        both = self.customer.with_context(allowed_company_ids=[self.company.id, self.company_2.id])
        self.assertNotIn(self.inv_company_2, self._items_by_move(both))
        self.assertEqual(both.subscription_receivable_balance, 1430.0)
        # in the second company, only its own invoice
        in_company_2 = self.customer.with_company(self.company_2)
        self.assertEqual(set(self._items_by_move(in_company_2)), {self.inv_company_2})
        self.assertEqual(in_company_2.subscription_receivable_balance, 999.0)
        self.assertEqual(in_company_2.subscription_balance_currency_id, self.company_2.currency_id)
        statement = self.env["subscription.receivable.statement"].create(
            {"partner_id": self.customer.id, "date_ref": STATEMENT_DATE}
        )
        statement._generate_lines()
        self.assertNotIn(self.inv_company_2, statement.line_ids.move_id)

    # ------------------------------------------------------------------
    # Statement wizard and open-items list
    # ------------------------------------------------------------------
    def test_statement_lines_grouped_by_bucket_sum_to_the_ageing(self):
        statement = self.env["subscription.receivable.statement"].create(
            {"partner_id": self.customer_contact.id, "date_ref": STATEMENT_DATE}
        )
        self.assertEqual(
            (statement.amount_not_due, statement.amount_1_30, statement.amount_31_60),
            (220.0, 10.0, 300.0),
        )
        self.assertEqual((statement.amount_61_90, statement.amount_over_90), (400.0, 500.0))
        self.assertEqual((statement.amount_total, statement.amount_overdue), (1430.0, 1210.0))

        action = statement.action_view_open_items()
        self.assertEqual(action["res_model"], "subscription.receivable.statement.line")
        Line = self.env["subscription.receivable.statement.line"]
        self.assertEqual(len(Line.search(action["domain"])), 8)
        # the list grouped by bucket (as the web client reads it): buckets youngest first, with their sums
        groups = Line.with_context(read_group_expand=True).formatted_read_group(
            action["domain"], ["ageing_bucket"], ["__count", "amount_residual:sum"]
        )
        self.assertEqual(
            [(group["ageing_bucket"], group["__count"], group["amount_residual:sum"]) for group in groups],
            [("not_due", 2, 220.0), ("1_30", 3, 10.0), ("31_60", 1, 300.0), ("61_90", 1, 400.0), ("over_90", 1, 500.0)],
        )
        # opened again for another date: the lines are replaced, not added
        statement.date_ref = date(2026, 6, 11)
        statement.action_view_open_items()
        self.assertEqual(
            set(statement.line_ids.move_id),
            {self.inv_due_today, self.inv_partial, self.credit_note, self.inv_31_60, self.inv_61_90}
            | {self.inv_over_90, self.inv_paid},
        )
        # on 11 June nothing is more than 90 days overdue (due 31 March: 72 days); the empty bucket still shows
        groups = Line.with_context(read_group_expand=True).formatted_read_group(
            [("statement_id", "=", statement.id)], ["ageing_bucket"], ["__count"]
        )
        self.assertEqual(
            [(group["ageing_bucket"], group["__count"]) for group in groups],
            [("not_due", 2), ("1_30", 2), ("31_60", 1), ("61_90", 2), ("over_90", 0)],
        )

    def test_open_items_button_of_customer_and_subscription(self):
        with freeze_time("2026-06-30 12:00:00"):
            action = self.customer_contact.action_view_subscription_open_items()
            lines = self.env["subscription.receivable.statement.line"].search(action["domain"])
            self.assertEqual(sum(lines.mapped("amount_residual")), 1430.0)
            self.assertEqual(lines.statement_id.commercial_partner_id, self.customer)

            subscription = self._create_subscription()
            action = subscription.action_view_customer_open_items()
            lines = self.env["subscription.receivable.statement.line"].search(action["domain"])
            self.assertEqual(len(lines), 8)

            wizard_action = subscription.action_open_customer_statement_wizard()
            self.assertEqual(wizard_action["res_model"], "subscription.receivable.statement")
            self.assertEqual(wizard_action["context"]["default_partner_id"], self.customer.id)
            statement = (
                self.env["subscription.receivable.statement"]
                .with_context(active_model="subscription.subscription", active_id=subscription.id)
                .create({})
            )
            self.assertEqual(statement.partner_id, self.customer)
            self.assertEqual(statement.date_ref, STATEMENT_DATE, "statement date defaults to today")

    # ------------------------------------------------------------------
    # Statement PDF
    # ------------------------------------------------------------------
    def _render_statement(self, partner, date_ref=STATEMENT_DATE):
        statement = self.env["subscription.receivable.statement"].create(
            {"partner_id": partner.id, "date_ref": date_ref}
        )
        html, _format = self.env["ir.actions.report"]._render_qweb_html(
            "subscription_billing.action_report_customer_statement", statement.ids
        )
        # negative amounts are written with a zero-width no-break space after the minus sign
        return html.decode().replace("\ufeff", "")

    def test_statement_pdf_shows_items_bucket_totals_and_total_due(self):
        self.customer.lang = "en_US"
        html = self._render_statement(self.customer)
        for label in ("Customer Statement", "Statement date", "Days Overdue", "More than 90 days overdue", "Total due"):
            self.assertIn(label, html)
        self.assertIn("Müller GmbH", html)
        for move in (self.inv_not_due, self.inv_partial, self.credit_note, self.payment.move_id, self.inv_over_90):
            self.assertIn(move.name, html)
        self.assertNotIn(self.inv_paid.name, html)
        self.assertNotIn(self.inv_other_customer.name, html)
        self.assertIn("06/30/2026", html)  # statement date in the customer's (English) format
        for figure in ("1,430.00", "1,210.00", "220.00", "150.00", "-80.00", "-60.00", "500.00"):
            self.assertIn(figure, html)

    def test_statement_pdf_renders_in_german(self):
        self.env["res.lang"]._activate_lang("de_DE")
        self.customer.lang = "de_DE"
        html = self._render_statement(self.customer)
        # amounts and dates in German format: the template is rendered in the customer's language
        self.assertIn("1.430,00", html)
        self.assertIn("30.06.2026", html)
        self.assertNotIn("1,430.00", html)
        self.assertIn(self.inv_over_90.name, html)

    def test_statement_labels_are_translated_into_the_customers_language(self):
        self.env["res.lang"]._activate_lang("de_DE")
        # the lead ships de.po; here the two terms are translated by hand to prove the labels are
        # translatable template text and the statement is rendered in the customer's language
        self.env.ref("subscription_billing.report_customer_statement_document").update_field_translations(
            "arch_db", {"de_DE": {"Customer Statement": "Kontoauszug", "Total due": "Gesamt fällig"}}
        )
        self.customer.lang = "de_DE"
        html = self._render_statement(self.customer)
        self.assertIn("Kontoauszug", html)
        self.assertIn("Gesamt fällig", html)
        self.assertNotIn("Total due", html)
        self.other_customer.lang = "en_US"
        html = self._render_statement(self.other_customer)
        self.assertIn("Total due", html)
        self.assertNotIn("Gesamt fällig", html)

    def test_statement_pdf_without_open_items(self):
        html = self._render_statement(self.customer, date_ref=date(2026, 1, 1))
        self.assertIn("There are no open items on this date.", html)

    # ------------------------------------------------------------------
    # Security
    # ------------------------------------------------------------------
    @mute_logger("odoo.addons.base.models.ir_model", "odoo.addons.base.models.ir_rule")
    def test_portal_user_cannot_read_the_statement_models(self):
        portal_user = new_test_user(
            self.env, login="portal_anna_receivables", groups="base.group_portal", partner_id=self.customer_contact.id
        )
        statement = self.env["subscription.receivable.statement"].create(
            {"partner_id": self.customer.id, "date_ref": STATEMENT_DATE}
        )
        statement._generate_lines()
        for model in ("subscription.receivable.statement", "subscription.receivable.statement.line"):
            with self.assertRaises(AccessError, msg=model):
                self.env[model].with_user(portal_user).search([])
        with self.assertRaises(AccessError):
            statement.with_user(portal_user).read(["amount_total"])
        with self.assertRaises(AccessError):
            statement.line_ids.with_user(portal_user).read(["amount_residual"])
        with self.assertRaises(AccessError):
            self.env["subscription.receivable.statement"].with_user(portal_user).create(
                {"partner_id": self.customer_contact.id}
            )

    @mute_logger("odoo.addons.base.models.ir_model", "odoo.addons.base.models.ir_rule")
    def test_subscription_user_reads_open_items_of_their_company_only(self):
        sub_user = new_test_user(
            self.env,
            login="sub_user_receivables",
            groups="subscription_billing.group_subscription_user",
            company_id=self.company.id,
            company_ids=[Command.set([self.company.id, self.company_2.id])],
        )
        Statement = self.env["subscription.receivable.statement"].with_user(sub_user)
        statement = Statement.with_context(allowed_company_ids=[self.company.id, self.company_2.id]).create(
            {"partner_id": self.customer.id, "date_ref": STATEMENT_DATE}
        )
        self.assertEqual(statement.amount_total, 1430.0)
        statement.action_view_open_items()
        self.assertEqual(len(statement.line_ids), 8)
        self.assertNotIn(self.inv_company_2, statement.line_ids.move_id)
        # a user of the first company only cannot open a statement of the second company
        user_company_1 = new_test_user(
            self.env,
            login="sub_user_company_1",
            groups="subscription_billing.group_subscription_user",
            company_id=self.company.id,
            company_ids=[Command.set(self.company.ids)],
        )
        statement_2 = (
            self.env["subscription.receivable.statement"]
            .with_company(self.company_2)
            .create({"partner_id": self.customer.id, "date_ref": STATEMENT_DATE, "company_id": self.company_2.id})
        )
        with self.assertRaises(AccessError):
            statement_2.with_user(user_company_1).read(["amount_total"])
