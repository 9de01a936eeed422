"""The billing run: a service model of its own, as Odoo 19 did with ``account.move.send``.

``subscription.subscription`` keeps the contract's fields and lifecycle and asks
:mod:`billing_core.schedule` what is due; this model runs the job: claim the due
subscriptions (and grouping customers) against other workers, group the due
periods into invoices, create and post them in one go or unit by unit in
savepoints when something fails, move the schedules on, and send the invoices.
The subscription's ``_run_billing`` and ``_run_billing_for_all`` delegate here.
"""

import logging
from collections import defaultdict
from datetime import timedelta
from decimal import Decimal

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import SQL

from ..billing_core import periods as period_math
from ..billing_core import schedule
from .subscription_subscription import BILLING_BATCH_SIZE, CHARGES_ONLY, CUSTOMER_LOCK_NAMESPACE

_logger = logging.getLogger(__name__)


class SubscriptionBillingRun(models.AbstractModel):
    """Invoice the periods due on a date, for a batch of subscriptions or all of them."""

    _name = "subscription.billing.run"
    _description = "Subscription Billing Run"

    @api.model
    def _run_billing_for_all(self, date_ref, commit=False, batch_size=BILLING_BATCH_SIZE):
        """Bill every subscription due on or before ``date_ref``, in batches.

        With ``commit`` (cron only) each batch is committed through
        ``ir.cron._commit_progress``; a run stopped halfway resumes with the
        subscriptions still due, since billed ones moved their next invoice date.
        """
        Subscription = self.env["subscription.subscription"]
        domain = Subscription._get_subscriptions_to_bill_domain(date_ref)
        totals = {"invoices": self.env["account.move"], "errors": Subscription}
        last_id = 0
        done_ids = set()
        while True:
            # keyset pagination: failed or locked subscriptions stay due but are not fetched again
            batch = Subscription.search(domain + [("id", ">", last_id)], limit=batch_size, order="id")
            if not batch:
                break
            last_id = batch.ids[-1]
            # a grouping customer's subscriptions were all billed with the batch that met the first
            batch = batch.filtered(lambda sub: sub.id not in done_ids)
            if not batch:
                continue
            try:
                with self.env.cr.savepoint():
                    result = batch._run_billing(date_ref)
            except Exception:  # noqa: BLE001 - one broken batch (e.g. a concurrent update) never stops the run
                _logger.warning("Billing batch of %s subscriptions failed; it stays due", len(batch), exc_info=True)
                self.env.invalidate_all()
                result = {"invoices": self.env["account.move"], "errors": batch, "billed": batch}
                try:
                    with self.env.cr.savepoint():
                        batch._store_billing_error(
                            UserError(self.env._("The billing batch failed; see the server log."))
                        )
                except Exception:  # noqa: BLE001 - the run goes on; the subscriptions stay due
                    self.env.invalidate_all()
            done_ids.update(result.get("billed", batch).ids)
            totals["invoices"] |= result["invoices"]
            totals["errors"] |= result["errors"]
            # keep memory flat over thousands of subscriptions: drop this batch from the cache
            self.env.invalidate_all()
            if commit:
                remaining = Subscription.search_count(domain + [("id", ">", last_id)])
                # commit each batch so that a crash or a time-out loses at most one batch
                if not self.env["ir.cron"]._commit_progress(len(batch), remaining=remaining):
                    break
        return totals

    @api.model
    def _run_billing(self, subscriptions, date_ref):
        """Invoice the due periods of these subscriptions up to ``date_ref``.

        Subscriptions locked by another worker are skipped (that worker bills
        them). The batch is first tried at once; if anything fails, each
        billing unit is retried in its own savepoint so that one bad
        subscription only stores its error and the others are billed.

        :return: dict with ``invoices`` (account.move) and ``errors`` (subscriptions)
        """
        empty = subscriptions.browse()
        result = {"invoices": self.env["account.move"], "errors": empty, "billed": empty}
        subs = self._claim_for_billing(subscriptions, date_ref)
        result["billed"] = subs
        if not subs:
            return result
        # another worker may have billed them between our read and our lock
        subs.invalidate_recordset()
        changing = (
            self.env["subscription.change"]
            .search(
                [("subscription_id", "in", subs.ids), ("state", "=", "scheduled"), ("effective_date", "<=", date_ref)]
            )
            .subscription_id
        )
        for sub in changing:
            try:
                with self.env.cr.savepoint():
                    sub._apply_scheduled_changes(date_ref)
            except Exception as error:  # noqa: BLE001 - stored on the subscription, which is not billed
                self.env.invalidate_all()
                sub._store_billing_error(error)
                result["errors"] |= sub
        subs -= result["errors"]
        # the state follows the dates (a trial that ended converts) before anything is billed
        subs._update_state_from_dates(min(date_ref, fields.Date.context_today(self)))
        subs._recheck_fiscal_position()
        units, failed = self._get_billing_units(subs, date_ref)
        result["errors"] |= failed
        if not units:
            return result
        try:
            with self.env.cr.savepoint():
                result["invoices"] = self._bill_units(units)
        except Exception:  # noqa: BLE001 - isolate the faulty unit below, each in its own savepoint
            _logger.info("Billing batch failed, retrying subscription by subscription", exc_info=True)
            self.env.invalidate_all()
            pending = list(units)
            while pending:
                unit = pending.pop(0)
                try:
                    with self.env.cr.savepoint():
                        result["invoices"] |= self._bill_units([unit])
                except (pg_errors.UniqueViolation, pg_errors.ExclusionViolation) as error:
                    self.env.invalidate_all()
                    if len(unit["subscriptions"]) > 1:
                        # one subscription of a grouped invoice is billed already: bill the others
                        # on their own instead of dropping their periods with it
                        pending[:0] = self._split_unit_by_subscription(unit)
                    elif unit["subscriptions"]._get_due_periods(date_ref):
                        # still due after all: not another run's work but a real conflict
                        unit["subscriptions"]._store_billing_error(error)
                        result["errors"] |= unit["subscriptions"]
                    else:
                        _logger.info("Periods of %s already billed by another run", unit["subscriptions"].name)
                except Exception as error:  # noqa: BLE001 - the error is stored on the subscription
                    self.env.invalidate_all()
                    unit["subscriptions"]._store_billing_error(error)
                    result["errors"] |= unit["subscriptions"]
        billed = subs - result["errors"]
        billed.filtered("billing_error")._write_system_fields({"billing_error": False, "billing_error_date": False})
        self._send_invoices(result["invoices"])
        return result

    @api.model
    def _split_unit_by_subscription(self, unit):
        """The billing unit ``unit`` as one unit per subscription (same key otherwise)."""
        split = []
        for sub in unit["subscriptions"]:
            items = [(s, period) for s, period in unit["items"] if s == sub]
            key = (sub.id, *unit["key"][1:])
            split.append({"key": key, "subscriptions": sub, "items": items})
        return split

    @api.model
    def _claim_for_billing(self, subscriptions, date_ref):
        """The ``subscriptions`` this worker bills now, locked against other workers.

        A customer with one invoice for all subscriptions is claimed as a whole: a
        transaction-level advisory lock on the customer makes one worker bill all its due
        subscriptions (also those outside this batch) on one invoice; subscriptions of
        a customer another worker holds are left to it.
        """
        grouping = subscriptions.commercial_partner_id.filtered("subscription_invoice_grouping")
        if grouping:
            self.env.cr.execute(
                SQL(
                    "SELECT id FROM unnest(%s::int[]) AS id WHERE pg_try_advisory_xact_lock(%s, id)",
                    grouping.ids,
                    CUSTOMER_LOCK_NAMESPACE,
                )
            )
            claimed = self.env["res.partner"].browse(row[0] for row in self.env.cr.fetchall())
            siblings = subscriptions.search(
                subscriptions._get_subscriptions_to_bill_domain(date_ref)
                + [("commercial_partner_id", "in", claimed.ids)]
            )
            subs = (subscriptions | siblings).filtered(
                lambda sub: sub.commercial_partner_id not in grouping or sub.commercial_partner_id in claimed
            )
        else:
            subs = subscriptions
        return self._lock_rows(subs)

    @api.model
    def _lock_rows(self, subscriptions):
        """``subscriptions`` locked for this transaction, skipping those another worker holds.

        A row that a worker changed and committed after this transaction began cannot be locked
        any more (PostgreSQL raises a serialization failure under repeatable read): that worker
        billed it, so it is skipped like a locked one, row by row to keep the others.
        """
        if not subscriptions:
            return subscriptions
        query = SQL(
            "SELECT id FROM subscription_subscription WHERE id IN %s FOR NO KEY UPDATE SKIP LOCKED",
            tuple(subscriptions.ids),
        )
        try:
            with self.env.cr.savepoint():
                self.env.cr.execute(query, log_exceptions=False)
                return subscriptions.browse(row[0] for row in self.env.cr.fetchall())
        except pg_errors.SerializationFailure:  # pylint: disable=except-pass
            pass  # a row changed under the batch lock: fall through and lock row by row
        locked = []
        for sub_id in subscriptions.ids:
            try:
                with self.env.cr.savepoint():
                    self.env.cr.execute(
                        SQL(
                            "SELECT id FROM subscription_subscription WHERE id = %s FOR NO KEY UPDATE SKIP LOCKED",
                            sub_id,
                        ),
                        log_exceptions=False,
                    )
                    locked += [row[0] for row in self.env.cr.fetchall()]
            except pg_errors.SerializationFailure:
                _logger.info("Subscription %s was billed by another worker meanwhile; skipped", sub_id)
        return subscriptions.browse(locked)

    @api.model
    def _get_billing_units(self, subscriptions, date_ref):
        """Group the due (subscription, period) pairs into invoices.

        One invoice per subscription and period; customers who ask for it get
        one invoice for all their subscriptions due the same day.

        :return: (list of dicts ``{"key", "subscriptions", "items": [(sub, period)]}``,
            subscriptions whose schedule could not be computed, with their error stored)
        """
        units = {}
        journals = {}
        failed = subscriptions.browse()
        billed_ranges = subscriptions._get_billed_ranges_by_subscription()
        for sub in subscriptions:
            journal_key = (sub.plan_id, sub.company_id)
            if journal_key not in journals:
                journals[journal_key] = sub.plan_id._get_invoice_journal(sub.company_id)
            try:
                due = sub._get_due_periods(date_ref, billed=billed_ranges.get(sub.id, []))
            except (UserError, ValidationError, ValueError) as error:
                sub._store_billing_error(error)
                failed |= sub
                continue
            if not due and not sub._has_upcoming_period() and (charge_date := sub._get_pending_charges_date(date_ref)):
                # no later invoice will carry them (ended, paused): the charges get an invoice of their own
                due = [period_math.Period(CHARGES_ONLY, charge_date, charge_date, charge_date, charge_date)]
            for period in due:
                key = sub._get_invoice_grouping_key(period, journals[journal_key])
                unit = units.setdefault(key, {"key": key, "subscriptions": subscriptions.browse(), "items": []})
                unit["subscriptions"] |= sub
                unit["items"].append((sub, period))
        # oldest first, so a catch-up bills the periods in order
        return sorted(units.values(), key=lambda u: (u["items"][0][1].start, u["items"][0][0].id)), failed

    @api.model
    def _bill_units(self, units):
        """Create (and post, when the plan says so) one invoice per unit; advance the subscriptions.

        An invoice whose lines are all zero is skipped unless the plan asks to
        issue it; its periods still count as billed (the schedule moves on).
        """
        vals_by_company = defaultdict(list)
        charged = set()
        to_credit = []
        for unit in units:
            vals = self._prepare_invoice_values(unit["items"], journal_id=unit["key"][-1], charged=charged)
            if self._get_lines_total(vals["invoice_line_ids"]) < 0:
                # credits larger than the charges (a downgrade's proration): the period is invoiced
                # without the one-time charges, which become a credit note of their own
                charge_lines = [c for c in vals["invoice_line_ids"] if c[2].get("subscription_charge_id")]
                vals["invoice_line_ids"] = [c for c in vals["invoice_line_ids"] if c not in charge_lines]
                charges = self.env["subscription.charge"].browse([c[2]["subscription_charge_id"] for c in charge_lines])
                to_credit.append((charges, vals["invoice_date"]))
            plans = unit["subscriptions"].plan_id
            is_zero = all(not command[2]["price_unit"] for command in vals["invoice_line_ids"])
            if not vals["invoice_line_ids"] or (is_zero and not plans.filtered("issue_zero_invoices")):
                continue
            vals_by_company[vals["company_id"]].append(vals)
        moves = self.env["account.move"]
        for company_id, vals_list in vals_by_company.items():
            # company-dependent defaults (receivable account, ...) must be read in the invoice's company
            moves |= (
                self.env["account.move"]
                .with_company(company_id)
                .with_context(default_move_type="out_invoice")
                .create(vals_list)
            )
        next_starts = {}
        for charges, invoice_date in to_credit:
            for sub in charges.subscription_id:
                moves |= sub._invoice_pending_charges(
                    invoice_date, charges.filtered(lambda c, s=sub: c.subscription_id == s)
                )
        for unit in units:
            for sub, period in unit["items"]:
                if period.index >= 0:
                    next_starts[sub] = max(next_starts.get(sub, period.end), period.end)
                sub._mark_usage_billed(period)
        for sub, last_end in next_starts.items():
            # never backwards: a rewound schedule may bill an old period before the billed ones
            sub._write_system_fields({"next_period_start": max(sub.next_period_start, last_end + timedelta(days=1))})
        # a period billed again after a cancellation: continue after the billed service that follows it
        # without a gap (a later billed run after an unbilled gap leaves the gap due)
        later = (
            self.env["subscription.subscription"]
            .browse([sub.id for sub in next_starts])
            ._get_billed_ranges_by_subscription()
        )
        for sub in next_starts:
            if later.get(sub.id):
                sub._write_system_fields(
                    {"next_period_start": schedule.first_unbilled_day(sub.next_period_start, later[sub.id])}
                )
        self._link_usage_records(moves)
        to_post = moves.filtered(
            lambda m: m.state == "draft" and m.invoice_line_ids.subscription_id.plan_id.filtered("auto_post_invoices")
        )
        if to_post:
            to_post._post()
        return moves

    @api.model
    def _link_usage_records(self, moves):
        """Link each rated usage record to the invoice line that billed it."""
        for move_line in moves.invoice_line_ids.filtered(lambda aml: aml.subscription_line_id.line_type == "usage"):
            usage_period = period_math.Period(
                0,
                move_line.subscription_period_start,
                move_line.subscription_period_end,
                move_line.subscription_period_start,
                move_line.subscription_period_end,
            )
            move_line.subscription_line_id._get_usage_records(usage_period)._write_system_fields(
                {"invoice_line_id": move_line.id}
            )

    @api.model
    def _send_invoices(self, moves):
        """Send the posted invoices whose plan asks for it, each on its own.

        A failed sending (no e-mail address, a mail server error) never undoes
        the invoice: it is logged on the invoice, which stays to be sent by hand.
        """
        if self.env.context.get("subscription_billing_dry_run"):
            return  # the billing forecast's dry run: everything is rolled back, nothing goes out
        # an invoice of a rolled-back attempt no longer exists: never send (or read) it
        to_send = moves.exists().filtered(
            lambda m: m.state == "posted" and m.invoice_line_ids.subscription_id.plan_id.filtered("send_invoices")
        )
        for move in to_send:
            try:
                with self.env.cr.savepoint():
                    move._generate_and_send(allow_fallback_pdf=True)
            except Exception as error:  # noqa: BLE001 - logged on the invoice, billing goes on
                self.env.invalidate_all()
                try:
                    with self.env.cr.savepoint():
                        move.message_post(
                            body=self.env._("The invoice could not be sent automatically: %(error)s", error=error)
                        )
                except Exception:  # noqa: BLE001 - e.g. the customer changed meanwhile; the invoice stays
                    self.env.invalidate_all()
                    _logger.warning("Invoice %s could not be sent automatically: %s", move.id, error)

    @api.model
    def _prepare_invoice_values(self, items, journal_id, charged=None):
        """Values of one customer invoice for ``items``, a list of (subscription, period).

        :param charged: set of subscriptions whose pending one-time charges are
            already on another invoice of this run (updated in place)
        """
        charged = set() if charged is None else charged
        first_sub, first_period = items[0]
        invoice_date = first_sub._get_item_invoice_date(first_period)
        line_vals = []
        for sub, period in items:
            sub_line_vals = sub._prepare_period_invoice_lines(period, charged)
            if sub not in charged:
                charged.add(sub)
                sub_line_vals += sub._prepare_charge_invoice_lines()
            line_vals += sub._apply_account_assignment(sub_line_vals)
        return {
            "move_type": "out_invoice",
            "partner_id": first_sub.partner_invoice_id.id,
            "currency_id": first_sub.currency_id.id,
            "company_id": first_sub.company_id.id,
            "journal_id": journal_id,
            "fiscal_position_id": first_sub.fiscal_position_id.id,
            "invoice_payment_term_id": first_sub.payment_term_id.id,
            "invoice_user_id": first_sub.user_id.id,
            "invoice_date": invoice_date,
            # without a payment term the invoice is due on its date (not on the day the run happens)
            **({} if first_sub.payment_term_id else {"invoice_date_due": invoice_date}),
            "invoice_origin": ", ".join(dict.fromkeys(sub.name for sub, _period in items)),
            "invoice_line_ids": [fields.Command.create(vals) for vals in line_vals],
            "sepa_mandate_id": first_sub._get_sepa_mandate_for_invoice().id,
        }

    @api.model
    def _get_lines_total(self, line_commands):
        """Untaxed total of invoice line create commands (before Odoo computes it)."""
        return sum(
            Decimal(str(c[2].get("quantity", 1.0)))
            * Decimal(str(c[2].get("price_unit", 0.0)))
            * (1 - Decimal(str(c[2].get("discount") or 0)) / 100)
            for c in line_commands
            if c[2].get("display_type") not in ("line_section", "line_note")
        )
