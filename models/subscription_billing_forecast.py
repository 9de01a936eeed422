import dataclasses
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from odoo import api, fields, models
from odoo.tools import SQL, format_date

from ..billing_core import forecast, pricing, schedule
from ..billing_core.periods import Interval
from .subscription_subscription import BILLABLE_STATES

#: context key under which the billing run sends nothing (the forecast's dry run)
DRY_RUN_KEY = "subscription_billing_dry_run"


class _ForecastDone(Exception):
    """Carries the forecast out of the savepoint that undoes the billing it was computed with."""

    def __init__(self, rows):
        super().__init__("forecast done")
        self.rows = rows


class SubscriptionBillingForecast(models.AbstractModel):
    """What the daily billing runs from one day to another will invoice.

    :meth:`_forecast` projects it (:func:`billing_core.forecast.project`): the subscriptions' timelines,
    lines, discounts and scheduled changes are read in a few set-based queries, the core walks the
    run's own schedule and pricing functions, and the taxes are computed once per distinct invoice
    with ``account.tax``'s engine. It writes and locks nothing, so the portal can show it. The few
    subscriptions the projection does not cover (see :meth:`_get_projection_fallback`) are forecast by
    the dry run, :meth:`_forecast_dry_run`:

    the scheduled run of each day is replayed for the given subscriptions in a savepoint (the state update of
    ``_cron_update_states``, then ``subscription.billing.run._run_billing`` for the subscriptions due that
    day, which applies the scheduled changes, converts trials, ends contracts, applies coupons and credits);
    every invoice and credit note it creates is read, and the savepoint is rolled back. Nothing stays
    written; nothing is sent (the run skips sending under :data:`DRY_RUN_KEY`).
    """

    _name = "subscription.billing.forecast"
    _description = "Subscription Billing Forecast"

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _forecast(self, subscriptions, date_from, date_to, date_today=None, with_lines=False, dry_run_fallback=True):
        """Invoices the billing runs from ``date_from`` to ``date_to`` would create for ``subscriptions``.

        Projected (nothing written, nothing locked); the subscriptions the projection does not cover
        are dry-run (:meth:`_forecast_dry_run`), a grouping customer's subscriptions together.

        :param with_lines: add each invoice's ``lines`` (dicts: name, quantity, price_unit, amount,
            start, end, to_be_rated) to its row
        :param dry_run_fallback: dry-run the subscriptions the projection does not cover (it takes the
            billing run's row locks); without it their invoices are left out
        :return: list of dicts, one per invoice, in the format of :meth:`_describe_moves`, ordered by run
            day and invoice date
        """
        date_today = date_today or fields.Date.context_today(self)
        self.env.flush_all()
        subs = subscriptions.filtered(lambda sub: sub.state != "draft")
        data = self._read_projection_data(subs, date_from, date_to)
        fallback = self._get_projection_fallback(subs, data, date_from, date_to)
        specs = [spec for spec in data["specs"] if spec.id not in fallback.ids]
        failed = []
        invoices = forecast.project(specs, date_from, date_to, date_today, failed=failed)
        rows = self._describe_projection(invoices, data, with_lines=with_lines)
        # a schedule the period arithmetic refuses: the dry run shows what the run does (it stores the error)
        fallback |= subs.browse(failed)
        if fallback and dry_run_fallback:
            rows += self._forecast_dry_run(fallback, date_from, date_to, date_today)
        rows.sort(key=lambda row: (row["run_date"], row["invoice_date"], row["subscription_id"]))
        return rows

    @api.model
    def _get_upcoming_invoice(self, subscription, date_ref=None):
        """The next invoice of ``subscription`` as the billing runs from ``date_ref`` (default today) will
        create it, projected (nothing written, nothing locked: the portal and the API show it).

        A customer who groups invoices gets one invoice for all its subscriptions due that day: they are
        projected together. ``None`` when nothing is due within 400 days, or when only the dry run could
        tell (pending one-time charges, prices converted at the invoice date, see
        :meth:`_get_projection_fallback`).

        :return: a row of :meth:`_forecast` with its ``lines``, or ``None``
        """
        subscription.ensure_one()
        date_ref = date_ref or fields.Date.context_today(self)
        subs = subscription
        if subscription.commercial_partner_id.subscription_invoice_grouping:
            subs |= subscription.search(
                [
                    ("commercial_partner_id", "=", subscription.commercial_partner_id.id),
                    ("state", "not in", ("draft", "ended")),
                ]
            )
        rows = self._forecast(
            subs, date_ref, date_ref + timedelta(days=400), date_ref, with_lines=True, dry_run_fallback=False
        )
        return next((row for row in rows if subscription.id in row["subscription_ids"]), None)

    @api.model
    def _read_projection_data(self, subs, date_from, date_to):
        """Everything the projection needs, read set-based: one query per table, whatever the number of
        subscriptions. Returns a dict with ``specs`` (:class:`billing_core.forecast.SubscriptionSpec`)
        and what :meth:`_describe_projection` and :meth:`_get_projection_fallback` look up."""
        cr = self.env.cr
        ids = subs.ids
        cr.execute(
            SQL(
                """SELECT s.id, s.state, s.partner_invoice_id, pi.commercial_partner_id, s.currency_id, s.company_id,
                          s.plan_id, s.fiscal_position_id, s.payment_term_id, s.start_date, s.trial_end_date,
                          s.end_date, s.pause_date, s.billing_anchor_date, s.next_period_start, s.payment_method,
                          CASE WHEN s.payment_method = 'sepa_dd' AND m.state = 'active' THEN m.id END,
                          COALESCE(cp.subscription_invoice_grouping, FALSE), s.commercial_partner_id,
                          CASE WHEN s.state = 'paused' THEN s.pause_resume_date END
                     FROM subscription_subscription s
                     JOIN res_partner pi ON pi.id = s.partner_invoice_id
                     JOIN res_partner cp ON cp.id = s.commercial_partner_id
                LEFT JOIN sepa_mandate m ON m.id = s.sepa_mandate_id
                    WHERE s.id = ANY(%s)""",
                ids,
            )
        )
        sub_rows = cr.fetchall()
        lines_by_sub = self._read_projection_lines(ids)
        cr.execute(
            SQL(
                """SELECT id, subscription_id, discount_type, percent, amount, apply_on, subscription_line_id,
                          duration_periods, applied_periods, name
                     FROM subscription_discount WHERE subscription_id = ANY(%s) ORDER BY subscription_id, id""",
                ids,
            )
        )
        discounts = defaultdict(list)
        discount_names = {}
        for disc_id, sub_id, kind, percent, amount, apply_on, line_id, duration, applied, name in cr.fetchall():
            discount_names[disc_id] = name
            discounts[sub_id].append(
                forecast.DiscountSpec(
                    disc_id,
                    kind,
                    pricing.to_decimal(percent or 0.0),
                    pricing.to_decimal(amount or 0.0),
                    apply_on,
                    line_id,
                    duration or 0,
                    applied or 0,
                )
            )
        billed = subs._get_billed_ranges_by_subscription(since_next_period=False)
        plans = self.env["subscription.plan"].browse({row[6] for row in sub_rows})
        companies = self.env["res.company"].browse({row[5] for row in sub_rows})
        plan_specs = {
            (plan.id, company.id): self._get_plan_spec(plan, company) for plan in plans for company in companies
        }
        currencies = self.env["res.currency"].browse({row[4] for row in sub_rows})
        steps = {currency.id: Decimal(str(currency.rounding)) for currency in currencies}
        specs = []
        info = {}
        for row in sub_rows:
            (sub_id, state, invoice_partner, invoice_commercial, currency_id, company_id, plan_id, fpos, term) = row[:9]
            start, trial_end, end, pause, anchor, next_start, payment_method, mandate, groups, customer = row[9:19]
            resume_date = row[19] or None
            plan = plans.browse(plan_id)
            lines = tuple(lines_by_sub.get(sub_id, ()))
            needs_payment_method = plan.requires_payment_method and not payment_method
            billable = (
                state in BILLABLE_STATES
                and bool(anchor and next_start)
                and plan.billing_period_count >= 1
                and not (state == "trial" and needs_payment_method)
            )
            timeline = schedule.Timeline(
                start=start,
                trial_end=trial_end or None,
                end_date=end or None,
                pause_date=pause or None,
                anchor=anchor or None,
                next_start=next_start or None,
                usage_billed_until=min(
                    (ln.usage_billed_until for ln in lines if ln.line_type == forecast.USAGE and ln.usage_billed_until),
                    default=None,
                ),
                billed=tuple(billed.get(sub_id, ())),
            )
            specs.append(
                forecast.SubscriptionSpec(
                    sub_id,
                    timeline,
                    plan_specs[plan_id, company_id],
                    lines,
                    steps[currency_id],
                    customer_id=customer,
                    invoice_key=(
                        invoice_partner,
                        currency_id,
                        company_id,
                        fpos or False,
                        term or False,
                        mandate or False,
                    ),
                    groups=bool(groups),
                    discounts=tuple(discounts.get(sub_id, ())),
                    billable=billable,
                    resume_date=resume_date,
                )
            )
            info[sub_id] = {
                "commercial_partner_id": invoice_commercial,
                "customer_id": customer,
                "groups": bool(groups),
                "currency_id": currency_id,
                "company_id": company_id,
                "fiscal_position_id": fpos or False,
                "end_date": end or None,
                "plan": plan,
                "has_usage": any(ln.line_type == forecast.USAGE and (ln.active or ln.date_end) for ln in lines),
            }
        return {
            "specs": specs,
            "info": info,
            "plan_specs": plan_specs,
            "steps": steps,
            "discount_names": discount_names,
        }

    @api.model
    def _get_plan_spec(self, plan, company):
        """The plan as :class:`billing_core.forecast.PlanSpec` for the invoices of ``company``."""
        rules = schedule.PlanRules(
            Interval(max(plan.billing_period_count, 1), plan.billing_period_unit),
            plan.period_alignment,
            plan.billing_timing == "advance",
        )
        return forecast.PlanSpec(
            plan.id, rules, bool(plan.issue_zero_invoices), plan._get_invoice_journal(company).id or False
        )

    @api.model
    def _read_projection_lines(self, sub_ids):
        """{subscription id: [LineSpec]} of all lines (archived ones too, as the run bills them), with taxes,
        tiers and whether a setup fee is billed, in four queries."""
        cr = self.env.cr
        cr.execute(
            SQL(
                """SELECT l.id, l.subscription_id, l.sequence, l.product_id, l.name, l.quantity, l.price_unit,
                          l.discount, l.line_type, l.pricing_model, l.included_quantity, l.active, l.date_start,
                          l.date_end, l.usage_billed_until, COALESCE(l.price_currency_id, s.currency_id)
                     FROM subscription_line l
                     JOIN subscription_subscription s ON s.id = l.subscription_id
                    WHERE l.subscription_id = ANY(%s)""",
                sub_ids,
            )
        )
        rows = cr.fetchall()
        line_ids = [row[0] for row in rows]
        field = self.env["subscription.line"]._fields["tax_ids"]
        cr.execute(
            SQL(
                "SELECT %s, %s FROM %s WHERE %s = ANY(%s)",
                SQL.identifier(field.column1),
                SQL.identifier(field.column2),
                SQL.identifier(field.relation),
                SQL.identifier(field.column1),
                line_ids,
            )
        )
        taxes = defaultdict(list)
        for line_id, tax_id in cr.fetchall():
            taxes[line_id].append(tax_id)
        cr.execute(
            SQL(
                """SELECT subscription_line_id, currency_id, up_to, up_to_unlimited, unit_price, flat_fee
                     FROM subscription_price_tier WHERE subscription_line_id = ANY(%s)""",
                line_ids,
            )
        )
        tiers = defaultdict(list)
        for line_id, currency_id, up_to, unlimited, unit_price, flat_fee in cr.fetchall():
            tiers[line_id, currency_id].append((bool(unlimited), up_to or 0.0, unit_price or 0.0, flat_fee or 0.0))
        setup_ids = [row[0] for row in rows if row[8] == "setup"]
        cr.execute(
            SQL(
                """SELECT DISTINCT subscription_line_id FROM account_move_line
                    WHERE subscription_line_id = ANY(%s) AND parent_state != 'cancel'""",
                setup_ids,
            )
        )
        setup_billed = {row[0] for row in cr.fetchall()}
        result = defaultdict(list)
        for row in rows:
            (line_id, sub_id, sequence, product_id, name, quantity, price_unit, discount, line_type) = row[:9]
            model, included, active, date_start, date_end, usage_until, price_currency = row[9:]
            table = sorted(tiers.get((line_id, price_currency), ()), key=lambda t: (t[0], t[1]))
            result[sub_id].append(
                forecast.LineSpec(
                    line_id,
                    (sequence or 0, line_id),
                    line_type,
                    product_id,
                    name or "",
                    pricing.to_decimal(quantity or 0.0),
                    pricing.to_decimal(price_unit or 0.0),
                    tuple(sorted(taxes.get(line_id, ()))),
                    pricing.to_decimal(discount or 0.0),
                    model,
                    pricing.to_decimal(included or 0.0),
                    tuple(
                        pricing.Tier(
                            None if unlimited else pricing.to_decimal(up_to),
                            pricing.to_decimal(unit),
                            pricing.to_decimal(fee),
                        )
                        for unlimited, up_to, unit, fee in table
                    ),
                    bool(active),
                    date_start or None,
                    date_end or None,
                    line_id in setup_billed,
                    usage_until or None,
                    price_currency_id=price_currency,
                )
            )
        return result

    @api.model
    def _get_projection_fallback(self, subs, data, date_from, date_to):
        """The subscriptions the projection does not cover, forecast by the dry run instead.

        * pending one-time charges (ad-hoc charges, proration credits: the run may split them off as a
          credit note or invoice them on their own);
        * a line priced in another currency (converted at each invoice date's rate);
        * an end inside the forecast with service invoiced past it on a plan that credits unused time
          (the credit note of the cancellation);
        * a customer whose country, VAT number or company type changed since the fiscal position was set
          (the run determines it again);
        * a scheduled change that prorates days already invoiced;
        * and every subscription of a grouping customer one of whose subscriptions falls back.

        The scheduled changes the projection applies are added to the specs here.
        """
        fallback = set()
        cr = self.env.cr
        cr.execute(
            SQL(
                "SELECT DISTINCT subscription_id FROM subscription_charge WHERE state = 'pending' "
                "AND subscription_id = ANY(%s)",
                subs.ids,
            )
        )
        fallback.update(row[0] for row in cr.fetchall())
        info = data["info"]
        for spec in data["specs"]:
            sub_info = info[spec.id]
            if any(ln.price_currency_id != sub_info["currency_id"] for ln in spec.lines):
                fallback.add(spec.id)
            end = sub_info["end_date"]
            if (
                end
                and end < date_to
                and sub_info["plan"].credit_unused_on_cancel
                and any(billed_end > end for _start, billed_end in spec.timeline.billed)
            ):
                fallback.add(spec.id)
        for sub in subs:
            if sub._get_tax_partner_key() != sub.tax_partner_key:
                fallback.add(sub.id)
        fallback.update(self._add_projected_changes(subs, data, date_to))
        grouping = {info[sub_id]["customer_id"] for sub_id in fallback if info[sub_id]["groups"]}
        fallback.update(sub_id for sub_id, sub_info in info.items() if sub_info["customer_id"] in grouping)
        return subs.browse(sorted(fallback))

    @api.model
    def _add_projected_changes(self, subs, data, date_to):
        """Put the scheduled changes effective up to ``date_to`` into the specs; return the ids of the
        subscriptions whose change the projection cannot apply (it prorates days already invoiced)."""
        changes = self.env["subscription.change"].search(
            [("subscription_id", "in", subs.ids), ("state", "=", "scheduled"), ("effective_date", "<=", date_to)],
            order="effective_date, id",
        )
        if not changes:
            return set()
        fallback = set()
        by_sub = defaultdict(list)
        for change in changes:
            sub = change.subscription_id
            if change._prepare_proration_charges():
                fallback.add(sub.id)
                continue
            removed, added = change._get_line_diff()
            new_lines = []
            for index, (plan_line, quantity) in enumerate(added):
                vals = sub._prepare_line_values_from_plan(plan_line, quantity=quantity)
                if vals["price_currency_id"] != sub.currency_id.id:
                    fallback.add(sub.id)
                tiers = [command[2] for command in vals["tier_ids"] if command[0] == fields.Command.CREATE]
                taxes = plan_line.product_id.taxes_id._filter_taxes_by_company(sub.company_id)
                tax_ids = sub.fiscal_position_id.map_tax(taxes).ids if taxes else []
                new_lines.append(
                    forecast.LineSpec(
                        -(change.id * 1000 + index),
                        (vals["sequence"] or 0, float("inf"), change.id, index),
                        vals["line_type"],
                        vals["product_id"],
                        vals["name"] or "",
                        pricing.to_decimal(vals["quantity"] or 0.0),
                        pricing.to_decimal(vals["price_unit"] or 0.0),
                        tuple(sorted(tax_ids)),
                        Decimal(0),
                        vals["pricing_model"],
                        pricing.to_decimal(vals["included_quantity"] or 0.0),
                        tuple(
                            pricing.Tier(
                                None if tier.get("up_to_unlimited") else pricing.to_decimal(tier.get("up_to") or 0.0),
                                pricing.to_decimal(tier.get("unit_price") or 0.0),
                                pricing.to_decimal(tier.get("flat_fee") or 0.0),
                            )
                            for tier in sorted(
                                tiers, key=lambda t: (bool(t.get("up_to_unlimited")), t.get("up_to") or 0.0)
                            )
                        ),
                        price_currency_id=vals["price_currency_id"],
                    )
                )
            plan_spec = data["plan_specs"].get((change.new_plan_id.id, sub.company_id.id)) or self._get_plan_spec(
                change.new_plan_id, sub.company_id
            )
            by_sub[sub.id].append(
                forecast.ChangeSpec(change.effective_date, plan_spec, tuple(removed.ids), tuple(new_lines))
            )
        data["specs"] = [
            spec if spec.id not in by_sub else dataclasses.replace(spec, changes=tuple(by_sub[spec.id]))
            for spec in data["specs"]
        ]
        return fallback

    @api.model
    def _describe_projection(self, invoices, data, with_lines=False):
        """Rows of :meth:`_describe_moves` for projected invoices, taxes computed once per distinct invoice."""
        info = data["info"]
        discount_names = data["discount_names"]
        taxes_cache = {}
        dates = {}
        template = self.env._("%(description)s\nService period: %(start)s – %(end)s")
        to_be_rated = self.env._("to be rated")

        def fmt(day):
            if day not in dates:
                dates[day] = format_date(self.env, day)
            return dates[day]

        rows = []
        for invoice in invoices:
            first = info[invoice.items[0][0]]
            currency_id, company_id = first["currency_id"], first["company_id"]
            signature = (
                company_id,
                currency_id,
                invoice.invoice_date,
                tuple((ln.tax_key, ln.price_unit, ln.quantity, ln.discount) for ln in invoice.lines),
            )
            amounts = taxes_cache.get(signature)
            if amounts is None:
                amounts = taxes_cache[signature] = self._compute_projected_taxes(*signature)
            untaxed, tax, total, untaxed_company = amounts
            product_sub_ids = invoice.subscription_ids
            descriptions = [
                template
                % {
                    "description": ln.name or discount_names.get(ln.discount_id, ""),
                    "start": fmt(ln.start),
                    "end": fmt(ln.end),
                }
                + (f" ({to_be_rated})" if ln.to_be_rated else "")
                for ln in invoice.lines
            ]
            row = {
                "run_date": invoice.run_date,
                "invoice_date": invoice.invoice_date,
                "move_type": "out_invoice",
                "subscription_id": product_sub_ids[0],
                "subscription_ids": product_sub_ids,
                "partner_id": first["commercial_partner_id"],
                "company_id": company_id,
                "currency_id": currency_id,
                "amount_untaxed": untaxed,
                "amount_tax": tax,
                "amount_total": total,
                "amount_untaxed_company": untaxed_company,
                "has_usage": invoice.has_usage or any(info[sub_id]["has_usage"] for sub_id in product_sub_ids),
                "description": "\n".join(descriptions),
                "projected": True,
            }
            if with_lines:
                step = invoice.step
                row["lines"] = [
                    {
                        "subscription_id": ln.subscription_id,
                        "kind": ln.kind,
                        "name": description,
                        "quantity": ln.quantity,
                        "price_unit": ln.price_unit,
                        "discount": ln.discount,
                        "amount": None if ln.to_be_rated else ln.net(step),
                        "tax_ids": list(ln.tax_key),
                        "start": ln.start,
                        "end": ln.end,
                        "to_be_rated": ln.to_be_rated,
                    }
                    for ln, description in zip(invoice.lines, descriptions, strict=True)
                ]
            rows.append(row)
        return rows

    @api.model
    def _compute_projected_taxes(self, company_id, currency_id, invoice_date, lines):
        """(untaxed, tax, total, untaxed in company currency) of one invoice, as ``account.move`` computes
        them: Odoo's tax engine over base lines, rounded per the company's setting, at the invoice date's rate."""
        company = self.env["res.company"].browse(company_id)
        currency = self.env["res.currency"].browse(currency_id)
        rate = self.env["res.currency"]._get_conversion_rate(
            from_currency=company.currency_id, to_currency=currency, company=company, date=invoice_date
        )
        AccountTax = self.env["account.tax"]
        base_lines = [
            AccountTax._prepare_base_line_for_taxes_computation(
                {},
                tax_ids=AccountTax.browse(tax_key),
                price_unit=float(price_unit),
                quantity=float(quantity),
                discount=float(discount),
                currency_id=currency,
                rate=rate,
            )
            for tax_key, price_unit, quantity, discount in lines
        ]
        AccountTax._add_tax_details_in_base_lines(base_lines, company)
        AccountTax._round_base_lines_tax_details(base_lines, company)
        totals = AccountTax._get_tax_totals_summary(base_lines, currency, company)
        return (
            currency.round(totals["base_amount_currency"]),
            currency.round(totals["tax_amount_currency"]),
            currency.round(totals["total_amount_currency"]),
            company.currency_id.round(totals["base_amount"]),
        )

    @api.model
    def _forecast_dry_run(self, subscriptions, date_from, date_to, date_today=None):
        """Invoices the billing runs from ``date_from`` to ``date_to`` would create for ``subscriptions``,
        by running them in a savepoint that is rolled back (the oracle of the projection, see :meth:`_forecast`).

        Periods due before ``date_from`` but not billed yet are billed by the runs before it (from
        ``date_today`` on) and are not part of the forecast when ``date_from`` is after ``date_today``; on the
        first day of the forecast otherwise.

        :return: list of dicts, one per invoice (see :meth:`_describe_moves`)
        """
        self.env.flush_all()
        rows = []
        try:
            with self.env.cr.savepoint():
                rows = self._simulate(subscriptions, date_from, date_to, date_today)
                raise _ForecastDone(rows)
        except _ForecastDone as done:
            rows = done.rows
        self.env.invalidate_all(flush=False)
        return rows

    @api.model
    def _simulate(self, subscriptions, date_from, date_to, date_today=None):
        date_today = date_today or fields.Date.context_today(self)
        run = self.env["subscription.billing.run"].with_context(**{DRY_RUN_KEY: True})
        Move = self.env["account.move"]
        subs = subscriptions.with_context(**{DRY_RUN_KEY: True}).filtered(lambda sub: sub.state != "draft")
        if date_from > date_today:
            # the runs before the forecast period: their invoices are not part of it
            self._run_day(run, subs, date_from - timedelta(days=1))
        rows = []
        day = date_from
        while day <= date_to:
            self.env.flush_all()
            self.env.cr.execute(SQL("SELECT COALESCE(MAX(id), 0) FROM account_move"))
            [last_id] = self.env.cr.fetchone()
            self._run_day(run, subs, day)
            self.env.flush_all()
            moves = Move.search([("id", ">", last_id), ("line_ids.subscription_id", "in", subs.ids)], order="id")
            rows.extend(self._describe_moves(moves, day))
            self.env.invalidate_all()
            day = self._get_next_run_day(subs, day, date_to)
        return rows

    @api.model
    def _run_day(self, run, subs, day):
        """What the scheduled billing of ``day`` does to ``subs`` (``_cron_run_billing``, limited to them),
        after the resume of customers' pauses ending that day (``_cron_resume_paused``)."""
        subs.filtered(
            lambda sub: sub.state == "paused" and sub.pause_resume_date and sub.pause_resume_date <= day
        )._resume_after_pause()
        ending = subs.filtered(
            lambda sub: (
                (sub.state == "trial" and sub.trial_end_date and sub.trial_end_date < day)
                or (sub.state in ("trial", "active", "notice", "paused") and sub.end_date and sub.end_date < day)
            )
        )
        ending._update_state_from_dates(day)
        due = subs.filtered(
            lambda sub: (
                sub.state in ("trial", "active", "paused", "notice", "ended")
                and sub.next_invoice_date
                and sub.next_invoice_date <= day
            )
        )
        if due:
            run._run_billing(due, day)

    @api.model
    def _get_next_run_day(self, subs, day, date_to):
        """The next day a run changes anything for ``subs``: an invoice date, a trial or term end, a change."""
        candidates = []
        for sub in subs:
            if sub.next_invoice_date and sub.state != "draft":
                candidates.append(sub.next_invoice_date)
            if sub.state == "trial" and sub.trial_end_date:
                candidates.append(sub.trial_end_date + timedelta(days=1))
            if sub.state in ("trial", "active", "notice", "paused") and sub.end_date:
                candidates.append(sub.end_date + timedelta(days=1))
            if sub.state == "paused" and sub.pause_resume_date:
                candidates.append(sub.pause_resume_date)
        candidates = [candidate for candidate in candidates if candidate > day]
        return min([*candidates, date_to + timedelta(days=1)])

    @api.model
    def _describe_moves(self, moves, day):
        """One dict per invoice or credit note (amounts signed: a credit note is negative)."""
        rows = []
        for move in moves:
            sign = -1 if move.move_type == "out_refund" else 1
            product_lines = move.invoice_line_ids.filtered(lambda line: line.display_type == "product")
            subscription = product_lines.subscription_id[:1]
            rows.append(
                {
                    "run_date": day,
                    "invoice_date": move.invoice_date or day,
                    "move_type": move.move_type,
                    "subscription_id": subscription.id,
                    "subscription_ids": product_lines.subscription_id.ids,
                    "partner_id": move.commercial_partner_id.id,
                    "company_id": move.company_id.id,
                    "currency_id": move.currency_id.id,
                    "amount_untaxed": sign * move.amount_untaxed,
                    "amount_tax": sign * move.amount_tax,
                    "amount_total": sign * move.amount_total,
                    "amount_untaxed_company": move.amount_untaxed_signed,
                    "has_usage": any(line.subscription_line_id.line_type == "usage" for line in product_lines)
                    or any(sub._has_usage_lines() for sub in product_lines.subscription_id),
                    "description": "\n".join(product_lines.mapped("name")),
                }
            )
        return rows
