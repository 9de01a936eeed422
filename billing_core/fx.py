"""Currency conversion of prices by an exchange rate (no Odoo import).

A plan may price a subscription in its own currency and let the invoice
convert: every amount (unit price, tiered or metered rating, setup fee) is
multiplied by *one* rate, read once per invoice for its date, and rounded to
the target currency's rounding step, half away from zero like
:func:`billing_core.pricing.round_to`.

The rate says how many target units one source unit buys: ``1 EUR = 1.085 USD``
is ``rate=Decimal("1.085")``. Odoo hands over rates as floats computed as a
quotient of two stored rates (``0.9437`` may arrive as ``0.9437000000000001``);
:func:`to_rate` keeps :data:`RATE_DIGITS` significant digits, so the rate the
invoice shows is the rate it used, and an exact tie cannot flip on float noise.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

from .pricing import exact_context, round_to, to_decimal

#: significant digits kept of a rate (Odoo stores rates with up to 12 decimals in practice)
RATE_DIGITS = 12


def to_rate(value) -> Decimal:
    """``value`` (float, str, int or Decimal) as a positive rate of :data:`RATE_DIGITS` significant digits."""
    rate = to_decimal(value, "exchange rate")
    if rate <= 0:
        raise ValueError(f"exchange rate must be positive, got {rate}")
    with localcontext() as ctx:
        ctx.prec = RATE_DIGITS
        ctx.rounding = ROUND_HALF_EVEN
        # unary plus rounds to the context precision
        return (+rate).normalize()


def convert(amount, rate, step) -> Decimal:
    """``amount`` × ``rate``, rounded to a multiple of ``step`` (the target currency's rounding).

    Exact before the single rounding: ``|convert(a, r, s) - a × r| <= s / 2``.
    Monotonic in ``amount`` for a positive rate, odd (``convert(-a) == -convert(a)``)
    and ``convert(0, r, s) == 0``.
    """
    amount = to_decimal(amount, "amount")
    rate = to_rate(rate)
    with exact_context():
        converted = amount * rate
    return round_to(converted, step)


def convert_back(amount, rate, step) -> Decimal:
    """``amount`` ÷ ``rate``, rounded to ``step``: the reverse direction of the same rate.

    The division is carried out to 50 significant digits before the rounding.
    A round trip ``convert_back(convert(a, r, t), r, s)`` stays within
    ``s / 2 + t / (2 r)`` of ``a`` (source step ``s``, target step ``t``).
    """
    amount = to_decimal(amount, "amount")
    rate = to_rate(rate)
    with localcontext() as ctx:
        ctx.prec = 50
        quotient = amount / rate
    return round_to(quotient, step)


def format_rate(rate, min_decimals: int = 4, max_decimals: int = 6) -> str:
    """The rate for a reader: at least ``min_decimals`` decimals, at most ``max_decimals``.

    A rate with more decimals is shown rounded to ``max_decimals`` (keeping a trailing zero, so a
    rounded rate never looks shorter than it is): ``format_rate(Decimal("1.085")) == "1.0850"``,
    ``format_rate(Decimal("0.87557612")) == "0.875576"``, ``format_rate(Decimal("0.8697695")) == "0.869770"``.
    """
    rate = to_rate(rate)
    decimals = -rate.normalize().as_tuple().exponent
    if decimals > max_decimals:
        return f"{round_to(rate, Decimal(1).scaleb(-max_decimals)):.{max_decimals}f}"
    return f"{rate:.{max(min_decimals, decimals)}f}"


@dataclass(frozen=True)
class Conversion:
    """One rate of an invoice: ``1 source = rate target`` on ``rate_date``, rounding to ``target_step``.

    Built once per invoice and currency pair; :meth:`convert` converts and rounds one amount.
    """

    source: str
    target: str
    rate: Decimal
    rate_date: date
    source_step: Decimal
    target_step: Decimal

    def __post_init__(self):
        object.__setattr__(self, "rate", to_rate(self.rate))
        object.__setattr__(self, "source_step", to_decimal(self.source_step, "source step"))
        object.__setattr__(self, "target_step", to_decimal(self.target_step, "target step"))

    def convert(self, amount) -> Decimal:
        """``amount`` (in the source currency) in the target currency, rounded."""
        return convert(amount, self.rate, self.target_step)

    def round_source(self, amount) -> Decimal:
        """``amount`` rounded to the source currency: what the invoice says was converted."""
        return round_to(amount, self.source_step)

    @property
    def rate_text(self) -> str:
        """``"1 EUR = 1.0850 USD"``."""
        return f"1 {self.source} = {format_rate(self.rate)} {self.target}"
