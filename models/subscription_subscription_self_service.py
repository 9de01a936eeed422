import logging
from datetime import datetime, time, timedelta
from decimal import Decimal

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools import format_date

from ..billing_core import pricing, usage

_logger = logging.getLogger(__name__)


class SubscriptionSubscription(models.Model):
    """Self-service in the portal: every action re-validates what the page offered and goes through
    the same methods as the backend, logged as done by the customer."""

    _inherit = "subscription.subscription"

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    pause_resume_date = fields.Date(
        copy=False, readonly=True, tracking=True, help="The customer's pause ends on this day (resumed by the cron)."
    )

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _get_protected_fields(self):
        return (*super()._get_protected_fields(), "pause_resume_date")

    def _portal_log(self, message):
        """Note in the chatter that the customer did ``message`` themselves."""
        self.ensure_one()
        self.message_post(
            body=Markup("%s") % self.env._("%(action)s (by the customer, in the portal)", action=message),
            subtype_xmlid="mail.mt_note",
        )

    def _portal_get_change_plans(self):
        """The plans the customer may choose: the current one and the family's other plans."""
        self.ensure_one()
        plan = self.plan_id
        if not plan.family_id:
            return plan
        return self.env["subscription.plan"].search(
            [("family_id", "=", plan.family_id.id), ("company_id", "in", (False, self.company_id.id))],
            order="rank, id",
        )

    def _portal_get_allowed_actions(self):
        """``{action: bool}``: what the customer may do now, by the plan's settings and the state."""
        self.ensure_one()
        plan = self.plan_id
        return {
            "change": plan.portal_change_allowed and self.state in ("trial", "active"),
            "pause": plan.portal_pause_allowed and self.state == "active",
            "resume": self.state == "paused",
            "cancel": plan.portal_cancel_allowed and self.state in ("trial", "active", "paused"),
            "reactivate": self.state == "notice",
        }

    def _portal_check(self, action):
        """Refuse what the plan or the state does not allow, whatever the page showed."""
        self.ensure_one()
        if not self._portal_get_allowed_actions()[action]:
            raise UserError(self.env._("Subscription %(sub)s cannot be changed this way now.", sub=self.display_name))

    def _portal_prepare_change_wizard(self, plan_id, quantities, timing, date_ref):
        """An unsaved change wizard: its preview is exactly the backend's.

        :param quantities: ``{plan_line_id: quantity}`` of the lines the customer set
        """
        self.ensure_one()
        plan = self.env["subscription.plan"].browse(plan_id)
        if plan not in self._portal_get_change_plans():
            raise UserError(self.env._("Plan %(plan)s is not available for this subscription.", plan=plan.display_name))
        if timing not in ("immediate", "period_end"):
            raise ValidationError(self.env._("Please choose when the change takes effect."))
        wizard = self.env["subscription.change.wizard"].new(
            {"subscription_id": self.id, "new_plan_id": plan.id, "timing": timing, "date_ref": date_ref}
        )
        for line in wizard.line_ids:
            if line.plan_line_id.id in quantities:
                line.quantity = quantities[line.plan_line_id.id]
        return wizard

    def _portal_change(self, plan_id, quantities, timing, date_ref):
        self._portal_check("change")
        wizard = self._portal_prepare_change_wizard(plan_id, quantities, timing, date_ref)
        change = self._change(wizard._get_target(), timing, date_ref)
        self._portal_log(self.env._("Plan change: %(summary)s", summary=change.summary))
        return change

    def _portal_pause(self, resume_date, date_ref):
        self._portal_check("pause")
        longest = date_ref + timedelta(days=self.plan_id.portal_max_pause_days)
        if not resume_date or resume_date <= date_ref or resume_date > longest:
            raise ValidationError(
                self.env._(
                    "Subscription %(sub)s: the pause must end between %(first)s and %(last)s.",
                    sub=self.display_name,
                    first=format_date(self.env, date_ref + timedelta(days=1)),
                    last=format_date(self.env, longest),
                )
            )
        self._pause(date_ref)
        self._write_system_fields({"pause_resume_date": resume_date})
        self._portal_log(self.env._("Paused until %(date)s", date=format_date(self.env, resume_date)))

    def _portal_resume(self, date_ref):
        self._portal_check("resume")
        self._resume(date_ref)
        self._write_system_fields({"pause_resume_date": False})
        self._portal_log(self.env._("Resumed"))

    def _portal_cancel(self, reason, date_ref):
        self._portal_check("cancel")
        end = self._request_cancellation(date_ref, reason=reason.name if reason else None)
        self._portal_log(self.env._("Cancelled, ends on %(date)s", date=format_date(self.env, end)))
        return end

    def _portal_reactivate(self, date_ref):
        self._portal_check("reactivate")
        self._reactivate(date_ref)
        self._portal_log(self.env._("Cancellation withdrawn"))

    def _portal_set_payment_token(self, token_id):
        """Pay by one of the customer's own saved payment methods from now on."""
        self.ensure_one()
        if self.state not in ("trial", "active", "paused", "notice"):
            raise UserError(self.env._("Subscription %(sub)s cannot be changed this way now.", sub=self.display_name))
        token = self.env["payment.token"].sudo().browse(token_id).exists()
        if not token or not token.active or token.partner_id.commercial_partner_id != self.commercial_partner_id:
            raise ValidationError(
                self.env._("Subscription %(sub)s: choose one of your saved payment methods.", sub=self.display_name)
            )
        self.write({"payment_method": "token", "payment_token_id": token.id, "sepa_mandate_id": False})
        self._portal_log(self.env._("Payment method: %(token)s", token=token.display_name))

    def _portal_sign_sepa_mandate(self, iban, holder, consent, ip_address, signed_at):
        """Create, activate and use a SEPA mandate the customer signed online; e-mail its PDF.

        :param consent: whether the customer ticked the consent with the creditor identifier
        :return: the mandate
        """
        self.ensure_one()
        if self.state not in ("trial", "active", "paused", "notice"):
            raise UserError(self.env._("Subscription %(sub)s cannot be changed this way now.", sub=self.display_name))
        if not self.company_id.sepa_creditor_identifier:
            raise UserError(
                self.env._(
                    "Direct debit is not available for subscription %(sub)s: %(company)s has no creditor identifier.",
                    sub=self.display_name,
                    company=self.company_id.name,
                )
            )
        if not consent:
            raise ValidationError(
                self.env._("Subscription %(sub)s: please agree to the direct debit mandate.", sub=self.display_name)
            )
        holder = (holder or "").strip()
        if not holder:
            raise ValidationError(
                self.env._("Subscription %(sub)s: please enter the account holder.", sub=self.display_name)
            )
        wizard = (
            self.env["sepa.mandate.wizard"]
            .with_company(self.company_id)
            .create(
                {
                    "partner_id": self.partner_id.id,
                    "subscription_id": self.id,
                    "iban": iban,
                    "account_holder": holder[:70],
                    "signature_date": self._get_local_date_of(signed_at),
                    "consent_channel": "online",
                    "scheme": "CORE",
                }
            )
        )
        mandate = wizard._create_mandate()
        mandate.write({"online_signed_at": signed_at, "online_ip_address": (ip_address or "")[:64] or False})
        self._portal_log(self.env._("SEPA mandate %(ref)s signed online", ref=mandate.reference))
        template = self.env.ref("subscription_billing.mail_template_sepa_mandate_online")
        template.send_mail(mandate.id, force_send=True)
        return mandate

    def _get_local_date_of(self, moment):
        self.ensure_one()
        tz = self.company_id.partner_id.tz or "UTC"
        return fields.Date.context_today(self.with_context(tz=tz), timestamp=moment)

    def _portal_get_usage_so_far(self, date_ref):
        """Per usage line: the metric, the quantity not billed yet up to ``date_ref`` and its price so far,
        aggregated and rated as the billing run will do it.

        :return: list of dicts ``{"line", "quantity", "amount", "currency"}``
        """
        self.ensure_one()
        end = datetime.combine(date_ref + timedelta(days=1), time.min)
        result = []
        for line in self.line_ids.filtered(lambda line: line.line_type == "usage" and line.metric_id):
            records = self.env["subscription.usage.record"].search(
                [
                    ("subscription_id", "=", self.id),
                    ("metric_id", "=", line.metric_id.id),
                    ("timestamp", "<", end),
                    ("invoice_line_id", "=", False),
                ]
            )
            events = [
                usage.UsageEvent(quantity=Decimal(str(rec.quantity)), timestamp=rec.timestamp, value=rec.value or None)
                for rec in records
            ]
            quantity = usage.aggregate(events, line.metric_id.aggregation)
            rating = line._rate(quantity)
            result.append(
                {
                    "line": line,
                    "quantity": float(quantity),
                    "amount": float(pricing.round_to(rating.amount, line._rounding_step())),
                    "currency": line._get_price_currency(),
                }
            )
        return result

    # ------------------------------------------------------------------
    # Crons
    # ------------------------------------------------------------------
    @api.model
    def _cron_resume_paused(self, date_ref=None):
        """Resume the subscriptions whose customer's pause ends on or before ``date_ref``."""
        date_ref = date_ref or fields.Date.context_today(self)
        subs = self.search([("state", "=", "paused"), ("pause_resume_date", "<=", date_ref)])
        self.env["ir.cron"]._commit_progress(remaining=len(subs))
        for sub in subs:
            if not sub.try_lock_for_update(allow_referencing=True):
                continue
            sub._resume_after_pause()
            if not self.env["ir.cron"]._commit_progress(1):
                break

    def _resume_after_pause(self):
        """Resume each subscription on its customer's resume date (the cron's work for one subscription;
        the billing forecast's dry run replays it). A refused resume is logged and left paused."""
        for sub in self:
            try:
                with self.env.cr.savepoint():
                    sub._resume(sub.pause_resume_date)
                    sub._write_system_fields({"pause_resume_date": False})
            except (UserError, ValidationError) as error:
                _logger.warning("resuming %s after its pause failed: %s", sub.name, error)
