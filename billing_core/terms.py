"""Contract-term rules: minimum term, renewal, notice period, § 309 Nr. 9 BGB.

Free of any Odoo import. End dates are inclusive (the last day of service).
A notice period of N is satisfied when ``request_date + N <= end``: notice of
one month given on 10 March can end a contract on 10 April at the earliest
(§ 188 (2) BGB), and notice for a term ending 31 December must arrive by
30 November.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from .periods import MONTH, Interval, add_interval, add_months

#: § 309 Nr. 9 BGB: the longest initial term allowed in consumer standard terms
CONSUMER_MAX_INITIAL_TERM = Interval(24, MONTH)
#: § 309 Nr. 9 BGB: the longest notice period allowed after the initial term
CONSUMER_MAX_NOTICE = Interval(1, MONTH)


@dataclass(frozen=True)
class TermRules:
    """The term rules of a plan.

    ``min_term``: initial (minimum) term, ``None`` for a contract that can be
    ended at any time with the notice period. ``renewal_term``: the length of
    each automatic renewal (defaults to the minimum term). ``consumer_rule``:
    after the initial term the contract continues indefinitely and can be
    ended at any time with at most one month's notice (§ 309 Nr. 9 BGB).
    """

    min_term: Interval | None = None
    renewal_term: Interval | None = None
    auto_renew: bool = True
    notice: Interval | None = None
    consumer_rule: bool = False


def _after(day: date, interval: Interval | None) -> date:
    return add_interval(day, interval) if interval else day


def initial_term_end(start: date, rules: TermRules) -> date | None:
    """Last day of the initial term, ``None`` when there is no minimum term."""
    if not rules.min_term:
        return None
    return add_interval(start, rules.min_term, anchor_day=start.day) - timedelta(days=1)


def notice_deadline_end(request_date: date, rules: TermRules) -> date:
    """The earliest end date that respects the notice period for a request on ``request_date``."""
    earliest = _after(request_date, rules.notice)
    if rules.consumer_rule:
        earliest = min(earliest, add_interval(request_date, CONSUMER_MAX_NOTICE))
    return earliest


def term_end_on(start: date, rules: TermRules, day: date) -> date | None:
    """Last day of the term that runs on ``day``.

    ``None`` when the contract runs for an indefinite period on that day (no
    minimum term, or after the initial term under the consumer rule).
    Without automatic renewal, the contract ends with its initial term.
    """
    first_end = initial_term_end(start, rules)
    if first_end is None or day <= first_end or not rules.auto_renew:
        return first_end
    if rules.consumer_rule:
        return None
    renewal = rules.renewal_term or rules.min_term
    renewal_start = first_end + timedelta(days=1)
    times = 1
    while True:
        # anchor on the contract's start day so that month-end contracts stay on the month end
        end = add_interval(renewal_start, renewal, times, anchor_day=start.day) - timedelta(days=1)
        if end >= day:
            return end
        times += 1


def earliest_end_date(start: date, request_date: date, rules: TermRules) -> date:
    """The earliest day a cancellation requested on ``request_date`` can end the contract.

    * within a term: the end of the first term (initial or renewal) that the
      notice period can still reach;
    * indefinite contract (no minimum term, or after the initial term under the
      consumer rule): the request date plus the notice period.
    """
    earliest = notice_deadline_end(request_date, rules)
    first_end = initial_term_end(start, rules)
    if first_end is None:
        return earliest
    if earliest <= first_end or not rules.auto_renew:
        return first_end
    if rules.consumer_rule:
        return earliest
    end = term_end_on(start, rules, earliest)
    return end


def _shortest_days(months: int) -> int:
    """The fewest days ``months`` calendar months can span (over a whole leap-year cycle)."""
    starts = [date(year, month, 1) for year in range(2001, 2005) for month in range(1, 13)]
    return min((add_months(start, months) - start).days for start in starts)


def _fits_within(interval: Interval, limit_months: int) -> bool:
    """Whether ``interval`` is at most ``limit_months`` months long, whatever the start date."""
    if interval.unit == MONTH:
        return interval.count <= limit_months
    if interval.unit == "year":
        return interval.count * 12 <= limit_months
    days = interval.count * (7 if interval.unit == "week" else 1)
    return days <= _shortest_days(limit_months)


def consumer_rule_violations(rules: TermRules) -> list[str]:
    """Which parts of ``rules`` § 309 Nr. 9 BGB forbids, as keys: ``min_term``, ``notice``.

    Day and week lengths are compared with the shortest span the month limit
    can have, so they comply whatever the start date.
    """
    problems = []
    if rules.min_term and not _fits_within(rules.min_term, CONSUMER_MAX_INITIAL_TERM.count):
        problems.append("min_term")
    if rules.notice and not _fits_within(rules.notice, CONSUMER_MAX_NOTICE.count):
        problems.append("notice")
    return problems
