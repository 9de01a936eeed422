"""The machinery of the REST API v1: authentication, problem+json errors, idempotency, validation.

Every route of :mod:`.api_v1` is declared with :func:`api_route`; the handler receives the
request body (already validated against its OpenAPI schema) and returns ``(status, data)``.
Everything else — the API key, the API group, the caller's language, the idempotency key,
the savepoint that undoes a refused call, the mapping of Odoo exceptions to HTTP statuses —
happens here, once.
"""

import base64
import functools
import hashlib
import json
import logging
import re

import jsonschema
from psycopg2 import errors as pg_errors

from odoo import fields, http
from odoo.exceptions import AccessDenied, AccessError, MissingError, UserError, ValidationError
from odoo.http import request
from odoo.tools import float_repr

from ..billing_core.json_check import compile_check
from ..billing_core.origins import is_allowed
from ..billing_core.rate_limit import decide
from .api_openapi import API_PREFIX, schema_for

_logger = logging.getLogger(__name__)

API_GROUP = "subscription_billing.group_subscription_api"
PROBLEM_TYPE = "https://github.com/subscription-billing/subscription_billing/blob/main/README.md#api-errors"
# PostgreSQL errors after which Odoo retries the whole request (odoo.service.model.retrying)
RETRIED_ERRORS = (pg_errors.LockNotAvailable, pg_errors.SerializationFailure, pg_errors.DeadlockDetected)
TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    409: "Conflict",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
_validators = {}
_fast_checks = {}


class ApiError(Exception):
    """A refusal with its HTTP status, stable ``code``, translated ``detail`` and optional ``field``."""

    def __init__(self, status, code, detail, field=None):
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.field = field


class RawResponse:
    """A handler result that is not JSON (a PDF): sent as is, with a download file name."""

    def __init__(self, content, content_type, filename):
        self.content = content
        self.content_type = content_type
        self.filename = filename


# ----------------------------------------------------------------------
# Responses
# ----------------------------------------------------------------------
def problem_body(status, code, detail, field=None):
    body = {"type": PROBLEM_TYPE, "title": TITLES.get(status, "Error"), "status": status, "code": code}
    body["detail"] = detail
    if field:
        body["field"] = field
    return body


def _response(status, data, content_type="application/json"):
    if isinstance(data, RawResponse):
        headers = [
            ("Content-Type", data.content_type),
            ("Content-Disposition", http.content_disposition(data.filename)),
            ("Cache-Control", "no-store"),
        ]
        return request.make_response(data.content, headers=headers, status=status)
    body = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return _raw_response(status, body, content_type)


def _raw_response(status, body, content_type, extra_headers=None):
    headers = [("Content-Type", f"{content_type}; charset=utf-8"), ("Cache-Control", "no-store")]
    return request.make_response(body, headers=headers + list(extra_headers or []), status=status)


def _problem_response(error):
    body = problem_body(error.status, error.code, error.detail, error.field)
    headers = [("WWW-Authenticate", 'Bearer realm="subscription-api"')] if error.status == 401 else []
    return _raw_response(error.status, json.dumps(body, ensure_ascii=False), "application/problem+json", headers)


# ----------------------------------------------------------------------
# Request helpers
# ----------------------------------------------------------------------
def negotiate_lang(env):
    """``de_DE`` when the caller accepts German first and it is active, else ``en_US``."""
    header = request.httprequest.headers.get("Accept-Language") or ""
    installed = dict(env["res.lang"].get_installed())
    for part in header.split(","):
        tag = part.split(";")[0].strip().replace("-", "_").lower()
        if not tag:
            continue
        if tag.startswith("en"):
            return "en_US"
        candidates = [code for code in installed if code.lower() == tag or code.lower().startswith(tag + "_")]
        if candidates:
            return sorted(candidates)[0]
    return "en_US"


def _authenticate(env):
    """The user id of the bearer API key, or an :class:`ApiError` 401/403."""
    header = request.httprequest.headers.get("Authorization") or ""
    match = re.match(r"^bearer\s+(\S+)$", header.strip(), re.IGNORECASE)
    if not match:
        raise ApiError(401, "authentication_required", env._("Send an API key as 'Authorization: Bearer <key>'."))
    uid = env["res.users.apikeys"]._check_credentials(scope="rpc", key=match.group(1))
    if not uid:
        raise ApiError(401, "invalid_api_key", env._("The API key is wrong, expired or revoked."))
    return uid


