"""The billing forecast as a pure projection (no Odoo import).

Given each subscription's timeline (:class:`billing_core.schedule.Timeline`), plan rules, lines,
discounts and scheduled changes as plain data, :func:`project` returns the invoices the daily billing
runs from one day to another would create, with their lines' untaxed amounts. It walks the same
schedule the run walks (:func:`billing_core.schedule.due`, :func:`~billing_core.schedule.billed_after`,
:func:`~billing_core.schedule.first_unbilled_day`) and prices lines with the run's own functions
(:mod:`billing_core.pricing`, :mod:`billing_core.invoicing`); nothing is written, nothing is locked.

What it mirrors from ``subscription.billing.run._run_billing`` for one run day:

* scheduled changes effective on or before the run day are applied first (old lines end the day
  before, the new lines start that day, the plan changes);
* every period due that day is invoiced: recurring lines (prorated by days over partial periods),
  setup fees on the first invoice that carries them, metered usage "to be rated" (no amount: the
  usage is not known yet), then the discounts running in the period (a discount for N periods stops
  after N invoiced periods);
* one invoice per subscription and period, or per customer and invoice date when the customer groups
  invoices (same invoice address, currency, company, fiscal position, payment terms, mandate, journal);
* an invoice of only zero lines is not created unless the plan issues zero invoices (its period still
  counts as billed).

What it does not do (the ORM falls back to the dry run for such subscriptions, see
``subscription.billing.forecast``): pending one-time charges and proration credits, prices converted
from another currency at each invoice date's rate, the credit note of unused time at a cancellation,
a fiscal position determined again.

A customer's pause with a resume date (``resume_date``) is resumed on that day as the resume cron does it
(``subscription.subscription._resume_after_pause``): what the paused schedule owes by then is invoiced
first, then a new schedule starts that day (:func:`billing_core.schedule.resume`).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from decimal import Decimal
from functools import cached_property

from . import invoicing, pricing, schedule
from .periods import Period

ONE_DAY = timedelta(days=1)

RECURRING = "recurring"
USAGE = "usage"
SETUP = "setup"
DISCOUNT = "discount"
PER_UNIT = "per_unit"

#: how far :func:`project` looks for a subscription's next invoice (the schedule never goes further)
_HORIZON = date.max - timedelta(days=400)


@dataclass(frozen=True)
class LineSpec:
    """A subscription line as the run prices it (``order`` is its position: sequence, id)."""

    id: int
    order: tuple
    line_type: str
    product_id: int
    name: str
    quantity: Decimal
    price_unit: Decimal
    tax_key: tuple[int, ...]
    discount: Decimal = Decimal(0)
    pricing_model: str = PER_UNIT
    included: Decimal = Decimal(0)
    tiers: tuple[pricing.Tier, ...] = ()
    active: bool = True
    date_start: date | None = None
    date_end: date | None = None
    setup_billed: bool = False
    usage_billed_until: date | None = None
    #: currency of the price (the projection prices in the subscription's currency only)
    price_currency_id: int | None = None

    @property
    def per_unit(self) -> bool:
        """Invoiced as quantity × unit price (else as one rated amount)."""
        return self.pricing_model == PER_UNIT and not self.included

    @cached_property
    def rating(self) -> pricing.Rating:
        """The line's quantity rated with its pricing model (unrounded)."""
        if self.pricing_model == PER_UNIT:
            return pricing.rate_per_unit(self.quantity, self.price_unit, included=self.included)
        return pricing.rate_tiered(self.quantity, self.tiers, self.pricing_model, included=self.included)


@dataclass(frozen=True)
class DiscountSpec:
    """A running discount: ``applied`` periods invoiced so far of ``duration`` (0: forever)."""

    id: int
    discount_type: str
    percent: Decimal = Decimal(0)
    amount: Decimal = Decimal(0)
    apply_on: str = "subscription"
    line_id: int | None = None
    duration: int = 0
    applied: int = 0


