import logging
from datetime import timedelta
from decimal import Decimal

from markupsafe import Markup
from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.tools import SQL, format_date

from ..billing_core import dunning

_logger = logging.getLogger(__name__)

#: first key of the advisory locks by which a dunning worker claims a customer
DUNNING_LOCK_NAMESPACE = 0x5B0D1  # "SuBscription DunnIng"

#: how many customers one dunning batch (one commit in the cron) handles
DUNNING_BATCH_SIZE = 100

#: how many letters are rendered and e-mailed per commit
SEND_BATCH_SIZE = 20

#: subscription states a dunning suspension can pause, and a dunning cancellation can give notice in
SUSPENDABLE_STATES = ("trial", "active", "notice")
CANCELLABLE_STATES = ("trial", "active", "paused")


class SubscriptionDunningRun(models.AbstractModel):
    """The dunning run: overdue items → one letter per customer, fees, interest, actions.

    The job lives here (like ``account.move.send``); the records it writes are
    :class:`subscription.dunning.entry` (one per invoice and level, unique) and
    :class:`subscription.dunning.letter` (one per customer and day, unique). Each
    customer is handled under a transaction-level advisory lock and in its own
    savepoint, so two workers split the customers and a rerun finds nothing new.
    """

    _name = "subscription.dunning.run"
    _description = "Dunning Run"

    # ------------------------------------------------------------------
    # Selection
    # ------------------------------------------------------------------
    @api.model
    def _get_levels(self, company):
        return self.env["subscription.dunning.level"].sudo().search([("company_id", "=", company.id)])

    @api.model
    def _get_overdue_items_domain(self, company, date_ref, min_days=0):
        """Posted customer invoices of ``company`` open and at least ``min_days`` overdue on ``date_ref``,
        not being charged automatically and not blocked."""
        limit = date_ref - timedelta(days=min_days)
        return [
            ("company_id", "=", company.id),
            ("move_type", "=", "out_invoice"),
            ("state", "=", "posted"),
            ("payment_state", "in", ("not_paid", "partial")),
            ("amount_residual", ">", 0),
            ("subscription_charge_pending", "=", False),
            "|",
            "&",
            ("subscription_dunning_start_date", "!=", False),
            ("subscription_dunning_start_date", "<=", limit),
            "&",
            ("subscription_dunning_start_date", "=", False),
            ("invoice_date_due", "<=", limit),
            "|",
            ("dunning_block_until", "=", False),
            ("dunning_block_until", "<", date_ref),
            "|",
            ("commercial_partner_id.dunning_block_until", "=", False),
            ("commercial_partner_id.dunning_block_until", "<", date_ref),
        ]

    @api.model
    def _get_overdue_items(self, company, date_ref, partners=None):
        levels = self._get_levels(company)
        if not levels:
            return self.env["account.move"]
        domain = self._get_overdue_items_domain(company, date_ref, min(levels.mapped("days_after_due")))
        if partners is not None:
            domain.append(("commercial_partner_id", "in", partners.ids))
        return self.env["account.move"].sudo().search(domain, order="commercial_partner_id, id")

    @api.model
    def _to_core_levels(self, levels):
        return {
            level.id: dunning.Level(
                level.id,
                level.days_after_due,
                fee=Decimal(str(level.fee_amount or 0)),
                charge_interest=level.charge_interest,
                flat_fee=level.charge_flat_fee,
            )
            for level in levels
        }

    @api.model
    def _to_core_items(self, invoices):
        """:class:`billing_core.dunning.Item` of each invoice, with the levels and flat fee it already got."""
        Entry = self.env["subscription.dunning.entry"].sudo()
        sent, flat = {}, set()
        if invoices:
            for row in Entry.search_read(
                [("invoice_id", "in", invoices.ids)], ["invoice_id", "level_id", "flat_fee"], load=False
            ):
                sent.setdefault(row["invoice_id"], set()).add(row["level_id"])
                if row["flat_fee"]:
                    flat.add(row["invoice_id"])
        return [
            dunning.Item(
                inv.id,
                inv.commercial_partner_id.id,
                inv.subscription_dunning_start_date or inv.invoice_date_due,
                Decimal(str(inv.amount_residual_signed)),
                sent=frozenset(sent.get(inv.id, ())),
                flat_fee_charged=inv.id in flat,
            )
            for inv in invoices
        ]

    # ------------------------------------------------------------------
    # Preview and run
    # ------------------------------------------------------------------
    @api.model
    def _plan(self, company, date_ref, partners=None):
        """What a run on ``date_ref`` would send, computed without writing anything.

        :return: list of dicts (partner, level, invoices (all overdue items listed),
            items {invoice: (level, flat fee, interest, interest_from)}, fee, totals), one per letter
        """
        levels = self._get_levels(company)
        invoices = self._get_overdue_items(company, date_ref, partners)
        if not invoices:
            return []
        core_levels = self._to_core_levels(levels)
        items = self._to_core_items(invoices)
        letters = dunning.level_due(items, list(core_levels.values()), date_ref)
        if not letters:
            return []
        Level = self.env["subscription.dunning.level"].sudo()
        Move = self.env["account.move"].sudo()
        Partner = self.env["res.partner"].sudo()
        rates = self.env["subscription.dunning.base.rate"]._get_table()
        decimals = company.currency_id.decimal_places
        flat_enabled = company.dunning_flat_fee_b2b
        by_item = {item.key: item for item in items}
        last_interest = self._get_last_interest_dates(invoices)
        # fees and interest already claimed are dunned, but earn no interest (§ 289 BGB) nor a flat fee
        fee_invoice_ids = set(
            self.env["subscription.dunning.letter"]
            .sudo()
            .search([("fee_invoice_id", "in", invoices.ids)])
            .fee_invoice_id.ids
        )
        listed_of = {partner.id: moves for partner, moves in invoices.grouped("commercial_partner_id").items()}
        plans = []
        for partner_id, (top, per_item) in letters.items():
            partner = Partner.browse(partner_id)
            business = partner.is_company
            dunned = [(by_item[key], level) for key, level in per_item.items()]
            claims = [(item, level) for item, level in dunned if item.key not in fee_invoice_ids]
            fee, flat = dunning.letter_fees(top, claims, business, flat_enabled)
            points = dunning.POINTS_BUSINESS if business else dunning.POINTS_CONSUMER
            lines = {}
            for item, level in dunned:
                interest, since = Decimal(0), None
                if level.charge_interest and item.key not in fee_invoice_ids:
                    since = max(last_interest.get(item.key) or item.start, item.start)
                    interest = dunning.default_interest(item.amount, since, date_ref, rates, points, decimals)
                lines[Move.browse(item.key)] = {
                    "level": Level.browse(level.key),
                    "flat_fee": flat.get(item.key, Decimal(0)),
                    "interest": interest,
                    "interest_from": since,
                    "start": item.start,
                    "amount": item.amount,
                }
            listed = listed_of[partner_id]
            overdue = sum((by_item[inv.id].amount for inv in listed), Decimal(0))
            flat_total = sum(flat.values(), Decimal(0))
            interest_total = sum((line["interest"] for line in lines.values()), Decimal(0))
            plans.append(
                {
                    "partner": partner,
                    "level": Level.browse(top.key),
                    "invoices": listed,
                    "items": lines,
                    "amount_overdue": overdue,
                    "fee": fee,
                    "flat_fee": flat_total,
                    "interest": interest_total,
                    "total": overdue + fee + flat_total + interest_total,
                }
            )
        return plans

    @api.model
    def _get_last_interest_dates(self, invoices):
        """The last day up to which interest was already charged, per invoice id."""
        result = {}
        if not invoices:
            return result
        groups = (
            self.env["subscription.dunning.entry"]
            .sudo()
            ._read_group(
                [("invoice_id", "in", invoices.ids), ("interest_to", "!=", False)],
                ["invoice_id"],
                ["interest_to:max"],
            )
        )
        for invoice, last in groups:
            result[invoice.id] = last
        return result

    @api.model
    def _run_for_all(
        self, date_ref, companies=None, commit=False, send=True, batch_size=DUNNING_BATCH_SIZE, partners=None
    ):
        """Dun every customer of ``companies`` (default: all) on ``date_ref`` (or only ``partners``).

        With ``commit`` (cron only) each batch of customers is committed through
        ``ir.cron._commit_progress``; a run stopped halfway resumes where it was:
        what was done is in the database and is not done again.
        :return: the letters created
        """
        companies = companies or self.env["res.company"].sudo().search([])
        letters = self.env["subscription.dunning.letter"]
        for company in companies:
            self._resume_paid_suspensions(company, date_ref)
            if commit:
                self.env["ir.cron"]._commit_progress(0)
            todo = self._get_overdue_items(company, date_ref, partners).commercial_partner_id
            for start in range(0, len(todo), batch_size):
                batch = todo[start : start + batch_size]
                created = self._run_partners(company, date_ref, batch)
                letters |= created
                if send:
                    created._send()
                if commit and not self.env["ir.cron"]._commit_progress(
                    len(batch), remaining=max(len(todo) - start - len(batch), 0)
                ):
                    return letters
                self.env.invalidate_all()
        return letters

    @api.model
    def _claim_partners(self, partners):
        """The ``partners`` this worker duns now: a transaction-level advisory lock per customer,
        customers another worker holds are left to it."""
        if not partners:
            return partners
        self.env.cr.execute(
            SQL(
                "SELECT id FROM unnest(%s::int[]) AS id WHERE pg_try_advisory_xact_lock(%s, id)",
                partners.ids,
                DUNNING_LOCK_NAMESPACE,
            )
        )
        return partners.browse(row[0] for row in self.env.cr.fetchall())

    @api.model
    def _run_partners(self, company, date_ref, partners):
        """Dun these customers on ``date_ref``; return the letters.

        The batch is written at once in a savepoint; if anything fails (a customer
        dunned meanwhile by another worker, bad data), each customer is retried in
        its own savepoint, so that one bad customer never stops the others.
        """
        claimed = self._claim_partners(partners)
        plans = self._plan(company, date_ref, claimed)
        if not plans:
            return self.env["subscription.dunning.letter"]
        try:
            with self.env.cr.savepoint():
                return self._apply_plans(company, date_ref, plans)
        except Exception:  # noqa: BLE001 - isolate the faulty customer below, each in its own savepoint
            self.env.invalidate_all()
            _logger.info("Dunning batch failed, retrying customer by customer", exc_info=True)
        letters = self.env["subscription.dunning.letter"]
        for plan in plans:
            partner_id = plan["partner"].id
            try:
                with self.env.cr.savepoint():
                    letters |= self._apply_plans(company, date_ref, [plan])
            except pg_errors.UniqueViolation:
                # another run dunned this customer (today's letter or an item at this level exists)
                self.env.invalidate_all()
                _logger.info("Customer %s already dunned on %s", partner_id, date_ref)
            except Exception:  # noqa: BLE001 - one customer's failure never stops the run; it is retried next run
                self.env.invalidate_all()
                _logger.warning("Dunning of customer %s failed", partner_id, exc_info=True)
        return letters

    @api.model
    def _apply_plans(self, company, date_ref, plans):
        """Write the letters of ``plans``: fees and interest (charges or own invoices), the letters,
        one history entry per item reaching a level, the levels' actions. Batched: one ``create``
        per model for all customers of the batch."""
        fee_lines = [self._get_fee_lines(plan["level"], date_ref, plan) for plan in plans]
        subscription_of = self._get_fee_subscriptions(
            company,
            [
                plan["partner"].id
                for plan, lines in zip(plans, fee_lines, strict=True)
                if lines and plan["level"].fee_invoicing == "next_invoice"
            ],
        )
        charge_vals, charge_owner, invoice_vals, invoice_owner = [], [], [], []
        for index, (plan, lines) in enumerate(zip(plans, fee_lines, strict=True)):
            if not lines:
                continue
            subscription = None
            if plan["level"].fee_invoicing == "next_invoice":
                subscription = subscription_of.get(plan["partner"].id)
            if subscription:
                for product, name, amount in lines:
                    charge_vals.append(
                        {
                            "subscription_id": subscription.id,
                            "product_id": product.id,
                            "name": name,
                            "date": date_ref,
                            "price_unit": float(amount),
                        }
                    )
                    charge_owner.append(index)
            else:
                invoice_vals.append(self._prepare_fee_invoice_values(company, date_ref, plan, lines))
                invoice_owner.append(index)
        charges_of, invoice_of = {}, {}
        if charge_vals:
            charges = self.env["subscription.charge"].sudo().create(charge_vals)
            for index, charge in zip(charge_owner, charges, strict=True):
                charges_of.setdefault(index, []).append(charge.id)
        if invoice_vals:
            moves = self.env["account.move"].sudo().with_company(company).create(invoice_vals)
            moves._post(soft=False)
            invoice_of = dict(zip(invoice_owner, moves.ids, strict=True))
        letters = (
            self.env["subscription.dunning.letter"]
            .sudo()
            .with_context(mail_create_nolog=True, mail_create_nosubscribe=True, tracking_disable=True)
            .create(
                [
                    {
                        "partner_id": plan["partner"].id,
                        "company_id": company.id,
                        "date": date_ref,
                        "level_id": plan["level"].id,
                        "invoice_ids": [fields.Command.set(plan["invoices"].ids)],
                        "amount_overdue": float(plan["amount_overdue"]),
                        "fee_amount": float(plan["fee"]),
                        "flat_fee_amount": float(plan["flat_fee"]),
                        "interest_amount": float(plan["interest"]),
                        "amount_total": float(plan["total"]),
                        "fee_invoice_id": invoice_of.get(index, False),
                        "fee_charge_ids": [fields.Command.set(charges_of.get(index, []))],
                    }
                    for index, plan in enumerate(plans)
                ]
            )
        )
        self.env["subscription.dunning.entry"].sudo().create(
            [
                {
                    "invoice_id": invoice.id,
                    "partner_id": plan["partner"].id,
                    "level_id": line["level"].id,
                    "letter_id": letter.id,
                    "company_id": company.id,
                    "date": date_ref,
                    "overdue_since": line["start"],
                    "days_overdue": (date_ref - line["start"]).days,
                    "amount_overdue": float(line["amount"]),
                    "flat_fee": float(line["flat_fee"]),
                    "interest": float(line["interest"]),
                    "interest_from": line["interest_from"],
                    "interest_to": date_ref if line["interest_from"] else False,
                }
                for letter, plan in zip(letters, plans, strict=True)
                for invoice, line in plan["items"].items()
            ]
        )
        for letter, plan in zip(letters, plans, strict=True):
            if plan["level"].action != "none" or plan["level"].create_activity:
                self._apply_action(letter, plan)
        return letters

    @api.model
    def _get_fee_lines(self, level, date_ref, plan):
        """(product, description, amount) of what a letter of ``level`` on ``date_ref`` charges."""
        lines = []
        date_text = format_date(self.env, date_ref)
        if plan["fee"]:
            lines.append(
                (
                    level.fee_product_id,
                    self.env._("Dunning fee: %(level)s of %(date)s", level=level.name, date=date_text),
                    plan["fee"],
                )
            )
        for invoice, line in plan["items"].items():
            if line["flat_fee"]:
                lines.append(
                    (
                        self.env.ref("subscription_billing.product_dunning_flat_fee"),
                        self.env._("Flat fee § 288 (5) BGB for %(invoice)s", invoice=invoice.name),
                        line["flat_fee"],
                    )
                )
            if line["interest"]:
                lines.append(
                    (
                        self.env.ref("subscription_billing.product_dunning_interest"),
                        self.env._(
                            "Default interest on %(invoice)s from %(start)s to %(end)s",
                            invoice=invoice.name,
                            start=format_date(self.env, line["interest_from"] + timedelta(days=1)),
                            end=date_text,
                        ),
                        line["interest"],
                    )
                )
        return lines

    @api.model
    def _get_fee_subscriptions(self, company, partner_ids):
        """{commercial partner id: the running subscription whose next invoice carries the fees}."""
        if not partner_ids:
            return {}
        subscriptions = (
            self.env["subscription.subscription"]
            .sudo()
            .search(
                [
                    ("commercial_partner_id", "in", partner_ids),
                    ("company_id", "=", company.id),
                    ("state", "in", ("trial", "active", "notice")),
                ],
                order="id desc",
            )
        )
        # the oldest running subscription of each customer (the search is newest first)
        return {sub.commercial_partner_id.id: sub for sub in subscriptions}

    @api.model
    def _prepare_fee_invoice_values(self, company, date_ref, plan, lines):
        """A customer invoice of its own for the fees and interest of one letter (no VAT: damages)."""
        journal = (
            self.env["account.journal"].sudo().search([("company_id", "=", company.id), ("type", "=", "sale")], limit=1)
        )
        return {
            "move_type": "out_invoice",
            "partner_id": plan["partner"].id,
            "company_id": company.id,
            "journal_id": journal.id,
            "currency_id": company.currency_id.id,
            "invoice_date": date_ref,
            "invoice_origin": plan["level"].name,
            "invoice_line_ids": [
                fields.Command.create(
                    {
                        "product_id": product.id,
                        "name": name,
                        "quantity": 1,
                        "price_unit": float(amount),
                        # damages, not a supply: no VAT
                        "tax_ids": [fields.Command.clear()],
                    }
                )
                for product, name, amount in lines
            ],
        }

    @api.model
    def _apply_action(self, letter, plan):
        """The level's action on the customer's subscriptions, and its activity."""
        level = letter.level_id
        subscriptions = (
            self.env["subscription.subscription"]
            .sudo()
            .search([("commercial_partner_id", "=", letter.partner_id.id), ("company_id", "=", letter.company_id.id)])
        )
        invoices = self.env["account.move"].browse(inv.id for inv in plan["items"])
        if level.action == "suspend":
            for sub in subscriptions.filtered(lambda s: s.state in SUSPENDABLE_STATES):
                sub._dunning_suspend(letter.date, level, invoices)
        elif level.action == "cancel":
            for sub in subscriptions.filtered(lambda s: s.state in CANCELLABLE_STATES):
                sub._request_cancellation(
                    letter.date,
                    reason=self.env._(
                        "Cancelled by dunning: %(level)s of %(date)s.",
                        level=level.name,
                        date=format_date(self.env, letter.date),
                    ),
                )
        if level.create_activity:
            user = letter.partner_id.user_id or subscriptions[:1].user_id or self.env.user
            letter.activity_schedule(
                "mail.mail_activity_data_todo",
                date_deadline=letter.date,
                summary=self.env._("Dunning: %(level)s", level=level.name),
                note=Markup("%s")
                % self.env._(
                    "%(customer)s reached %(level)s with %(amount)s overdue.",
                    customer=letter.partner_id.display_name,
                    level=level.name,
                    amount=plan["total"],
                ),
                user_id=user.id,
            )

    @api.model
    def _resume_paid_suspensions(self, company, date_ref):
        """Resume subscriptions suspended by dunning whose overdue items are all paid now."""
        suspended = (
            self.env["subscription.subscription"]
            .sudo()
            .search([("company_id", "=", company.id), ("dunning_suspended", "=", True)])
        )
        for sub in suspended:
            if any(inv.payment_state in ("not_paid", "partial") for inv in sub.dunning_suspension_invoice_ids):
                continue
            try:
                with self.env.cr.savepoint():
                    sub._dunning_resume(date_ref)
            except Exception:  # noqa: BLE001 - stays suspended and is tried again on the next run
                self.env.invalidate_all()
                _logger.warning("Resuming subscription %s after dunning failed", sub.id, exc_info=True)

    # ------------------------------------------------------------------
    # Cron
    # ------------------------------------------------------------------
    @api.model
    def _cron_resume_paid_suspensions(self):
        """Triggered when a payment is matched with an invoice that suspended subscriptions (and
        run daily): resume the subscriptions whose overdue invoices are all paid now."""
        date_ref = fields.Date.context_today(self)
        for company in self.env["res.company"].sudo().search([]):
            self._resume_paid_suspensions(company, date_ref)
            self.env["ir.cron"]._commit_progress(0)

    @api.model
    def _cron_run_dunning(self):
        """Daily: dun every company as of today (committed per batch of customers), then send the
        letters (PDF and e-mail) in small committed batches; what the time budget leaves unsent is
        sent by the next call (triggered at once)."""
        date_ref = fields.Date.context_today(self)
        self._run_for_all(date_ref, commit=True, send=False)
        if not self._send_pending_letters(commit=True):
            self.env.ref("subscription_billing.ir_cron_subscription_dunning")._trigger()

    @api.model
    def _send_pending_letters(self, commit=False, batch_size=SEND_BATCH_SIZE):
        """Send letters still to send, ``batch_size`` at a time; False if the cron's time ran out."""
        Letter = self.env["subscription.dunning.letter"].sudo()
        domain = [("state", "=", "to_send")]
        last_id = 0
        while True:
            batch = Letter.search(domain + [("id", ">", last_id)], limit=batch_size, order="id")
            if not batch:
                return True
            last_id = batch.ids[-1]
            sent = batch._send()  # letters locked by another worker are left to it
            if commit and not self.env["ir.cron"]._commit_progress(
                len(sent), remaining=Letter.search_count(domain + [("id", ">", last_id)])
            ):
                return False
            self.env.invalidate_all()
