import logging
from datetime import timedelta

from odoo import api, fields, models, sql_db
from odoo.tools import SQL

from ..billing_core.rate_limit import WINDOW_SECONDS, parse_limit

_logger = logging.getLogger(__name__)

RATE_LIMIT_PARAM = "subscription_billing.api_rate_limit"
# windows older than this are of no use any more (only the current one is counted)
RATE_LIMIT_RETENTION = timedelta(hours=1)


class SubscriptionApiRateLimit(models.Model):
    """The number of REST API requests of one user in one fixed window (a minute).

    The counter is incremented with ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` in its
    own short transaction, committed before the request's work starts: every worker process
    sees the same count, a refused or rolled-back request still counts, and the row lock is
    held for one statement, never for the request's duration.
    """

    _name = "subscription.api.rate.limit"
    _description = "REST API rate limit window"
    _order = "window_start desc, id desc"
    _log_access = False

    # ------------------------------------------------------------------
    # Fields
    # ------------------------------------------------------------------
    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", index=False)
    window_start = fields.Datetime(required=True, index=True, help="Start of the window (UTC, whole minute).")
    request_count = fields.Integer(required=True, default=0)

    # ------------------------------------------------------------------
    # Constraints
    # ------------------------------------------------------------------
    _user_window_unique = models.Constraint(
        "UNIQUE(user_id, window_start)",
        "One counter per user and window.",
    )

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def _get_limit(self):
        """Requests per minute and user; 0 = no limit (system parameter, default 600)."""
        return parse_limit(self.env["ir.config_parameter"].sudo().get_param(RATE_LIMIT_PARAM))

    @api.model
    def _count_request(self, user_id):
        """Count one request of ``user_id``: ``(count in its window, seconds to the next window)``.

        Runs in its own cursor and commits at once, so the count survives whatever the request
        does afterwards. The window is the current minute of the database clock, the same for
        every worker. Concurrent requests of one user queue on the row for one statement.
        """
        query = SQL(
            """INSERT INTO %(table)s AS counter (user_id, window_start, request_count)
               VALUES (%(user_id)s, date_trunc('minute', now() at time zone 'utc'), 1)
               ON CONFLICT (user_id, window_start)
               DO UPDATE SET request_count = counter.request_count + 1
               RETURNING counter.request_count,
                         EXTRACT(EPOCH FROM counter.window_start + make_interval(secs => %(window)s)
                                            - (now() at time zone 'utc'))""",
            table=SQL.identifier(self._table),
            user_id=user_id,
            window=WINDOW_SECONDS,
        )
        with self.env.registry.cursor() as cr:
            if isinstance(cr, sql_db.Cursor):  # a real connection (not a test cursor inside the test's transaction)
                # READ COMMITTED for this one transaction: concurrent upserts of one row wait for
                # each other and add up, where Odoo's REPEATABLE READ fails them with serialization errors
                cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
            cr.execute(query)
            count, seconds = cr.fetchone()
        return count, float(seconds)

    @api.autovacuum
    def _gc_old_windows(self):
        """Forget windows older than an hour: only the current window is ever counted."""
        self.env.cr.execute(
            SQL(
                "DELETE FROM %s WHERE window_start < %s",
                SQL.identifier(self._table),
                fields.Datetime.now() - RATE_LIMIT_RETENTION,
            )
        )
        _logger.info("Removed %s old API rate limit windows", self.env.cr.rowcount)
