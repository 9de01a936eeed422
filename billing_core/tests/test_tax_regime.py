"""Tests for ``billing_core.tax_regime`` (pure Python, no Odoo).

Valid VAT numbers are built here with their own check-digit formulas, written
independently of python-stdnum: France ``FR`` + key + SIREN (8 digits and a
Luhn check digit) with key = (12 + 3 * (SIREN mod 97)) mod 97; Germany ``DE`` + 8 digits + an ISO 7064
MOD 11,10 check digit.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from billing_core.tax_regime import (
    DOMESTIC,
    EU_MEMBER_STATES,
    EU_OSS_CONSUMER,
    EU_REVERSE_CHARGE,
    EXPORT,
    VAT_CHECK_DIGITS,
    VAT_COUNTRY_MISMATCH,
    check_vat,
    determine_regime,
    vat_prefix,
)


def luhn_siren(body):
    """A SIREN: 8 digits and a Luhn check digit."""
    digits = [int(d) for d in f"{body:08d}"]
    total = 0
    for position, digit in enumerate(reversed(digits)):
        doubled = digit * 2 if position % 2 == 0 else digit
        total += doubled - 9 if doubled > 9 else doubled
    return body * 10 + (10 - total % 10) % 10


def french_vat(siren):
    key = (12 + 3 * (siren % 97)) % 97
    return f"FR{key:02d}{siren:09d}"


def german_vat(body):
    digits = f"{body:08d}"
    product = 10
    for digit in digits:
        total = (int(digit) + product) % 10 or 10
        product = (2 * total) % 11
    check = (11 - product) % 10
    return f"DE{digits}{check}"


FR_VALID = french_vat(303265045)  # FR40303265045
DE_VALID = german_vat(12345678)  # DE123456788
EL_VALID = "EL094259216"  # Greek example of the European Commission's VIES documentation


def test_hand_built_numbers_match_known_examples():
    assert luhn_siren(30326504) == 303265045
    assert FR_VALID == "FR40303265045"
    assert DE_VALID == "DE123456788"


def test_eu_has_27_member_states_without_the_uk():
    assert len(EU_MEMBER_STATES) == 27
    assert "GB" not in EU_MEMBER_STATES
    assert "XI" not in EU_MEMBER_STATES
    assert {"DE", "FR", "GR", "HR"} <= EU_MEMBER_STATES


#: the hand-written list that python-stdnum's data replaced (issue 15), kept as the oracle
FORMER_EU_MEMBER_STATES = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()
)


def test_member_states_from_stdnum_are_the_former_hand_written_27():
    """Same set as the former list: ISO ``GR`` (not the VAT prefix ``EL``), no ``XI``/``GB``."""
    assert EU_MEMBER_STATES == FORMER_EU_MEMBER_STATES
    assert "EL" not in EU_MEMBER_STATES


# --- the four regimes -------------------------------------------------------
def test_german_consumer_of_german_company_is_domestic():
    assert determine_regime("DE", "DE", None, False).regime == DOMESTIC


def test_german_business_with_vat_is_still_domestic():
    result = determine_regime("DE", "DE", DE_VALID, True)
    assert result.regime == DOMESTIC
    assert not result.vat_invalid


def test_french_consumer_is_oss():
    result = determine_regime("DE", "FR", None, False)
    assert result.regime == EU_OSS_CONSUMER
    assert not result.vat_invalid


def test_french_business_with_valid_vat_is_reverse_charge():
    result = determine_regime("DE", "FR", FR_VALID, True)
    assert result.regime == EU_REVERSE_CHARGE
    assert result.is_reverse_charge
    assert not result.vat_invalid


def test_vat_is_compacted_before_the_check():
    assert determine_regime("DE", "FR", "fr 40 303.265-045", True).regime == EU_REVERSE_CHARGE


def test_french_business_with_wrong_check_digits_is_consumer_with_warning():
    wrong_key = "FR41303265045"
    result = determine_regime("DE", "FR", wrong_key, True)
    assert result.regime == EU_OSS_CONSUMER
    assert result.vat_invalid
    assert result.vat_problem == VAT_CHECK_DIGITS


def test_vat_of_another_country_never_yields_reverse_charge():
    # a valid German number on a French customer: the prefix does not match the country
    result = determine_regime("DE", "FR", DE_VALID, True)
    assert result.regime == EU_OSS_CONSUMER
    assert result.vat_invalid
    assert result.vat_problem == VAT_COUNTRY_MISMATCH


def test_business_flag_is_required_for_reverse_charge():
    result = determine_regime("DE", "FR", FR_VALID, False)
    assert result.regime == EU_OSS_CONSUMER
    assert not result.vat_invalid


def test_greece_uses_the_el_prefix():
    assert vat_prefix("GR") == "EL"
    assert determine_regime("DE", "GR", EL_VALID, True).regime == EU_REVERSE_CHARGE
    # the ISO code is not the VAT prefix of Greece
    result = determine_regime("DE", "GR", "GR" + EL_VALID[2:], True)
    assert result.regime == EU_OSS_CONSUMER
    assert result.vat_problem == VAT_COUNTRY_MISMATCH


@pytest.mark.parametrize("country", ["CH", "US", "GB", "XI", "NO"])
def test_customers_outside_the_eu_are_export(country):
    result = determine_regime("DE", country, "CHE-123.456.788" if country == "CH" else None, True)
    assert result.regime == EXPORT
    assert not result.vat_invalid


def test_invalid_vat_of_a_domestic_customer_is_flagged_but_stays_domestic():
    result = determine_regime("DE", "DE", "DE123456789", True)
    assert result.regime == DOMESTIC
    assert result.vat_invalid


def test_customer_without_country_is_domestic():
    assert determine_regime("DE", None, None, False).regime == DOMESTIC
    assert determine_regime("DE", "", FR_VALID, True).regime == DOMESTIC


def test_country_codes_are_case_insensitive():
    assert determine_regime("de", "fr", FR_VALID, True).regime == EU_REVERSE_CHARGE


def test_company_outside_the_eu_sells_everything_abroad_as_export():
    assert determine_regime("CH", "FR", FR_VALID, True).regime == EXPORT
    assert determine_regime("CH", "CH", None, False).regime == DOMESTIC


def test_custom_member_list_is_used():
    assert determine_regime("DE", "FR", None, False, eu_members=frozenset({"DE"})).regime == EXPORT


def test_check_vat_reasons():
    assert check_vat(FR_VALID, "FR") == ""
    assert check_vat(FR_VALID, "BE") == VAT_COUNTRY_MISMATCH
    assert check_vat("FR4030326504", "FR") == VAT_CHECK_DIGITS  # one digit short


# --- properties ---------------------------------------------------------------
sirens = st.integers(min_value=10_000_000, max_value=99_999_999).map(luhn_siren)
german_bodies = st.integers(min_value=10_000_000, max_value=99_999_999)


@given(sirens)
def test_any_correct_french_number_is_reverse_charge(siren):
    assert determine_regime("DE", "FR", french_vat(siren), True).regime == EU_REVERSE_CHARGE


@given(sirens, st.integers(min_value=1, max_value=96))
def test_a_wrong_french_key_is_never_reverse_charge(siren, shift):
    good = french_vat(siren)
    wrong_key = (int(good[2:4]) + shift) % 97
    result = determine_regime("DE", "FR", f"FR{wrong_key:02d}{siren:09d}", True)
    assert result.regime == EU_OSS_CONSUMER
    assert result.vat_invalid


@given(german_bodies, st.integers(min_value=1, max_value=9))
def test_a_wrong_german_check_digit_is_never_reverse_charge(body, shift):
    good = german_vat(body)
    wrong = good[:-1] + str((int(good[-1]) + shift) % 10)
    assert determine_regime("FR", "DE", good, True).regime == EU_REVERSE_CHARGE
    assert determine_regime("FR", "DE", wrong, True).regime == EU_OSS_CONSUMER


countries = st.sampled_from(sorted(EU_MEMBER_STATES | {"CH", "US", "GB", "NO", "JP"}))


@given(countries, countries, st.one_of(st.none(), st.just(FR_VALID), st.just(DE_VALID)), st.booleans())
def test_regime_follows_the_countries(company_country, customer_country, vat, is_business):
    result = determine_regime(company_country, customer_country, vat, is_business)
    if customer_country == company_country:
        expected = {DOMESTIC}
    elif customer_country not in EU_MEMBER_STATES or company_country not in EU_MEMBER_STATES:
        expected = {EXPORT}
    else:
        expected = {EU_OSS_CONSUMER, EU_REVERSE_CHARGE}
    assert result.regime in expected
    if result.regime == EU_REVERSE_CHARGE:
        assert is_business and vat and vat[:2] == customer_country
    assert not (result.vat_invalid and result.regime == EU_REVERSE_CHARGE)
