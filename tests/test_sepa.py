import base64
from contextlib import nullcontext
from datetime import date
from decimal import Decimal

from psycopg2.errors import CheckViolation, UniqueViolation

from odoo import Command
from odoo.exceptions import AccessError, UserError, ValidationError
from odoo.tests import new_test_user, tagged
from odoo.tests.common import freeze_time
from odoo.tools import mute_logger

from ..billing_core import sepa
from .common import SubscriptionCommon

#: Commerzbank, the IBAN of the ISO 13616 examples; BIC COBADEFFXXX
IBAN_COBA = "DE89370400440532013000"
#: another account at the same bank (bank code 37040044)
IBAN_COBA_2 = "DE62370400440532013001"
#: a third account at the same bank
IBAN_COBA_3 = "DE26370400440532013067"
#: an Austrian account (another bank, another country)
IBAN_AT = "AT611904300234573201"
#: the creditor's own account (ING)
IBAN_CREDITOR = "DE12500105170648489890"
CREDITOR_ID = "DE98ZZZ09999999999"


@tagged("post_install", "-at_install", "subscription_billing")
@freeze_time("2026-01-10 10:00:00")
class TestSepa(SubscriptionCommon):
    """SEPA direct debit: bank data, mandates, pre-notification, collections and returns.

    Today is 10 January 2026 unless a step says otherwise: invoices are billed on
    their date, collections booked on their collection date, returns imported on
    the bank's booking date. The EUR plan costs 49.90 without tax; an invoice of
    1 January is due that day, so with the default 14 days of pre-notification
    it is debited on 15 January.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.eur = cls.env.ref("base.EUR")
        cls.eur.active = True
        cls.usd = cls.env.ref("base.USD")
        cls.usd.active = True
        cls.product_dd = cls.env["product.product"].create(
            {"name": "Hosting (EUR)", "type": "service", "subscription_ok": True, "taxes_id": [Command.clear()]}
        )
        cls.fee_product = cls.env["product.product"].create(
            {"name": "Return fee", "type": "service", "taxes_id": [Command.clear()]}
        )
        cls.company = cls.env.company
        cls.bank_journal = cls.company_data["default_journal_bank"]
        cls.bank_journal.bank_account_id = cls.env["res.partner.bank"].create(
            {"partner_id": cls.company.partner_id.id, "acc_number": IBAN_CREDITOR}
        )
        cls.company.write(
            {
                "sepa_creditor_identifier": CREDITOR_ID,
                "sepa_journal_id": cls.bank_journal.id,
                "sepa_return_fee_product_id": cls.fee_product.id,
                "sepa_return_fee_amount": 5.0,
            }
        )
        cls.plan_eur = cls._create_plan(
            code="EURM", name="EUR monthly", price=49.90, product=cls.product_dd, currency_id=cls.eur.id
        )
        cls.debtor_company = cls.env["res.partner"].create({"name": "Müller & Söhne GmbH", "is_company": True})
        cls.debtor_person = cls.env["res.partner"].create({"name": "Jörg Straße"})
        cls.debtor_other = cls.env["res.partner"].create({"name": "Eva Łódź"})

    # ------------------------------------------------------------------
    # Helpers
    # ------------------------------------------------------------------
    def _mandate(self, partner, iban=IBAN_COBA, signature_date=date(2025, 12, 1), **values):
        wizard = self.env["sepa.mandate.wizard"].create(
            {"partner_id": partner.id, "iban": iban, "signature_date": signature_date, **values}
        )
        return wizard._create_mandate()

    def _dd_subscription(self, mandate, plan=None, start_date=date(2026, 1, 1), **values):
        return self._start(
            plan=plan or self.plan_eur,
            partner=mandate.partner_id,
            start_date=start_date,
            payment_method="sepa_dd",
            sepa_mandate_id=mandate.id,
            **values,
        )

    @staticmethod
    def _on(day):
        """The clock at 10:00 on ``day`` (``None``: leave it as it is)."""
        return freeze_time(f"{day.isoformat()} 10:00:00") if day else nullcontext()

    def _bill(self, subscriptions, date_ref=date(2026, 1, 1)):
        """The billing run of ``date_ref``, on that day."""
        with self._on(date_ref):
            return subscriptions._run_billing(date_ref)["invoices"]

    def _gather(self, date_ref=date(2026, 1, 31), today=None, **values):
        with self._on(today):
            collection = self.env["sepa.collection"].create({"date_ref": date_ref, **values})
            collection.action_gather()
        return collection

    def _book(self, collection):
        """Book ``collection`` on its collection date."""
        with self._on(max(collection.line_ids.mapped("collection_date"))):
            collection.action_book()

    def _collect(self, date_ref=date(2026, 1, 31), today=None, **values):
        """Gather and generate a collection (``today``), book it on its collection date."""
        collection = self._gather(date_ref, today=today, **values)
        with self._on(today):
            collection.action_generate()
        self._book(collection)
        return collection

    @staticmethod
    def _xml(collection):
        return base64.b64decode(collection.xml_file)

    def _read(self, collection):
        return sepa.read_pain008(self._xml(collection))

    @staticmethod
    def _line(collection, invoice):
        return (collection.line_ids | collection.refused_line_ids).filtered(lambda line: line.invoice_id == invoice)

    @staticmethod
    def _camt054(returns, booking_date="2026-01-20"):
        """A camt.054 with one entry per returned debit: ``returns`` is a list of (end-to-end id, amount, code)."""
        entries = "".join(
            f"""
            <Ntry>
              <Amt Ccy="EUR">{amount}</Amt>
              <CdtDbtInd>DBIT</CdtDbtInd>
              <BookgDt><Dt>{booking_date}</Dt></BookgDt>
              <NtryDtls><TxDtls>
                <Refs><EndToEndId>{end_to_end_id}</EndToEndId></Refs>
                <Amt Ccy="EUR">{amount}</Amt>
                <RtrInf><Rsn><Cd>{code}</Cd></Rsn></RtrInf>
              </TxDtls></NtryDtls>
            </Ntry>"""
            for end_to_end_id, amount, code in returns
        )
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.02">
  <BkToCstmrDbtCdtNtfctn>
    <GrpHdr><MsgId>CAMT-1</MsgId><CreDtTm>{booking_date}T08:00:00</CreDtTm></GrpHdr>
    <Ntfctn>
      <Id>NTF-1</Id>
      <Acct><Id><IBAN>{IBAN_CREDITOR}</IBAN></Id></Acct>{entries}
    </Ntfctn>
  </BkToCstmrDbtCdtNtfctn>
</Document>""".encode()

    @staticmethod
    def _pain002(message_id, rejects):
        """A pain.002 rejecting debits of the pain.008 ``message_id``: (end-to-end id, amount, code)."""
        transactions = "".join(
            f"""
      <TxInfAndSts>
        <OrgnlEndToEndId>{end_to_end_id}</OrgnlEndToEndId>
        <TxSts>RJCT</TxSts>
        <StsRsnInf><Rsn><Cd>{code}</Cd></Rsn></StsRsnInf>
        <OrgnlTxRef><Amt><InstdAmt Ccy="EUR">{amount}</InstdAmt></Amt></OrgnlTxRef>
      </TxInfAndSts>"""
            for end_to_end_id, amount, code in rejects
        )
        return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10">
  <CstmrPmtStsRpt>
    <GrpHdr><MsgId>STATUS-1</MsgId><CreDtTm>2026-01-16T08:00:00</CreDtTm></GrpHdr>
    <OrgnlGrpInfAndSts>
      <OrgnlMsgId>{message_id}</OrgnlMsgId>
      <OrgnlMsgNmId>pain.008.001.08</OrgnlMsgNmId>
      <GrpSts>PART</GrpSts>
    </OrgnlGrpInfAndSts>
    <OrgnlPmtInfAndSts>
      <OrgnlPmtInfId>{message_id}-1</OrgnlPmtInfId>{transactions}
    </OrgnlPmtInfAndSts>
  </CstmrPmtStsRpt>
