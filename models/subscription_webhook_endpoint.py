import base64
import secrets
from urllib.parse import urlparse

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..billing_core import webhooks


def _new_secret():
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


class SubscriptionWebhookEndpoint(models.Model):
    """A URL of an integrator that receives signed webhook events of one company."""

    _name = "subscription.webhook.endpoint"
    _description = "Webhook endpoint"
    _inherit = ["mail.thread"]
    _order = "id"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    name = fields.Char(required=True, tracking=True)
    url = fields.Char(string="URL", required=True, tracking=True, help="HTTPS address that receives the events.")
    secret = fields.Char(
        required=True,
        copy=False,
        default=lambda self: _new_secret(),
        groups="subscription_billing.group_subscription_manager",
        help="Standard Webhooks signing secret (whsec_...); receivers verify the webhook-signature header with it.",
    )
    event_types = fields.Char(
        default="*",
        required=True,
        tracking=True,
        help="Event types to send, separated by commas: * for all, subscription.* for a family.",
    )
    active = fields.Boolean(default=True, tracking=True)
    company_id = fields.Many2one("res.company", required=True, default=lambda self: self.env.company, index=True)
    max_consecutive_failures = fields.Integer(
        default=20, help="The endpoint is disabled after this many failed attempts in a row."
    )
    consecutive_failures = fields.Integer(readonly=True, copy=False)
    disabled_reason = fields.Char(readonly=True, copy=False)
    delivery_ids = fields.One2many("subscription.webhook.delivery", "endpoint_id", string="Deliveries")

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    @api.constrains("url")
    def _check_url(self):
        for endpoint in self:
            parsed = urlparse(endpoint.url or "")
            if parsed.scheme not in ("https", "http") or not parsed.hostname:
                raise ValidationError(
                    self.env._(
                        "The URL %(url)s of webhook endpoint %(name)s is not an http(s) address.",
                        url=endpoint.url,
                        name=endpoint.name,
                    )
                )

    @api.constrains("max_consecutive_failures")
    def _check_max_consecutive_failures(self):
        for endpoint in self:
            if endpoint.max_consecutive_failures < 1:
                raise ValidationError(
                    self.env._(
                        "Webhook endpoint %(name)s: the failures before disabling must be at least 1.",
                        name=endpoint.name,
                    )
                )

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_rotate_secret(self):
        for endpoint in self:
            endpoint.secret = _new_secret()
        return True

    def action_enable(self):
        self.write({"active": True, "consecutive_failures": 0, "disabled_reason": False})
        return True

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    def _wants(self, event_type):
        self.ensure_one()
        return webhooks.wants_event(self.event_types, event_type)

    def _record_success(self):
        if self.consecutive_failures:
            self.sudo().write({"consecutive_failures": 0})

    def _record_failure(self, reason):
        """Count a failed attempt; after ``max_consecutive_failures`` in a row, disable and notify."""
        self.ensure_one()
        endpoint = self.sudo()
        count = endpoint.consecutive_failures + 1
        vals = {"consecutive_failures": count}
        if count >= endpoint.max_consecutive_failures:
            vals.update(active=False, disabled_reason=reason)
        endpoint.write(vals)
        if not vals.get("active", True):
            body = Markup("%s") % self.env._(
                "Webhook endpoint %(name)s was disabled after %(count)s failed deliveries in a row (last: "
                "%(reason)s). Its pending events wait until it is enabled again.",
                name=endpoint.name,
                count=count,
                reason=reason,
            )
            endpoint.message_post(
                body=body,
                partner_ids=endpoint.create_uid.partner_id.ids,
                subtype_xmlid="mail.mt_comment",
            )
