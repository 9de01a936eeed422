from datetime import timedelta
from decimal import Decimal

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_amount, format_date

from ..billing_core import periods as period_math
from ..billing_core import pricing, proration

CHANGE_TYPES = [
    ("upgrade", "Upgrade"),
    ("downgrade", "Downgrade"),
    ("crossgrade", "Crossgrade"),
    ("quantity", "Quantity change"),
    ("addon", "Add-on change"),
]


class SubscriptionChange(models.Model):
    """A plan, quantity or add-on change of a subscription: scheduled, applied or cancelled.

    Every change is recorded with the MRR before and after, the effective date
    and who made it: the history the MRR and churn reports read.

    ``target`` says what the subscription looks like after the change:
    ``{"plan_id": id, "lines": {"<plan line id>": quantity}}``; lines not
    listed (or with quantity 0) are removed, lines not from a plan are kept.
    """

    _name = "subscription.change"
    _description = "Subscription Change"
    _order = "effective_date desc, id desc"
    _inherit = ["subscription.input.guard.mixin"]
    _check_company_auto = True

    subscription_id = fields.Many2one("subscription.subscription", required=True, ondelete="cascade", index=True)
    company_id = fields.Many2one(related="subscription_id.company_id", store=True, index=True)
    currency_id = fields.Many2one(related="subscription_id.currency_id")
    change_type = fields.Selection(CHANGE_TYPES, required=True)
    timing = fields.Selection([("immediate", "Immediately"), ("period_end", "At the end of the period")], required=True)
    effective_date = fields.Date(required=True)
    state = fields.Selection(
        [("scheduled", "Scheduled"), ("applied", "Applied"), ("cancelled", "Cancelled")],
        required=True,
        default="scheduled",
    )
    old_plan_id = fields.Many2one("subscription.plan", string="From Plan", required=True)
    new_plan_id = fields.Many2one("subscription.plan", string="To Plan", required=True)
    old_quantity = fields.Float(digits="Product Unit", help="Total quantity of the recurring lines before.")
    new_quantity = fields.Float(digits="Product Unit", help="Total quantity of the recurring lines after.")
    target = fields.Json(required=True)
    summary = fields.Text()
    mrr_before = fields.Monetary(string="MRR Before", currency_field="currency_id")
    mrr_after = fields.Monetary(string="MRR After", currency_field="currency_id")
    mrr_delta = fields.Monetary(
        string="MRR Change", compute="_compute_mrr_delta", store=True, currency_field="currency_id"
    )
    user_id = fields.Many2one("res.users", string="Changed By", default=lambda self: self.env.user, required=True)
    charge_ids = fields.One2many("subscription.charge", "change_id", string="Proration")

    @api.depends("mrr_before", "mrr_after")
    def _compute_mrr_delta(self):
        for change in self:
            change.mrr_delta = change.mrr_after - change.mrr_before

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_cancel(self):
        for change in self:
            if change.state != "scheduled":
                raise UserError(self.env._("Only a scheduled change can be cancelled."))
            change._write_system_fields({"state": "cancelled"})
            change.subscription_id.message_post(
                body=self.env._("Scheduled change cancelled: %(summary)s", summary=change.summary)
            )
        return True

    # ------------------------------------------------------------------
    # Building and applying a change
    # ------------------------------------------------------------------
    @api.model
    def _prepare_change(self, subscription, target, timing, date_ref):
        """Validate a change and return the values of its ``subscription.change`` record (not written)."""
        subscription.ensure_one()
        new_plan = self.env["subscription.plan"].browse(target["plan_id"])
        old_plan = subscription.plan_id
        if subscription.state not in ("trial", "active"):
            raise UserError(
                self.env._(
                    "Subscription %(sub)s can only be changed while in trial or active.", sub=subscription.display_name
                )
            )
        quantities = {int(key): float(qty) for key, qty in target["lines"].items()}
        # setup fees are billed once, with the first invoice: a change never adds or removes them
        setup_lines = (
            self.env["subscription.plan.line"].browse(list(quantities)).filtered(lambda pl: pl.line_type == "setup")
        )
        for setup_line in setup_lines:
            del quantities[setup_line.id]
        if any(qty < 0 for qty in quantities.values()):
            raise ValidationError(self.env._("Field quantity cannot be negative in a subscription change."))
        plan_lines = self.env["subscription.plan.line"].browse(list(quantities))
        if plan_lines.plan_id - new_plan:
            raise ValidationError(
                self.env._("Every changed line must come from plan %(plan)s.", plan=new_plan.display_name)
            )
        if new_plan != old_plan and (not old_plan.family_id or new_plan.family_id != old_plan.family_id):
            raise UserError(
                self.env._(
                    "Plan %(old)s cannot be changed to %(new)s: they are not in the same plan family.",
                    old=old_plan.display_name,
                    new=new_plan.display_name,
                )
            )
        missing = plan_lines.filtered(lambda pl: not pl._get_pricing_currency(subscription.currency_id))
        if missing:
            raise ValidationError(
                self.env._(
                    "Plan %(plan)s has no price in %(currency)s for %(products)s.",
                    plan=new_plan.display_name,
                    currency=subscription.currency_id.name,
                    products=", ".join(missing.product_id.mapped("display_name")),
                )
            )
        if not any(quantities.values()):
            raise ValidationError(
                self.env._(
                    "A change must leave at least one line on subscription %(sub)s.", sub=subscription.display_name
                )
            )
        if new_plan != old_plan and new_plan._get_schedule_signature() != old_plan._get_schedule_signature():
            raise UserError(
                self.env._(
                    "Plan %(old)s cannot be changed to %(new)s: their billing periods differ. "
                    "End the subscription and start a new one on %(new)s.",
                    old=old_plan.display_name,
                    new=new_plan.display_name,
                )
            )
        billed_until = subscription.next_period_start and subscription.next_period_start - timedelta(days=1)
        anchor = subscription.billing_anchor_date
        if timing == "immediate" and billed_until and anchor and billed_until >= anchor:
            current_start = subscription._get_current_period_start(billed_until)
            if date_ref < current_start:
                raise UserError(
                    self.env._(
                        "A change of %(sub)s cannot take effect on %(date)s, before the current period "
                        "(from %(start)s): periods already invoiced are not re-billed.",
                        sub=subscription.display_name,
                        date=format_date(self.env, date_ref),
                        start=format_date(self.env, current_start),
                    )
                )
        change_type = self._get_change_type(subscription, new_plan, quantities)
        is_reduction = change_type == "downgrade" or (
            change_type == "quantity"
            and sum(quantities.values()) < sum(subscription._get_changeable_lines().mapped("quantity"))
        )
        if is_reduction and timing == "immediate" and old_plan.downgrade_timing == "period_end":
            raise UserError(
                self.env._(
                    "Plan %(plan)s allows downgrades only at the end of the period.",
                    plan=old_plan.display_name,
                )
            )
        effective = (
            date_ref if timing == "immediate" else subscription._get_current_period_end(date_ref) + timedelta(days=1)
        )
        current = subscription._get_changeable_lines()
        new_lines_preview = [
            (pl, qty) for pl, qty in zip(plan_lines, [quantities[pl.id] for pl in plan_lines], strict=True) if qty
        ]
        mrr_after = subscription._get_mrr_of_target(new_plan, new_lines_preview, current, date_ref)
        return {
            "subscription_id": subscription.id,
            "change_type": change_type,
            "timing": timing,
            "effective_date": effective,
            "old_plan_id": old_plan.id,
            "new_plan_id": new_plan.id,
            "old_quantity": sum(current.filtered(lambda line: line.line_type == "recurring").mapped("quantity")),
            "new_quantity": sum(qty for pl, qty in new_lines_preview if pl.line_type == "recurring"),
            "target": {"plan_id": new_plan.id, "lines": {str(pl.id): qty for pl, qty in new_lines_preview}},
            "summary": self._describe(subscription, new_plan, current, new_lines_preview),
            "mrr_before": float(subscription._get_mrr(subscription.line_ids, date_ref)),
            "mrr_after": float(mrr_after),
        }

    @api.model
    def _get_change_type(self, subscription, new_plan, quantities):
        old_plan = subscription.plan_id
        if new_plan != old_plan:
            if new_plan.rank > old_plan.rank:
                return "upgrade"
            if new_plan.rank < old_plan.rank:
                return "downgrade"
            return "crossgrade"
        current = {line.plan_line_id.id: line.quantity for line in subscription._get_changeable_lines()}
        optional = set(
            self.env["subscription.plan.line"].browse(list(set(current) | set(quantities))).filtered("optional").ids
        )
        base_changed = any(
            quantities.get(pl_id, 0) != current.get(pl_id, 0)
            for pl_id in set(current) | set(quantities)
            if pl_id not in optional
        )
        return "quantity" if base_changed else "addon"

    @api.model
    def _describe(self, subscription, new_plan, current, new_lines):
        parts = []
        if new_plan != subscription.plan_id:
            parts.append(self.env._("Plan %(old)s → %(new)s", old=subscription.plan_id.name, new=new_plan.name))
        before = {line.plan_line_id.product_id.display_name: line.quantity for line in current}
        after = {pl.product_id.display_name: qty for pl, qty in new_lines}
        for product in sorted(set(before) | set(after)):
            if before.get(product) != after.get(product):
                parts.append(
                    self.env._(
                        "%(product)s: %(old)s → %(new)s",
                        product=product,
                        old=f"{before.get(product, 0):g}",
                        new=f"{after.get(product, 0):g}",
                    )
                )
        return "; ".join(parts) or self.env._("No change")

    def _prepare_proration_charges(self, date_ref=None):
        """Credits and charges (values of ``subscription.charge``) this change causes, not written.

        Only days that are already invoiced are prorated: from the effective
        date to the end of the billed part of its period. Amounts come from
        :func:`billing_core.proration.prorated` over the period's full length, rounded per line.
        """
        self.ensure_one()
        sub = self.subscription_id
        day = self.effective_date
        billed_until = sub.next_period_start - timedelta(days=1) if sub.next_period_start else None
        if not billed_until or day > billed_until or day < (sub.billing_anchor_date or day):
            return []
        plan = sub.plan_id
        period = period_math.period_containing(
            sub.billing_anchor_date, plan._get_billing_interval(), plan.period_alignment, day
        )
        last_day = sub._get_last_billable_day()
        end = min(period.end, billed_until, last_day or period.end)
        if day > end:
            return []
        remaining, full_days = (end - day).days + 1, period.full_days
        # prices in another currency are converted at the rate the prorated period was invoiced at
        rate_date = sub._get_item_invoice_date(period)
        step = Decimal(str(sub.currency_id.rounding))
        removed, added = self._get_line_diff()
        charges = []

        def prorate(amount):
            return pricing.round_to(proration.prorated(amount, remaining, full_days), step)

        for line in removed.filtered(lambda line: line.line_type == "recurring"):
            credit = -prorate(line._get_full_period_amount(rate_date))
            if credit:
                charges.append(
                    self._charge_values(
                        line.product_id,
                        credit,
                        day,
                        end,
                        self.env._(
                            "Unused time on %(name)s from %(start)s to %(end)s",
                            name=line.name.split("\n")[0],
                            start=format_date(self.env, day),
                            end=format_date(self.env, end),
                        ),
                    )
                )
        for plan_line, quantity in added:
            if plan_line.line_type != "recurring":
                continue
            charge = prorate(sub._get_target_line_amount(plan_line, quantity, rate_date))
            if charge:
                charges.append(
                    self._charge_values(
                        plan_line.product_id,
                        charge,
                        day,
                        end,
                        self.env._(
                            "Remaining time on %(name)s from %(start)s to %(end)s",
                            name=(plan_line.name or plan_line.product_id.display_name).split("\n")[0],
                            start=format_date(self.env, day),
                            end=format_date(self.env, end),
                        ),
                    )
                )
        return charges

    def _charge_values(self, product, amount, start, end, name):
        return {
            "subscription_id": self.subscription_id.id,
            "product_id": product.id,
            "name": name,
            "date": self.effective_date,
            "quantity": 1.0,
            "price_unit": float(amount),
            "service_start": start,
            "service_end": end,
        }

    def _get_line_diff(self):
        """(lines to end, [(plan line, quantity) to add]) for this change's target."""
        self.ensure_one()
        sub = self.subscription_id
        wanted = {int(key): float(qty) for key, qty in self.target["lines"].items() if float(qty)}
        removed = self.env["subscription.line"]
        for line in sub._get_changeable_lines():
            if wanted.get(line.plan_line_id.id) == line.quantity:
                del wanted[line.plan_line_id.id]
            else:
                removed |= line
        added = [(self.env["subscription.plan.line"].browse(pl_id), qty) for pl_id, qty in wanted.items()]
        return removed, added

    def _apply(self):
        """Apply this change on its effective date: end the old lines, start the new ones,
        and add the prorated credits and charges for days already invoiced."""
        for change in self:
            if change.state != "scheduled":
                raise UserError(self.env._("This change has already been applied or cancelled."))
            sub = change.subscription_id
            day = change.effective_date
            charge_values = change._prepare_proration_charges()
            removed, added = change._get_line_diff()
            removed.with_context(mrr_ledger_defer=True).write({"date_end": day - timedelta(days=1), "active": False})
            new_plan = change.new_plan_id
            sub.plan_id = new_plan
            for plan_line, quantity in added:
                vals = sub._prepare_line_values_from_plan(plan_line, quantity=quantity)
                vals["date_start"] = day
                self.env["subscription.line"].with_context(mrr_ledger_defer=True).create(vals)
            charges = self.env["subscription.charge"].create(
                [dict(vals, change_id=change.id) for vals in charge_values]
            )
            change._write_system_fields({"state": "applied"})
            sub._record_mrr_movement(day, reason="change")
            sub.message_post(
                body=Markup("%s")
                % self.env._(
                    "%(type)s effective %(date)s by %(user)s: %(summary)s (MRR %(before)s → %(after)s)",
                    type=dict(CHANGE_TYPES)[change.change_type],
                    date=format_date(self.env, day),
                    user=change.user_id.name,
                    summary=change.summary,
                    before=format_amount(self.env, change.mrr_before, change.currency_id),
                    after=format_amount(self.env, change.mrr_after, change.currency_id),
                )
            )
            if charges and (new_plan.change_invoicing == "immediate" or not sub.next_invoice_date):
                # no later invoice would carry them (last period of the contract): bill them now
                sub._invoice_pending_charges(day, charges)

    @api.model
    def _get_rounding_step(self, currency):
        return Decimal(str(currency.rounding))

    @api.model
    def _round(self, amount, currency):
        return pricing.round_to(amount, self._get_rounding_step(currency))

    def _get_protected_fields(self):
        """Set by the billing run or the model's own actions only."""
        return ("state",)
