import uuid

from odoo import fields, http
from odoo.exceptions import UserError
from odoo.http import request
from odoo.tools import consteq

from ..models.subscription_cancellation_declaration import CANCELLABLE_STATES


class SubscriptionCancellationController(http.Controller):
    """The § 312k BGB cancellation button: "Verträge hier kündigen" → form → "jetzt kündigen".

    Public, no login needed. The page answers the same whether or not a contract was identified:
    what happened to the contract is only said in the confirmation e-mail.
    """

    _form_fields = (
        "customer_name",
        "email",
        "customer_reference",
        "subscription_id",
        "kind",
        "extraordinary_reason",
        "end_choice",
        "requested_end_date",
        "confirmation_email",
        "submission_key",
    )

    @http.route(
        ["/contract-cancellation", "/vertraege-kuendigen"],
        type="http",
        auth="public",
        methods=["GET"],
        website=True,
        sitemap=False,
    )
    def cancellation_form(self, **kw):
        user = request.env.user
        form = {"kind": "ordinary", "end_choice": "earliest", "submission_key": uuid.uuid4().hex}
        if not user._is_public():
            form.update({"customer_name": user.partner_id.name, "email": user.partner_id.email or ""})
            form["confirmation_email"] = form["email"]
        return self._render_form(form, {})

    @http.route(
        ["/contract-cancellation", "/vertraege-kuendigen"],
        type="http",
        auth="public",
        methods=["POST"],
        website=True,
        sitemap=False,
    )
    def cancellation_submit(self, **post):
        Declaration = request.env["subscription.cancellation.declaration"].sudo()
        user = request.env.user
        form = {key: post.get(key, "") for key in self._form_fields}
        today = Declaration._get_local_date(fields.Datetime.now(), request.env.company)
        values, errors = Declaration._validate_form(form, today, user=user)
        if errors:
            return self._render_form(form, errors)
        ip_address = request.httprequest.remote_addr
        if not Declaration._check_rate_limit(ip_address, values["email"], fields.Datetime.now()):
            return self._render_form(
                form,
                {
                    "rate_limit": request.env._(
                        "Too many cancellations were declared from your connection or e-mail address in the last "
                        "hour. Please try again later, or send your cancellation by e-mail to %(email)s.",
                        email=request.env.company.sudo().email or "",
                    )
                },
            )
        try:
            declaration = Declaration._submit(form, ip_address=ip_address, user=user)
        except UserError as error:
            return self._render_form(form, {"form": str(error)})
        return request.redirect(declaration._get_receipt_url())

    @http.route(
        "/contract-cancellation/receipt/<int:declaration_id>", type="http", auth="public", website=True, sitemap=False
    )
    def cancellation_receipt(self, declaration_id, access_token=None, **kw):
        declaration_sudo = request.env["subscription.cancellation.declaration"].sudo().browse(declaration_id).exists()
        if (
            not declaration_sudo
            or not access_token
            or not consteq(declaration_sudo.access_token or "", str(access_token))
        ):
            raise request.not_found()
        return request.render(
            "subscription_billing.cancellation_receipt_page",
            {"declaration": declaration_sudo, "page_name": "contract_cancellation"},
        )

    def _render_form(self, form, errors):
        user = request.env.user
        subscriptions_sudo = request.env["subscription.subscription"]
        if not user._is_public():
            subscriptions_sudo = (
                request.env["subscription.subscription"]
                .sudo()
                .search(
                    [
                        ("commercial_partner_id", "=", user.partner_id.commercial_partner_id.id),
                        ("state", "in", CANCELLABLE_STATES),
                    ],
                    order="id desc",
                    limit=100,
                )
            )
        return request.render(
            "subscription_billing.cancellation_form_page",
            {
                "form": form,
                "errors": errors,
                "subscriptions_sudo": subscriptions_sudo,
                "page_name": "contract_cancellation",
            },
        )