def _validate_body(schema_name, body, env):
    if schema_name not in _fast_checks:
        _fast_checks[schema_name] = compile_check(schema_for(schema_name))
    fast_check = _fast_checks[schema_name]
    if fast_check is not None and fast_check(body):
        # surely valid (the check says yes only then): the full validator would find nothing; it
        # runs for every other body and words the error (a third of a 1,000-record batch's time)
        return
    validator = _validators.get(schema_name)
    if validator is None:
        validator = _validators[schema_name] = jsonschema.Draft202012Validator(
            schema_for(schema_name), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
        )
    error = jsonschema.exceptions.best_match(validator.iter_errors(body))
    if error is not None:
        field = ".".join(str(part) for part in error.absolute_path)
        if error.validator == "required":
            missing = re.findall(r"'([^']+)' is a required property", error.message)
            field = ".".join(filter(None, [field, missing[0] if missing else ""]))
        elif error.validator == "additionalProperties":
            extra = re.findall(r"'([^']+)' was unexpected", error.message)
            field = ".".join(filter(None, [field, extra[0] if extra else ""]))
            raise ApiError(422, "unknown_field", env._("The field %(field)s is unknown.", field=field), field)
        raise ApiError(
            422,
            "validation_error",
            env._("The field %(field)s is invalid: %(reason)s", field=field or "body", reason=error.message),
            field or None,
        )


def _read_json_body(env):
    raw = request.httprequest.get_data(cache=True)
    try:
        body = json.loads(raw or b"{}")
    except ValueError:
        raise ApiError(400, "malformed_json", env._("The request body is not valid JSON.")) from None
    # a NUL or a lone surrogate comes in as a backslash-u escape or (json decodes with surrogatepass) as
    # the UTF-8 bytes ED A0-BF ..: a UTF-8 body with neither a backslash-u nor an ED byte is clean, the
    # walk over every string (a few ms for 1,000 records) is for the others
    if b"\\u" in raw or b"\xed" in raw or json.detect_encoding(raw) != "utf-8":
        _check_text(body, env)
    return body


