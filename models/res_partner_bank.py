from odoo import api, models
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
                    self.env._(
                        "IBAN %(iban)s of %(partner)s is invalid: %(reason)s",
                        iban=account.acc_number,
                        partner=account.partner_id.display_name,
                        reason=self._get_sepa_error_reason(error),
                    )
                ) from error

    @api.constrains("bank_id")
    def _check_bic(self):
        for account in self.filtered("bank_id.bic"):
            try:
                sepa.normalize_bic(account.bank_id.bic)
            except ValueError as error:
                raise ValidationError(
                    self.env._(
                        "BIC %(bic)s of the bank account of %(partner)s is invalid: %(reason)s",
                        bic=account.bank_id.bic,
                        partner=account.partner_id.display_name,
                        reason=self._get_sepa_error_reason(error),
                    )
                ) from error

    @api.model
    def _get_sepa_error_reason(self, error):
        """Why an IBAN, BIC or creditor identifier is invalid, in the user's language (never the English
        text of the library that found it)."""
        code = getattr(error, "code", None)
        params = getattr(error, "params", {})
        if code == "empty":
            return self.env._("it is empty")
        if code == "iban_check_digits":
            return self.env._("the check digits do not match")
        if code == "iban_national_check_digits":
            return self.env._("the bank's own check digits in the account number do not match")
        if code == "iban_length":
            return self.env._("it does not have the length of an IBAN of its country")
        if code == "iban_country":
            return self.env._("it does not start with a known country code")
        if code == "iban_structure":
            return self.env._("the bank code or account number does not have the format of its country")
        if code == "bic_invalid":
            return self.env._("a BIC has 8 or 11 letters and digits (bank, country, location, optional branch)")
        if code == "creditor_malformed":
            return self.env._(
                "expected a country code, 2 check digits, a 3-character business code and a national "
                "identifier, at most 35 letters and digits"
            )
        if code == "creditor_german_malformed":
            return self.env._(
                "a German identifier has 18 characters: DE, 2 check digits, business code, 0 and 10 digits"
            )
        if code == "creditor_check_digits":
            return self.env._(
                "the check digits %(found)s do not match (expected %(expected)s)",
                found=params.get("found"),
                expected=params.get("expected"),
            )
        return self.env._("it is not valid")

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
