from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..billing_core import sepa


class SepaMandateWizard(models.TransientModel):
    """Record a customer's mandate from an IBAN, with the customer's consent (date, channel)."""

    _name = "sepa.mandate.wizard"
    _description = "Record SEPA Mandate"

    partner_id = fields.Many2one("res.partner", string="Customer", required=True)
    subscription_id = fields.Many2one(
        "subscription.subscription",
        string="Pay Subscription",
        domain="[('commercial_partner_id', '=', commercial_partner_id)]",
        help="This subscription is paid by direct debit from now on.",
    )
    commercial_partner_id = fields.Many2one(related="partner_id.commercial_partner_id")
    iban = fields.Char(string="IBAN", required=True)
    account_holder = fields.Char(help="Name of the account holder, when not the customer.")
    signature_date = fields.Date(string="Consent Given On", required=True, default=fields.Date.context_today)
    signature_place = fields.Char(string="Place")
    consent_channel = fields.Selection(
        [("paper", "Signed paper form"), ("online", "Online (e-mandate)"), ("phone", "Phone (recorded)")],
        required=True,
        default="paper",
    )
    scheme = fields.Selection(
        [("CORE", "CORE (consumers)"), ("B2B", "B2B (businesses)")], required=True, default="CORE"
    )
    mandate_type = fields.Selection(
        [("recurrent", "Recurrent"), ("oneoff", "One-off")], required=True, default="recurrent"
    )
    reference = fields.Char(string="Mandate Reference", help="Leave empty to take the next from the sequence.")

    @api.constrains("iban")
    def _check_iban(self):
        for wizard in self:
            try:
                sepa.normalize_iban(wizard.iban)
            except ValueError as error:
                raise ValidationError(
                    self.env._(
                        "IBAN %(iban)s of %(partner)s is invalid: %(reason)s",
                        iban=wizard.iban,
                        partner=wizard.partner_id.display_name,
                        reason=self.env["res.partner.bank"]._get_sepa_error_reason(error),
                    )
                ) from error

    def action_confirm(self):
        self.ensure_one()
        mandate = self._create_mandate()
        return {
            "type": "ir.actions.act_window",
            "res_model": "sepa.mandate",
            "res_id": mandate.id,
            "view_mode": "form",
        }

    def _create_mandate(self):
        iban = sepa.normalize_iban(self.iban)
        owner = self.partner_id.commercial_partner_id
        bank = self.env["res.partner.bank"].search(
            [("sanitized_acc_number", "=", iban), ("partner_id", "child_of", owner.id)], limit=1
        ) or self.env["res.partner.bank"].create(
            {
                "partner_id": owner.id,
                "acc_number": iban,
                "acc_holder_name": self.account_holder or False,
            }
        )
        mandate = self.env["sepa.mandate"].create(
            {
                "partner_id": self.partner_id.id,
                "partner_bank_id": bank.id,
                "signature_date": self.signature_date,
                "signature_place": self.signature_place,
                "consent_channel": self.consent_channel,
                "scheme": self.scheme,
                "mandate_type": self.mandate_type,
                **({"reference": self.reference} if self.reference else {}),
            }
        )
        mandate.action_activate()
        if self.subscription_id:
            self.subscription_id.write({"payment_method": "sepa_dd", "sepa_mandate_id": mandate.id})
        return mandate