def _check_text(value, env, path=()):
    """Refuse text PostgreSQL cannot store (NUL characters, lone UTF-16 surrogates), naming the field."""
    if isinstance(value, dict):
        for key, item in value.items():
            _check_text(key, env, path)
            _check_text(item, env, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check_text(item, env, (*path, str(index)))
    elif isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = "\x00"
        if "\x00" in value:
            field = ".".join(path) or "body"
            raise ApiError(
                422,
                "invalid_text",
                env._("The field %(field)s contains characters that cannot be stored.", field=field),
                field,
            )


# ----------------------------------------------------------------------
# The route decorator
# ----------------------------------------------------------------------
def api_route(path, method, body_schema=None):
    """Declare a REST API v1 route: ``path`` below the API prefix, one HTTP ``method``.

    The decorated handler is called as ``handler(self, env, body, **path_args)`` with the key
    user's environment and returns ``(status, data)``.
    """

    def decorator(handler):
        @http.route(
            API_PREFIX + path,
            type="http",
            auth="none",
            methods=[method],
            csrf=False,
            save_session=False,
            readonly=False,
        )
        @functools.wraps(handler)
        def endpoint(self, **kwargs):
            return _dispatch(self, handler, method, body_schema, kwargs)

        return endpoint

    return decorator


def _dispatch(controller, handler, method, body_schema, kwargs):
    rate_headers = []
    response = _dispatch_counted(controller, handler, method, body_schema, kwargs, rate_headers)
    for name, value in rate_headers:
        response.headers[name] = value
    return response


def _check_rate_limit(env, uid, rate_headers):
    """Count the request of ``uid``; fill ``rate_headers``; a 429 :class:`ApiError` over the limit."""
    RateLimit = env["subscription.api.rate.limit"].sudo()
    limit = RateLimit._get_limit()
    if not limit:
        return
    count, seconds_to_reset = RateLimit._count_request(uid)
    allowed, headers = decide(limit, count, seconds_to_reset)
    rate_headers.extend(headers)
    if not allowed:
        raise ApiError(
            429,
            "rate_limited",
            env._(
                "Too many requests: %(limit)s per minute are allowed for this API key. "
                "Try again in %(seconds)s seconds.",
                limit=limit,
                seconds=dict(headers)["Retry-After"],
            ),
        )


def _dispatch_counted(controller, handler, method, body_schema, kwargs, rate_headers):
    env = request.env
    env = env(context=dict(env.context, lang=negotiate_lang(env)))
    cr = env.cr
    try:
        uid = _authenticate(env)  # reads only
        # before the savepoint: the count commits in its own cursor, which in tests nests in the
        # request's transaction and would be undone with the savepoint of a refused call
        _check_rate_limit(env, uid, rate_headers)
        with cr.savepoint():
            request.update_env(user=uid, context=dict(env.context))
            request.session.can_save = False
            env = request.env
            if not env.user.has_group(API_GROUP):
                raise ApiError(
                    403,
                    "api_access_denied",
                    env._("The user %(user)s is not in the group Subscriptions API.", user=env.user.name),
                )
            body = _read_json_body(env) if body_schema else None
            if body_schema:
                _validate_body(body_schema, body, env)
            key = request.httprequest.headers.get("Idempotency-Key") if method == "POST" else None
            if key is None:
                status, data = _run(controller, handler, env, body, kwargs)
                return _response(status, data)
            return _idempotent(controller, handler, env, body, kwargs, key)
    except ApiError as error:
        return _problem_response(error)
    except RETRIED_ERRORS:
        raise  # Odoo retries the whole request
    except Exception:
        _logger.exception("REST API call %s %s failed", method, request.httprequest.path)
        return _problem_response(
            ApiError(500, "internal_error", env._("The server could not complete the request; it was logged."))
        )


def _run(controller, handler, env, body, kwargs):
    """Call ``handler`` in a savepoint: a refused call writes nothing. Odoo errors become API errors."""
    try:
        with env.cr.savepoint():
            return handler(controller, env, body, **kwargs)
    except ApiError:
        raise
    except (AccessError, AccessDenied) as error:
        raise ApiError(403, "access_denied", str(error.args[0] if error.args else error)) from None
    except MissingError as error:
        raise ApiError(404, "not_found", str(error.args[0] if error.args else error)) from None
    except ValidationError as error:
        raise ApiError(422, "validation_error", str(error.args[0] if error.args else error)) from None
    except UserError as error:
        raise ApiError(409, "action_refused", str(error.args[0] if error.args else error)) from None


def _idempotent(controller, handler, env, body, kwargs, key):
    if not 0 < len(key) <= 255:
        raise ApiError(
            400, "invalid_idempotency_key", env._("An Idempotency-Key has 1 to 255 characters."), "Idempotency-Key"
        )
    digest = hashlib.sha256()
    digest.update(request.httprequest.path.encode())
    digest.update(b"\0")
    digest.update(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    claimed, row = env["subscription.api.idempotency"]._claim(
        env.uid, key, digest.hexdigest(), "POST", request.httprequest.path
    )
    if not claimed:
        if row.request_hash != digest.hexdigest():
            raise ApiError(
                409,
                "idempotency_key_reused",
                env._("The Idempotency-Key %(key)s was already used with another request.", key=key),
                "Idempotency-Key",
            )
        content_type = "application/json" if row.status_code < 400 else "application/problem+json"
        return _raw_response(row.status_code, row.response_body, content_type, [("Idempotent-Replayed", "true")])
    try:
        status, data = _run(controller, handler, env, body, kwargs)
    except ApiError as error:
        # a refusal is an answer too: the retry gets the same one (returned, not raised, so the
        # stored row survives while the refused call's writes are already undone)
        row._store_response(error.status, json.dumps(problem_body(error.status, error.code, error.detail, error.field)))
        return _problem_response(error)
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    row._store_response(status, text)
    return _raw_response(status, text, "application/json")


# ----------------------------------------------------------------------
# Self-service session routes (the browser side of the JavaScript SDK)
# ----------------------------------------------------------------------
CORS_ALLOWED_HEADERS = "Authorization, Content-Type, Accept, Accept-Language"
CORS_MAX_AGE = "600"


def session_route(path, method, body_schema=None):
    """Declare a self-service route: ``path`` below the API prefix, authorised by a portal session token.

    The handler is called as ``handler(self, env, body, session=..., **path_args)``; ``session`` is the
    live ``subscription.portal.session`` (as superuser) whose token the request carries, already checked
    against the subscription id of the path. Browsers of the origins the subscription's company allows
    may call it (CORS, with preflight); requests without ``Origin`` (a server) need the token only.
    """

    def decorator(handler):
        @http.route(
            API_PREFIX + path,
            type="http",
            auth="public",
            methods=[method, "OPTIONS"],
            csrf=False,
            save_session=False,
            readonly=False,
            sitemap=False,
        )
        @functools.wraps(handler)
        def endpoint(self, **kwargs):
            return _dispatch_session(self, handler, method, body_schema, kwargs)

        return endpoint

    return decorator


def _any_company_allows(env, origin):
    companies = env["res.company"].sudo().search([("subscription_sdk_allowed_origins", "!=", False)])
    return any(is_allowed(origin, company._get_sdk_allowed_origins()) for company in companies)


def _cors_headers(origin, method=None):
    headers = [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]
    if method:
        headers += [
            ("Access-Control-Allow-Methods", method),
            ("Access-Control-Allow-Headers", CORS_ALLOWED_HEADERS),
            ("Access-Control-Max-Age", CORS_MAX_AGE),
        ]
    return headers


def _authenticate_session(env, subscription_id):
    header = request.httprequest.headers.get("Authorization") or ""
    match = re.match(r"^bearer\s+(\S+)$", header.strip(), re.IGNORECASE)
    if not match:
        raise ApiError(
            401, "session_required", env._("Send a self-service session token as 'Authorization: Bearer <token>'.")
        )
    session = env["subscription.portal.session"]._find_by_token(match.group(1))
    if not session:
        raise ApiError(401, "invalid_session", env._("The session token is wrong, expired or revoked."))
    if subscription_id is not None and session.subscription_id.id != subscription_id:
        raise ApiError(
            403,
            "wrong_subscription",
            env._("This session token is for another subscription than %(id)s.", id=subscription_id),
        )
    return session


def _dispatch_session(controller, handler, method, body_schema, kwargs):
    env = request.env(context=dict(request.env.context, lang=negotiate_lang(request.env)))
    origin = request.httprequest.headers.get("Origin")
    httprequest = request.httprequest
    if httprequest.method == "OPTIONS":
        if origin and _any_company_allows(env, origin):
            return request.make_response("", headers=_cors_headers(origin, method), status=204)
        return _problem_response(
            ApiError(403, "origin_not_allowed", env._("The origin %(origin)s may not call this API.", origin=origin))
        )
    cors = []
    try:
        session = _authenticate_session(env, kwargs.get("subscription_id"))
        if origin:
            if not is_allowed(origin, session._get_allowed_origins()):
                raise ApiError(
                    403,
                    "origin_not_allowed",
                    env._("The origin %(origin)s may not call this API.", origin=origin),
                )
            cors = _cors_headers(origin)
        request.session.can_save = False
        body = _read_json_body(env) if body_schema else None
        if body_schema:
            _validate_body(body_schema, body, env)
        session.last_used_at = fields.Datetime.now()
        response = _response(*_run(controller, handler, env, body, {**kwargs, "session": session}))
    except ApiError as error:
        if origin and not cors and error.code != "origin_not_allowed" and _any_company_allows(env, origin):
            # the SDK on a merchant's page may read why (an expired token: ask the backend for a new one)
            cors = _cors_headers(origin)
        response = _problem_response(error)
    except RETRIED_ERRORS:
        raise
    except Exception:
        _logger.exception("Self-service API call %s %s failed", method, httprequest.path)
        response = _problem_response(
            ApiError(500, "internal_error", env._("The server could not complete the request; it was logged."))
        )
    for name, value in cors:
        response.headers[name] = value
    return response


# ----------------------------------------------------------------------
# Shaping helpers
# ----------------------------------------------------------------------
def money(amount, currency):
    """``amount`` as a decimal string in the precision of ``currency``."""
    return float_repr(currency.round(amount or 0.0), currency.decimal_places)


def iso_date(value):
    return value.isoformat() if value else None


def encode_cursor(last_id):
    return base64.urlsafe_b64encode(json.dumps({"after": last_id}).encode()).decode().rstrip("=")


def decode_cursor(cursor, env):
    if not cursor:
        return 0
    after = None
    try:
        after = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))).get("after")
    except (ValueError, AttributeError, TypeError):
        _logger.debug("Undecodable API cursor %r", cursor)
    if isinstance(after, int) and not isinstance(after, bool) and after >= 0:
        return after
    raise ApiError(400, "invalid_cursor", env._("The cursor is not one this API returned."), "cursor")


def parse_limit(value, env):
    if value is None:
        return 20
    if not re.fullmatch(r"\d{1,3}", value) or not 1 <= int(value) <= 100:
        raise ApiError(400, "invalid_parameter", env._("The limit is a whole number from 1 to 100."), "limit")
    return int(value)


def paginate(model, domain, params, serializer, env):
    """One page of ``model`` records matching ``domain``, by ascending id after the cursor.

    Ids only grow, so records added while a client pages through appear at the end and no
    record is skipped or repeated.
    """
    limit = parse_limit(params.get("limit"), env)
    after = decode_cursor(params.get("cursor"), env)
    records = model.search([*domain, ("id", ">", after)], order="id", limit=limit + 1)
    page = records[:limit]
    has_more = len(records) > limit
    return {
        "object": "list",
        "data": [serializer(record) for record in page],
        "has_more": has_more,
        "next_cursor": encode_cursor(page[-1].id) if has_more else None,
    }


def not_found(message):
    """The 404 of a resource the key's user cannot see (whether it exists elsewhere or not)."""
    return ApiError(404, "not_found", message)
