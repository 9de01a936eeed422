from odoo import fields, models


class SubscriptionDunningEntry(models.Model):
    """One overdue invoice reaching one dunning level: the history row.

    An invoice reaches a level at most once (a database constraint): a rerun,
    a second worker or a crash mid-run cannot dun it twice at the same level.
    """

    _name = "subscription.dunning.entry"
    _description = "Dunning History Entry"
    _order = "date desc, id desc"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    invoice_id = fields.Many2one("account.move", required=True, ondelete="cascade", index=True, readonly=True)
    partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, readonly=True)
    level_id = fields.Many2one("subscription.dunning.level", required=True, ondelete="restrict", readonly=True)
    letter_id = fields.Many2one("subscription.dunning.letter", ondelete="set null", readonly=True)
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    currency_id = fields.Many2one(related="company_id.currency_id")
    date = fields.Date(required=True, readonly=True)
    overdue_since = fields.Date(readonly=True, help="The due date, or the day a debit came back.")
    days_overdue = fields.Integer(readonly=True)
    amount_overdue = fields.Monetary(string="Open Amount", currency_field="currency_id", readonly=True)
    flat_fee = fields.Monetary(currency_field="currency_id", readonly=True)
    interest = fields.Monetary(string="Default Interest", currency_field="currency_id", readonly=True)
    interest_from = fields.Date(readonly=True, help="Interest is charged for the days after this date ...")
    interest_to = fields.Date(readonly=True, help="... up to and including this date.")
    subscription_ids = fields.Many2many(related="invoice_id.subscription_ids", string="Subscriptions")
    invoice_payment_state = fields.Selection(related="invoice_id.payment_state", string="Payment Status")

    # ------------------------------------------------------------------
    # Constraints and indexes
    # ------------------------------------------------------------------
    _invoice_level_unique = models.Constraint(
        "UNIQUE(invoice_id, level_id)", "This invoice has already reached this dunning level."
    )