</Document>""".encode()

    def _import(self, content, today=date(2026, 1, 20)):
        with self._on(today):
            wizard = self.env["sepa.status.import.wizard"].create({"data_file": base64.b64encode(content)})
            return wizard._import(content)

    def _booked_invoice(self, partner=None, iban=IBAN_COBA):
        """A mandate, its subscription and its January invoice, collected and booked."""
        mandate = self._mandate(partner or self.debtor_person, iban)
        sub = self._dd_subscription(mandate)
        invoice = self._bill(sub)
        collection = self._collect()
        return mandate, sub, invoice, collection

    @staticmethod
    def _messages(record):
        return " ".join(record.message_ids.mapped("body"))

    # ------------------------------------------------------------------
    # Bank data
    # ------------------------------------------------------------------
    def test_invalid_creditor_identifier_is_refused_naming_the_company(self):
        # DE98ZZZ09999999999 is valid: check digits 98 over "DE" + "09999999999"
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self.company.sepa_creditor_identifier = "DE99ZZZ09999999999"
        message = str(caught.exception)
        self.assertIn(self.company.name, message)
        self.assertIn("DE99ZZZ09999999999", message)
        self.assertIn("the check digits 99 do not match (expected 98)", message)
        self.assertEqual(self.company.sepa_creditor_identifier, CREDITOR_ID, "nothing was written")

    def test_creditor_identifier_is_normalised_for_the_file(self):
        self.company.sepa_creditor_identifier = "de98 zzz0 9999 9999 99"
        self.assertEqual(self.company._get_sepa_creditor_identifier(), CREDITOR_ID)

    def test_invalid_iban_is_refused_naming_partner_and_iban(self):
        bad_iban = "DE89370400440532013001"  # last digit changed: the mod-97 checksum fails
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self.env["res.partner.bank"].create({"partner_id": self.debtor_person.id, "acc_number": bad_iban})
        message = str(caught.exception)
        self.assertIn("Jörg Straße", message)
        self.assertIn(bad_iban, message)
        # our own (translatable) reason, not the library's English text pasted into a translated sentence
        self.assertIn("the check digits do not match", message)
        self.assertNotIn("Invalid checksum digits", message)
        self.assertFalse(
            self.env["res.partner.bank"].search_count([("partner_id", "=", self.debtor_person.id)]),
            "no bank account was written",
        )

    def test_valid_german_iban_gets_its_bank_and_bic(self):
        account = self.env["res.partner.bank"].create({"partner_id": self.debtor_person.id, "acc_number": IBAN_COBA})
        self.assertEqual(account.bank_id.bic, "COBADEFFXXX")
        self.assertEqual(account.bank_bic, "COBADEFFXXX")

    def test_mandate_wizard_refuses_an_invalid_iban(self):
        mandates_before = self.env["sepa.mandate"].search_count([])
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self._mandate(self.debtor_person, iban="DE00370400440532013000")
        self.assertIn("DE00370400440532013000", str(caught.exception))
        self.assertEqual(self.env["sepa.mandate"].search_count([]), mandates_before)

    def test_national_check_digits_are_required_for_mandates_not_for_any_bank_account(self):
        # IBAN checksum right, the bank's own check digit in the account number wrong (as in Odoo's l10n_de demo)
        iban = "DE72120300000000202052"
        account = self.env["res.partner.bank"].create({"partner_id": self.debtor_other.id, "acc_number": iban})
        self.assertEqual(account.sanitized_acc_number, iban, "a bank account may hold it")
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self._mandate(self.debtor_person, iban=iban)
        self.assertIn(iban, str(caught.exception))

    # ------------------------------------------------------------------
    # Mandate lifecycle
    # ------------------------------------------------------------------
    def test_mandate_reference_is_taken_from_the_sequence(self):
        first = self._mandate(self.debtor_person)
        second = self._mandate(self.debtor_other, iban=IBAN_AT)
        self.assertRegex(first.reference, r"^MND-2026-\d{6}$")
        self.assertEqual(int(second.reference[-6:]), int(first.reference[-6:]) + 1)
        given = self._mandate(self.debtor_company, iban=IBAN_COBA_2, reference="ABC-123")
        self.assertEqual(given.reference, "ABC-123", "a given reference is kept")

    def test_mandate_is_activated_only_with_a_creditor_identifier(self):
        bank = self.env["res.partner.bank"].create({"partner_id": self.debtor_person.id, "acc_number": IBAN_COBA})
        mandate = self.env["sepa.mandate"].create(
            {"partner_id": self.debtor_person.id, "partner_bank_id": bank.id, "signature_date": date(2026, 1, 1)}
        )
        self.assertEqual(mandate.state, "draft")
        self.company.sepa_creditor_identifier = False
        with self.assertRaises(UserError) as caught:
            mandate.action_activate()
        self.assertIn(self.company.name, str(caught.exception))
        self.assertEqual(mandate.state, "draft")
        self.company.sepa_creditor_identifier = CREDITOR_ID
        mandate.action_activate()
        self.assertEqual(mandate.state, "active")

    def test_mandate_can_be_revoked_or_closed(self):
        revoked = self._mandate(self.debtor_person)
        closed = self._mandate(self.debtor_other, iban=IBAN_AT)
        self.assertEqual((revoked.state, closed.state), ("active", "active"), "the wizard activates the mandate")
        revoked.action_revoke()
        closed.action_close()
        self.assertEqual(revoked.state, "revoked")
        self.assertIn("Revoked by", revoked.blocked_reason)
        self.assertEqual(closed.state, "closed")

    def test_forbidden_mandate_transition_raises(self):
        mandate = self._mandate(self.debtor_person)
        mandate.action_revoke()
        with self.assertRaises(UserError) as caught:
            mandate.action_activate()
        self.assertIn(mandate.reference, str(caught.exception))
        with self.assertRaises(UserError):
            mandate.action_close()
        self.assertEqual(mandate.state, "revoked")
        closed = self._mandate(self.debtor_other, iban=IBAN_AT)
        closed.action_close()
        with self.assertRaises(UserError):
            closed.action_revoke()
        self.assertEqual(closed.state, "closed")

    def test_b2b_scheme_is_refused_for_a_consumer(self):
        with self.assertRaises(ValidationError) as caught, self.env.cr.savepoint():
            self._mandate(self.debtor_person, scheme="B2B")
        self.assertIn("Jörg Straße", str(caught.exception))
        b2b = self._mandate(self.debtor_company, scheme="B2B")
        self.assertEqual(b2b.scheme, "B2B")

    def test_sequence_type_is_frst_until_a_collection_is_booked(self):
        mandate = self._mandate(self.debtor_person)
        sub = self._dd_subscription(mandate)
        invoice = self._bill(sub)
        self.assertEqual(mandate.next_sequence_type, "FRST")
        collection = self._gather()
        self.assertEqual(self._line(collection, invoice).sequence_type, "FRST")
        collection.action_generate()
        self.assertEqual(collection.state, "generated")
        self.assertEqual(mandate.next_sequence_type, "FRST", "a generated file may still be cancelled")
        self.assertFalse(mandate.first_collection_date)
        self._book(collection)
        self.assertEqual(mandate.next_sequence_type, "RCUR")
        self.assertEqual(mandate.first_collection_date, date(2026, 1, 15))
        self.assertEqual(mandate.last_collection_date, date(2026, 1, 15))
        february = self._bill(sub, date(2026, 2, 1))
        following = self._gather(date(2026, 2, 28), today=date(2026, 2, 2))
        self.assertEqual(self._line(following, february).sequence_type, "RCUR")

    def test_rcur_only_company_sends_rcur_from_the_start(self):
        self.company.sepa_rcur_only = True
        mandate = self._mandate(self.debtor_person)
        self.assertEqual(mandate.next_sequence_type, "RCUR")
        self._bill(self._dd_subscription(mandate))
        collection = self._gather()
        collection.action_generate()
        self.assertEqual([info.sequence_type for info in self._read(collection).payment_infos], ["RCUR"])

    def test_one_off_mandate_is_ooff_and_closed_after_booking(self):
        mandate = self._mandate(self.debtor_person, mandate_type="oneoff")
        self.assertEqual(mandate.next_sequence_type, "OOFF")
        sub = self._dd_subscription(mandate)
        self._bill(sub)
        collection = self._gather()
        collection.action_generate()
        self.assertEqual([info.sequence_type for info in self._read(collection).payment_infos], ["OOFF"])
        self.assertEqual(mandate.state, "active")
        self._book(collection)
        self.assertEqual(mandate.state, "closed", "a one-off mandate is used once")
        february = self._bill(sub, date(2026, 2, 1))
        self.assertFalse(february.sepa_mandate_id, "the closed mandate pays no further invoice")

    def test_bank_account_change_after_a_collection_is_sent_as_amendment(self):
        mandate, sub, _invoice, _collection = self._booked_invoice()
        new_account = self.env["res.partner.bank"].create(
            {"partner_id": self.debtor_person.id, "acc_number": IBAN_COBA_2}
        )
        mandate.partner_bank_id = new_account
        self.assertTrue(mandate.amendment_pending)
        self.assertEqual(mandate.original_iban, IBAN_COBA)
        february = self._bill(sub, date(2026, 2, 1))
        with self._on(date(2026, 2, 2)):
            collection = self._gather(date(2026, 2, 28))
            collection.action_generate()
        (transaction,) = self._read(collection).payment_infos[0].transactions
        self.assertEqual(transaction.end_to_end_id, february.name)
        self.assertTrue(transaction.amended)
        self.assertEqual(transaction.debtor_iban, IBAN_COBA_2)
        self.assertEqual(transaction.original_iban, IBAN_COBA, "same bank: the original account is sent")
        self.assertFalse(transaction.smnda)
        self._book(collection)
        self.assertFalse(mandate.amendment_pending)
        self.assertFalse(mandate.original_iban)
        self._bill(sub, date(2026, 3, 1))
        with self._on(date(2026, 3, 2)):
            march = self._gather(date(2026, 3, 31))
            march.action_generate()
        (transaction,) = self._read(march).payment_infos[0].transactions
        self.assertFalse(transaction.amended, "the amendment is sent once")
        self.assertIsNone(transaction.original_iban)

    def test_bank_change_to_another_bank_is_sent_as_smnda(self):
        mandate, sub, _invoice, _collection = self._booked_invoice()
        mandate.partner_bank_id = self.env["res.partner.bank"].create(
            {"partner_id": self.debtor_person.id, "acc_number": IBAN_AT}
        )
        self._bill(sub, date(2026, 2, 1))
        with self._on(date(2026, 2, 2)):
            collection = self._gather(date(2026, 2, 28))
            collection.action_generate()
        (transaction,) = self._read(collection).payment_infos[0].transactions
        self.assertTrue(transaction.amended)
        self.assertTrue(transaction.smnda)
        self.assertIsNone(transaction.original_iban, "across banks the original IBAN is not sent")

    def test_bank_change_before_the_first_collection_is_no_amendment(self):
        mandate = self._mandate(self.debtor_person)
        mandate.partner_bank_id = self.env["res.partner.bank"].create(
            {"partner_id": self.debtor_person.id, "acc_number": IBAN_COBA_2}
        )
        self.assertFalse(mandate.amendment_pending)
        self.assertFalse(mandate.original_iban)

    def test_mandate_expires_36_months_after_its_last_collection(self):
        stale = self._mandate(self.debtor_person)
        recent = self._mandate(self.debtor_other, iban=IBAN_AT)
        unused = self._mandate(self.debtor_company, iban=IBAN_COBA_2, signature_date=date(2026, 3, 14))
        # 15 March 2029 - 36 months = 15 March 2026
        stale._mark_collected(date(2026, 3, 14))  # 36 months and 1 day before
        recent._mark_collected(date(2026, 4, 15))  # 35 months before
        expired = self.env["sepa.mandate"]._cron_expire_mandates(date(2029, 3, 15))
        self.assertEqual(stale.state, "expired")
        self.assertEqual(unused.state, "expired", "without a collection the signature date counts")
        self.assertEqual(recent.state, "active")
        self.assertIn(stale, expired)
        self.assertNotIn(recent, expired)
        self.assertIn("Expired", self._messages(stale))

    # ------------------------------------------------------------------
    # Pre-notification
    # ------------------------------------------------------------------
    def test_debit_date_is_the_invoice_date_plus_the_prenotification_period(self):
        self.assertEqual(self.company.sepa_prenotification_days, 14)
        invoice = self._bill(self._dd_subscription(self._mandate(self.debtor_person)))
        self.assertEqual(invoice.sepa_debit_date, date(2026, 1, 15))
        self.assertEqual(invoice.invoice_date_due, date(2026, 1, 15), "the due date is the debit date")

    def test_debit_date_is_the_due_date_when_that_is_later(self):
        term = self.env.ref("account.account_payment_term_30days")
        sub = self._dd_subscription(self._mandate(self.debtor_person), payment_term_id=term.id)
        invoice = self._bill(sub)
        self.assertEqual(invoice.invoice_date_due, date(2026, 1, 31))
        self.assertEqual(invoice.sepa_debit_date, date(2026, 1, 31))

    def test_prenotification_period_is_a_company_setting(self):
        self.company.sepa_prenotification_days = 5
        invoice = self._bill(self._dd_subscription(self._mandate(self.debtor_person)))
        self.assertEqual(invoice.sepa_debit_date, date(2026, 1, 6))

    def test_changing_the_prenotification_period_keeps_notified_debit_dates(self):
        invoice = self._bill(self._dd_subscription(self._mandate(self.debtor_person)))
        self.assertEqual(invoice.sepa_debit_date, date(2026, 1, 15))
        self.company.sepa_prenotification_days = 5
        self.assertEqual(invoice.sepa_debit_date, date(2026, 1, 15), "the customer was told 15 January")

    def test_catch_up_invoices_are_debited_the_prenotification_period_after_billing(self):
        # billed on 10 January for December and January: the debit date is never in the past
        sub = self._dd_subscription(self._mandate(self.debtor_person), start_date=date(2025, 12, 1))
        invoices = self._bill(sub, date(2026, 1, 10))
        self.assertEqual(sorted(invoices.mapped("invoice_date")), [date(2025, 12, 1), date(2026, 1, 1)])
        for invoice in invoices:
            self.assertEqual(invoice.sepa_debit_date, date(2026, 1, 24))
            self.assertEqual(invoice.invoice_date_due, date(2026, 1, 24), "the due date moves with it")
            self.assertIn("01/24/2026", invoice._get_sepa_prenotification_text())
        collection = self._gather(today=date(2026, 1, 10))
        self.assertEqual(collection.line_ids.invoice_id, invoices)
        collection.action_generate()
        self.assertEqual([info.collection_date for info in self._read(collection).payment_infos], [date(2026, 1, 24)])

    def test_invoice_posted_after_its_date_moves_its_due_date_to_the_debit_date(self):
        mandate = self._mandate(self.debtor_person)
        invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.debtor_person.id,
                "currency_id": self.eur.id,
                "invoice_date": date(2026, 1, 1),
                "invoice_payment_term_id": self.env.ref("account.account_payment_term_immediate").id,
                "sepa_mandate_id": mandate.id,
                "invoice_line_ids": [Command.create({"product_id": self.product_dd.id, "price_unit": 10.0})],
            }
        )
        with self._on(date(2026, 1, 20)):
            self.assertEqual(invoice.sepa_debit_date, date(2026, 2, 3), "the draft previews it")
            invoice.action_post()
        self.assertEqual((invoice.invoice_date_due, invoice.sepa_debit_date), (date(2026, 2, 3), date(2026, 2, 3)))
        term_line = invoice.line_ids.filtered(lambda line: line.display_type == "payment_term")
        self.assertEqual(term_line.date_maturity, date(2026, 2, 3))
        self.assertEqual(invoice.amount_residual, 10.0)
        html = self.env["ir.actions.report"]._render_qweb_html("account.report_invoice", invoice.ids)[0].decode()
        self.assertIn("02/03/2026", html)

    def test_prenotification_period_of_zero_days_is_refused(self):
        with self.assertRaises(CheckViolation), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.company.sepa_prenotification_days = 0
            self.company.flush_recordset()
        self.assertEqual(self.company.sepa_prenotification_days, 14)

    def test_prenotification_text_states_amount_date_mandate_and_creditor(self):
        mandate = self._mandate(self.debtor_person)
        invoice = self._bill(self._dd_subscription(mandate))
        text = invoice._get_sepa_prenotification_text()
        self.assertIn("49.90", text)
        self.assertIn("01/15/2026", text)
        self.assertIn(mandate.reference, text)
        self.assertIn(CREDITOR_ID, text)
        manual = self._bill(self._start(plan=self.plan_eur, partner=self.debtor_other))
        self.assertFalse(manual.sepa_mandate_id)
        self.assertEqual(manual._get_sepa_prenotification_text(), "", "no mandate, no pre-notification")

    def test_prenotification_is_printed_on_the_invoice(self):
        mandate = self._mandate(self.debtor_person)
        invoice = self._bill(self._dd_subscription(mandate))
        html = self.env["ir.actions.report"]._render_qweb_html("account.report_invoice", invoice.ids)[0].decode()
        self.assertIn("o_sepa_prenotification", html)
        self.assertIn(mandate.reference, html)
        self.assertIn(CREDITOR_ID, html)
        self.assertIn("01/15/2026", html)
        manual = self._bill(self._start(plan=self.plan_eur, partner=self.debtor_other))
        html = self.env["ir.actions.report"]._render_qweb_html("account.report_invoice", manual.ids)[0].decode()
        self.assertNotIn("o_sepa_prenotification", html)

    def test_direct_debit_invoice_prints_no_bank_transfer_instructions(self):
        self.company.qr_code = True
        invoice = self._bill(self._dd_subscription(self._mandate(self.debtor_person)))
        self.assertFalse(invoice.display_qr_code)
        html = self.env["ir.actions.report"]._render_qweb_html("account.report_invoice", invoice.ids)[0].decode()
        self.assertNotIn("Payment Communication", html)
        self.assertNotIn('id="qrcode"', html)
        manual = self._bill(self._start(plan=self.plan_eur, partner=self.debtor_other))
        html = self.env["ir.actions.report"]._render_qweb_html("account.report_invoice", manual.ids)[0].decode()
        self.assertIn("Payment Communication", html, "a bank transfer keeps its instructions")

    def test_prenotification_is_in_the_invoice_mail(self):
        mandate = self._mandate(self.debtor_person)
        invoice = self._bill(self._dd_subscription(mandate))
        template = self.env.ref("account.email_template_edi_invoice")
        body = str(self.env["account.move.send"]._get_default_mail_body(invoice, template, "en_US"))
        self.assertIn("o_sepa_prenotification", body)
        self.assertIn(mandate.reference, body)
        self.assertIn(CREDITOR_ID, body)
        self.assertIn("01/15/2026", body)
        self.assertIn(invoice.name, body, "the template's own body is kept")

    # ------------------------------------------------------------------
    # Collections
    # ------------------------------------------------------------------
    def test_gathering_groups_by_collection_date_scheme_and_sequence_type(self):
        core_1 = self._mandate(self.debtor_company, iban=IBAN_COBA)
        core_2 = self._mandate(self.debtor_company, iban=IBAN_COBA_2)
        b2b = self._mandate(self.debtor_company, iban=IBAN_COBA_3, scheme="B2B")
        recurring = self._mandate(self.debtor_person, iban=IBAN_AT)
        recurring._mark_collected(date(2025, 12, 15))
        later = self._mandate(self.debtor_other, iban=IBAN_COBA)
        subs = (
            self._dd_subscription(core_1)
            | self._dd_subscription(core_2)
            | self._dd_subscription(b2b)
            | self._dd_subscription(recurring)
        )
        late_sub = self._dd_subscription(later, start_date=date(2026, 1, 10))
        invoices = self._bill(subs) | self._bill(late_sub, date(2026, 1, 10))
        self.assertEqual(len(invoices), 5)
        collection = self._gather()
        collection.action_generate()
        summary = self._read(collection)
        by_invoice = {invoice.sepa_mandate_id: invoice.name for invoice in invoices}
        blocks = [
            (info.collection_date, info.scheme, info.sequence_type, [tx.end_to_end_id for tx in info.transactions])
            for info in summary.payment_infos
        ]
        self.assertEqual(
            blocks,
            [
                (date(2026, 1, 15), "B2B", "FRST", [by_invoice[b2b]]),
                (date(2026, 1, 15), "CORE", "FRST", [by_invoice[core_1], by_invoice[core_2]]),
                (date(2026, 1, 15), "CORE", "RCUR", [by_invoice[recurring]]),
                (date(2026, 1, 24), "CORE", "FRST", [by_invoice[later]]),  # 10 January + 14 days
            ],
        )
        self.assertEqual(
            [info.control_sum for info in summary.payment_infos],
            [Decimal("49.90"), Decimal("99.80")] + [Decimal("49.90")] * 2,
        )
        self.assertEqual((summary.count, summary.control_sum), (5, Decimal("249.50")))

    def test_two_mandates_of_one_customer_are_never_merged(self):
        self.debtor_company.subscription_invoice_grouping = True
        first = self._mandate(self.debtor_company, iban=IBAN_COBA)
        second = self._mandate(self.debtor_company, iban=IBAN_COBA_2)
        invoices = self._bill(self._dd_subscription(first) | self._dd_subscription(second))
        self.assertEqual(len(invoices), 2, "one invoice per mandate even when the customer groups invoices")
        collection = self._gather()
        collection.action_generate()
        (info,) = self._read(collection).payment_infos
        self.assertEqual(
            sorted((tx.mandate_id, tx.debtor_iban, tx.amount) for tx in info.transactions),
            sorted([(first.reference, IBAN_COBA, Decimal("49.90")), (second.reference, IBAN_COBA_2, Decimal("49.90"))]),
        )

    def test_generated_file_is_valid_in_both_versions(self):
        self._bill(self._dd_subscription(self._mandate(self.debtor_company, iban=IBAN_COBA)))
        self._bill(self._dd_subscription(self._mandate(self.debtor_other, iban=IBAN_AT)))
        for version, bic_tag in (
            ("pain.008.001.08", b"<BICFI>COBADEFFXXX</BICFI>"),
            ("pain.008.001.02", b"<BIC>COBADEFFXXX</BIC>"),
        ):
            with self.subTest(version=version):
                collection = self._gather(pain_version=version)
                collection.action_generate()
                xml = self._xml(collection)
                sepa.validate_pain008(xml, version)  # raises if invalid
                summary = sepa.read_pain008(xml)
                self.assertEqual(summary.version, version)
                self.assertEqual(summary.message_id, collection.message_identifier)
                self.assertEqual(summary.creditor_id, CREDITOR_ID)
                self.assertEqual((summary.count, summary.control_sum), (2, Decimal("99.80")))
                self.assertEqual((collection.transaction_count, collection.control_sum), (2, 99.80))
                self.assertIn(bic_tag, xml)
                self.assertIn(IBAN_CREDITOR.encode(), xml)
                self.assertTrue(collection.xml_filename.endswith(".xml"))
                collection.action_cancel()

    def test_names_are_transliterated_in_the_file(self):
        self._bill(self._dd_subscription(self._mandate(self.debtor_company, iban=IBAN_COBA)))
        self._bill(self._dd_subscription(self._mandate(self.debtor_person, iban=IBAN_AT)))
        self._bill(self._dd_subscription(self._mandate(self.debtor_other, iban=IBAN_COBA_2)))
        collection = self._gather()
        collection.action_generate()
        xml = self._xml(collection)
        names = sorted(tx.debtor_name for info in self._read(collection).payment_infos for tx in info.transactions)
        self.assertEqual(names, ["Eva Lodz", "Joerg Strasse", "Mueller + Soehne GmbH"])
        self.assertIn(b"<Nm>Mueller + Soehne GmbH</Nm>", xml)
        self.assertNotIn("Müller".encode(), xml)
        self.assertNotIn(b"&amp;", xml)

    def test_sepa_direct_debit_is_refused_on_a_subscription_not_in_euro(self):
        plan_usd = self._create_plan(
            code="USDM", name="USD monthly", price=49.90, product=self.product_dd, currency_id=self.usd.id
        )
        mandate = self._mandate(self.debtor_other, iban=IBAN_AT)
        with self.assertRaisesRegex(ValidationError, "billed in USD: SEPA direct debit collects euro only"):
            self._dd_subscription(mandate, plan=plan_usd)

    def test_refused_invoices_are_listed_with_the_reason(self):
        good = self._bill(self._dd_subscription(self._mandate(self.debtor_company, iban=IBAN_COBA)))
        # a subscription cannot be debited in USD (see below), a manual invoice can still name a mandate
        in_usd = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.debtor_other.id,
                "currency_id": self.usd.id,
                "invoice_date": date(2026, 1, 1),
                "sepa_mandate_id": self._mandate(self.debtor_other, iban=IBAN_AT).id,
                "invoice_line_ids": [Command.create({"product_id": self.product_dd.id, "price_unit": 49.90})],
            }
        )
        with self._on(date(2026, 1, 1)):
            in_usd.action_post()
        revoked_mandate = self._mandate(self.debtor_person, iban=IBAN_COBA_2)
        revoked = self._bill(self._dd_subscription(revoked_mandate))
        revoked_mandate.action_revoke()
        self.assertEqual(in_usd.currency_id, self.usd)
        collection = self._gather()
        self.assertEqual(collection.line_ids.invoice_id, good)
        self.assertEqual(collection.refused_line_ids.invoice_id, in_usd | revoked)
        self.assertEqual(self._line(collection, in_usd).refusal_reason, "Amount in USD: SEPA debits are in EUR only.")
        self.assertEqual(
            self._line(collection, revoked).refusal_reason,
            f"Mandate {revoked_mandate.reference} is not active (Revoked).",
        )
        collection.action_generate()
        summary = self._read(collection)
        self.assertEqual([tx.end_to_end_id for info in summary.payment_infos for tx in info.transactions], [good.name])
        self.assertEqual((collection.transaction_count, collection.control_sum), (1, 49.90))

    def test_mandate_of_another_company_is_refused(self):
        company_2 = self.setup_other_company()["company"]
        mandate = self._mandate(self.debtor_person)
        invoice = self._bill(self._dd_subscription(mandate))
        foreign_collection = self.env["sepa.collection"].new(
            {"company_id": company_2.id, "date_ref": date(2026, 1, 31)}
        )
        self.assertEqual(
            foreign_collection._get_refusal_reason(invoice),
            f"Mandate {mandate.reference} belongs to another company.",
        )
        self.assertIsNone(self.env["sepa.collection"].new({"date_ref": date(2026, 1, 31)})._get_refusal_reason(invoice))

    def test_invoice_in_an_open_collection_is_not_gathered_again(self):
        invoice = self._bill(self._dd_subscription(self._mandate(self.debtor_person)))
        first = self._gather()
        self.assertEqual(first.line_ids.invoice_id, invoice)
        second = self._gather()
        self.assertFalse(second.line_ids | second.refused_line_ids, "the invoice is in the open first collection")
        with self.assertRaises(UniqueViolation), mute_logger("odoo.sql_db"), self.env.cr.savepoint():
            self.env["sepa.collection.line"].create(
                {
                    "collection_id": second.id,
                    "invoice_id": invoice.id,
                    "partner_id": invoice.commercial_partner_id.id,
                    "mandate_id": invoice.sepa_mandate_id.id,
                    "amount": 49.90,
                    "collection_date": date(2026, 1, 15),
                    "sequence_type": "FRST",
                    "scheme": "CORE",
                    "end_to_end_id": "DUPLICATE",
                }
            ).flush_recordset()

    def test_cancelled_collection_releases_its_invoices(self):
        invoice = self._bill(self._dd_subscription(self._mandate(self.debtor_person)))
        first = self._gather()
        first.action_generate()
        first.action_cancel()
        self.assertEqual(first.state, "cancelled")
        self.assertFalse(first.xml_file)
        second = self._gather()
        self.assertEqual(second.line_ids.invoice_id, invoice)

    def test_booking_pays_the_invoices_with_one_entry(self):
        first = self._bill(self._dd_subscription(self._mandate(self.debtor_company, iban=IBAN_COBA)))
        second = self._bill(self._dd_subscription(self._mandate(self.debtor_person, iban=IBAN_AT)))
        collection = self._collect()
        self.assertEqual(collection.state, "booked")
        for invoice in first | second:
            self.assertIn(invoice.payment_state, ("paid", "in_payment"))
            self.assertEqual(invoice.amount_residual, 0.0)
        move = collection.move_id
        self.assertEqual(move.state, "posted")
        self.assertEqual(move.journal_id, self.bank_journal)
        self.assertEqual(move.date, date(2026, 1, 15))
        per_invoice = move.line_ids.filtered("sepa_collection_line_id")
        self.assertEqual(per_invoice.sepa_collection_line_id.invoice_id, first | second)
        self.assertEqual(per_invoice.mapped("credit"), [49.90, 49.90])
        self.assertTrue(all(per_invoice.mapped("reconciled")))
        outstanding = move.line_ids - per_invoice
        self.assertEqual(len(outstanding), 1)
        self.assertEqual(outstanding.account_id, collection._get_outstanding_account())
        self.assertAlmostEqual(outstanding.debit, 99.80)
        self.assertAlmostEqual(outstanding.debit, collection.control_sum)

    def test_statement_does_not_call_an_item_paid_by_a_booked_collection_overdue(self):
        early = self._bill(self._dd_subscription(self._mandate(self.debtor_person)))
        later_sub = self._dd_subscription(self._mandate(self.debtor_other, iban=IBAN_AT), start_date=date(2026, 1, 10))
        self._bill(later_sub, date(2026, 1, 10))
        collection = self._collect()
        # one booking entry on the last collection date (24 January) pays the invoice due 15 January
        self.assertEqual(collection.move_id.date, date(2026, 1, 24))
        self.assertEqual(early.invoice_date_due, date(2026, 1, 15))
        items = self.debtor_person._get_subscription_open_items(date(2026, 1, 20))
        self.assertEqual([item["move"] for item in items], [early], "still open on 20 January")
        self.assertEqual((items[0]["days_overdue"], items[0]["bucket"]), (0, "not_due"))
        self.assertEqual(self.debtor_person._get_subscription_ageing(date(2026, 1, 20))["overdue"], 0.0)

    def test_booked_collection_cannot_be_cancelled(self):
        _mandate, _sub, invoice, collection = self._booked_invoice()
        with self.assertRaises(UserError):
            collection.action_cancel()
        self.assertEqual(collection.state, "booked")
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))

    def test_collection_date_of_an_overdue_invoice_is_tomorrow(self):
        invoice = self._bill(self._dd_subscription(self._mandate(self.debtor_person)))
        self.assertEqual(invoice.sepa_debit_date, date(2026, 1, 15))
        collection = self._gather(date(2026, 2, 28), today=date(2026, 2, 10))
        self.assertEqual(self._line(collection, invoice).collection_date, date(2026, 2, 11))

    def test_booking_in_a_company_with_another_currency_posts_the_euro_amount(self):
        self.assertNotEqual(self.company.currency_id, self.eur)
        self.setup_other_currency("EUR")  # 2 EUR for 1 unit of the company currency since 2017
        invoice = self._bill(self._dd_subscription(self._mandate(self.debtor_person)))
        self.assertEqual((invoice.amount_total, invoice.amount_total_signed), (49.90, 24.95))
        collection = self._collect()
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        # the collection and its lines show euro amounts, not the company currency's symbol
        self.assertEqual((collection.currency_id, collection.line_ids.currency_id), (self.eur, self.eur))
        booked = collection.message_ids.filtered(lambda m: "Booked" in (m.body or ""))
        self.assertIn("€", booked.body, "the booked amount carries its currency")
        outstanding = collection.move_id.line_ids.filtered(lambda line: not line.sepa_collection_line_id)
        self.assertAlmostEqual(outstanding.balance, 24.95)
        self.assertEqual((outstanding.currency_id, outstanding.amount_currency), (self.eur, 49.90))

    # ------------------------------------------------------------------
    # Returns
    # ------------------------------------------------------------------
    def test_insufficient_funds_is_presented_again_up_to_the_retry_limit(self):
        self.assertEqual(self.company.sepa_retry_limit, 2, "the default")
        self.company.sepa_retry_limit = 1
        _mandate, _sub, invoice, first = self._booked_invoice()
        result = self._import(self._camt054([(invoice.name, "49.90", "AM04")]))
        self.assertEqual(result, {"processed": 1, "known": 0, "unknown": []})
        self.assertEqual(invoice.sepa_retry_count, 1)
        self.assertFalse(invoice.sepa_dunning_required)
        with self._on(date(2026, 1, 21)):
            second = self._gather()
            line = self._line(second, invoice)
            self.assertEqual((line.state, line.sequence_type, line.amount), ("included", "RCUR", 49.90))
            second.action_generate()
        self._book(second)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        with self._on(date(2026, 1, 28)):
            self.env["sepa.return"]._record_return(
                line, self.env.ref("subscription_billing.sepa_reason_am04"), date(2026, 1, 28)
            )
        self.assertEqual(invoice.sepa_retry_count, 2)
        self.assertTrue(invoice.sepa_dunning_required, "returned more often than the limit of 1 retry")
        third = self._gather(today=date(2026, 1, 29))
        self.assertFalse(self._line(third, invoice), "no further debit attempt")
        self.assertNotEqual(first, second)

    def test_refund_or_refusal_by_the_debtor_goes_to_dunning(self):
        refund = self._bill(self._dd_subscription(self._mandate(self.debtor_company, iban=IBAN_COBA)))
        refusal = self._bill(self._dd_subscription(self._mandate(self.debtor_person, iban=IBAN_AT)))
        self._collect()
        result = self._import(self._camt054([(refund.name, "49.90", "MD06"), (refusal.name, "49.90", "MS02")]))
        self.assertEqual(result["processed"], 2)
        for invoice in refund | refusal:
            self.assertTrue(invoice.sepa_dunning_required)
            self.assertEqual(invoice.sepa_retry_count, 0)
            self.assertEqual(invoice.payment_state, "not_paid")
            self.assertEqual(invoice.sepa_mandate_id.state, "active", "the mandate stays usable")
        following = self._gather(today=date(2026, 1, 21))
        self.assertFalse((following.line_ids | following.refused_line_ids).invoice_id & (refund | refusal))

    def test_closed_account_or_missing_mandate_blocks_the_mandate(self):
        closed_mandate = self._mandate(self.debtor_company, iban=IBAN_COBA)
        missing_mandate = self._mandate(self.debtor_person, iban=IBAN_AT)
        closed_sub = self._dd_subscription(closed_mandate)
        missing_sub = self._dd_subscription(missing_mandate)
        closed = self._bill(closed_sub)
        missing = self._bill(missing_sub)
        self._collect()
        result = self._import(self._camt054([(closed.name, "49.90", "AC04"), (missing.name, "49.90", "MD01")]))
        self.assertEqual(result["processed"], 2)
        for mandate, sub, code in ((closed_mandate, closed_sub, "AC04"), (missing_mandate, missing_sub, "MD01")):
            self.assertEqual(mandate.state, "revoked")
            self.assertIn(code, mandate.blocked_reason)
            self.assertFalse(sub.payment_method)
            self.assertFalse(sub.sepa_mandate_id)
        february = self._bill(closed_sub | missing_sub, date(2026, 2, 1))
        self.assertEqual(len(february), 2)
        self.assertFalse(february.sepa_mandate_id)
        following = self._gather(date(2026, 2, 28), today=date(2026, 2, 2))
        self.assertFalse(following.line_ids | following.refused_line_ids, "no further debit")

    def test_return_reverses_the_payment_and_charges_the_fee(self):
        _mandate, sub, invoice, collection = self._booked_invoice()
        self._import(self._camt054([(invoice.name, "49.90", "AM04")], booking_date="2026-01-20"))
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertEqual(invoice.amount_residual, 49.90)
        sepa_return = self._line(collection, invoice).return_ids
        self.assertEqual(len(sepa_return), 1)
        self.assertEqual(
            (sepa_return.return_date, sepa_return.amount, sepa_return.source), (date(2026, 1, 20), 49.90, "import")
        )
        self.assertEqual(sepa_return.move_id.state, "posted")
        self.assertEqual(sepa_return.move_id.date, date(2026, 1, 20))
        self.assertEqual(sorted(sepa_return.move_id.line_ids.mapped("balance")), [-49.90, 49.90])
        charge = sepa_return.fee_charge_id
        self.assertEqual(charge.subscription_id, sub)
        self.assertEqual(charge.product_id, self.fee_product)
        self.assertEqual((charge.price_unit, charge.state, charge.date), (5.0, "pending", date(2026, 1, 20)))
        self.assertIn("AM04", charge.name)
        february = self._bill(sub, date(2026, 2, 1))
        self.assertEqual(february.amount_total, 54.90, "49.90 + the return fee of 5.00")
        self.assertEqual(charge.state, "invoiced")

    def test_return_is_logged_on_invoice_subscription_and_mandate(self):
        mandate, sub, invoice, _collection = self._booked_invoice()
        self._import(self._camt054([(invoice.name, "49.90", "AM04")]))
        for record in (invoice, sub, mandate):
            messages = self._messages(record)
            self.assertIn("AM04", messages, record._name)
            self.assertIn("Insufficient funds", messages, record._name)
            self.assertIn(invoice.name, messages, record._name)

    def test_importing_the_same_camt054_twice_processes_it_once(self):
        _mandate, sub, invoice, _collection = self._booked_invoice()
        camt = self._camt054([(invoice.name, "49.90", "AM04")])
        self.assertEqual(self._import(camt), {"processed": 1, "known": 0, "unknown": []})
        self.assertEqual(self._import(camt), {"processed": 0, "known": 1, "unknown": []})
        self.assertEqual(self.env["sepa.return"].search_count([("invoice_id", "=", invoice.id)]), 1)
        self.assertEqual(invoice.sepa_retry_count, 1)
        self.assertEqual(len(sub.charge_ids), 1, "one return fee")
        self.assertEqual(invoice.amount_residual, 49.90)

    def test_importing_the_same_camt054_after_the_retry_changes_nothing(self):
        _mandate, sub, invoice, _collection = self._booked_invoice()
        camt = self._camt054([(invoice.name, "49.90", "AM04")])
        self._import(camt)
        retry = self._collect(today=date(2026, 1, 21))
        self.assertEqual(retry.line_ids.invoice_id, invoice)
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(self._import(camt, today=date(2026, 1, 26)), {"processed": 0, "known": 1, "unknown": []})
        self.assertIn(invoice.payment_state, ("paid", "in_payment"))
        self.assertEqual(len(sub.charge_ids), 1)

    def test_importing_the_same_pain002_twice_processes_it_once(self):
        _mandate, _sub, invoice, collection = self._booked_invoice()
        report = self._pain002(collection.message_identifier, [(invoice.name, "49.90", "MS02")])
        self.assertEqual(self._import(report), {"processed": 1, "known": 0, "unknown": []})
        self.assertEqual(self._import(report), {"processed": 0, "known": 1, "unknown": []})
        sepa_return = self.env["sepa.return"].search([("invoice_id", "=", invoice.id)])
        self.assertEqual(len(sepa_return), 1)
        self.assertEqual(sepa_return.reason_id.code, "MS02")
        self.assertTrue(invoice.sepa_dunning_required)

    def test_unknown_end_to_end_id_is_reported(self):
        _mandate, _sub, invoice, _collection = self._booked_invoice()
        result = self._import(self._camt054([("INV/2026/99999", "10.00", "AM04"), (invoice.name, "49.90", "MS03")]))
        self.assertEqual(result, {"processed": 1, "known": 0, "unknown": ["INV/2026/99999"]})

    def test_unknown_reason_code_is_recorded_for_dunning(self):
        _mandate, _sub, invoice, _collection = self._booked_invoice()
        self._import(self._camt054([(invoice.name, "49.90", "ZZ99")]))
        reason = self.env["sepa.return.reason"].search([("code", "=", "ZZ99")])
        self.assertEqual(reason.action, "dunning")
        self.assertTrue(invoice.sepa_dunning_required)

    def test_subscription_user_imports_a_status_file_with_an_unknown_reason_code(self):
        # users may not configure reasons, but the import must record the return (issue 10)
        _mandate, _sub, invoice, collection = self._booked_invoice()
        user = new_test_user(self.env, login="sepa_clerk", groups="subscription_billing.group_subscription_user")
        content = self._camt054([(invoice.name, "49.90", "ZZ98")])
        with self._on(date(2026, 1, 20)):
            wizard = (
                self.env["sepa.status.import.wizard"].with_user(user).create({"data_file": base64.b64encode(content)})
            )
            result = wizard._import(content)
        self.assertEqual(result, {"processed": 1, "known": 0, "unknown": []})
        reason = self.env["sepa.return.reason"].search([("code", "=", "ZZ98")])
        self.assertEqual(reason.action, "dunning")
        self.assertEqual(self._line(collection, invoice).return_ids.reason_id, reason)
        with self.assertRaises(AccessError), self.env.cr.savepoint():
            self.env["sepa.return.reason"].with_user(user).create({"code": "ZZ97", "name": "x", "action": "dunning"})

    def test_manual_return_via_the_wizard(self):
        _mandate, _sub, invoice, collection = self._booked_invoice()
        line = self._line(collection, invoice)
        wizard = self.env["sepa.return.wizard"].create(
            {
                "collection_line_id": line.id,
                "reason_id": self.env.ref("subscription_billing.sepa_reason_md06").id,
                "return_date": date(2026, 1, 22),
            }
        )
        wizard.action_confirm()
        self.assertEqual(line.return_ids.source, "manual")
        self.assertEqual(line.return_ids.return_date, date(2026, 1, 22))
        self.assertEqual(invoice.payment_state, "not_paid")
        self.assertTrue(invoice.sepa_dunning_required)

    def test_return_of_a_debit_not_booked_is_refused(self):
        invoice = self._bill(self._dd_subscription(self._mandate(self.debtor_person)))
        collection = self._gather()
        collection.action_generate()
        with self.assertRaises(UserError):
            self.env["sepa.return"]._record_return(
                self._line(collection, invoice),
                self.env.ref("subscription_billing.sepa_reason_am04"),
                date(2026, 1, 20),
            )
        self.assertFalse(self._line(collection, invoice).return_ids)

    def test_a_bank_account_at_a_bank_with_an_invalid_bic_is_refused(self):
        bank = self.env["res.bank"].create({"name": "Broken Bank", "bic": "NOTABIC"})
        partner = self.env["res.partner"].create({"name": "BIC Tester"})
        with self.assertRaises(ValidationError) as caught:
            self.env["res.partner.bank"].create(
                {"partner_id": partner.id, "acc_number": "GB82WEST12345698765432", "bank_id": bank.id}
            )
        self.assertIn("BIC Tester", str(caught.exception))
        self.assertFalse(self.env["res.partner.bank"].search([("partner_id", "=", partner.id)]))
