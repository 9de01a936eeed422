from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

#: context key under which the billing run sends nothing (the forecast's dry run)
DRY_RUN_KEY = "subscription_billing_dry_run"


class _ForecastDone(Exception):
    """Carries the forecast out of the savepoint that undoes the billing it was computed with."""

    def __init__(self, rows):
        super().__init__("forecast done")
        self.rows = rows


class SubscriptionBillingForecast(models.AbstractModel):
    """What the daily billing runs from one day to another will invoice: a dry run of the real code.

    The scheduled run of each day is replayed for the given subscriptions in a savepoint (the state update of
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
    def _forecast(self, subscriptions, date_from, date_to, date_today=None):
        """Invoices the billing runs from ``date_from`` to ``date_to`` would create for ``subscriptions``.

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
        """What the scheduled billing of ``day`` does to ``subs`` (``_cron_run_billing``, limited to them)."""
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
