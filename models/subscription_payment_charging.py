import logging
from collections import defaultdict
from datetime import timedelta

import psycopg2
from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_amount, format_date

from ..billing_core import payment_retry
from .subscription_input_guard import SYSTEM_WRITE_KEY, SYSTEM_WRITE_TOKEN

_logger = logging.getLogger(__name__)

#: states of a transaction that is still open: the invoice waits for it instead of being charged again
OPEN_TX_STATES = ("draft", "pending", "authorized")
#: states of a failed charge
FAILED_TX_STATES = ("error", "cancel")
#: a charge still in draft after this many hours never got the provider's answer
STALE_DRAFT_HOURS = 24


class SubscriptionPaymentCharging(models.AbstractModel):
    """The job of charging posted subscription invoices to saved payment methods (``payment.token``).

    A queue on the invoices: posting an invoice of a subscription paid by a
    saved payment method sets ``subscription_charge_pending`` and the date of
    the first attempt (:meth:`_enqueue_invoices`); the cron
    (:meth:`_cron_charge_invoices`) claims the due invoices with
    ``try_lock_for_update``, creates one offline ``payment.transaction`` per
    invoice (committed before the provider is called, so a crash leaves an
    open transaction that the next run waits for, never a second charge; a
    partial unique index on ``payment.transaction`` refuses a second open
    transaction of an invoice) and reacts to its outcome
    (:meth:`_handle_transaction_outcome`): done stops charging (Odoo's
    ``account_payment`` posts and reconciles the payment), a failure is
    retried on the plan's or company's schedule or, when hard or exhausted,
    hands the invoice to dunning (``subscription_dunning_start_date``).
    """

    _name = "subscription.payment.charging"
    _description = "Automatic Charging of Saved Payment Methods"

    # ------------------------------------------------------------------
    # Business methods: schedule
    # ------------------------------------------------------------------
    @api.model
    def _parse_retry_schedule(self, text, record, fname):
        """The offsets of ``text``; a ValidationError naming ``record`` and its field ``fname`` if unusable."""
        try:
            return payment_retry.parse_schedule(text)
        except payment_retry.ScheduleError as error:
            reasons = {
                "syntax": self.env._("write whole days separated by commas, e.g. 1,3,5,7"),
                "too_many": self.env._("at most %(max)s retries are allowed", max=payment_retry.MAX_RETRIES),
                "range": self.env._(
                    "each retry must lie 1 to %(max)s days after the first failure",
                    max=payment_retry.MAX_OFFSET_DAYS,
                ),
                "order": self.env._("the days must increase strictly"),
            }
            raise ValidationError(
                self.env._(
                    "%(field)s of %(record)s is not a valid retry schedule (%(value)s): %(reason)s.",
                    field=record._fields[fname]._description_string(self.env),
                    record=record.display_name,
                    value=text,
                    reason=reasons[error.code],
                )
            ) from None

    @api.model
    def _get_retry_offsets(self, invoice):
        """The retry schedule of ``invoice``: its subscription plan's, else its company's."""
        plan = invoice.subscription_ids.plan_id.sudo().filtered("charge_retry_schedule")[:1]
        text = plan.charge_retry_schedule if plan else invoice.company_id.sudo().subscription_charge_retry_schedule
        return payment_retry.parse_schedule(text)

    @api.model
    def _get_charge_subscription(self, invoice):
        """The subscription of ``invoice`` that is paid by a saved payment method, if any."""
        return invoice.subscription_ids.filtered(lambda sub: sub.payment_method == "token")[:1]

    # ------------------------------------------------------------------
    # Business methods: queue
    # ------------------------------------------------------------------
    @api.model
    def _write_invoice(self, invoices, vals):
        """Write the charging fields of ``invoices`` (refused to everyone else, see account.move.write)."""
        # pylint: disable-next=context-overridden  # the private token must be the only value of the key
        return invoices.sudo().with_context({SYSTEM_WRITE_KEY: SYSTEM_WRITE_TOKEN}).write(vals)

    @api.model
    def _enqueue_invoices(self, invoices):
        """Put the just posted customer invoices of token-paid subscriptions into automatic charging.

        Their first attempt is due on the invoice date; the cron is triggered.
        """
        to_charge = invoices.filtered(
            lambda m: (
                m.move_type == "out_invoice"
                and m.state == "posted"
                and not m.subscription_charge_pending
                and not m.currency_id.is_zero(m.amount_residual)
                and self._get_charge_subscription(m)
            )
        )
        by_date = defaultdict(list)
        for invoice in to_charge:
            by_date[invoice.invoice_date or invoice.date].append(invoice.id)
        for first_attempt, invoice_ids in by_date.items():
            # one write per date: a billing run's batch usually shares one invoice date
            self._write_invoice(
                to_charge.browse(invoice_ids),
                {"subscription_charge_pending": True, "subscription_charge_next_date": first_attempt},
            )
        if to_charge:
            self.env.ref("subscription_billing.ir_cron_subscription_charge_invoices").sudo()._trigger()
        return to_charge

    @api.model
    def _get_invoices_to_charge_domain(self, date_ref):
        return [
            ("subscription_charge_pending", "=", True),
            ("subscription_charge_next_date", "<=", date_ref),
            ("state", "=", "posted"),
            ("move_type", "=", "out_invoice"),
        ]

    # ------------------------------------------------------------------
    # Business methods: charging
    # ------------------------------------------------------------------
    @api.model
    def _charge_invoices(self, invoices, date_ref, commit=False):
        """Charge each of ``invoices`` once (if due and not awaiting a transaction); returns the new transactions.

        :param commit: (the cron) commit the new transaction before the provider
            is called, and the outcome after: after a crash in between, the
            invoice has an open transaction and is not charged again; without
            it (the "Charge Now" button) the request's own transaction holds both.
        """
        transactions = self.env["payment.transaction"]
        Cron = self.env["ir.cron"]
        for invoice in invoices:
            tx = self._run_step(invoice, self._create_charge_transaction, invoice, date_ref)
            if tx:
                if commit:
                    # the transaction exists before the provider is asked: a crash from here on leaves it
                    # open, and the next run waits for it instead of charging the customer a second time
                    self.env.cr.commit()  # pylint: disable=invalid-commit  # crash safety, see above
                self._run_step(invoice, tx._charge_with_token)
                self._run_step(invoice, self._handle_transaction_outcome, tx, date_ref)
                transactions |= tx
            if commit and not Cron._commit_progress(1):
                break
        return transactions

    @api.model
    def _run_step(self, invoice, function, *args):
        """``function(*args)`` in a savepoint; an error is logged on ``invoice`` and the run goes on."""
        try:
            with self.env.cr.savepoint():
                return function(*args)
        except Exception as error:  # noqa: BLE001 - one invoice never stops the run; logged on it
            self.env.invalidate_all()
            _logger.warning("Automatic charging of invoice %s failed: %s", invoice.id, error)
            try:
                with self.env.cr.savepoint():
                    invoice.message_post(
                        body=self.env._("The invoice could not be charged automatically: %(error)s", error=error)
                    )
            except Exception:  # noqa: BLE001 - the log above keeps it
                self.env.invalidate_all()
            return None

    @api.model
    def _create_charge_transaction(self, invoice, date_ref):
        """The offline transaction of the next attempt for ``invoice``, or an empty one if none is due."""
        Transaction = self.env["payment.transaction"].sudo()
        # another worker may be charging this invoice right now: leave it to that worker
        invoice = invoice.sudo().try_lock_for_update()
        if not invoice:
            return Transaction
        if not invoice.subscription_charge_pending or invoice.state != "posted":
            return Transaction
        if invoice.payment_state in ("paid", "in_payment", "reversed") or invoice.currency_id.is_zero(
            invoice.amount_residual
        ):
            self._stop_charging(invoice)
            return Transaction
        open_tx = Transaction.search(
            [("subscription_charge_invoice_id", "=", invoice.id), ("state", "in", OPEN_TX_STATES)], limit=1
        )
        if open_tx:
            # awaiting the provider's answer (or a crashed attempt): never charge twice
            self._flag_stale_transaction(open_tx)
            return Transaction
        subscription = self._get_charge_subscription(invoice)
        token = subscription.payment_token_id.sudo()
        if not token.active:
            self._give_up(invoice, date_ref, self.env._("the subscription has no saved payment method (any more)"))
            return Transaction
        try:
            with self.env.cr.savepoint():
                tx = Transaction.create(self._prepare_transaction_values(invoice, token))
                tx.flush_recordset()
        except psycopg2.errors.UniqueViolation:
            # another worker opened a transaction for this invoice after this run's snapshot was taken:
            # the partial unique index refused the second one; that worker's charge is awaited
            _logger.info("Invoice %s is being charged by another worker", invoice.id)
            return Transaction
        return tx

    @api.model
    def _flag_stale_transaction(self, tx):
        """A draft charge older than :data:`STALE_DRAFT_HOURS` never reached the provider's answer (a crash
        between creating it and asking the provider): the invoice waits for it, so an accountant must
        check with the provider and cancel it (charging then goes on) or confirm it. Said once, by an
        activity on the invoice."""
        if tx.state != "draft" or tx.create_date > fields.Datetime.now() - timedelta(hours=STALE_DRAFT_HOURS):
            return
        invoice = tx.subscription_charge_invoice_id
        summary = self.env._("Charge %(ref)s got no answer", ref=tx.reference)
        if any(activity.summary == summary for activity in invoice.activity_ids):
            return
        invoice.activity_schedule(
            "mail.mail_activity_data_warning",
            summary=summary,
            note=self.env._(
                "The automatic charge %(ref)s of %(amount)s was created on %(date)s but the payment provider "
                "never answered (the run was interrupted). Check the payment with the provider: if nothing was "
                "paid, press “Cancel Unanswered Charge” on the invoice (charging goes on with the next attempt).",
                ref=tx.reference,
                amount=format_amount(self.env, tx.amount, tx.currency_id),
                date=format_date(self.env, tx.create_date),
            ),
            user_id=invoice.invoice_user_id.id or self.env.user.id,
        )

    @api.model
    def _cancel_stale_charges(self, invoice, date_ref):
        """Cancel the stale draft charges of ``invoice`` (see :meth:`_flag_stale_transaction`): each
        counts as a failed attempt on ``date_ref``."""
        stale = (
            self.env["payment.transaction"]
            .sudo()
            .search([("subscription_charge_invoice_id", "=", invoice.id), ("state", "=", "draft")])
            .filtered(lambda tx: tx.create_date <= fields.Datetime.now() - timedelta(hours=STALE_DRAFT_HOURS))
        )
        if not stale:
            raise UserError(
                self.env._(
                    "Invoice %(invoice)s has no charge waiting for more than %(hours)s hours.",
                    invoice=invoice.display_name,
                    hours=STALE_DRAFT_HOURS,
                )
            )
        for tx in stale:
            tx._set_canceled(
                state_message=self.env._("Cancelled by %(user)s: the provider never answered.", user=self.env.user.name)
            )
            self._handle_transaction_outcome(tx, date_ref)
        invoice.activity_ids.filtered(lambda a: any(tx.reference in (a.summary or "") for tx in stale)).action_done()
        return stale

    @api.model
    def _prepare_transaction_values(self, invoice, token):
        return {
            "provider_id": token.provider_id.id,
            "payment_method_id": token.payment_method_id.id,
            "token_id": token.id,
            "operation": "offline",
            "amount": invoice.amount_residual,
            "currency_id": invoice.currency_id.id,
            "partner_id": invoice.partner_id.id,
            "invoice_ids": [fields.Command.set(invoice.ids)],
            "subscription_charge_invoice_id": invoice.id,
        }

    # ------------------------------------------------------------------
    # Business methods: outcome
    # ------------------------------------------------------------------
    @api.model
    def _handle_transaction_outcome(self, tx, date_ref):
        """React to the state of the charge transaction ``tx`` of an invoice (once per final state)."""
        tx = tx.sudo()
        invoice = tx.subscription_charge_invoice_id
        if not invoice or tx.subscription_charge_handled or tx.state in OPEN_TX_STATES:
            return
        tx.subscription_charge_handled = True
        if tx.state == "done":
            if not tx.is_post_processed:
                tx._post_process()  # account_payment: payment posted and reconciled with the invoice
            self._stop_charging(invoice)
            invoice.message_post(
                body=self.env._(
                    "Charged %(amount)s to the saved payment method (%(ref)s).",
                    amount=format_amount(self.env, tx.amount, tx.currency_id),
                    ref=tx.reference,
                )
            )
            return
        if tx.state not in FAILED_TX_STATES:
            return
        kind = payment_retry.classify_failure(tx.state, tx.state_message, token_active=tx.token_id.active)
        failures = invoice.subscription_charge_failures + 1
        first_failure = invoice.subscription_charge_first_failure_date or date_ref
        vals = {"subscription_charge_failures": failures, "subscription_charge_first_failure_date": first_failure}
        next_date = None
        if kind == payment_retry.SOFT:
            next_date = payment_retry.next_attempt_date(first_failure, failures, self._get_retry_offsets(invoice))
        if next_date is None:
            self._write_invoice(invoice, vals)
            reason = tx.state_message or self.env._("declined")
            if kind == payment_retry.HARD:
                reason = self.env._("%(reason)s (not retried)", reason=reason)
            self._give_up(invoice, date_ref, reason)
        else:
            self._write_invoice(invoice, {**vals, "subscription_charge_next_date": next_date})
        if failures == 1:
            # once per invoice, after the bookkeeping: the mail says whether another attempt follows
            self._send_failure_mail(invoice)
        if next_date is None:
            return
        invoice.message_post(
            body=self.env._(
                "Charging %(amount)s to the saved payment method failed (%(reason)s): attempt %(count)s, "
                "next attempt on %(date)s.",
                amount=format_amount(self.env, tx.amount, tx.currency_id),
                reason=tx.state_message or tx.state,
                count=failures,
                date=format_date(self.env, next_date),
            )
        )

    @api.model
    def _stop_charging(self, invoices):
        """Paid (by the charge or otherwise): no further attempt, no dunning from charging."""
        invoices = invoices.filtered("subscription_charge_pending")
        if invoices:
            self._write_invoice(
                invoices, {"subscription_charge_pending": False, "subscription_charge_next_date": False}
            )

    @api.model
    def _give_up(self, invoice, date_ref, reason):
        """No (further) attempt: the invoice goes to dunning, overdue from ``date_ref``."""
        self._write_invoice(
            invoice,
            {
                "subscription_charge_pending": False,
                "subscription_charge_next_date": False,
                "subscription_dunning_start_date": date_ref,
            },
        )
        invoice.message_post(
            body=self.env._(
                "Automatic charging stopped on %(date)s: %(reason)s. The invoice now goes to dunning.",
                date=format_date(self.env, date_ref),
                reason=reason,
            )
        )

    @api.model
    def _send_failure_mail(self, invoice):
        """Tell the customer: pay the invoice in the portal, update the saved payment method."""
        template = self.env.ref("subscription_billing.mail_template_charge_failed", raise_if_not_found=False)
        if not template or not invoice.partner_id.email:
            return
        try:
            with self.env.cr.savepoint():
                invoice.with_context(mail_notify_force_send=False).message_post_with_source(
                    template, subtype_xmlid="mail.mt_comment"
                )
        except Exception as error:  # noqa: BLE001 - a mail problem never undoes the charging bookkeeping
            self.env.invalidate_all()
            _logger.warning("Charge failure e-mail of invoice %s not sent: %s", invoice.id, error)

    @api.model
    def _get_update_payment_method_url(self, invoice):
        """Where the customer manages saved payment methods (Odoo's portal page)."""
        return invoice.get_base_url() + "/my/payment_method"

    @api.model
    def _use_new_token_from_portal(self, tx):
        """A customer paid an invoice in the portal and saved the method: the subscription uses it from now on."""
        token = tx.token_id
        if not token.active or tx.operation not in ("online_direct", "online_redirect", "online_token"):
            return
        subscriptions = tx.invoice_ids.subscription_ids.filtered(
            lambda sub: (
                sub.payment_method == "token"
                and sub.payment_token_id != token
                and sub.commercial_partner_id == token.partner_id.commercial_partner_id
            )
        )
        for sub in subscriptions:
            sub.payment_token_id = token
            sub.message_post(
                body=Markup("%s")
                % self.env._(
                    "The customer saved a new payment method while paying %(invoice)s: %(token)s is used from now on.",
                    invoice=", ".join(tx.invoice_ids.mapped("display_name")),
                    token=token.display_name,
                )
            )

    # ------------------------------------------------------------------
    # Cron
    # ------------------------------------------------------------------
    @api.model
    def _cron_charge_invoices(self, date_ref=None):
        """Charge every invoice whose attempt is due on ``date_ref`` (default today); progress committed."""
        date_ref = date_ref or fields.Date.context_today(self)
        # paid meanwhile (a bank transfer, a payment registered by hand): no attempt, no flag for dunning
        self._stop_charging(
            self.env["account.move"]
            .sudo()
            .search(
                [
                    ("subscription_charge_pending", "=", True),
                    ("payment_state", "in", ("paid", "in_payment", "reversed")),
                ]
            )
        )
        invoices = (
            self.env["account.move"]
            .sudo()
            .search(self._get_invoices_to_charge_domain(date_ref), order="subscription_charge_next_date, id")
        )
        self.env["ir.cron"]._commit_progress(remaining=len(invoices))
        self._charge_invoices(invoices, date_ref, commit=True)
