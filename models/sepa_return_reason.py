from odoo import fields, models


class SepaReturnReason(models.Model):
    """An R-transaction reason code (AM04, MD06, ...) and what to do when a debit comes back with it.

    Shipped as data a merchant can extend.
    """

    _name = "sepa.return.reason"
    _description = "SEPA Return Reason"
    _order = "code"
    _rec_names_search = ["code", "name"]

    code = fields.Char(required=True)
    name = fields.Char(required=True, translate=True)
    description = fields.Text(translate=True)
    action = fields.Selection(
        [
            ("retry", "Present again in the next collection"),
            ("dunning", "Mark for dunning"),
            ("block", "Block the mandate, reset the payment method"),
            ("none", "Only record it"),
        ],
        required=True,
        default="dunning",
    )
    active = fields.Boolean(default=True)

    _code_unique = models.Constraint("UNIQUE(code)", "A return reason code exists only once.")

    def _compute_display_name(self):
        for reason in self:
            reason.display_name = f"{reason.code} – {reason.name}"
