import logging
import math
from collections import defaultdict
from datetime import datetime, timezone

from psycopg2 import errors as pg_errors

from odoo import api, fields, models
from odoo.exceptions import ValidationError
from odoo.tools import SQL

from ..billing_core import bounds

_logger = logging.getLogger(__name__)

#: the array parameter of each column stored by the set-based insert, cast to the column's type
ARRAY_CASTS = {
    "subscription_id": "%s::int4[]",
    "company_id": "%s::int4[]",
    "metric_id": "%s::int4[]",
    "quantity": "%s::numeric[]",
    "timestamp": "%s::timestamp[]",
    "value": "%s::varchar[]",
    "attributes": "%s::jsonb[]",
    "idempotency_key": "%s::varchar[]",
}


class SubscriptionUsageRecord(models.Model):
    """One reported usage of a metric by a subscription, billed in arrears for its period.

    The idempotency key is unique per subscription: a record sent twice is
    acknowledged and counted once.
    """

    _name = "subscription.usage.record"
    _description = "Usage Record"
    _order = "timestamp desc, id desc"
    _inherit = ["subscription.input.guard.mixin"]
    _check_company_auto = True

    subscription_id = fields.Many2one("subscription.subscription", required=True, ondelete="restrict", index=True)
    company_id = fields.Many2one(related="subscription_id.company_id", store=True, index=True)
    metric_id = fields.Many2one("subscription.usage.metric", required=True, ondelete="restrict", index=True)
    quantity = fields.Float(required=True, digits="Product Unit")
    timestamp = fields.Datetime(required=True, index=True)
    value = fields.Char(help="The attribute whose distinct values are counted (count-distinct metrics).")
    attributes = fields.Json()
    idempotency_key = fields.Char(required=True)
    invoice_line_id = fields.Many2one(
        "account.move.line", string="Billed On", ondelete="set null", readonly=True, index="btree_not_null"
    )

    _key_unique = models.Constraint(
        "UNIQUE(subscription_id, idempotency_key)",
        "A usage record with this idempotency key already exists for the subscription.",
    )
    _period_idx = models.Index("(subscription_id, metric_id, timestamp) WHERE invoice_line_id IS NULL")

    # ------------------------------------------------------------------
    # CRUD overrides
    # ------------------------------------------------------------------
    @api.model_create_multi
    def create(self, vals_list):
        """A plain ``create`` (RPC, import) applies the checks of :meth:`_ingest` and refuses the first bad record.

        :meth:`_ingest` (and :meth:`ingest_usage`, its public entry) checked the
        records already and creates them as the system.
        """
        if not self._is_system_write():
            for vals in vals_list:
                error = self._check_usage_vals(vals)
                if error:
                    raise ValidationError(error)
        return super().create(vals_list)

    # ------------------------------------------------------------------
    # Business methods
    # ------------------------------------------------------------------
    @api.model
    def ingest_usage(self, records):
        """Store a batch of usage records for the calling user: the public entry of :meth:`_ingest`.

        Takes a list of dicts (see :meth:`_ingest`) and returns one result per
        record, in order; a bad record is rejected with its reason and the
        others are stored. Subscriptions and metrics the user may not read
        are reported as not existing.
        """
        self.check_access("create")
        if not isinstance(records, (list, tuple)):
            raise ValidationError(self.env._("Usage records must be sent as a list of objects."))
        records = [
            record
            if isinstance(record, dict)
            else {"_resolution_error": self.env._("A usage record must be an object.")}
            for record in records
        ]
        Subscription = self.env["subscription.subscription"]
        Metric = self.env["subscription.usage.metric"]
        sub_ids = {r["subscription_id"] for r in records if isinstance(r.get("subscription_id"), int)}
        metric_ids = {r["metric_id"] for r in records if isinstance(r.get("metric_id"), int)}
        readable_subs = set(Subscription.browse(sub_ids).exists()._filtered_access("read").ids)
        readable_metrics = set(Metric.browse(metric_ids).exists()._filtered_access("read").ids)
        checked = []
        for record in records:
            sub_id, metric_id = record.get("subscription_id"), record.get("metric_id")
            if sub_id and (not isinstance(sub_id, int) or sub_id not in readable_subs):
                record = dict(record, _resolution_error=self.env._("Subscription %(id)s does not exist.", id=sub_id))
            elif metric_id and (not isinstance(metric_id, int) or metric_id not in readable_metrics):
                record = dict(
                    record, _resolution_error=self.env._("Metric %(metric)s does not exist.", metric=metric_id)
                )
            checked.append(record)
        return self._ingest(checked)

    def _check_usage_vals(self, vals):
        """The translated reason why create values ``vals`` cannot be stored, or ``False``."""
        subscription = self.env["subscription.subscription"].browse(vals.get("subscription_id") or []).exists()
        metric = self.env["subscription.usage.metric"].browse(vals.get("metric_id") or []).exists()
        if vals.get("invoice_line_id"):
            return self.env._(
                "The field %(field)s (%(name)s) of %(model)s is set by the subscription's own actions "
                "(start, pause, cancel, billing run) and cannot be written directly.",
                field=self._fields["invoice_line_id"]._description_string(self.env),
                name="invoice_line_id",
                model=self._description,
            )
        record = dict(vals, subscription_id=vals.get("subscription_id"), metric_id=vals.get("metric_id"))
        return self._check_usage_input(record, subscription[:1], metric[:1])

    @api.model
    def _ingest(self, records):
        """Store a batch of usage records; return one result per record, in order.

        Each input is a dict with ``subscription_id`` (or ``partner_id``),
        ``metric`` (code) or ``metric_id``, ``quantity``, ``timestamp``
        (datetime or ISO string), ``idempotency_key`` and optional ``value``
        and ``attributes``. A result is ``{"idempotency_key", "status",
        "id", "error"}`` with status ``created``, ``duplicate`` (already
        stored: acknowledged, not counted twice) or ``rejected`` (with a
        translated reason). Rejected records write nothing; the others are
        stored.
        """
        Subscription = self.env["subscription.subscription"]
        Metric = self.env["subscription.usage.metric"]
        resolved = {}  # (partner, metric code, metric id) -> resolution, one search per distinct customer and metric
        records = [self._resolve_customer_subscription(record, cache=resolved) for record in records]
        sub_ids = {r.get("subscription_id") for r in records if r.get("subscription_id")}
        subscriptions = {s.id: s for s in Subscription.browse(sub_ids).exists()}
        metric_codes = {r.get("metric") for r in records if r.get("metric")}
        metrics_by_code = {}  # (code, company id or False) -> metric
        if metric_codes:
            for metric in Metric.search([("code", "in", list(metric_codes))]):
                metrics_by_code[(metric.code, metric.company_id.id)] = metric
        metric_ids = {r.get("metric_id") for r in records if r.get("metric_id")}
        metrics_by_id = {m.id: m for m in Metric.browse(metric_ids).exists()}
        if subscriptions:
            # wait for a billing run that holds these subscriptions: its closed periods must be seen
            self.env.execute_query(
                SQL(
                    "SELECT id FROM %s WHERE id IN %s FOR SHARE",
                    SQL.identifier(Subscription._table),
                    tuple(subscriptions),
                )
            )
        existing = self._get_stored_keys(
            {
                (r["subscription_id"], r["idempotency_key"])
                for r in records
                if r.get("subscription_id") in subscriptions and isinstance(r.get("idempotency_key"), str)
            }
        )

        lines_by_pair = defaultdict(lambda: self.env["subscription.line"])
        for line in self.env["subscription.line"].search_fetch(
            [("subscription_id", "in", list(subscriptions)), ("line_type", "=", "usage")],
            ["subscription_id", "metric_id", "line_type", "usage_billed_until"],
        ):
            lines_by_pair[(line.subscription_id.id, line.metric_id.id)] |= line
        # the batch's constants, read once (not per record)
        limits = {
            "today": fields.Date.context_today(self),
            "digits": self._get_quantity_digits(),
            "horizon_years": self._get_date_horizon_years(),
        }

        company_of = {sub_id: subscription.company_id.id for sub_id, subscription in subscriptions.items()}
        facts_by_pair = {}  # (subscription id, metric id) -> what the checks need, read once per pair

        results, to_create, seen = [], [], {}
        for record in records:
            key = record.get("idempotency_key")
            result = {"idempotency_key": key, "status": "rejected", "id": False, "error": False}
            results.append(result)
            subscription = subscriptions.get(record.get("subscription_id"))
            metric = metrics_by_id.get(record.get("metric_id"))
            if not metric and subscription and record.get("metric"):
                # a code is looked up in the subscription's company first, then among shared metrics
                metric = metrics_by_code.get((record["metric"], company_of[subscription.id])) or metrics_by_code.get(
                    (record["metric"], False)
                )
            # a key already stored is a duplicate whatever else changed since (e.g. its period is billed)
            if subscription and (subscription.id, key) in existing:
                result.update(status="duplicate", id=existing[(subscription.id, key)])
                continue
            facts = None
            if subscription and metric:
                pair = (subscription.id, metric.id)
                if pair not in facts_by_pair:
                    facts_by_pair[pair] = self._get_usage_pair_facts(subscription, metric, lines_by_pair[pair])
                facts = facts_by_pair[pair]
            error = self._check_usage_input(record, subscription, metric, facts=facts, **limits)
            if error:
                result["error"] = error
                continue
            pair = (subscription.id, key)
            if pair in seen:
                result.update(status="duplicate")
                seen[pair].append(result)
                continue
            seen[pair] = [result]
            to_create.append(
                (
                    result,
                    {
                        "subscription_id": subscription.id,
                        "company_id": company_of[subscription.id],
                        "metric_id": metric.id,
                        "quantity": float(record["quantity"]),
                        "timestamp": self._parse_timestamp(record["timestamp"]),
                        "value": record.get("value") or False,
                        "attributes": record.get("attributes") or False,
                        "idempotency_key": key,
                    },
                )
            )
        if to_create:
            vals_list = [vals for _result, vals in to_create]
            created = self._insert_usage_records(vals_list)
            if created is None:  # the set-based insert failed: isolate the failing records through the ORM
                created = self._create_usage_records(
                    [{name: value for name, value in vals.items() if name != "company_id"} for vals in vals_list]
                )
            for (result, vals), rec in zip(to_create, created, strict=True):
                if isinstance(rec, str):
                    result.update(status="rejected", error=rec)
                else:
                    result.update(status="created" if rec else "duplicate", id=rec.id if rec else False)
                for twin in seen[(vals["subscription_id"], vals["idempotency_key"])][1:]:
                    twin.update(
                        id=result["id"], status="duplicate" if result["id"] else result["status"], error=result["error"]
                    )
        return results

    def _get_stored_keys(self, pairs):
        """``{(subscription id, idempotency key): record id}`` of the ``pairs`` already stored
        (and readable by the user).

        Looked up pair by pair on the unique index: a search with ``subscription_id in ...`` and
        ``idempotency_key in ...`` let PostgreSQL scan the whole table (70 ms per batch at
        450,000 records, growing with the table), this stays at a few ms whatever its size.
        """
        if not pairs:
            return {}
        sub_ids, keys = zip(*pairs, strict=True)
        rows = self.env.execute_query(
            SQL(
                "SELECT record.id, record.subscription_id, record.idempotency_key FROM %s AS record "
                "JOIN unnest(%s::int4[], %s::varchar[]) AS pair(subscription_id, idempotency_key) "
                "ON record.subscription_id = pair.subscription_id AND record.idempotency_key = pair.idempotency_key",
                SQL.identifier(self._table),
                list(sub_ids),
                list(keys),
            )
        )
        readable = set(self.browse(row[0] for row in rows)._filtered_access("read").ids)
        return {(sub_id, key): rec_id for rec_id, sub_id, key in rows if rec_id in readable}

    def _insert_usage_records(self, vals_list):
        """Store checked values with one ``INSERT ... ON CONFLICT DO NOTHING``; one entry per input, or ``None``.

        An entry is the new record, or ``None`` when the key was stored
        meanwhile by a concurrent ingestion (the unique constraint on
        (subscription, idempotency key) decides, not this method). The values
        are converted as the ORM converts them (rounding, JSON), the log
        columns are filled, and the new rows pass the same access check
        (model rights and record rules for ``create``) as an ORM create.
        Returns ``None`` if the statement fails, rolled back to its savepoint.
        """
        self.env.flush_all()
        field_names = list(ARRAY_CASTS)
        now, uid = self.env.cr.now(), self.env.uid
        # one array per column, unnested into rows: a statement of a dozen parameters whatever the
        # batch size (a VALUES list of 1,000 rows cost more to build in Python than to insert)
        arrays = []
        for name in field_names:
            field = self._fields[name]
            column = [field.convert_to_column_insert(vals[name], self) for vals in vals_list]
            arrays.append(SQL(ARRAY_CASTS[name], column))
        columns = [*field_names, "create_uid", "create_date", "write_uid", "write_date"]
        query = SQL(
            "INSERT INTO %s (%s) SELECT rows.*, %s, %s, %s, %s FROM unnest(%s) AS rows "
            "ON CONFLICT (subscription_id, idempotency_key) DO NOTHING "
            "RETURNING id, subscription_id, idempotency_key",
            SQL.identifier(self._table),
            SQL(", ").join(SQL.identifier(column) for column in columns),
            uid,
            now,
            uid,
            now,
            SQL(", ").join(arrays),
        )
        try:
            with self.env.cr.savepoint():
                inserted = {(sub_id, key): rec_id for rec_id, sub_id, key in self.env.execute_query(query)}
                records = self.browse(inserted.values())
                records.check_access("create")
                records._check_company()
        except Exception:  # noqa: BLE001 - the caller falls back to the ORM, record by record
            _logger.info("Set-based insert of %s usage records failed, retrying record by record", len(vals_list))
            self.env.invalidate_all()
            return None
        # the ORM cache may hold stale one2many/aggregate values of the subscriptions: drop it
        self.env.invalidate_all()
        return [
            self.browse(inserted[(vals["subscription_id"], vals["idempotency_key"])])
            if (vals["subscription_id"], vals["idempotency_key"]) in inserted
            else None
            for vals in vals_list
        ]

    def _resolve_customer_subscription(self, record, cache=None):
        """A record given by customer (``partner_id``) and metric gets that customer's subscription.

        The customer's one running subscription that meters the metric is
        used; none or several leave ``subscription_id`` empty and the reason
        in ``_resolution_error``. ``cache`` (a dict kept by the caller for a
        batch) holds the resolution of each customer and metric seen.
        """
        if record.get("subscription_id") or not record.get("partner_id"):
            return record
        key = (record["partner_id"], record.get("metric"), record.get("metric_id"))
        if cache is None or not all(isinstance(part, (int, str, type(None))) for part in key):
            return self._resolve_customer_subscription_uncached(record)
        if key not in cache:
            resolved = self._resolve_customer_subscription_uncached(record)
            cache[key] = {name: resolved[name] for name in ("subscription_id", "_resolution_error") if name in resolved}
        return dict(record, **cache[key])

    def _resolve_customer_subscription_uncached(self, record):
        """The resolution of :meth:`_resolve_customer_subscription` for one record."""
        record = dict(record)
        partner = self.env["res.partner"].browse(record["partner_id"]).exists()
        metric_code = record.get("metric")
        if not partner:
            record["_resolution_error"] = self.env._("Customer %(id)s does not exist.", id=record["partner_id"])
            return record
        lines = self.env["subscription.line"].search(
            [
                ("subscription_id.commercial_partner_id", "=", partner.commercial_partner_id.id),
                ("subscription_id.state", "in", ("trial", "active", "notice", "paused")),
                ("line_type", "=", "usage"),
                "|",
                ("metric_id.code", "=", metric_code),
                ("metric_id", "=", record.get("metric_id") or 0),
            ]
        )
        subscriptions = lines.subscription_id
        if len(subscriptions) == 1:
            record["subscription_id"] = subscriptions.id
        elif not subscriptions:
            record["_resolution_error"] = self.env._(
                "Customer %(customer)s has no running subscription that meters %(metric)s.",
                customer=partner.display_name,
                metric=metric_code or record.get("metric_id"),
            )
        else:
            record["_resolution_error"] = self.env._(
                "Customer %(customer)s has several subscriptions that meter %(metric)s: give subscription_id.",
                customer=partner.display_name,
                metric=metric_code or record.get("metric_id"),
            )
        return record

    def _create_usage_records(self, vals_list):
        """Create in one batch; if that fails, record by record.

        Returns one entry per input: the record, ``None`` when a concurrent
        ingestion stored the key meanwhile (a duplicate), or the error text.
        """
        try:
            with self.env.cr.savepoint():
                return list(self._as_system().create(vals_list))
        except Exception:  # noqa: BLE001 - isolate the failing records below
            self.env.invalidate_all()
        created = []
        for vals in vals_list:
            try:
                with self.env.cr.savepoint():
                    created.append(self._as_system().create(vals))
            except pg_errors.UniqueViolation:
                self.env.invalidate_all()
                created.append(None)
            except Exception as error:  # noqa: BLE001 - reported as the record's rejection
                self.env.invalidate_all()
                created.append(str(error.args[0]) if error.args else repr(error))
        return created

    @staticmethod
    def _parse_timestamp(value):
        """A naive UTC datetime from a datetime or an ISO 8601 string (with or without offset)."""
        parsed = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        if parsed.tzinfo:
            parsed = parsed.astimezone(timezone.utc).replace(tzinfo=None)
        return parsed

    def _get_usage_pair_facts(self, subscription, metric, lines=None):
        """What :meth:`_check_usage_input` needs of a subscription and a metric, read once.

        ``lines`` are the subscription's usage lines of the metric (found here when not given).
        A batch reads them once per subscription and metric, not once per record.
        """
        if lines is None:
            lines = subscription.line_ids.filtered(lambda line: line.line_type == "usage" and line.metric_id == metric)
        return {
            "metered": bool(lines),
            "billed_until": max(filter(None, lines.mapped("usage_billed_until")), default=None),
            "name": subscription.name,
            "state": subscription.state,
            "start_date": subscription.start_date,
            "end_date": subscription.end_date,
            "metric_code": metric.code,
            "allow_negative": metric.allow_negative and metric.aggregation == "sum",
        }

    def _check_usage_input(
        self, record, subscription, metric, today=None, lines=None, digits=None, horizon_years=None, facts=None
    ):
        """The translated reason why ``record`` cannot be stored, or ``False``.

        ``today``, the subscription's usage ``lines`` of the metric (or their
        :meth:`_get_usage_pair_facts`), the quantity ``digits`` and the date
        ``horizon_years`` may be given by a caller that checks a batch (read
        once for all records).
        """
        if record.get("_resolution_error"):
            return record["_resolution_error"]
        if not record.get("idempotency_key"):
            return self.env._("Field idempotency_key is required.")
        if not subscription:
            return self.env._("Subscription %(id)s does not exist.", id=record.get("subscription_id"))
        if not metric:
            return self.env._(
                "Metric %(metric)s does not exist.", metric=record.get("metric") or record.get("metric_id")
            )
        try:
            quantity = float(record.get("quantity"))
        except (TypeError, ValueError):
            quantity = math.nan
        if not math.isfinite(quantity):
            return self.env._("Field quantity must be a finite number, got %(value)s.", value=record.get("quantity"))
        if digits is None:
            digits = self._get_quantity_digits()
        if bounds.check_number(quantity, digits, allow_negative=True):
            return self.env._("Field quantity is too large: %(value)s.", value=record.get("quantity"))
        if facts is None:
            facts = self._get_usage_pair_facts(subscription, metric, lines)
        if quantity < 0 and not facts["allow_negative"]:
            return self.env._("Field quantity cannot be negative for metric %(metric)s.", metric=facts["metric_code"])
        try:
            timestamp = self._parse_timestamp(record.get("timestamp"))
        except (TypeError, ValueError):
            return self.env._(
                "Field timestamp must be an ISO 8601 date and time, got %(value)s.", value=record.get("timestamp")
            )
        if horizon_years is None:
            horizon_years = self._get_date_horizon_years()
        if bounds.check_date(timestamp, today or fields.Date.context_today(self), horizon_years):
            return self.env._(
                "Field timestamp %(value)s lies outside the plausible range of dates.", value=record.get("timestamp")
            )
        if not facts["metered"]:
            return self.env._(
                "Subscription %(sub)s does not meter %(metric)s.", sub=facts["name"], metric=facts["metric_code"]
            )
        day = timestamp.date()
        if facts["state"] in ("draft",) or day < facts["start_date"]:
            return self.env._("Subscription %(sub)s had not started on %(date)s.", sub=facts["name"], date=day)
        if facts["state"] == "ended" or (facts["end_date"] and day > facts["end_date"]):
            return self.env._(
                "Subscription %(sub)s has ended: usage on %(date)s is not accepted.", sub=facts["name"], date=day
            )
        billed_until = facts["billed_until"]
        if billed_until and day <= billed_until:
            return self.env._(
                "The period of %(date)s is already billed for subscription %(sub)s.", date=day, sub=facts["name"]
            )
        return False

    def _get_protected_fields(self):
        """Set by the billing run or the model's own actions only."""
        return ("invoice_line_id",)

    def _get_quantity_digits(self):
        return self.env["decimal.precision"].precision_get("Product Unit")

    def _get_date_horizon_years(self):
        return self.env["subscription.subscription"]._get_date_horizon_years()
