"""Constraint helpers that apply :mod:`billing_core.bounds` to records, with messages naming the field.

Not a model: functions the models' ``@api.constrains`` methods call.
"""

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tools import format_date

from ..billing_core import bounds

#: ir.config_parameter holding the date horizon (years before and after today)
HORIZON_PARAM = "subscription_billing.date_horizon_years"


def get_date_horizon_years(env):
    """The configured plausible-date horizon in years (``subscription_billing.date_horizon_years``)."""
    value = env["ir.config_parameter"].sudo().get_param(HORIZON_PARAM)
    try:
        return max(int(value), 1) if value else bounds.DEFAULT_HORIZON_YEARS
    except ValueError:
        return bounds.DEFAULT_HORIZON_YEARS


def _decimal_places(record, field):
    if field.type == "monetary":
        currency = record[field.get_currency_field(record)]
        return currency.decimal_places if currency else 2
    digits = field.get_digits(record.env)
    return digits[1] if digits else 6


def check_numbers(records, fnames, refuse_negative=()):
    """Refuse NaN, infinities, magnitudes a float does not keep exactly and negatives in ``refuse_negative``.

    Fields with their own, more specific "cannot be negative" constraint are not listed in ``refuse_negative``.
    """
    for record in records:
        for fname in fnames:
            field = record._fields[fname]
            value = record[fname]
            if field.type == "integer":
                reason = bounds.check_integer(value, minimum=0 if fname in refuse_negative else -bounds.MAX_INTEGER)
                reason = bounds.NEGATIVE if reason == bounds.TOO_EARLY else reason
            else:
                reason = bounds.check_number(
                    value, _decimal_places(record, field), allow_negative=fname not in refuse_negative
                )
            if reason:
                raise ValidationError(_number_message(record, field, value, reason))


def check_dates(records, fnames):
    """Refuse dates outside today ± the configured horizon."""
    if not records:
        return
    env = records.env
    today = fields.Date.context_today(records)
    horizon = get_date_horizon_years(env)
    for record in records:
        for fname in fnames:
            value = record[fname]
            if value and bounds.check_date(value, today, horizon):
                first, last = bounds.date_range(today, horizon)
                raise ValidationError(
                    env._(
                        "%(field)s of %(record)s (%(value)s) lies outside the plausible range of dates "
                        "%(first)s – %(last)s.",
                        field=record._fields[fname]._description_string(env),
                        record=record.display_name,
                        value=value,
                        first=format_date(env, first),
                        last=format_date(env, last),
                    )
                )


def check_intervals(records, pairs):
    """Refuse intervals longer than :data:`billing_core.bounds.MAX_INTERVAL` (``pairs``: (count, unit) names)."""
    for record in records:
        for count_name, unit_name in pairs:
            count, unit = record[count_name], record[unit_name]
            if bounds.check_interval(count, unit) == bounds.TOO_LARGE:
                env = record.env
                units = dict(record._fields[unit_name]._description_selection(env))
                raise ValidationError(
                    env._(
                        "%(field)s of %(record)s is too long: %(count)s %(unit)s; at most %(max)s.",
                        field=record._fields[count_name]._description_string(env),
                        record=record.display_name,
                        count=count,
                        unit=units.get(unit, unit),
                        max=bounds.MAX_INTERVAL.get(unit, bounds.MAX_INTERVAL["day"]),
                    )
                )


def _number_message(record, field, value, reason):
    env = record.env
    label = field._description_string(env)
    if reason == bounds.NEGATIVE:
        return env._(
            "%(field)s of %(record)s cannot be negative (%(value)s).",
            field=label,
            record=record.display_name,
            value=value,
        )
    if reason == bounds.TOO_LARGE:
        return env._(
            "%(field)s of %(record)s is too large (%(value)s): at most %(max)s.",
            field=label,
            record=record.display_name,
            value=value,
            max=bounds.max_abs_value(_decimal_places(record, field)) if field.type != "integer" else bounds.MAX_INTEGER,
        )
    return env._(
        "%(field)s of %(record)s must be a finite number, got %(value)s.",
        field=label,
        record=record.display_name,
        value=value,
    )
