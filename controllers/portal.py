from odoo import fields, http
from odoo.exceptions import AccessError, MissingError
from odoo.http import request

from odoo.addons.account.controllers.portal import PortalAccount
from odoo.addons.portal.controllers.portal import CustomerPortal
from odoo.addons.portal.controllers.portal import pager as portal_pager


class SubscriptionInvoicePortal(PortalAccount):
    """A posted subscription invoice is shown and downloaded as the official document, never as a proforma."""

    @http.route()
    def portal_my_invoice_detail(self, invoice_id, access_token=None, report_type=None, download=False, **kw):
        try:
            invoice_sudo = self._document_check_access("account.move", invoice_id, access_token)
        except (AccessError, MissingError):
            invoice_sudo = None
        if invoice_sudo:
            # on first access: generated once and stored like a sent invoice's PDF
            invoice_sudo._subscription_generate_invoice_pdf()
        return super().portal_my_invoice_detail(
            invoice_id, access_token=access_token, report_type=report_type, download=download, **kw
        )


class SubscriptionPortal(CustomerPortal):
    """ "My subscriptions" for the logged-in customer (read-only)."""

    def _prepare_home_portal_values(self, counters):
        values = super()._prepare_home_portal_values(counters)
        if "subscription_count" in counters:
            Subscription = request.env["subscription.subscription"]
            values["subscription_count"] = (
                Subscription.search_count(self._prepare_subscriptions_domain(request.env.user.partner_id))
                if Subscription.has_access("read")
                else 0
            )
        return values

    def _prepare_subscriptions_domain(self, partner):
        return [
            ("commercial_partner_id", "=", partner.commercial_partner_id.id),
            ("state", "!=", "draft"),
        ]

    @http.route(["/my/subscriptions", "/my/subscriptions/page/<int:page>"], type="http", auth="user", website=True)
    def portal_my_subscriptions(self, page=1, **kw):
        Subscription = request.env["subscription.subscription"]
        domain = self._prepare_subscriptions_domain(request.env.user.partner_id)
        total = Subscription.search_count(domain) if Subscription.has_access("read") else 0
        pager_values = portal_pager(url="/my/subscriptions", total=total, page=page, step=self._items_per_page)
        subscriptions = (
            Subscription.search(domain, order="id desc", limit=self._items_per_page, offset=pager_values["offset"])
            if total
            else Subscription
        )
        values = self._prepare_portal_layout_values()
        values.update(
            {
                # searched with the portal user's rights above; sudo only to render related data (plan names)
                "subscriptions": subscriptions.sudo(),
                "page_name": "subscriptions",
                "pager": pager_values,
                "default_url": "/my/subscriptions",
            }
        )
        return request.render("subscription_billing.portal_my_subscriptions", values)

    @http.route(["/my/subscriptions/<int:subscription_id>"], type="http", auth="public", website=True)
    def portal_subscription_page(self, subscription_id, access_token=None, **kw):
        try:
            subscription_sudo = self._document_check_access(
                "subscription.subscription", subscription_id, access_token=access_token
            )
        except (AccessError, MissingError):
            return request.redirect("/my")
        values = self._prepare_subscription_page_values(subscription_sudo, access_token)
        return request.render("subscription_billing.portal_subscription_page", values)

    def _prepare_subscription_page_values(self, subscription_sudo, access_token):
        invoices_sudo = subscription_sudo.invoice_ids.filtered(lambda m: m.state == "posted").sorted(
            "invoice_date", reverse=True
        )
        values = self._get_page_view_values(
            subscription_sudo,
            access_token,
            {
                "subscription": subscription_sudo,
                "invoices": invoices_sudo,
                "page_name": "subscription",
                **self._prepare_upcoming_invoice_values(subscription_sudo),
            },
            "my_subscriptions_history",
            False,
        )
        return values

    def _prepare_upcoming_invoice_values(self, subscription_sudo):
        """The next invoice the billing runs will create, projected (nothing written or locked), with taxes;
        metered usage is shown "to be rated". Access was checked on the subscription by the caller."""
        if subscription_sudo.state in ("draft", "ended"):
            return {"upcoming_invoice": None}
        upcoming = (
            request.env["subscription.billing.forecast"]
            .sudo()
            ._get_upcoming_invoice(subscription_sudo, fields.Date.context_today(subscription_sudo))
        )
        currency_sudo = request.env["res.currency"].sudo().browse(upcoming["currency_id"]) if upcoming else None
        return {"upcoming_invoice": upcoming, "upcoming_currency_sudo": currency_sudo}
