"""The customer's side of the JavaScript SDK: self-service of ONE subscription with a session token.

The merchant's backend obtains the token from ``POST /subscriptions/{id}/portal_sessions`` (API key)
and hands it to the customer's browser. These routes then let that browser read the subscription,
preview and apply a plan change, pause and cancel it, through the same model methods as the
portal's self-service pages (logged "by the customer" in the chatter). Authentication, CORS and
errors live in :func:`.api_common.session_route`.
"""

from odoo import fields, http

from .api_common import ApiError, iso_date, session_route
from .api_serializers import change_data, subscription_data


class SubscriptionPortalSessionApi(http.Controller):
    def _today(self, subscription_sudo):
        return fields.Date.context_today(subscription_sudo)

    def _subscription(self, env, session):
        """The session's subscription as superuser, in the caller's language (its own company's rules)."""
        subscription_sudo = session.subscription_id.with_context(lang=env.context.get("lang"))
        return subscription_sudo.with_company(subscription_sudo.company_id)

    def _portal_data(self, subscription_sudo, session):
        today = self._today(subscription_sudo)
        allowed = subscription_sudo._portal_get_allowed_actions()
        return {
            "object": "portal_subscription",
            "subscription": subscription_data(subscription_sudo),
            "allowed_actions": allowed,
            "earliest_end_date": iso_date(subscription_sudo._get_earliest_end_date(today))
            if allowed["cancel"]
            else None,
            "max_pause_days": subscription_sudo.plan_id.portal_max_pause_days,
            "plans": [
                {"id": plan.id, "name": plan.name, "code": plan.code or None}
                for plan in subscription_sudo._portal_get_change_plans()
            ],
            "session_expires_at": session.expires_at.isoformat() + "Z",
        }

    def _quantities(self, body):
        return {line["plan_line_id"]: line["quantity"] for line in body.get("lines") or ()}

    def _change(self, env, body, session):
        subscription_sudo = self._subscription(env, session)
        change = subscription_sudo._portal_change(
            body.get("plan_id") or subscription_sudo.plan_id.id,
            self._quantities(body),
            body.get("timing", "period_end"),
            self._today(subscription_sudo),
        )
        return subscription_sudo, change

    # ------------------------------------------------------------------
    # Routes
    # ------------------------------------------------------------------
    @session_route("/portal/subscriptions/<int:subscription_id>", "GET")
    def portal_get(self, env, body, subscription_id, session):
        """The subscription, what the customer may do now, and the earliest end of a cancellation today."""
        return 200, self._portal_data(self._subscription(env, session), session)

    @session_route("/portal/subscriptions/<int:subscription_id>/change/preview", "POST", "PortalChangeInput")
    def portal_change_preview(self, env, body, subscription_id, session):
        """Apply the change in a savepoint, read it, roll back: exactly what ``change`` would do."""
        try:
            with env.cr.savepoint():
                subscription_sudo, change = self._change(env, body, session)
                raise _PreviewDone(change_data(change, subscription_sudo, persisted=False))
        except _PreviewDone as done:
            env.invalidate_all()
            return 200, done.preview

    @session_route("/portal/subscriptions/<int:subscription_id>/change", "POST", "PortalChangeInput")
    def portal_change(self, env, body, subscription_id, session):
        subscription_sudo, change = self._change(env, body, session)
        return 200, change_data(change, subscription_sudo)

    @session_route("/portal/subscriptions/<int:subscription_id>/pause", "POST", "PortalPauseInput")
    def portal_pause(self, env, body, subscription_id, session):
        subscription_sudo = self._subscription(env, session)
        subscription_sudo._portal_pause(fields.Date.to_date(body["resume_date"]), self._today(subscription_sudo))
        return 200, self._portal_data(subscription_sudo, session)

    @session_route("/portal/subscriptions/<int:subscription_id>/cancel", "POST", "PortalCancelInput")
    def portal_cancel(self, env, body, subscription_id, session):
        subscription_sudo = self._subscription(env, session)
        reason = env["subscription.cancellation.reason"].sudo()
        if body.get("reason_id"):
            reason = reason.browse(body["reason_id"]).exists()
            if not reason:
                raise ApiError(
                    422,
                    "invalid_reason",
                    env._("Cancellation reason %(id)s does not exist.", id=body["reason_id"]),
                    "reason_id",
                )
        subscription_sudo._portal_cancel(reason, self._today(subscription_sudo))
        return 200, self._portal_data(subscription_sudo, session)

    @session_route("/portal/session", "DELETE")
    def portal_session_end(self, env, body, session):
        """The browser ends its own session (log out): the token is refused from now on."""
        session.revoked = True
        return 200, {"object": "portal_session_ended", "revoked": True}


class _PreviewDone(Exception):
    """Carries the preview out of the savepoint that undoes the change it was computed with."""

    def __init__(self, preview):
        super().__init__("preview")
        self.preview = preview
