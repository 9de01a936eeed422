from odoo import fields, models


class AccountMoveLine(models.Model):
    """Invoice lines know which subscription line and service period they bill."""

    _inherit = "account.move.line"

    subscription_id = fields.Many2one("subscription.subscription", copy=False, index="btree_not_null", readonly=True)
    subscription_line_id = fields.Many2one(
        "subscription.line", copy=False, index="btree_not_null", readonly=True, ondelete="restrict"
    )
    subscription_period_start = fields.Date(string="Service Start", copy=False)
    subscription_period_end = fields.Date(string="Service End", copy=False)
    subscription_charge_id = fields.Many2one(
        "subscription.charge", copy=False, index="btree_not_null", readonly=True, ondelete="restrict"
    )
    sepa_collection_line_id = fields.Many2one(
        "sepa.collection.line", copy=False, index="btree_not_null", readonly=True, ondelete="restrict"
    )
    subscription_discount_id = fields.Many2one(
        "subscription.discount", copy=False, index="btree_not_null", readonly=True, ondelete="restrict"
    )
    # a price converted from the plan currency by the billing run: the rate it used, for the audit trail
    subscription_exchange_rate = fields.Float(
        string="Exchange Rate",
        digits=0,
        copy=False,
        readonly=True,
        help="1 unit of the price currency = this many units of the invoice currency, at the rate date.",
    )
    subscription_rate_currency_id = fields.Many2one(
        "res.currency", string="Converted From", copy=False, readonly=True, help="Currency of the plan price."
    )
    subscription_rate_date = fields.Date(string="Rate Date", copy=False, readonly=True)

    # A period of a subscription line is billed at most once; a cancelled
    # invoice (parent_state = 'cancel') releases its periods.
    _subscription_period_unique = models.UniqueIndex(
        "(subscription_line_id, subscription_period_start) "
        "WHERE subscription_line_id IS NOT NULL AND parent_state != 'cancel'",
        "This period of the subscription line has already been invoiced.",
    )
    # A one-time charge is billed at most once (until its invoice is cancelled).
    _subscription_charge_unique = models.UniqueIndex(
        "(subscription_charge_id) WHERE subscription_charge_id IS NOT NULL AND parent_state != 'cancel'",
        "This one-time charge has already been invoiced.",
    )
