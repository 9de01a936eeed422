import hashlib
import secrets
from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import ValidationError

#: lifetime of a portal session token when the merchant asks for none, and its bounds (seconds)
DEFAULT_TTL = 15 * 60
MIN_TTL = 60
MAX_TTL = 60 * 60
TOKEN_PREFIX = "sbps_"


def hash_token(token):
    """SHA-256 of a raw session token: what the database keeps instead of the token."""
    return hashlib.sha256(token.encode()).hexdigest()


class SubscriptionPortalSession(models.Model):
    """A short-lived token for one subscription's self-service from the merchant's own pages (JavaScript SDK).

    The merchant's backend asks the REST API for a session of one subscription and hands the raw
    token to the customer's browser; the browser then reads, previews, changes, pauses or cancels
    that subscription, and nothing else, until the token expires or is revoked. Only the token's
    SHA-256 is stored: a leaked database row does not open a session.
    """

    _name = "subscription.portal.session"
    _description = "Subscription self-service session (JavaScript SDK)"
    _order = "id desc"
    _check_company_auto = True

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    subscription_id = fields.Many2one(
        "subscription.subscription", required=True, ondelete="cascade", index=True, check_company=True
    )
    company_id = fields.Many2one(related="subscription_id.company_id", store=True, index=True)
    token_hash = fields.Char(required=True, readonly=True, groups="base.group_system", copy=False)
    expires_at = fields.Datetime(required=True, readonly=True, copy=False)
    revoked = fields.Boolean(readonly=True, copy=False)
    last_used_at = fields.Datetime(readonly=True, copy=False)

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    _token_hash_unique = models.Constraint("UNIQUE(token_hash)", "A session token is issued once.")

    # ------------------------------------------------------------------
    # Actions
    # ------------------------------------------------------------------
    def action_revoke(self):
        """End the sessions now: their tokens are refused from the next request on."""
        self.check_access("write")
        self.sudo().write({"revoked": True})
        return True

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _issue(self, subscription, ttl_seconds=None, now=None):
        """A new session of ``subscription``: ``(session, raw token)``; the token is shown only here.

        The caller must have checked that its user may write ``subscription``.
        """
        subscription.ensure_one()
        ttl = DEFAULT_TTL if ttl_seconds is None else ttl_seconds
        if not MIN_TTL <= ttl <= MAX_TTL:
            raise ValidationError(
                self.env._(
                    "A self-service session of subscription %(sub)s lasts %(min)s to %(max)s seconds, not %(ttl)s.",
                    sub=subscription.display_name,
                    min=MIN_TTL,
                    max=MAX_TTL,
                    ttl=ttl,
                )
            )
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        now = now or fields.Datetime.now()
        session = self.sudo().create(
            {
                "subscription_id": subscription.id,
                "token_hash": hash_token(token),
                "expires_at": now + timedelta(seconds=ttl),
            }
        )
        return session.sudo(False), token

    @api.model
    def _find_by_token(self, token, now=None):
        """The live session of the raw ``token`` (as superuser), or an empty recordset.

        Expiry and revocation are part of the query: an expired or revoked session is never loaded.
        """
        if not token or not token.startswith(TOKEN_PREFIX) or len(token) > 128:
            return self.sudo().browse()
        return self.sudo().search(
            [
                ("token_hash", "=", hash_token(token)),
                ("expires_at", ">", now or fields.Datetime.now()),
                ("revoked", "=", False),
            ],
            limit=1,
        )

    def _get_allowed_origins(self):
        """The origins (``https://shop.example``) the session's company lets call from a browser."""
        self.ensure_one()
        return self.company_id._get_sdk_allowed_origins()

    @api.autovacuum
    def _gc_expired_sessions(self):
        """Sessions expired more than a day ago carry nothing anyone needs."""
        limit = fields.Datetime.now() - timedelta(days=1)
        self.sudo().search([("expires_at", "<", limit)]).unlink()