@dataclass(frozen=True)
class PlanSpec:
    """What of the plan the run reads: schedule rules, zero invoices, the invoice journal."""

    id: int
    rules: schedule.PlanRules
    issue_zero_invoices: bool = False
    journal_id: int = 0


@dataclass(frozen=True)
class ChangeSpec:
    """A scheduled change: on ``effective`` the lines ``ends`` stop (the day before) and ``adds`` start."""

    effective: date
    plan: PlanSpec
    ends: tuple[int, ...] = ()
    adds: tuple[LineSpec, ...] = ()


@dataclass(frozen=True)
class SubscriptionSpec:
    """One subscription's billing position and prices.

    ``invoice_key`` is what else splits invoices (invoice address, currency, company, fiscal position,
    payment terms, mandate); ``groups`` whether the customer (``customer_id``) wants one invoice per date.
    """

    id: int
    timeline: schedule.Timeline
    plan: PlanSpec
    lines: tuple[LineSpec, ...]
    step: Decimal
    customer_id: int = 0
    invoice_key: tuple = ()
    groups: bool = False
    discounts: tuple[DiscountSpec, ...] = ()
    changes: tuple[ChangeSpec, ...] = ()
    billable: bool = True
    resume_date: date | None = None


@dataclass(frozen=True)
class ProjectedLine:
    """One invoice line. ``to_be_rated``: metered usage, ``price_unit`` unknown (0)."""

    subscription_id: int
    kind: str
    product_id: int
    name: str
    quantity: Decimal
    price_unit: Decimal
    discount: Decimal
    tax_key: tuple[int, ...]
    start: date
    end: date
    line_id: int | None = None
    discount_id: int | None = None
    to_be_rated: bool = False
    prorated: tuple[int, int] | None = None

    def net(self, step) -> Decimal:
        """Untaxed amount, rounded to ``step``."""
        return invoicing.net_amount(self.price_unit, self.quantity, self.discount, step)


@dataclass
class ProjectedInvoice:
    """One invoice of a run: its run day, invoice date, billed periods and lines."""

    run_date: date
    invoice_date: date
    key: tuple
    step: Decimal
    items: list[tuple[int, Period]] = field(default_factory=list)
    lines: list[ProjectedLine] = field(default_factory=list)
    issue_zero_invoices: bool = False

    @property
    def subscription_ids(self) -> list[int]:
        return list(dict.fromkeys(sub_id for sub_id, _period in self.items))

    @property
    def amount_untaxed(self) -> Decimal:
        """Untaxed total (usage to be rated counts as zero)."""
        return sum((line.net(self.step) for line in self.lines), Decimal(0))

    @property
    def has_usage(self) -> bool:
        return any(line.to_be_rated for line in self.lines)


@dataclass
class _SubState:
    """A subscription's position while :func:`project` walks it."""

    spec: SubscriptionSpec
    timeline: schedule.Timeline
    plan: PlanSpec
    lines: list[LineSpec]
    applied: dict[int, int]
    changes: list[ChangeSpec]
    resume_date: date | None = None

    @property
    def has_usage(self) -> bool:
        return any(line.line_type == USAGE and (line.active or line.date_end) for line in self.lines)


# ---------------------------------------------------------------------------
# Lines of one period
# ---------------------------------------------------------------------------


def _recurring_line(sub_id: int, line: LineSpec, period: Period, step) -> ProjectedLine | None:
    part = invoicing.billed_part(period, line.date_start, line.date_end) if line.line_type == RECURRING else period
    if part is None or not line.quantity:
        return None
    prorate = part.is_partial and line.line_type == RECURRING
    quantity, price, as_rated = invoicing.period_line_price(
        quantity=line.quantity,
        price_unit=line.price_unit,
        rating_amount=line.rating.amount,
        per_unit=line.per_unit,
        part=part,
        prorate=prorate,
        step=step,
    )
    return ProjectedLine(
        sub_id,
        line.line_type,
        line.product_id,
        line.name,
        quantity if not as_rated else Decimal(1),
        price,
        line.discount,
        line.tax_key,
        part.start,
        part.end,
        line_id=line.id,
        prorated=(part.days, part.full_days) if prorate else None,
    )


