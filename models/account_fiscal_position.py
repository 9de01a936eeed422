from odoo import api, models

from ..billing_core import tax_regime


class AccountFiscalPosition(models.Model):
    """Fiscal position of a subscription from the customer's country and VAT number (EU OSS, reverse charge)."""

    _inherit = "account.fiscal.position"

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _get_subscription_tax_regime(self, partner, company):
        """The :class:`~..billing_core.tax_regime.TaxRegime` of selling to ``partner`` (an invoice address).

        The VAT number and the company type are the commercial partner's; the
        country is the address's (the commercial partner's when the address has none).
        A customer with a VAT number counts as a business even when entered as a person.
        """
        commercial = partner.commercial_partner_id
        country = partner.country_id or commercial.country_id
        return tax_regime.determine_regime(
            company.account_fiscal_country_id.code,
            country.code,
            commercial.vat,
            commercial.is_company or bool(commercial.vat),
        )

    @api.model
    def _get_subscription_fiscal_position(self, partner, company):
        """Fiscal position of a subscription of ``company`` invoiced to ``partner``.

        * a fiscal position set by hand on the customer wins (as in Odoo), except
          the reverse-charge one (or any requiring a VAT number) when the VAT number is invalid;
        * domestic: the company's domestic position (or Odoo's automatic choice among the
          positions that require no VAT number), never the reverse-charge or export one;
        * EU consumer: the customer country's OSS position (the one ``l10n_eu_oss``
          creates: automatic, that country, no VAT required, no foreign VAT), else
          Odoo's automatic choice among the positions that require no VAT number
          (none: below the OSS threshold the domestic VAT applies);
        * EU business with a valid VAT number: the company's reverse-charge position;
        * outside the EU: the company's export position.

        :return: account.fiscal.position (possibly empty)
        """
        FiscalPosition = self.with_company(company)
        if not partner:
            return FiscalPosition.browse()
        regime = self._get_subscription_tax_regime(partner, company)
        reverse_charge = company._get_subscription_fpos_reverse_charge()
        manual = (
            partner.with_company(company).property_account_position_id
            or partner.commercial_partner_id.with_company(company).property_account_position_id
        )
        # a position that needs a VAT number (reverse charge, also a copy set by hand) needs a valid one
        if manual and not (regime.vat_invalid and (manual == reverse_charge or manual.vat_required)):
            return manual
        if regime.regime == tax_regime.DOMESTIC:
            domestic = company.domestic_fiscal_position_id
            if domestic.country_id != company.account_fiscal_country_id:
                # Odoo may take an EU-wide position as "domestic" when the chart has no national one
                domestic = FiscalPosition._get_automatic_fiscal_position(partner, vat_required=False)
            return domestic - reverse_charge - company._get_subscription_fpos_export()
        if regime.regime == tax_regime.EU_REVERSE_CHARGE:
            return reverse_charge or FiscalPosition._get_automatic_fiscal_position(partner)
        if regime.regime == tax_regime.EXPORT:
            return company._get_subscription_fpos_export() or FiscalPosition._get_automatic_fiscal_position(partner)
        # EU consumer: OSS position of the customer's country, never one requiring a VAT number
        country = partner.country_id or partner.commercial_partner_id.country_id
        oss = FiscalPosition.search(
            [
                *self._check_company_domain(company),
                ("auto_apply", "=", True),
                ("country_id", "=", country.id),
                ("vat_required", "=", False),
                ("foreign_vat", "=", False),
            ],
            limit=1,
        )
        return oss or FiscalPosition._get_automatic_fiscal_position(partner, vat_required=False)

    @api.model
    def _get_automatic_fiscal_position(self, partner, vat_required=None):
        """Odoo's automatic choice for ``partner`` in the current company, optionally
        restricted to positions that do (not) require a VAT number."""
        domain = [*self._check_company_domain(self.env.company), ("auto_apply", "=", True)]
        if vat_required is not None:
            domain.append(("vat_required", "=", vat_required))
        return self.search(domain)._get_first_matching_fpos(partner)
