from odoo import fields, models


class PaymentTransaction(models.Model):
    """The attempt facts of a failed automatic charge, kept on its transaction for the
    ``invoice.payment_failed`` event (its payload is built when the transaction is flushed)."""

    _inherit = "payment.transaction"

    subscription_charge_attempt = fields.Integer(
        string="Charge Attempt", readonly=True, copy=False, help="The number of this failed attempt on its invoice."
    )
    subscription_charge_failure_kind = fields.Selection(
        [("soft", "Soft (retried)"), ("hard", "Hard (not retried)")],
        string="Failure Kind",
        readonly=True,
        copy=False,
    )
    subscription_charge_retry_date = fields.Date(
        string="Next Attempt",
        readonly=True,
        copy=False,
        help="The next attempt after this failure; empty when charging gave up.",
    )
