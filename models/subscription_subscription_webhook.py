from datetime import timedelta

from odoo import api, fields, models

#: the webhook event of a state change (old state, new state); "*" for any old state
STATE_EVENTS = {
    ("draft", "trial"): "subscription.activated",
    ("draft", "active"): "subscription.activated",
    ("trial", "active"): "subscription.activated",
    ("paused", "active"): "subscription.resumed",
    ("paused", "notice"): "subscription.resumed",
    ("notice", "active"): "subscription.reactivated",
    ("ended", "active"): "subscription.reactivated",
    ("*", "paused"): "subscription.paused",
    ("*", "notice"): "subscription.cancellation_requested",
    ("*", "ended"): "subscription.ended",
}
EVENT_CONTEXT_KEY = "subscription_webhook_event"
#: days before the end of a trial when subscription.trial_will_end is sent
TRIAL_REMINDER_DAYS = 3


class SubscriptionSubscription(models.Model):
    """Webhook events of the subscription lifecycle, emitted where the lifecycle already passes:
    creation, the one state-changing method and plan changes."""

    _inherit = "subscription.subscription"

    @api.model_create_multi
    def create(self, vals_list):
        subscriptions = super().create(vals_list)
        self.env["subscription.webhook.event"]._emit_webhook_event("subscription.created", subscriptions)
        return subscriptions

    def _change_state(self, new_state, date_ref, reason=None):
        old_states = {sub.id: sub.state for sub in self}
        result = super()._change_state(new_state, date_ref, reason=reason)
        Event = self.env["subscription.webhook.event"]
        for sub in self:
            event_type = self.env.context.get(EVENT_CONTEXT_KEY) or self._get_state_webhook_event(
                old_states[sub.id], new_state
            )
            if event_type:
                Event._emit_webhook_event(event_type, sub)
        return result

    @api.model
    def _get_state_webhook_event(self, old_state, new_state):
        return STATE_EVENTS.get((old_state, new_state)) or STATE_EVENTS.get(("*", new_state))

    def _reactivate(self, date_ref):
        # withdrawing a notice given while paused goes back to paused: still a reactivation
        return super(
            SubscriptionSubscription, self.with_context(**{EVENT_CONTEXT_KEY: "subscription.reactivated"})
        )._reactivate(date_ref)

    def _change(self, target, timing, date_ref):
        change = super()._change(target, timing, date_ref)
        if change.state != "scheduled":
            self.env["subscription.webhook.event"]._emit_webhook_event("subscription.changed", self)
        return change

    def _apply_scheduled_changes(self, date_ref):
        changes = super()._apply_scheduled_changes(date_ref)
        self.env["subscription.webhook.event"]._emit_webhook_event("subscription.changed", changes.subscription_id)
        return changes

    @api.model
    def _cron_emit_trial_will_end(self, date_ref=None):
        """Daily: subscription.trial_will_end for trials ending within TRIAL_REMINDER_DAYS of
        ``date_ref`` (default today), once per subscription (a unique index on the outbox)."""
        date_ref = date_ref or fields.Date.context_today(self)
        Event = self.env["subscription.webhook.event"]
        if not Event._has_endpoints():
            return
        ending = self.search(
            [
                ("state", "=", "trial"),
                ("trial_end_date", ">=", date_ref),
                ("trial_end_date", "<=", date_ref + timedelta(days=TRIAL_REMINDER_DAYS)),
            ]
        )
        sent = set(
            Event.sudo()
            .search(
                [
                    ("event_type", "=", "subscription.trial_will_end"),
                    ("res_model", "=", self._name),
                    ("res_id", "in", ending.ids),
                ]
            )
            .mapped("res_id")
        )
        Event._emit_webhook_event("subscription.trial_will_end", ending.filtered(lambda sub: sub.id not in sent))

    def _dunning_suspend(self, date_ref, level, invoices):
        # after subscription.paused (the state change): the event an integrator revokes access on
        result = super()._dunning_suspend(date_ref, level, invoices)
        self.env["subscription.webhook.event"]._emit_webhook_event("subscription.suspended", self)
        return result

    def _dunning_resume(self, date_ref):
        result = super()._dunning_resume(date_ref)
        self.env["subscription.webhook.event"]._emit_webhook_event("subscription.unsuspended", self)
        return result
