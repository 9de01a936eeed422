"""Which VAT regime applies to a sale of digital services: domestic, EU OSS, reverse charge or export.

Free of any Odoo import. The seller is a company established in
``company_country``; the buyer is described by its country, its VAT number
(or ``None``) and whether it acts as a business. The rules (EU VAT Directive
2006/112/EC, place of supply of services):

* same country as the seller → ``domestic`` (the seller's own VAT);
* another EU member state, business with a VAT number that is **valid** for
  that member state → ``eu_reverse_charge`` (Art. 44 and 196: no VAT on the
  invoice, the customer accounts for it; both VAT numbers and the note
  "Reverse charge" on the invoice);
* another EU member state otherwise (consumer, or a business without a valid
  number) → ``eu_oss_consumer`` (the customer's country's VAT, declared
  through the One-Stop-Shop);
* outside the EU → ``export`` (not taxable in the seller's country).

"Valid" means format and check digits per ``python-stdnum``
(:func:`stdnum.eu.vat.is_valid`) and a country prefix matching the customer's
country: Greece uses the prefix ``EL``, not its ISO code ``GR``. There is no
VIES (network) check here. A VAT number that is given but invalid never yields
reverse charge: the customer is treated as a consumer and the result carries
``vat_invalid`` so that the caller can warn.

Northern Ireland (VAT prefix ``XI``) belongs to the EU VAT area for *goods*
only (Windsor Framework); services to Northern Ireland are supplies to the
United Kingdom, so ``XI``/``GB`` customers are ``export`` here.

A customer without a country is treated as ``domestic``: without a place of
supply the seller charges its own VAT (the safe side).
"""

from __future__ import annotations

from dataclasses import dataclass

from stdnum.eu import vat as eu_vat
from stdnum.util import clean

DOMESTIC = "domestic"
EU_OSS_CONSUMER = "eu_oss_consumer"
EU_REVERSE_CHARGE = "eu_reverse_charge"
EXPORT = "export"

REGIMES = (DOMESTIC, EU_OSS_CONSUMER, EU_REVERSE_CHARGE, EXPORT)

#: the 27 EU member states (ISO 3166 codes), since 1 Feb 2020 (United Kingdom left), from python-stdnum's
#: list of VAT areas; without ``XI`` (Northern Ireland: goods only, see above). stdnum lists Greece under
#: its ISO code ``gr`` (its VAT prefix ``EL`` is :data:`VAT_PREFIX_BY_COUNTRY`).
EU_MEMBER_STATES = frozenset(code.upper() for code in eu_vat.MEMBER_STATES) - {"XI"}

#: VAT number prefixes that differ from the ISO country code
VAT_PREFIX_BY_COUNTRY = {"GR": "EL"}

#: why a VAT number is refused (``TaxRegime.vat_problem``)
VAT_CHECK_DIGITS = "check_digits"
VAT_COUNTRY_MISMATCH = "country_mismatch"


@dataclass(frozen=True)
class TaxRegime:
    """The regime of one sale and whether the customer's VAT number was refused."""

    regime: str
    vat_invalid: bool = False
    vat_problem: str = ""  # VAT_CHECK_DIGITS or VAT_COUNTRY_MISMATCH when vat_invalid

    @property
    def is_reverse_charge(self):
        return self.regime == EU_REVERSE_CHARGE


def vat_prefix(country_code):
    """VAT number prefix of an EU member state: the ISO code, except ``EL`` for Greece."""
    code = (country_code or "").upper()
    return VAT_PREFIX_BY_COUNTRY.get(code, code)


def compact_vat(vat):
    """``vat`` without spaces, dots and dashes, upper case; ``""`` for ``None``."""
    return clean(vat or "", " -./,").upper().strip()


def check_vat(vat, country_code):
    """Check ``vat`` as the VAT number of a customer in EU member state ``country_code``.

    :return: ``""`` when valid, else :data:`VAT_COUNTRY_MISMATCH` (the prefix
        is not the country's) or :data:`VAT_CHECK_DIGITS` (format or check digits wrong)
    """
    number = compact_vat(vat)
    if number[:2] != vat_prefix(country_code):
        return VAT_COUNTRY_MISMATCH
    if not eu_vat.is_valid(number):
        return VAT_CHECK_DIGITS
    return ""


def determine_regime(company_country, customer_country, vat, is_business, eu_members=EU_MEMBER_STATES):
    """The :class:`TaxRegime` of a sale by a company in ``company_country``.

    :param company_country: ISO code of the seller's (fiscal) country
    :param customer_country: ISO code of the customer's country, or ``None``
    :param vat: the customer's VAT number or ``None``/``""``
    :param is_business: whether the customer acts as a business (a taxable person)
    :param eu_members: ISO codes of the EU member states
    """
    company_country = (company_country or "").upper()
    customer_country = (customer_country or "").upper() or company_country
    has_vat = bool(compact_vat(vat))
    in_eu = customer_country in eu_members
    problem = check_vat(vat, customer_country) if has_vat and in_eu else ""
    if customer_country == company_country:
        return TaxRegime(DOMESTIC, bool(problem), problem)
    if not in_eu or company_country not in eu_members:
        return TaxRegime(EXPORT)
    if has_vat and not problem and is_business:
        return TaxRegime(EU_REVERSE_CHARGE)
    return TaxRegime(EU_OSS_CONSUMER, bool(problem), problem)
