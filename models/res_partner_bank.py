from odoo import _, api, models
from odoo.exceptions import ValidationError

from ..billing_core import sepa


class ResPartnerBank(models.Model):
    """IBANs are checked (checksum and structure; the national check digits when a mandate uses them);
    the BIC is derived when known."""

    _inherit = "res.partner.bank"

    @api.constrains("acc_number")
    def _check_iban(self):
        for account in self:
            number = (account.acc_number or "").replace(" ", "").upper()
            if len(number) < 4 or not (number[:2].isalpha() and number[2:4].isdigit()):
                continue  # not an IBAN (a national account number): nothing to check here
            try:
                sepa.normalize_iban(number, national=False)
            except ValueError as error:
                raise ValidationError(
                    _(
                        "IBAN %(iban)s of %(partner)s is invalid: %(reason)s",
                        iban=account.acc_number,
                        partner=account.partner_id.display_name,
                        reason=error,
                    )
                ) from error

    @api.constrains("bank_id")
    def _check_bic(self):
        for account in self.filtered("bank_id.bic"):
            try:
                sepa.normalize_bic(account.bank_id.bic)
            except ValueError as error:
                raise ValidationError(
                    _(
                        "BIC %(bic)s of the bank account of %(partner)s is invalid: %(reason)s",
                        bic=account.bank_id.bic,
                        partner=account.partner_id.display_name,
                        reason=error,
                    )
                ) from error

    @api.model_create_multi
    def create(self, vals_list):
        accounts = super().create(vals_list)
        accounts._set_bank_from_iban()
        return accounts

    def _set_bank_from_iban(self):
        """Fill the bank (and so the BIC) from the IBAN where the bank registry knows it."""
        Bank = self.env["res.bank"]
        for account in self.filtered(lambda a: not a.bank_id and a.acc_number):
            try:
                bic = sepa.bic_for_iban(sepa.normalize_iban(account.acc_number, national=False))
            except ValueError:
                continue  # not an IBAN
            if not bic:
                continue
            bank = Bank.search([("bic", "=", bic)], limit=1) or Bank.create({"name": bic, "bic": bic})
            account.bank_id = bank
