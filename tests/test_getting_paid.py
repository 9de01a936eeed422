"""Getting paid end to end: a refused card is retried on its schedule, then dunned with a manual
invoice of another customer, one letter per customer and run, fees and interest to the cent, and
paying ends the dunning.

Charging and dunning are tested on their own in test_payment_charging.py and test_dunning.py; this
file proves the hand-over between them on one timeline.
"""

from datetime import date

from odoo import Command
from odoo.tests import tagged
from odoo.tests.common import freeze_time

from .test_dunning import set_up_test_dunning_levels
from .test_payment_charging import ChargingCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestGettingPaid(ChargingCommon):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the levels of test_dunning.py: reminder 7 days; first notice 21 days (2.50 € fee, interest,
        # € 40 flat fee for businesses, own invoice); second 35 days; final 49 days
        set_up_test_dunning_levels(cls)
        cls.card_customer = cls.env["res.partner"].create(
            {"name": "Kartenfirma GmbH", "is_company": True, "email": "ap@kartenfirma.example"}
        )
        cls.transfer_customer = cls.env["res.partner"].create(
            {"name": "Überweiser KG", "is_company": True, "email": "ap@ueberweiser.example"}
        )

    def _dun(self, day):
        with freeze_time(f"{day.isoformat()} 10:00:00"):
            return self.env["subscription.dunning.run"]._run_for_all(day, companies=self.company)

    def _entries(self, invoice):
        return self.env["subscription.dunning.entry"].search([("invoice_id", "=", invoice.id)])

    def test_refused_card_is_retried_then_dunned_with_a_manual_invoice_one_letter_each(self):
        """Timeline (schedule 1,3,5,7; reminder after 7 days; first notice after 21 days with a
        2.50 fee, § 288 interest and the € 40 flat fee for businesses):

        - 1 Jan: the card subscription's invoice (100.00 + 15 % tax = 115.00) is posted and refused;
          retries on 2, 4, 6 and 8 Jan are refused too: charging gives up on 8 Jan, which is where
          its overdue days start. A manual invoice of 200.00 of another customer is due on 1 Jan.
        - While the card is retried, dunning leaves the card invoice alone: on 7 Jan only the
          manual invoice (6 days) — below the reminder (7 days): no letter at all.
        - 8 Jan: the manual invoice is 7 days overdue: one reminder letter for its customer; the card
          invoice starts its count today (0 days): nothing.
        - 15 Jan: the card invoice is 7 days overdue since 8 Jan: one reminder for its customer; the
          manual invoice already had its reminder and is 14 days overdue: nothing new for it.
        - 29 Jan: the card invoice is 21 days overdue: first notice. Interest for (8 Jan, 29 Jan] =
          21 days at base rate 1.50 % + 9 points (business) = 10.50 %:
          115.00 × 0.105 × 21 / 365 = 253.575 / 365 = 0.6947… → 0.69. Letter total = 115.00 overdue
          + 2.50 fee + 40.00 flat fee + 0.69 interest = 158.19. The manual invoice is 28 days overdue
          and reached the first notice on 22 Jan (21 days): fee 2.50 + flat fee 40.00 + interest
          200.00 × 0.105 × 21 / 365 = 441 / 365 = 1.2082… → 1.21, together 43.71 on an invoice of its
          own dated and due 22 Jan; on 29 Jan that fee invoice is 7 days overdue: a reminder letter
          for the transfer customer next to the card customer's first notice, listing both of its
          overdue items (200.00 + 43.71 = 243.71).
        - 30 Jan: the card customer pays 115.00: no further dunning entry for that invoice on 19 Feb
          (42 days since 8 Jan would reach the second notice, 35 days).
        """
        token = self._token(partner=self.card_customer, state="cancel", ref="4000")
        card_sub = self._start(partner=self.card_customer, payment_method="token", payment_token_id=token.id)
        card_invoice = self._bill(card_sub)
        self.assertEqual(card_invoice.amount_total, 115.0)
        transfer_invoice = self.env["account.move"].create(
            {
                "move_type": "out_invoice",
                "partner_id": self.transfer_customer.id,
                "invoice_date": date(2026, 1, 1),
                "invoice_date_due": date(2026, 1, 1),
                "invoice_line_ids": [
                    Command.create(
                        {"name": "Consulting", "quantity": 1, "price_unit": 200.0, "tax_ids": [Command.clear()]}
                    )
                ],
            }
        )
        transfer_invoice.action_post()

        for day in (date(2026, 1, 1), date(2026, 1, 2), date(2026, 1, 4), date(2026, 1, 6)):
            self.assertEqual(len(self._charge_due(day)), 1, day)
            self.assertTrue(card_invoice.subscription_charge_pending)
        self.assertFalse(self._dun(date(2026, 1, 7)), "6 days overdue is below the reminder; the card is retried")

        self.assertEqual(len(self._charge_due(date(2026, 1, 8))), 1)
        self.assertFalse(card_invoice.subscription_charge_pending)
        self.assertEqual(card_invoice.subscription_dunning_start_date, date(2026, 1, 8))
        letters = self._dun(date(2026, 1, 8))
        self.assertEqual(letters.partner_id, self.transfer_customer)
        self.assertEqual(letters.level_id, self.reminder)
        self.assertFalse(self._entries(card_invoice))

        letters = self._dun(date(2026, 1, 15))
        self.assertEqual(letters.partner_id, self.card_customer, "one letter, for the card customer only")
        self.assertEqual(letters.level_id, self.reminder)
        self.assertEqual(self._entries(transfer_invoice).level_id, self.reminder)

        self.assertEqual(self._dun(date(2026, 1, 22)).partner_id, self.transfer_customer)
        letters = self._dun(date(2026, 1, 29))
        self.assertEqual(letters.partner_id, self.card_customer | self.transfer_customer)
        fee_letter = letters.filtered(lambda letter: letter.partner_id == self.transfer_customer)
        self.assertEqual(fee_letter.level_id, self.reminder, "the fee invoice of 22 Jan, due that day: 7 days")
        self.assertEqual(fee_letter.amount_overdue, 243.71, "every overdue item is listed: 200.00 + 43.71")
        card_letter = letters - fee_letter
        self.assertRecordValues(
            card_letter,
            [
                {
                    "partner_id": self.card_customer.id,
                    "level_id": self.first.id,
                    "amount_overdue": 115.00,
                    "fee_amount": 2.50,
                    "flat_fee_amount": 40.00,
                    "interest_amount": 0.69,
                    "amount_total": 158.19,
                }
            ],
        )
        self.assertEqual(self._entries(card_invoice).level_id, self.reminder | self.first)

        with freeze_time("2026-01-30 10:00:00"):
            self.env["account.payment.register"].with_context(
                active_model="account.move", active_ids=card_invoice.ids
            ).create({"payment_date": date(2026, 1, 30), "amount": 115.0})._create_payments()
        self.assertIn(card_invoice.payment_state, ("paid", "in_payment"))
        self._dun(date(2026, 2, 19))
        self.assertEqual(
            self._entries(card_invoice).level_id,
            self.reminder | self.first,
            "a paid invoice climbs no further",
        )
