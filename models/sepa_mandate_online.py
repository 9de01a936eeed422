from odoo import fields, models


class SepaMandate(models.Model):
    """Evidence of a mandate the customer signed online in the portal."""

    _inherit = "sepa.mandate"

    online_signed_at = fields.Datetime(
        string="Signed Online At", readonly=True, copy=False, help="Date and time the customer signed in the portal."
    )
    online_ip_address = fields.Char(
        string="Signed From IP Address", readonly=True, copy=False, help="IP address the customer signed from."
    )
