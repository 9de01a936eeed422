"""The OpenAPI 3.1 document of the REST API v1: the one place where requests and responses are described.

The controllers validate every request body against the schemas below (``jsonschema``,
draft 2020-12, the dialect of OpenAPI 3.1), and the tests validate every response against
them, so the document cannot drift from the code. Pure data: no Odoo import.
"""

API_VERSION = "v1"
API_PREFIX = "/api/subscription/v1"


def _ref(name):
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(schema):
    return {"anyOf": [schema, {"type": "null"}]}


def _list_of(name):
    return {
        "type": "object",
        "required": ["object", "data", "has_more", "next_cursor"],
        "properties": {
            "object": {"const": "list"},
            "data": {"type": "array", "items": _ref(name)},
            "has_more": {"type": "boolean"},
            "next_cursor": _nullable({"type": "string"}),
        },
        "additionalProperties": False,
    }


MONEY = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$", "description": "Decimal string in the currency precision."}
DATE = {"type": "string", "format": "date"}
DATETIME = {"type": "string", "format": "date-time"}
CURRENCY = {"type": "string", "pattern": "^[A-Z]{3}$", "description": "ISO 4217 code."}

SCHEMAS = {
    "Problem": {
        "type": "object",
        "description": "RFC 9457 problem details; `code` is stable, `detail` translated (Accept-Language).",
        "required": ["type", "title", "status", "code", "detail"],
        "properties": {
            "type": {"type": "string"},
            "title": {"type": "string"},
            "status": {"type": "integer"},
            "code": {"type": "string"},
            "detail": {"type": "string"},
            "field": {"type": "string"},
        },
    },
    "Address": {
        "type": "object",
        "properties": {
            "street": _nullable({"type": "string", "maxLength": 256}),
            "street2": _nullable({"type": "string", "maxLength": 256}),
            "zip": _nullable({"type": "string", "maxLength": 32}),
            "city": _nullable({"type": "string", "maxLength": 128}),
            "country": _nullable({"type": "string", "pattern": "^[A-Z]{2}$", "description": "ISO 3166-1 alpha-2"}),
        },
        "additionalProperties": False,
    },
    "Customer": {
        "type": "object",
        "required": ["id", "object", "name", "email", "invoice_email", "vat", "lang", "is_company", "address"],
        "properties": {
            "id": {"type": "integer"},
            "object": {"const": "customer"},
            "name": {"type": "string"},
            "email": _nullable({"type": "string"}),
            "invoice_email": _nullable({"type": "string"}),
            "vat": _nullable({"type": "string"}),
            "lang": _nullable({"type": "string"}),
            "is_company": {"type": "boolean"},
            "address": _ref("Address"),
        },
        "additionalProperties": False,
    },
    "CustomerCreate": {
        "type": "object",
        "required": ["name"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 256},
            "email": _nullable({"type": "string", "maxLength": 256}),
            "invoice_email": _nullable({"type": "string", "maxLength": 256}),
            "vat": _nullable({"type": "string", "maxLength": 32}),
            "lang": _nullable({"type": "string", "maxLength": 16}),
            "is_company": {"type": "boolean"},
            "address": _ref("Address"),
        },
        "additionalProperties": False,
    },
    "CustomerUpdate": {
        "type": "object",
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 256},
            "email": _nullable({"type": "string", "maxLength": 256}),
            "invoice_email": _nullable({"type": "string", "maxLength": 256}),
            "vat": _nullable({"type": "string", "maxLength": 32}),
            "lang": _nullable({"type": "string", "maxLength": 16}),
            "is_company": {"type": "boolean"},
            "address": _ref("Address"),
        },
        "additionalProperties": False,
    },
    "CustomerList": _list_of("Customer"),
}

PROBLEM_RESPONSE = {"content": {"application/problem+json": {"schema": _ref("Problem")}}}


def _json_response(description, schema_name):
    return {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}


def _errors(*statuses):
    texts = {
        400: "Malformed request (JSON, cursor, parameter).",
        401: "Missing, wrong, expired or revoked API key.",
        403: "The key's user may not do this.",
        404: "No such resource for the key's user.",
        409: "Conflict: idempotency key reused with another body, or action refused in this state.",
        422: "Validation failed; `field` names the offending input.",
    }
    return {str(status): {"description": texts[status], **PROBLEM_RESPONSE} for status in statuses}


ID_PARAM = {"name": "id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
LIST_PARAMS = [
    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
    {"name": "cursor", "in": "query", "schema": {"type": "string"}, "description": "`next_cursor` of the last page."},
]
IDEMPOTENCY_PARAM = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
    "description": "Retries with the same key and body replay the first response (kept 24 hours at least).",
}


def _body(schema_name):
    return {"required": True, "content": {"application/json": {"schema": _ref(schema_name)}}}


PATHS = {
    "/customers": {
        "get": {
            "operationId": "listCustomers",
            "summary": "List customers, oldest first (cursor pagination).",
            "parameters": LIST_PARAMS,
            "responses": {"200": _json_response("A page of customers.", "CustomerList"), **_errors(400, 401, 403)},
        },
        "post": {
            "operationId": "createCustomer",
            "summary": "Create a customer in the key user's company.",
            "parameters": [IDEMPOTENCY_PARAM],
            "requestBody": _body("CustomerCreate"),
            "responses": {
                "201": _json_response("The customer.", "Customer"),
                **_errors(400, 401, 403, 409, 422),
            },
        },
    },
    "/customers/{id}": {
        "get": {
            "operationId": "getCustomer",
            "summary": "Read a customer.",
            "parameters": [ID_PARAM],
            "responses": {"200": _json_response("The customer.", "Customer"), **_errors(401, 403, 404)},
        },
        "patch": {
            "operationId": "updateCustomer",
            "summary": "Update some fields of a customer.",
            "parameters": [ID_PARAM],
            "requestBody": _body("CustomerUpdate"),
            "responses": {
                "200": _json_response("The customer.", "Customer"),
                **_errors(400, 401, 403, 404, 422),
            },
        },
    },
}


def openapi_document(server_url="/"):
    """The OpenAPI 3.1 document (a new dict on each call)."""
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Subscription Billing API",
            "version": API_VERSION,
            "description": (
                "Customers, plans, subscriptions, usage and invoices of the subscription_billing Odoo addon. "
                "Authenticate with an Odoo API key: `Authorization: Bearer <key>`. Errors are "
                "`application/problem+json` (RFC 9457) with a stable `code`."
            ),
        },
        "servers": [{"url": server_url.rstrip("/") + API_PREFIX}],
        "security": [{"apiKey": []}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"apiKey": {"type": "http", "scheme": "bearer", "description": "An Odoo API key."}},
        },
    }


def schema_for(name):
    """A standalone JSON Schema (draft 2020-12) for component ``name``, its references resolvable."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": {"schemas": SCHEMAS}, **_ref(name)}
