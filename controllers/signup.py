import uuid
from urllib.parse import quote

from odoo import fields, http
from odoo.exceptions import UserError, ValidationError
from odoo.http import request

from ..billing_core import origins, sepa


class SubscriptionSignupController(http.Controller):
    """Hosted signup: a public pricing page per plan family, a signup form, then the subscription runs."""

    def _signup_family(self, family_id):
        family_sudo = request.env["subscription.plan.family"].sudo().browse(family_id).exists()
        if not family_sudo:
            raise request.not_found()
        # the family's company sells it, whatever company the visitor's session defaults to
        return family_sudo.with_company(family_sudo.company_id or request.env.company)

    def _signup_currency(self, currency_code):
        currency = request.env["res.currency"].sudo().search([("name", "=", (currency_code or "").upper())], limit=1)
        return currency or request.env.company.currency_id

    def _signup_env_model(self, family_sudo):
        return request.env["subscription.signup"].sudo().with_company(family_sudo.env.company)

    def _signup_sdk_origin(self, family_sudo, origin):
        """``origin`` (the page that opened the signup with the SDK's ``checkout``) normalised, if the
        family's company allows it; else an empty string (no result is sent anywhere)."""
        if not origin:
            return ""
        allowed = family_sudo.env.company._get_sdk_allowed_origins()
        return origins.normalize_origin(origin) if origins.is_allowed(origin, allowed) else ""

    @http.route("/subscribe/<int:family_id>", type="http", auth="public", website=True, sitemap=False)
    def subscribe_pricing(self, family_id, currency=None, period=None, **kw):
        family_sudo = self._signup_family(family_id)
        currency = self._signup_currency(currency)
        Signup = self._signup_env_model(family_sudo)
        plans_sudo = Signup._get_plans(family_sudo)
        units = sorted(set(plans_sudo.mapped("billing_period_unit")))
        period = period if period in units else (units[0] if units else None)
        shown = plans_sudo.filtered(lambda p: p.billing_period_unit == period) if len(units) > 1 else plans_sudo
        prices = {plan.id: Signup._get_plan_price(plan, currency) for plan in shown}
        return request.render(
            "subscription_billing.signup_pricing_page",
            {
                "family": family_sudo,
                "plans_sudo": shown.filtered(lambda p: prices[p.id] is not None),
                "prices": prices,
                "currency": currency,
                "units": units if len(units) > 1 else [],
                "period": period,
            },
        )

    @http.route(
        "/subscribe/<int:family_id>/plans.json",
        type="http",
        auth="public",
        methods=["GET"],
        sitemap=False,
        cors="*",
    )
    def subscribe_plans_json(self, family_id, currency=None, **kw):
        """The pricing page's data for the JavaScript SDK's ``pricingTable`` (public, read-only)."""
        family_sudo = self._signup_family(family_id)
        currency = self._signup_currency(currency)
        Signup = self._signup_env_model(family_sudo)
        plans = []
        for plan in Signup._get_plans(family_sudo):
            price = Signup._get_plan_price(plan, currency)
            if price is None:
                continue
            plans.append(
                {
                    "id": plan.id,
                    "name": plan.name,
                    "price": currency.round(price),
                    "currency": currency.name,
                    "period_unit": plan.billing_period_unit,
                    "period_count": plan.billing_period_count,
                    "period_label": plan._get_period_label(),
                    "trial_days": plan.trial_period_count if plan.trial_period_unit == "day" else None,
                    "trial_count": plan.trial_period_count,
                    "trial_unit": plan.trial_period_unit,
                    "signup_url": f"/subscribe/{family_sudo.id}/{plan.id}?currency={currency.name}",
                }
            )
        return request.make_json_response({"family": {"id": family_sudo.id, "name": family_sudo.name}, "plans": plans})

    @http.route(
        "/subscribe/<int:family_id>/<int:plan_id>",
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
        sitemap=False,
    )
    def subscribe_form(self, family_id, plan_id, currency=None, sdk_origin=None, **kw):
        family_sudo = self._signup_family(family_id)
        plan_sudo = self._signup_env_model(family_sudo)._get_plans(family_sudo).filtered(lambda p: p.id == plan_id)
        if not plan_sudo:
            raise request.not_found()
        currency = self._signup_currency(currency)
        form = {
            "customer_type": "person",
            "country_id": str(family_sudo.env.company.country_id.id or ""),
            "payment": "trial" if plan_sudo.trial_period_count and not plan_sudo.requires_payment_method else "sepa",
            "submission_key": uuid.uuid4().hex,
            "currency": currency.name,
            "sdk_origin": self._signup_sdk_origin(family_sudo, sdk_origin),
        }
        return self._render_form(family_sudo, plan_sudo, currency, form, {})

    @http.route(
        "/subscribe/<int:family_id>/<int:plan_id>",
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def subscribe_submit(self, family_id, plan_id, **post):
        family_sudo = self._signup_family(family_id)
        Signup = self._signup_env_model(family_sudo)
        plan_sudo = Signup._get_plans(family_sudo).filtered(lambda p: p.id == plan_id)
        if not plan_sudo:
            raise request.not_found()
        currency = self._signup_currency(post.get("currency"))
        if Signup._get_plan_price(plan_sudo, currency) is None:
            currency = family_sudo.env.company.currency_id
        _values, errors = Signup._validate_form(plan_sudo, post)
        if errors or post.get("update"):
            return self._render_form(family_sudo, plan_sudo, currency, post, {} if post.get("update") else errors)
        ip_address = request.httprequest.remote_addr
        if not Signup._check_rate_limit(ip_address, fields.Datetime.now()):
            return self._render_form(
                family_sudo,
                plan_sudo,
                currency,
                post,
                {"rate_limit": request.env._("Too many signups from your connection. Please try again later.")},
            )
        try:
            with request.env.cr.savepoint():
                signup = Signup._signup(plan_sudo, currency, post, ip_address=ip_address)
        except (UserError, ValidationError) as error:
            return self._render_form(family_sudo, plan_sudo, currency, post, {"form": str(error.args[0])})
        subscription_sudo = signup.subscription_id
        sdk_origin = self._signup_sdk_origin(family_sudo, post.get("sdk_origin"))
        if signup.awaiting_payment_method:
            # "card": the subscription is a draft until the payment form's validation succeeds; the landing
            # route then sends the customer to the welcome page, with the checkout() origin kept here
            if sdk_origin:
                signup.sdk_origin = sdk_origin
            return request.redirect(
                f"/my/subscriptions/{subscription_sudo.id}/payment-method"
                f"?access_token={subscription_sudo._portal_ensure_token()}"
            )
        return request.redirect(
            f"/my/subscriptions/{subscription_sudo.id}?access_token={subscription_sudo._portal_ensure_token()}"
            "&message=welcome" + (f"&sdk_origin={quote(sdk_origin, safe='')}" if sdk_origin else "")
        )

    @http.route("/subscription/iban/check", type="jsonrpc", auth="public", methods=["POST"], readonly=True)
    def subscription_iban_check(self, iban=None, **kw):
        """Live IBAN check of the signup and mandate forms: the same check as on submit."""
        try:
            compact = sepa.normalize_iban(str(iban or "")[:64])
        except ValueError as error:
            return {"valid": False, "message": request.env["res.partner.bank"]._get_sepa_error_reason(error)}
        return {"valid": True, "iban": " ".join(compact[i : i + 4] for i in range(0, len(compact), 4))}

    def _render_form(self, family_sudo, plan_sudo, currency, form, errors):
        Signup = self._signup_env_model(family_sudo)
        values, _errors = Signup._validate_form(plan_sudo, form)
        summary = Signup._get_summary(plan_sudo, currency, values) if values["country"] else None
        return request.render(
            "subscription_billing.signup_form_page",
            {
                "family": family_sudo,
                "plan": plan_sudo,
                "currency": currency,
                "form": form,
                "errors": errors,
                "summary": summary,
                "countries": request.env["res.country"].sudo().search([]),
                "company_sudo": family_sudo.env.company,
                "trial_allowed": bool(plan_sudo.trial_period_count and not plan_sudo.requires_payment_method),
                "card_available": Signup._card_payment_available(currency),
            },
        )
