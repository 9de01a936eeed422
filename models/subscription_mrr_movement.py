import logging
from datetime import timedelta
from decimal import Decimal

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..billing_core import mrr

_logger = logging.getLogger(__name__)

MOVEMENT_KINDS = [
    (mrr.NEW, "New"),
    (mrr.EXPANSION, "Expansion"),
    (mrr.CONTRACTION, "Contraction"),
    (mrr.CHURN, "Churn"),
    (mrr.REACTIVATION, "Reactivation"),
]
MOVEMENT_REASONS = [
    ("state", "Start, trial conversion, pause, resume, end or reactivation"),
    ("change", "Plan or quantity change"),
    ("lines", "Lines edited"),
    ("rebuild", "Rebuilt from the history"),
    ("correction", "Correction at the rebuild"),
]
#: states in which a subscription has a recurring revenue (trial, paused, draft and ended have none)
MRR_STATES = ("active", "notice")


class SubscriptionMrrMovement(models.Model):
    """One immutable change of a subscription's monthly recurring revenue (the MRR movement ledger).

    Rows are written only by :meth:`_record` (from the subscription's lifecycle) and
    :meth:`_rebuild`; nobody writes or deletes one (the rebuild deletes a subscription's rows in SQL).
    """

    _name = "subscription.mrr.movement"
    _description = "MRR Movement"
    _inherit = ["subscription.input.guard.mixin"]
    _order = "date desc, subscription_id, sequence desc"
    _rec_name = "subscription_id"

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    subscription_id = fields.Many2one(
        "subscription.subscription", required=True, ondelete="cascade", index=True, readonly=True
    )
    sequence = fields.Integer(required=True, readonly=True, help="Position in the subscription's ledger (1, 2, ...).")
    company_id = fields.Many2one("res.company", required=True, index=True, readonly=True)
    commercial_partner_id = fields.Many2one("res.partner", string="Customer", required=True, index=True, readonly=True)
    plan_id = fields.Many2one("subscription.plan", required=True, index=True, readonly=True)
    plan_family_id = fields.Many2one("subscription.plan.family", readonly=True)
    country_id = fields.Many2one("res.country", readonly=True, help="The customer's country at the movement.")
    user_id = fields.Many2one("res.users", string="Salesperson", readonly=True)
    date = fields.Date(required=True, index=True, readonly=True, help="First day the new MRR applies.")
    kind = fields.Selection(MOVEMENT_KINDS, required=True, index=True, readonly=True)
    reason = fields.Selection(MOVEMENT_REASONS, required=True, readonly=True)
    currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    company_currency_id = fields.Many2one("res.currency", required=True, readonly=True)
    mrr_before = fields.Monetary(string="MRR Before", readonly=True)
    mrr_after = fields.Monetary(string="MRR After", readonly=True)
    mrr_delta = fields.Monetary(string="MRR Change", readonly=True)
    mrr_before_company = fields.Monetary(
        string="MRR Before (Company Currency)", currency_field="company_currency_id", readonly=True
    )
    mrr_after_company = fields.Monetary(
        string="MRR After (Company Currency)", currency_field="company_currency_id", readonly=True
    )
    mrr_delta_company = fields.Monetary(
        string="MRR Change (Company Currency)",
        currency_field="company_currency_id",
        readonly=True,
        aggregator="sum",
    )

    # ------------------------------------------------------------------
    # Constraints and indexes
    # ------------------------------------------------------------------
    _subscription_sequence_unique = models.Constraint(
        "UNIQUE(subscription_id, sequence)",
        "A subscription's MRR ledger has one movement per position: another worker recorded it first.",
    )
    _delta_is_after_minus_before = models.Constraint(
        "CHECK(mrr_delta = mrr_after - mrr_before AND mrr_delta_company = mrr_after_company - mrr_before_company)",
        "An MRR movement's change must be its MRR after minus its MRR before.",
    )
    _mrr_not_negative = models.Constraint(
        "CHECK(mrr_before >= 0 AND mrr_after >= 0 AND mrr_delta != 0)",
        "An MRR movement changes a non-negative MRR.",
    )
    _kind_has_its_sign = models.Constraint(
        "CHECK((mrr_delta > 0) = (kind IN ('new', 'expansion', 'reactivation')))",
        "New, expansion and reactivation movements increase the MRR; contraction and churn decrease it.",
    )
    _company_date_idx = models.Index("(company_id, date)")

    # ------------------------------------------------------------------
    # CRUD overrides
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        if not self._is_system_write():
            raise UserError(self.env._("MRR movements are written by the subscriptions' own actions only."))
        return super().create(vals_list)

    def write(self, vals):  # pylint: disable=method-required-super
        raise UserError(
            self.env._(
                "MRR movement of %(sub)s cannot be changed: the ledger is immutable (rebuild it instead).",
                sub=self[:1].subscription_id.display_name,
            )
        )

    def unlink(self):  # pylint: disable=method-required-super
        raise UserError(
            self.env._(
                "MRR movement of %(sub)s cannot be deleted: the ledger is immutable (rebuild it instead).",
                sub=self[:1].subscription_id.display_name,
            )
        )

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _get_ledger_mrr(self, subscription, date_ref=None):
        """The MRR the ledger must show for ``subscription`` now: its lines' MRR while active or under
        notice, else 0 (draft, trial, paused, ended). Usage lines and subscription discounts are not in it."""
        if subscription.state not in MRR_STATES:
            return Decimal(0)
        return subscription._get_mrr(subscription.line_ids, date_ref)

    @api.model
    def _get_last_movements(self, subscriptions):
        """{subscription id: (sequence, date, mrr_after, mrr_after_company)} of each last movement."""
        if not subscriptions.ids:
            return {}
        self.flush_model()
        self.env.cr.execute(
            SQL(
                """SELECT DISTINCT ON (subscription_id) subscription_id, sequence, date, mrr_after, mrr_after_company
                     FROM subscription_mrr_movement
                    WHERE subscription_id = ANY(%s)
                 ORDER BY subscription_id, sequence DESC""",
                subscriptions.ids,
            )
        )
        return {row[0]: row[1:] for row in self.env.cr.fetchall()}

    @api.model
    def _prepare_values(self, subscription, sequence, move, before_company, reason):
        """Values of one movement; the company-currency MRR after is converted at the rate of the movement's
        date, the one before is the previous movement's (so the company-currency deltas add up too)."""
        company = subscription.company_id
        company_currency = company.currency_id
        after_company = float(move.after)
        if subscription.currency_id != company_currency:
            after_company = subscription.currency_id._convert(
                float(move.after), company_currency, company, move.date, round=False
            )
        after_company = Decimal(str(company_currency.round(after_company)))
        before_company = Decimal(str(before_company))
        partner = subscription.commercial_partner_id
        return {
            "subscription_id": subscription.id,
            "sequence": sequence,
            "company_id": company.id,
            "commercial_partner_id": partner.id,
            "plan_id": subscription.plan_id.id,
            "plan_family_id": subscription.plan_id.family_id.id,
            "country_id": partner.country_id.id,
            "user_id": subscription.user_id.id,
            "date": move.date,
            "kind": move.kind,
            "reason": reason,
            "currency_id": subscription.currency_id.id,
            "company_currency_id": company_currency.id,
            "mrr_before": float(move.before),
            "mrr_after": float(move.after),
            "mrr_delta": float(move.delta),
            "mrr_before_company": float(before_company),
            "mrr_after_company": float(after_company),
            "mrr_delta_company": float(after_company - before_company),
        }

    @api.model
    def _record(self, subscriptions, date_ref, reason="state"):
        """Append the movement that brings each subscription's ledger to its current MRR, effective
        ``date_ref`` (never before its previous movement). Writes nothing where the ledger is right.

        :return: the movements written
        """
        subscriptions = subscriptions.filtered(lambda sub: sub.state != "draft")
        last = self._get_last_movements(subscriptions)
        vals_list = []
        for sub in subscriptions:
            sequence, last_date, before, before_company = last.get(sub.id, (0, None, 0, 0))
            before = Decimal(str(before))
            try:
                after = self._get_ledger_mrr(sub, date_ref)
            except (UserError, ValueError) as error:
                # the ledger never blocks a lifecycle step: a price that cannot be converted (no exchange rate)
                # or rated leaves the ledger as it is; the next movement or a rebuild brings it up to date
                _logger.warning("MRR of %s not recorded on %s: %s", sub.display_name, date_ref, error)
                continue
            day = max(date_ref, last_date) if last_date else date_ref
            moves = mrr.movements([(day, after)], before=before, was_active=bool(sequence))
            for move in moves:
                vals_list.append(self._prepare_values(sub, sequence + 1, move, before_company, reason))
        return self._as_system().create(vals_list) if vals_list else self.browse()

    @api.model
    def _get_history_timeline(self, subscription):
        """The subscription's MRR timeline as far as its stored history tells it: the start (or the day after
        the trial), each applied plan change at its effective date, the current pause and the end.

        Earlier pauses and ends that were undone (resumed, reactivated) leave only chatter messages: the
        rebuild cannot see them, the live ledger records them as they happen.
        """
        if subscription.state in ("draft", "trial"):
            return []
        start = subscription.start_date
        if subscription.trial_end_date:
            start = subscription.trial_end_date + timedelta(days=1)
        stop = None  # first day without revenue, if the subscription is paused or ended now
        if subscription.state == "paused" and subscription.pause_date:
            stop = subscription.pause_date
        elif subscription.state == "ended":
            stop = subscription.end_date + timedelta(days=1) if subscription.end_date else start
        if stop is not None and stop <= start:
            # paused or ended before the first paid day (e.g. a trial that did not convert): never had MRR
            return []
        changes = subscription.change_ids.filtered(lambda change: change.state == "applied").sorted(
            lambda change: (change.effective_date, change.id)
        )
        lines_mrr = subscription._get_mrr(subscription.line_ids)
        first = Decimal(str(changes[0].mrr_before)) if changes else lines_mrr
        points = [(start, first)]
        for change in changes:
            points.append((max(change.effective_date, start), Decimal(str(change.mrr_after))))
        if stop is not None:
            points.append((stop, Decimal(0)))
        return points

    @api.model
    def _rebuild(self, subscriptions, date_ref):
        """Replace the ledger of ``subscriptions`` by the one their history gives, then correct it to
        their MRR on ``date_ref`` (a ``correction`` movement where lines were edited since)."""
        if not subscriptions:
            return self.browse()
        self.flush_model()
        self.env.cr.execute(
            SQL("DELETE FROM subscription_mrr_movement WHERE subscription_id = ANY(%s)", subscriptions.ids)
        )
        self.invalidate_model()
        vals_list = []
        for sub in subscriptions:
            before_company = Decimal(0)
            for sequence, move in enumerate(mrr.movements(self._get_history_timeline(sub)), start=1):
                vals = self._prepare_values(sub, sequence, move, before_company, "rebuild")
                before_company = Decimal(str(vals["mrr_after_company"]))
                vals_list.append(vals)
        self._as_system().create(vals_list)
        self._record(subscriptions, date_ref, reason="correction")
        return self.search([("subscription_id", "in", subscriptions.ids)])

    @api.model
    def _get_ledger_discrepancies(self, subscriptions, date_ref):
        """{subscription: (ledger MRR, current MRR)} where the sum of the ledger's movements differs from the
        subscription's MRR: the check of the ledger invariant (empty when the ledger is right)."""
        self.flush_model()
        totals = dict.fromkeys(subscriptions.ids, Decimal(0))
        if subscriptions.ids:
            self.env.cr.execute(
                SQL(
                    """SELECT subscription_id, SUM(mrr_delta) FROM subscription_mrr_movement
                        WHERE subscription_id = ANY(%s) AND date <= %s GROUP BY subscription_id""",
                    subscriptions.ids,
                    date_ref,
                )
            )
            totals.update({sub_id: Decimal(str(total)) for sub_id, total in self.env.cr.fetchall()})
        result = {}
        for sub in subscriptions:
            current = self._get_ledger_mrr(sub, date_ref)
            if totals[sub.id] != current:
                result[sub] = (totals[sub.id], current)
        return result
