import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

_logger = logging.getLogger(__name__)

# a stored response is replayed for at least this long (the API promises 24 hours)
IDEMPOTENCY_RETENTION = timedelta(hours=48)


class SubscriptionApiIdempotency(models.Model):
    """The first response to a POST of the REST API, stored under the caller's ``Idempotency-Key``.

    A retry with the same key and the same body gets the stored response again instead of a
    second execution; the same key with another body is refused. The row is claimed (inserted)
    in the request's own transaction *before* the call executes, so the unique constraint on
    (user, key) makes a concurrent duplicate wait for the first one and then replay it: the call
    executes once, whatever the timing.
    """

    _name = "subscription.api.idempotency"
    _description = "REST API idempotency key"
    _order = "id desc"
    _log_access = False

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=False)
    key = fields.Char(required=True)
    request_hash = fields.Char(required=True, help="SHA-256 of method, path and body of the first request.")
    method = fields.Char(required=True)
    path = fields.Char(required=True)
    status_code = fields.Integer(help="HTTP status of the stored response; empty while the call executes.")
    response_body = fields.Text()
    create_date = fields.Datetime(required=True, default=fields.Datetime.now, index=True)

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    _user_key_unique = models.Constraint(
        "UNIQUE(user_id, key)",
        "An idempotency key is used once per user.",
    )

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _claim(self, user_id, key, request_hash, method, path):
        """Claim ``key`` for ``user_id``: ``(claimed, row)``.

        ``claimed`` is True when this call inserted the row and must execute; otherwise
        ``row`` is the earlier request's row (its stored response is replayed). A concurrent
        insert of the same key blocks here until the other transaction ends; if it committed
        after this transaction's snapshot, PostgreSQL raises a serialization failure and Odoo
        retries the whole request, which then sees the stored response.
        """
        rows = self.env.execute_query(
            SQL(
                """INSERT INTO %s (user_id, key, request_hash, method, path, create_date)
                   VALUES (%s, %s, %s, %s, %s, now() at time zone 'utc')
                   ON CONFLICT (user_id, key) DO NOTHING RETURNING id""",
                SQL.identifier(self._table),
                user_id,
                key,
                request_hash,
                method,
                path,
            )
        )
        if rows:
            return True, self.sudo().browse(rows[0][0])
        row = self.sudo().search([("user_id", "=", user_id), ("key", "=", key)], limit=1)
        return False, row

    def _store_response(self, status_code, body):
        """Keep the response of the claimed call for its retries."""
        self.sudo().write({"status_code": status_code, "response_body": body})

    @api.autovacuum
    def _gc_expired_keys(self):
        """Forget keys older than the retention (48 h: twice what the API promises)."""
        expired = self.sudo().search([("create_date", "<", fields.Datetime.now() - IDEMPOTENCY_RETENTION)])
        _logger.info("Removing %s expired API idempotency keys", len(expired))
        expired.unlink()