def _usage_line(sub_id: int, line: LineSpec, window: Period) -> ProjectedLine | None:
    part = invoicing.billed_part(window, line.date_start, line.date_end)
    if part and line.usage_billed_until and part.start <= line.usage_billed_until:
        # this line's usage is billed further than the others' (added later)
        start = line.usage_billed_until + ONE_DAY
        part = None if start > part.end else replace(part, start=start)
    if part is None or (not line.active and not line.date_end):
        return None
    return ProjectedLine(
        sub_id,
        USAGE,
        line.product_id,
        line.name,
        Decimal(1),
        Decimal(0),
        line.discount,
        line.tax_key,
        part.start,
        part.end,
        line_id=line.id,
        to_be_rated=True,
    )


def period_lines(state: _SubState, period: Period, billed_once: set) -> list[ProjectedLine]:
    """The invoice lines of one due period, as ``_prepare_period_invoice_lines`` makes them.

    :param billed_once: setup lines and ``(discount, period start)`` prepared earlier the same run day
    """
    spec = state.spec
    values: list[ProjectedLine] = []
    for line in sorted(state.lines, key=lambda ln: ln.order):
        if period.index == schedule.USAGE_ONLY and line.line_type != USAGE:
            continue
        is_setup = line.line_type == SETUP
        if is_setup and (("line", line.id) in billed_once or line.setup_billed):
            continue
        if is_setup:
            billed_once.add(("line", line.id))
        if line.line_type == RECURRING or is_setup:
            if line.active or (line.date_end and line.date_end >= period.start):
                projected = _recurring_line(spec.id, line, period, spec.step)
                if projected:
                    values.append(projected)
        elif line.line_type == USAGE and period.usage is not None:
            projected = _usage_line(spec.id, line, period.usage)
            if projected:
                values.append(projected)
    return values + _discount_lines(state, period, values, billed_once)


def _discount_lines(state: _SubState, period: Period, values, billed_once: set) -> list[ProjectedLine]:
    spec = state.spec
    types = {line.id: line.line_type for line in state.lines}
    result = []
    for discount in spec.discounts:
        in_this_run = sum(1 for key in billed_once if key[0] == "discount" and key[1] == discount.id)
        if discount.duration and state.applied[discount.id] + in_this_run >= discount.duration:
            continue
        billed_once.add(("discount", discount.id, period.start))
        groups: dict[tuple, Decimal] = {}
        products: dict[tuple, int] = {}
        for vals in values:
            if discount.line_id and vals.line_id != discount.line_id:
                continue
            if discount.apply_on == RECURRING and types.get(vals.line_id) != RECURRING:
                continue
            groups[vals.tax_key] = groups.get(vals.tax_key, Decimal(0)) + vals.net(spec.step)
            products.setdefault(vals.tax_key, vals.product_id)
        reductions = invoicing.discount_reductions(
            list(groups.items()), discount.discount_type, discount.percent, discount.amount, spec.step
        )
        for key, reduction in reductions:
            if not reduction:
                continue
            result.append(
                ProjectedLine(
                    spec.id,
                    DISCOUNT,
                    products[key],
                    "",
                    Decimal(1),
                    -reduction,
                    Decimal(0),
                    key,
                    period.start,
                    period.end,
                    discount_id=discount.id,
                )
            )
    return result


# ---------------------------------------------------------------------------
# Walking the runs
# ---------------------------------------------------------------------------


def _apply_change(state: _SubState, change: ChangeSpec) -> None:
    ended = set(change.ends)
    day = change.effective
    state.lines = [
        replace(line, date_end=day - ONE_DAY, active=False) if line.id in ended else line for line in state.lines
    ] + [replace(line, date_start=day) for line in change.adds]
    state.plan = change.plan


