import json
from datetime import timedelta

from odoo import fields, http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.http import request
from odoo.tools import format_date

from odoo.addons.portal.controllers.portal import CustomerPortal

from ..billing_core import origins


class SubscriptionSelfServicePortal(CustomerPortal):
    """Change plan, pause, resume, cancel and reactivate on /my/subscriptions/<id>.

    Access as for the subscription page (the customer's commercial partner, or the subscription's
    access token); every POST carries Odoo's CSRF token; the model methods re-check what is allowed.
    """

    def _self_service_subscription(self, subscription_id, access_token):
        try:
            return self._document_check_access("subscription.subscription", subscription_id, access_token)
        except (AccessError, MissingError):
            return None

    def _self_service_url(self, subscription_sudo, access_token, path="", **query):
        url = f"/my/subscriptions/{subscription_sudo.id}{path}"
        params = {k: v for k, v in {"access_token": access_token, **query}.items() if v}
        if params:
            url += "?" + "&".join(f"{k}={v}" for k, v in params.items())
        return url

    def _self_service_today(self, subscription_sudo):
        return fields.Date.context_today(subscription_sudo)

    def _self_service_done(self, subscription_sudo, access_token, message):
        return request.redirect(self._self_service_url(subscription_sudo, access_token, message=message))

    def _self_service_act(self, subscription_sudo, access_token, message, method, *args):
        """Run ``method(*args)`` in a savepoint: a refused action writes nothing, not even half of it."""
        try:
            with request.env.cr.savepoint():
                method(*args)
        except (UserError, ValidationError) as error:
            return self._self_service_error(subscription_sudo, access_token, error)
        return self._self_service_done(subscription_sudo, access_token, message)

    def _self_service_error(self, subscription_sudo, access_token, error):
        request.session["subscription_self_service_error"] = str(error.args[0] if error.args else error)
        return request.redirect(self._self_service_url(subscription_sudo, access_token, message="error"))

    # ------------------------------------------------------------------
    # change plan / quantities
    # ------------------------------------------------------------------
    def _parse_quantities(self, post):
        quantities = {}
        for key, value in post.items():
            if key.startswith("qty_") and key[4:].isdigit():
                try:
                    quantities[int(key[4:])] = max(float(value or 0), 0.0)
                except ValueError:
                    continue
        return quantities

    @http.route(
        "/my/subscriptions/<int:subscription_id>/change",
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
    )
    def portal_subscription_change(self, subscription_id, access_token=None, plan_id=None, timing=None, **post):
        subscription_sudo = self._self_service_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        today = self._self_service_today(subscription_sudo)
        plans_sudo = subscription_sudo._portal_get_change_plans()
        plan_sudo = plans_sudo.filtered(lambda p: str(p.id) == str(plan_id))[:1] or subscription_sudo.plan_id
        timing = timing if timing in ("immediate", "period_end") else "period_end"
        wizard, error = None, None
        try:
            subscription_sudo._portal_check("change")
            wizard = subscription_sudo._portal_prepare_change_wizard(
                plan_sudo.id, self._parse_quantities(post), timing, today
            )
            error = wizard.preview_error
        except (UserError, ValidationError) as exc:
            error = str(exc.args[0])
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "subscription": subscription_sudo,
                "plans_sudo": plans_sudo,
                "plan_sudo": plan_sudo,
                "timing": timing,
                "wizard": wizard,
                "preview_error": error,
                "access_token": access_token,
                "page_name": "subscription",
            }
        )
        return request.render("subscription_billing.portal_subscription_change_page", values)

    @http.route(
        "/my/subscriptions/<int:subscription_id>/change",
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
    )
    def portal_subscription_change_confirm(self, subscription_id, access_token=None, plan_id=None, timing=None, **post):
        subscription_sudo = self._self_service_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        return self._self_service_act(
            subscription_sudo,
            access_token,
            "changed",
            subscription_sudo._portal_change,
            int(plan_id) if str(plan_id or "").isdigit() else 0,
            self._parse_quantities(post),
            timing,
            self._self_service_today(subscription_sudo),
        )

    # ------------------------------------------------------------------
    # pause / resume
    # ------------------------------------------------------------------
    @http.route(
        "/my/subscriptions/<int:subscription_id>/pause", type="http", auth="public", methods=["POST"], website=True
    )
    def portal_subscription_pause(self, subscription_id, access_token=None, resume_date=None, **post):
        subscription_sudo = self._self_service_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        try:
            resume = fields.Date.to_date(resume_date or None)
        except ValueError:
            resume = None
        return self._self_service_act(
            subscription_sudo,
            access_token,
            "paused",
            subscription_sudo._portal_pause,
            resume,
            self._self_service_today(subscription_sudo),
        )

    @http.route(
        "/my/subscriptions/<int:subscription_id>/resume", type="http", auth="public", methods=["POST"], website=True
    )
    def portal_subscription_resume(self, subscription_id, access_token=None, **post):
        subscription_sudo = self._self_service_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        return self._self_service_act(
            subscription_sudo,
            access_token,
            "resumed",
            subscription_sudo._portal_resume,
            self._self_service_today(subscription_sudo),
        )

    # ------------------------------------------------------------------
    # cancel / reactivate
    # ------------------------------------------------------------------
    @http.route(
        "/my/subscriptions/<int:subscription_id>/cancel", type="http", auth="public", methods=["GET"], website=True
    )
    def portal_subscription_cancel(self, subscription_id, access_token=None, **post):
        subscription_sudo = self._self_service_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        today = self._self_service_today(subscription_sudo)
        try:
            subscription_sudo._portal_check("cancel")
        except UserError as error:
            return self._self_service_error(subscription_sudo, access_token, error)
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "subscription": subscription_sudo,
                "earliest_end": format_date(request.env, subscription_sudo._get_earliest_end_date(today)),
                "reasons_sudo": request.env["subscription.cancellation.reason"].sudo().search([]),
                "access_token": access_token,
                "page_name": "subscription",
                "today": today,
            }
        )
        return request.render("subscription_billing.portal_subscription_cancel_page", values)

    @http.route(
        "/my/subscriptions/<int:subscription_id>/cancel", type="http", auth="public", methods=["POST"], website=True
    )
    def portal_subscription_cancel_confirm(self, subscription_id, access_token=None, reason_id=None, **post):
        subscription_sudo = self._self_service_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        reason = request.env["subscription.cancellation.reason"].sudo()
        if reason_id and str(reason_id).isdigit():
            reason = reason.browse(int(reason_id)).exists()
        return self._self_service_act(
            subscription_sudo,
            access_token,
            "cancelled",
            subscription_sudo._portal_cancel,
            reason,
            self._self_service_today(subscription_sudo),
        )

    @http.route(
        "/my/subscriptions/<int:subscription_id>/reactivate",
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
    )
    def portal_subscription_reactivate(self, subscription_id, access_token=None, **post):
        subscription_sudo = self._self_service_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        return self._self_service_act(
            subscription_sudo,
            access_token,
            "reactivated",
            subscription_sudo._portal_reactivate,
            self._self_service_today(subscription_sudo),
        )

    # ------------------------------------------------------------------
    # payment method: a saved token, or a SEPA mandate signed online
    # ------------------------------------------------------------------
    @http.route(
        "/my/subscriptions/<int:subscription_id>/payment-token",
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
    )
    def portal_subscription_payment_token(self, subscription_id, access_token=None, token_id=None, **post):
        subscription_sudo = self._self_service_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        token = int(token_id) if str(token_id or "").isdigit() else 0
        return self._self_service_act(
            subscription_sudo, access_token, "payment", subscription_sudo._portal_set_payment_token, token
        )

    @http.route(
        "/my/subscriptions/<int:subscription_id>/sepa-mandate",
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
    )
    def portal_subscription_sepa_mandate(self, subscription_id, access_token=None, **post):
        subscription_sudo = self._self_service_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "subscription": subscription_sudo,
                "company_sudo": subscription_sudo.company_id,
                "access_token": access_token,
                "page_name": "subscription",
            }
        )
        return request.render("subscription_billing.portal_subscription_sepa_mandate_page", values)

    @http.route(
        "/my/subscriptions/<int:subscription_id>/sepa-mandate",
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
    )
    def portal_subscription_sepa_mandate_sign(self, subscription_id, access_token=None, **post):
        subscription_sudo = self._self_service_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        return self._self_service_act(
            subscription_sudo,
            access_token,
            "mandate",
            subscription_sudo._portal_sign_sepa_mandate,
            post.get("iban"),
            post.get("account_holder"),
            bool(post.get("consent")),
            request.httprequest.remote_addr,
            fields.Datetime.now(),
        )

    # ------------------------------------------------------------------
    # the subscription page: what the customer can do, and the outcome of the last action
    # ------------------------------------------------------------------
    def _prepare_subscription_page_values(self, subscription_sudo, access_token):
        values = super()._prepare_subscription_page_values(subscription_sudo, access_token)
        message = request.params.get("message")
        error = request.session.pop("subscription_self_service_error", None) if message == "error" else None
        today = self._self_service_today(subscription_sudo)
        plan = subscription_sudo.plan_id
        values.update(
            {
                "self_service_message": message if message != "error" else None,
                "self_service_error": error,
                "self_service_token": access_token,
                "self_service_can": subscription_sudo._portal_get_allowed_actions(),
                "self_service_tokens_sudo": request.env["payment.token"]
                .sudo()
                .search([("partner_id", "child_of", subscription_sudo.commercial_partner_id.id)]),
                "self_service_usage": subscription_sudo._portal_get_usage_so_far(today),
                "self_service_pause_min": fields.Date.to_string(today + timedelta(days=1)),
                "self_service_pause_max": fields.Date.to_string(today + timedelta(days=plan.portal_max_pause_days)),
            }
        )
        values.update(self._prepare_checkout_result_values(subscription_sudo, message))
        return values

    def _prepare_checkout_result_values(self, subscription_sudo, message):
        """The result of a signup opened by the SDK's ``checkout()``: posted to the opening page's origin
        (``window.postMessage``, never to ``*``) if the subscription's company allows that origin."""
        origin = request.params.get("sdk_origin")
        allowed = subscription_sudo.company_id._get_sdk_allowed_origins()
        if message != "welcome" or not origin or not origins.is_allowed(origin, allowed):
            return {"sdk_checkout_origin": None, "sdk_checkout_result": None}
        result = {
            "type": "subscription_billing:checkout",
            "status": "complete",
            "subscription": {
                "id": subscription_sudo.id,
                "reference": subscription_sudo.name,
                "state": subscription_sudo.state,
                "plan_id": subscription_sudo.plan_id.id,
                "customer_id": subscription_sudo.partner_id.id,
            },
        }
        return {"sdk_checkout_origin": origins.normalize_origin(origin), "sdk_checkout_result": json.dumps(result)}
