from datetime import date

from odoo import Command
from odoo.tests import tagged

from .common import SubscriptionCommon

#: CHF per 1 unit of the company currency, by the first day each rate applies (hand-picked)
CHF_RATES = [("2026-01-01", 1.25), ("2026-02-01", 1.6)]


@tagged("post_install", "-at_install", "subscription_billing")
class TestMrrLedgerCurrency(SubscriptionCommon):
    """The rate rule of the ledger: a movement's company-currency MRR after is converted at the rate of its date,
    its MRR before is the previous movement's MRR after, so the company-currency changes add up."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # the company currency is the reference: no rate of its own (Odoo then takes 1)
        cls.env.company.currency_id.rate_ids.unlink()
        cls.chf = cls.setup_other_currency("CHF", rates=CHF_RATES)
        cls.plan_chf = cls.env["subscription.plan"].create(
            {
                "name": "Seats priced in CHF",
                "code": "MRR-CHF",
                "line_ids": [
                    Command.create(
                        {
                            "product_id": cls.product_hosting.id,
                            "name": "Seat",
                            "price_unit": 100.0,
                            "price_ids": [Command.create({"currency_id": cls.chf.id, "price_unit": 100.0})],
                        }
                    )
                ],
            }
        )

    def test_company_currency_at_the_rate_of_each_movement(self):
        """New on 1 Jan: 100 CHF at 1.25 CHF a unit = 80.00. Quantity 1.5 from 10 Feb: 150 CHF at the February
        rate 1.6 = 93.75; the change in company currency is 93.75 − 80.00 = 13.75 (the 100 CHF are not
        re-converted). MRR on 28 Feb in company currency: 93.75."""
        sub = self._start(plan=self.plan_chf, currency_id=self.chf.id, start_date=date(2026, 1, 1))
        plan_line = self.plan_chf.line_ids
        sub._change({"plan_id": self.plan_chf.id, "lines": {str(plan_line.id): 1.5}}, "immediate", date(2026, 2, 10))
        moves = self.env["subscription.mrr.movement"].search([("subscription_id", "=", sub.id)], order="sequence")
        self.assertRecordValues(
            moves,
            [
                {
                    "kind": "new",
                    "mrr_after": 100.0,
                    "mrr_before_company": 0.0,
                    "mrr_after_company": 80.0,
                    "mrr_delta_company": 80.0,
                },
                {
                    "kind": "expansion",
                    "mrr_after": 150.0,
                    "mrr_before_company": 80.0,
                    "mrr_after_company": 93.75,
                    "mrr_delta_company": 13.75,
                },
            ],
        )
        self.assertEqual(moves.currency_id, self.chf)
        total = self.env["subscription.revenue.analytics"]._get_total_mrr(date(2026, 2, 28), self.env.company)
        self.assertEqual(float(total), 93.75)
