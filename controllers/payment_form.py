from urllib.parse import urlencode

from odoo import http
from odoo.exceptions import AccessError, MissingError, UserError, ValidationError
from odoo.http import request

from odoo.addons.payment import utils as payment_utils
from odoo.addons.payment.controllers import portal as payment_portal
from odoo.addons.payment.controllers.post_processing import PaymentPostProcessing


class SubscriptionPaymentFormPortal(payment_portal.PaymentPortal):
    """A new card or other tokenizable payment method for one subscription, through Odoo's payment form.

    ``/my/subscriptions/<id>/payment-method`` renders ``payment.form`` in validation mode; its transaction
    route creates a validation transaction tied to the subscription (``subscription_tokenize_id``); the
    transaction's post-processing sets the token on the subscription (or starts a signup waiting for it);
    the landing route tells the customer the outcome. Access as for the subscription page: the customer's
    commercial partner, or the subscription's access token. The subscription comes from the URL after the
    access check, never from the browser's transaction values.
    """

    def _payment_form_subscription(self, subscription_id, access_token):
        try:
            return self._document_check_access("subscription.subscription", subscription_id, access_token)
        except (AccessError, MissingError):
            return None

    def _payment_form_partner(self, subscription_sudo):
        """Whose token it will be: the logged-in contact if they belong to the customer, else the customer."""
        user_partner = request.env.user.partner_id
        if (
            not request.env.user._is_public()
            and user_partner.commercial_partner_id == subscription_sudo.commercial_partner_id
        ):
            return user_partner
        return subscription_sudo.partner_id

    def _payment_form_query(self, access_token, **params):
        params = {k: v for k, v in {"access_token": access_token, **params}.items() if v}
        return ("?" + urlencode(params)) if params else ""

    def _payment_form_landing_route(self, subscription_sudo, access_token):
        signup = "1" if subscription_sudo._payment_form_get_signup() else None
        query = self._payment_form_query(access_token, signup=signup)
        return f"/my/subscriptions/{subscription_sudo.id}/payment-method/return{query}"

    @http.route(
        "/my/subscriptions/<int:subscription_id>/payment-method",
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
        sitemap=False,
    )
    def portal_subscription_payment_method(self, subscription_id, access_token=None, **kw):
        subscription_sudo = self._payment_form_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        query = self._payment_form_query(access_token)
        try:
            subscription_sudo._payment_form_check()
        except UserError as error:
            request.session["subscription_self_service_error"] = str(error.args[0])
            return request.redirect(
                f"/my/subscriptions/{subscription_sudo.id}" + self._payment_form_query(access_token, message="error")
            )
        partner_sudo = self._payment_form_partner(subscription_sudo)
        providers_sudo, payment_methods_sudo = subscription_sudo._payment_form_get_providers(partner_sudo)
        values = self._prepare_portal_layout_values()
        values.update(
            {
                "subscription": subscription_sudo,
                "signup_sudo": subscription_sudo._payment_form_get_signup(),
                "page_name": "subscription",
                "back_url": f"/my/subscriptions/{subscription_sudo.id}{query}",
                # Odoo's payment form, validation mode: save a payment method, pay nothing
                "mode": "validation",
                "allow_token_selection": False,
                "allow_token_deletion": False,
                "reference_prefix": payment_utils.singularize_reference_prefix(prefix="V"),
                "partner_id": partner_sudo.id,
                "currency": subscription_sudo.currency_id,
                "providers_sudo": providers_sudo,
                "payment_methods_sudo": payment_methods_sudo,
                "tokens_sudo": request.env["payment.token"].sudo(),  # saved ones are chosen on the subscription page
                "availability_report": {},
                "transaction_route": f"/my/subscriptions/{subscription_sudo.id}/payment-method/transaction",
                "landing_route": self._payment_form_landing_route(subscription_sudo, access_token),
                "access_token": access_token,
            }
        )
        return request.render("subscription_billing.portal_subscription_payment_form_page", values)

    @http.route("/my/subscriptions/<int:subscription_id>/payment-method/transaction", type="jsonrpc", auth="public")
    def portal_subscription_payment_method_transaction(self, subscription_id, access_token=None, **kwargs):
        """Create the validation transaction of the payment form; return its processing values."""
        subscription_sudo = self._payment_form_subscription(subscription_id, access_token)
        if not subscription_sudo:
            raise ValidationError(request.env._("The access token is invalid."))
        if not request.validate_csrf(kwargs.get("csrf_token")):
            raise ValidationError(request.env._("The page has expired: please reload it and try again."))
        subscription_sudo._payment_form_check()
        self._validate_transaction_kwargs(kwargs)
        partner_sudo = self._payment_form_partner(subscription_sudo)
        providers_sudo, _methods = subscription_sudo._payment_form_get_providers(partner_sudo)
        provider_id = self._cast_as_int(kwargs.get("provider_id"))
        if provider_id not in providers_sudo.ids or kwargs.get("flow") == "token":
            raise ValidationError(
                request.env._(
                    "Subscription %(sub)s: this payment provider cannot save a payment method.",
                    sub=subscription_sudo.display_name,
                )
            )
        kwargs.update(
            {
                "provider_id": provider_id,
                "token_id": None,
                "amount": None,
                "currency_id": None,
                "partner_id": partner_sudo.id,
                "tokenization_requested": True,
                "is_validation": True,
                # the landing route is ours, whatever the browser sent
                "landing_route": self._payment_form_landing_route(subscription_sudo, access_token),
            }
        )
        kwargs.pop("csrf_token", None)
        tx_sudo = self._create_transaction(
            reference_prefix=payment_utils.singularize_reference_prefix(prefix="V"),
            custom_create_values={"subscription_tokenize_id": subscription_sudo.id},
            **kwargs,
        )
        return tx_sudo._get_processing_values()

    @http.route(
        "/my/subscriptions/<int:subscription_id>/payment-method/return",
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
        sitemap=False,
    )
    def portal_subscription_payment_method_return(self, subscription_id, access_token=None, signup=None, **kw):
        """Landing route: the outcome of the customer's last validation transaction for this subscription."""
        subscription_sudo = self._payment_form_subscription(subscription_id, access_token)
        if not subscription_sudo:
            return request.redirect("/my")
        url = f"/my/subscriptions/{subscription_sudo.id}"
        tx_sudo = PaymentPostProcessing()._get_monitored_transaction()
        if tx_sudo.subscription_tokenize_id != subscription_sudo:
            return request.redirect(url + self._payment_form_query(access_token))
        if not tx_sudo.is_post_processed and tx_sudo.state in ("done", "authorized"):
            tx_sudo._post_process()
        token = tx_sudo.token_id
        if token and subscription_sudo.payment_method == "token" and subscription_sudo.payment_token_id == token:
            if signup:
                # a signup opened by the SDK's checkout(): the welcome page posts its result to that origin
                signup_sudo = (
                    request.env["subscription.signup"]
                    .sudo()
                    .search([("subscription_id", "=", subscription_sudo.id)], order="id desc", limit=1)
                )
                sdk_origin = signup_sudo.sdk_origin
                return request.redirect(
                    url + self._payment_form_query(access_token, message="welcome", sdk_origin=sdk_origin)
                )
            return request.redirect(url + self._payment_form_query(access_token, message="card_added"))
        if tx_sudo.state == "pending":
            return request.redirect(url + self._payment_form_query(access_token, message="card_pending"))
        reason = tx_sudo.state_message or request.env._("The payment provider did not confirm the payment method.")
        if subscription_sudo.state == "draft":
            error = request.env._(
                "Your payment method could not be saved (%(reason)s), so subscription %(sub)s has not started. "
                "Please try again or use another payment method.",
                reason=reason,
                sub=subscription_sudo.name,
            )
        else:
            error = request.env._(
                "Your payment method could not be saved (%(reason)s); subscription %(sub)s keeps its current "
                "payment method.",
                reason=reason,
                sub=subscription_sudo.name,
            )
        request.session["subscription_self_service_error"] = error
        return request.redirect(url + self._payment_form_query(access_token, message="error"))
