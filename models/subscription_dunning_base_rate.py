from decimal import Decimal

from odoo import fields, models


class SubscriptionDunningBaseRate(models.Model):
    """The base rate (Basiszinssatz, § 247 BGB) from a date on: default interest adds its points to it."""

    _name = "subscription.dunning.base.rate"
    _description = "Base Interest Rate"
    _order = "date_from desc"
    _rec_name = "date_from"

    date_from = fields.Date(string="Valid From", required=True)
    rate = fields.Float(string="Rate (%)", required=True, digits=(5, 2))

    _date_unique = models.Constraint("UNIQUE(date_from)", "There is already a base rate from this date.")

    def _get_table(self):
        """All rates as ``[(date_from, Decimal rate)]`` for :func:`billing_core.dunning.default_interest`."""
        rows = self.sudo().search_read([], ["date_from", "rate"], order="date_from")
        return [(row["date_from"], Decimal(str(row["rate"]))) for row in rows]