def _invoice_key(state: _SubState, period: Period, invoice_date: date) -> tuple:
    spec = state.spec
    return (
        spec.id if not spec.groups else 0,
        period.start if not spec.groups else None,
        invoice_date,
        *spec.invoice_key,
        state.plan.journal_id,
    )


def _billing_days(state: _SubState, start_day: date, date_to: date):
    """``(run day, [(period, lines)])`` of the runs that invoice this subscription up to ``date_to``.

    The periods up to the next scheduled change (or ``date_to``) come from one :func:`schedule.due`
    call and are split by run day (a period is billed by the run of its invoice date, or of
    ``start_day`` if that is later); billing them one run after the other moves the timeline the same
    way, unless service billed later than the first unbilled day makes the run re-anchor after each day
    (:func:`schedule.first_unbilled_day`): then one run day at a time.
    """
    while True:
        # the day the subscription is next due, under the lines it has before that day's changes
        run_day = _next_run_day(state, start_day)
        resume = state.resume_date
        if resume is not None and resume <= date_to and (run_day is None or run_day >= resume):
            # the resume of a customer's pause (its cron, before the billing run of that day): what the
            # paused schedule owes by then is invoiced on that day, then a new schedule starts
            state.resume_date = None
            day = max(resume, start_day)
            owed = schedule.due(state.timeline, state.plan.rules, resume, has_usage=state.has_usage)
            if owed:
                items = _run_day_items(state, owed)
                _commit_items(state, [(period, lines) for period, lines in items if _is_created(state, lines)])
                yield day, items
            state.timeline = schedule.resume(state.timeline, resume)
            continue
        if run_day is None or run_day > date_to:
            return
        changed = False
        while state.changes and state.changes[0].effective <= run_day:
            _apply_change(state, state.changes.pop(0))
            changed = True
        bound = date_to if not state.changes else min(date_to, state.changes[0].effective - ONE_DAY)
        if state.resume_date is not None:
            bound = min(bound, state.resume_date - ONE_DAY)
        if any(end >= state.timeline.next_start for _start, end in state.timeline.billed):
            bound = run_day
        due = schedule.due(state.timeline, state.plan.rules, max(bound, run_day), has_usage=state.has_usage)
        if not due:
            if changed:
                continue  # the change moved what is due next
            return
        by_run_day: dict[date, list[Period]] = {}
        for period in due:
            day = max(schedule.invoice_date(period, state.plan.rules), start_day)
            by_run_day.setdefault(day, []).append(period)
        for day, periods in by_run_day.items():
            items = _run_day_items(state, periods)
            _commit_items(state, [(period, lines) for period, lines in items if _is_created(state, lines)])
            yield day, items


def _run_day_items(state: _SubState, due: list[Period]):
    """``[(period, lines)]`` one run invoices for one subscription (``due``); the state moves on."""
    billed_once: set = set()
    items = [(period, period_lines(state, period, billed_once)) for period in due]
    timeline = state.timeline
    moved = False
    for period in due:
        timeline = schedule.billed_after(timeline, period)
        moved = moved or period.index != schedule.USAGE_ONLY
    if moved:
        # a period billed again after a cancellation: continue after the service billed later
        timeline = replace(timeline, next_start=schedule.first_unbilled_day(timeline.next_start, timeline.billed))
    state.timeline = timeline
    # usage billed with these periods: later windows of every metered line start after them
    usage_ends = [period.usage.end for period in due if period.usage is not None]
    if usage_ends:
        until = max(usage_ends)
        state.lines = [
            replace(line, usage_billed_until=until)
            if line.line_type == USAGE and (not line.usage_billed_until or line.usage_billed_until < until)
            else line
            for line in state.lines
        ]
    return items


