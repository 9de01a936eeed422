"""Plausibility bounds for dates and numbers that enter the addon.

Pure Python (no Odoo import). Every check returns ``None`` when the value is
acceptable, else a short machine-readable reason (``"not_finite"``,
``"too_large"``, ...) that the Odoo side turns into a translated message
naming the record and the field. The limits are shared by the model
constraints and the usage ingestion so that every way in applies the same
rules.
"""

import math
from datetime import date, datetime

#: default horizon (years before and after today) for contract and usage dates
DEFAULT_HORIZON_YEARS = 100

#: significant decimal digits a float (and Odoo's float arithmetic) carries exactly
FLOAT_SIGNIFICANT_DIGITS = 15

#: largest value of an Odoo Integer field (PostgreSQL int4)
MAX_INTEGER = 2**31 - 1

#: longest billing interval, trial, term or notice period per unit (ten years)
MAX_INTERVAL = {"day": 3660, "week": 522, "month": 120, "year": 10}

#: reasons returned by the checks below
NOT_FINITE = "not_finite"
TOO_LARGE = "too_large"
NEGATIVE = "negative"
TOO_EARLY = "too_early"
TOO_LATE = "too_late"
NOT_A_NUMBER = "not_a_number"


def max_abs_value(decimal_places):
    """Largest magnitude a value with ``decimal_places`` digits after the point keeps exactly.

    A float holds 15 significant decimal digits; an amount in a currency with
    2 decimal places is exact up to 9,999,999,999,999.99.
    """
    places = max(int(decimal_places or 0), 0)
    return 10 ** max(FLOAT_SIGNIFICANT_DIGITS - places, 1) - 10**-places


def check_number(value, decimal_places=2, allow_negative=False):
    """Why ``value`` is not a usable quantity or amount, or ``None``.

    Refuses non-numbers, NaN and infinities, values whose magnitude cannot be
    stored exactly at ``decimal_places`` and (unless ``allow_negative``)
    negative values.
    """
    if isinstance(value, bool):
        return NOT_A_NUMBER
    try:
        number = float(value)
    except (TypeError, ValueError):
        return NOT_A_NUMBER
    if not math.isfinite(number):
        return NOT_FINITE
    if abs(number) > max_abs_value(decimal_places):
        return TOO_LARGE
    if number < 0 and not allow_negative:
        return NEGATIVE
    return None


def check_integer(value, maximum=MAX_INTEGER, minimum=0):
    """Why ``value`` is not an integer within ``[minimum, maximum]``, or ``None``."""
    if isinstance(value, bool) or not isinstance(value, int):
        return NOT_A_NUMBER
    if value < minimum:
        return NEGATIVE if minimum == 0 else TOO_EARLY
    if value > maximum:
        return TOO_LARGE
    return None


def check_interval(count, unit):
    """Why an interval of ``count`` ``unit`` (day/week/month/year) is not sane, or ``None``.

    Zero is allowed (no trial, no minimum term); the caller refuses it where
    an interval must be at least one.
    """
    maximum = MAX_INTERVAL.get(unit, MAX_INTERVAL["day"])
    return check_integer(count, maximum=maximum)


def date_range(today, horizon_years=DEFAULT_HORIZON_YEARS):
    """First and last plausible day around ``today``: ``horizon_years`` before and after."""
    horizon = max(int(horizon_years or DEFAULT_HORIZON_YEARS), 1)
    return _shift_years(today, -horizon), _shift_years(today, horizon)


def check_date(value, today, horizon_years=DEFAULT_HORIZON_YEARS):
    """Why ``value`` (a date or datetime) lies outside the plausible range, or ``None``."""
    if value is None or value is False:
        return None
    day = value.date() if isinstance(value, datetime) else value
    if not isinstance(day, date):
        return NOT_A_NUMBER
    first, last = date_range(today, horizon_years)
    if day < first:
        return TOO_EARLY
    if day > last:
        return TOO_LATE
    return None


def _shift_years(day, years):
    year = min(max(day.year + years, date.min.year), date.max.year)
    try:
        return day.replace(year=year)
    except ValueError:  # 29 February in a year without one
        return day.replace(year=year, day=28)
