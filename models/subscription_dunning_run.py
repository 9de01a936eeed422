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
            listed = invoices.filtered(lambda inv, pid=partner_id: inv.commercial_partner_id.id == pid)
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
        """Dun these customers on ``date_ref``, each in its own savepoint; return the letters."""
        letters = self.env["subscription.dunning.letter"]
        claimed = self._claim_partners(partners)
        for plan in self._plan(company, date_ref, claimed):
            try:
                with self.env.cr.savepoint():
                    letters |= self._apply_plan(company, date_ref, plan)
            except pg_errors.UniqueViolation:
                # another run dunned this customer (today's letter or an item at this level exists)
                self.env.invalidate_all()
                _logger.info("Customer %s already dunned on %s", plan["partner"].id, date_ref)
            except Exception:  # noqa: BLE001 - one customer's failure never stops the run; it is retried next run
                self.env.invalidate_all()
                _logger.warning("Dunning of customer %s failed", plan["partner"].id, exc_info=True)
        return letters

    @api.model
    def _apply_plan(self, company, date_ref, plan):
        """Write one letter: entries, fees and interest, the level's actions."""
        level = plan["level"]
        partner = plan["partner"]
        letter = (
            self.env["subscription.dunning.letter"]
            .sudo()
            .create(
                {
                    "partner_id": partner.id,
                    "company_id": company.id,
                    "date": date_ref,
                    "level_id": level.id,
                    "invoice_ids": [fields.Command.set(plan["invoices"].ids)],
                    "amount_overdue": float(plan["amount_overdue"]),
                    "fee_amount": float(plan["fee"]),
                    "flat_fee_amount": float(plan["flat_fee"]),
                    "interest_amount": float(plan["interest"]),
                    "amount_total": float(plan["total"]),
                }
            )
        )
        self.env["subscription.dunning.entry"].sudo().create(
            [
                {
                    "invoice_id": invoice.id,
                    "partner_id": partner.id,
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
                for invoice, line in plan["items"].items()
            ]
        )
        self._invoice_fees(letter, plan)
        self._apply_action(letter, plan)
        return letter

    @api.model
    def _get_fee_lines(self, letter, plan):
        """(product, description, amount) of what the letter charges."""
        lines = []
        level = letter.level_id
        date_text = format_date(self.env, letter.date)
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
    def _invoice_fees(self, letter, plan):
        """Fees and interest on the next subscription invoice (pending charges) or on their own invoice."""
        lines = self._get_fee_lines(letter, plan)
        if not lines:
            return
        subscription = False
        if letter.level_id.fee_invoicing == "next_invoice":
            subscription = (
                self.env["subscription.subscription"]
                .sudo()
                .search(
                    [
                        ("commercial_partner_id", "=", letter.partner_id.id),
                        ("company_id", "=", letter.company_id.id),
                        ("state", "in", ("trial", "active", "notice")),
                    ],
                    limit=1,
                    order="id",
                )
            )
        if subscription:
            charges = (
                self.env["subscription.charge"]
                .sudo()
                .create(
                    [
                        {
                            "subscription_id": subscription.id,
                            "product_id": product.id,
                            "name": name,
                            "date": letter.date,
                            "price_unit": float(amount),
                        }
                        for product, name, amount in lines
                    ]
                )
            )
            letter.fee_charge_ids = [fields.Command.set(charges.ids)]
            return
        journal = (
            self.env["account.journal"]
            .sudo()
            .search([("company_id", "=", letter.company_id.id), ("type", "=", "sale")], limit=1)
        )
        move = (
            self.env["account.move"]
            .sudo()
            .with_company(letter.company_id)
            .create(
                {
                    "move_type": "out_invoice",
                    "partner_id": letter.partner_id.id,
                    "company_id": letter.company_id.id,
                    "journal_id": journal.id,
                    "currency_id": letter.currency_id.id,
                    "invoice_date": letter.date,
                    "invoice_origin": letter.level_id.name,
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
            )
        )
        move._post(soft=False)
        letter.fee_invoice_id = move

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
    def _cron_run_dunning(self):
        date_ref = fields.Date.context_today(self)
        self._run_for_all(date_ref, commit=True)
        # letters left unsent by an interrupted run
        pending = self.env["subscription.dunning.letter"].sudo().search([("state", "=", "to_send")])
        for start in range(0, len(pending), DUNNING_BATCH_SIZE):
            pending[start : start + DUNNING_BATCH_SIZE]._send()
            self.env["ir.cron"]._commit_progress(0)