def _commit_items(state: _SubState, items) -> None:
    """Count the invoiced periods of each discount and the setup fees once their invoice exists."""
    for _period, lines in items:
        starts = {}
        for line in lines:
            if line.discount_id is not None:
                starts.setdefault(line.discount_id, set()).add(line.start)
            if line.kind == SETUP:
                state.lines = [replace(ln, setup_billed=True) if ln.id == line.line_id else ln for ln in state.lines]
        for discount_id, periods in starts.items():
            state.applied[discount_id] += len(periods)


def _next_run_day(state: _SubState, start_day: date) -> date | None:
    """The next run day that invoices something for this subscription (``None``: never)."""
    upcoming = schedule.due(state.timeline, state.plan.rules, _HORIZON, has_usage=state.has_usage, limit=1)
    if not upcoming:
        return None
    return max(schedule.invoice_date(upcoming[0], state.plan.rules), start_day)


def project(
    subscriptions, date_from: date, date_to: date, date_today: date, failed: list | None = None
) -> list[ProjectedInvoice]:
    """The invoices the daily runs from ``date_from`` to ``date_to`` create for ``subscriptions``.

    As the dry run: periods due before ``date_from`` are billed by the run of the day before (not
    reported) when ``date_from`` is after ``date_today``, else by the run of ``date_from`` (reported,
    with their own invoice dates). Invoices come oldest run day first, in the run's order (oldest
    period, then subscription).

    :param failed: if given, the ids of subscriptions whose schedule cannot be computed (``ValueError``
        from the period arithmetic, as the run stores it as a billing error) are appended to it and
        they are left out; otherwise the error is raised
    """
    start_day = date_from - ONE_DAY if date_from > date_today else date_from
    by_day: dict[date, list[tuple[_SubState, Period, list[ProjectedLine]]]] = {}
    states = []
    for spec in subscriptions:
        if not spec.billable:
            continue
        state = _SubState(
            spec, spec.timeline, spec.plan, list(spec.lines), {d.id: d.applied for d in spec.discounts}, []
        )
        state.changes = sorted(spec.changes, key=lambda change: change.effective)
        state.resume_date = spec.resume_date
        states.append(state)
        try:
            days = list(_billing_days(state, start_day, date_to))
        except ValueError:
            if failed is None:
                raise
            failed.append(spec.id)
            continue
        for run_day, items in days:
            for period, lines in items:
                by_day.setdefault(run_day, []).append((state, period, lines))
    return _group(by_day, date_from)


def _is_created(state: _SubState, lines) -> bool:
    """Whether the run writes an invoice for these lines (a zero invoice only if the plan asks)."""
    if not lines:
        return False
    return state.plan.issue_zero_invoices or not _is_zero(lines)


def _is_zero(lines) -> bool:
    """Every line is zero (usage to be rated is not: its amount is not known yet)."""
    return all(not line.price_unit and not line.to_be_rated for line in lines)


def _group(by_day, date_from: date) -> list[ProjectedInvoice]:
    invoices = []
    for run_day in sorted(by_day):
        units: dict[tuple, ProjectedInvoice] = {}
        order = []
        for state, period, lines in by_day[run_day]:
            invoice_date = schedule.invoice_date(period, state.plan.rules)
            key = _invoice_key(state, period, invoice_date)
            unit = units.get(key)
            if unit is None:
                unit = units[key] = ProjectedInvoice(run_day, invoice_date, key, state.spec.step)
                order.append((period.start, state.spec.id, key))
            unit.items.append((state.spec.id, period))
            unit.lines.extend(lines)
            unit.issue_zero_invoices = unit.issue_zero_invoices or state.plan.issue_zero_invoices
        for _start, _sub_id, key in sorted(order):
            unit = units[key]
            if run_day < date_from or not unit.lines:
                continue
            if _is_zero(unit.lines) and not unit.issue_zero_invoices:
                continue
            invoices.append(unit)
    return invoices
