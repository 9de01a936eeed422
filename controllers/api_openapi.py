"""The OpenAPI 3.1 document of the REST API v1: the one place where requests and responses are described.

The controllers validate every request body against the schemas below (``jsonschema``,
draft 2020-12, the dialect of OpenAPI 3.1), and the tests validate every response against
them, so the document cannot drift from the code. Pure data: no Odoo import.
"""

API_VERSION = "v1"
API_PREFIX = "/api/subscription/v1"

#: the webhook event types (``type`` of an Event; an endpoint subscribes to them or to ``*``,
#: ``invoice.*`` patterns) and the schema of their ``data``
EVENT_TYPES = {
    "customer.created": "Customer",
    "customer.updated": "Customer",
    "subscription.created": "Subscription",
    "subscription.activated": "Subscription",
    "subscription.trial_will_end": "Subscription",
    "subscription.paused": "Subscription",
    "subscription.resumed": "Subscription",
    "subscription.cancellation_requested": "Subscription",
    "subscription.ended": "Subscription",
    "subscription.reactivated": "Subscription",
    "subscription.changed": "Subscription",
    "subscription.suspended": "Subscription",
    "subscription.unsuspended": "Subscription",
    "invoice.created": "Invoice",
    "invoice.posted": "Invoice",
    "invoice.paid": "Invoice",
    "invoice.payment_failed": "PaymentAttempt",
    "invoice.payment_returned": "PaymentReturn",
    "invoice.overdue": "Invoice",
    "dunning.letter_sent": "DunningLetter",
    "mandate.active": "PaymentMethod (type sepa_debit)",
    "mandate.revoked": "PaymentMethod (type sepa_debit)",
    "mandate.expired": "PaymentMethod (type sepa_debit)",
    "mandate.closed": "PaymentMethod (type sepa_debit)",
    "usage.rejected": "the rejected usage record's fields, its idempotency_key and the error",
}
_EVENT_TYPES_TEXT = "; ".join(f"{name} ({data})" for name, data in EVENT_TYPES.items())


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
DATE = {"type": "string", "format": "date", "pattern": "^(19|20|21)[0-9]{2}-", "description": "Years 1900 to 2199."}
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


ISO_DATE_OR_NULL = _nullable(DATE)
SCHEMAS.update(
    {
        "PlanPrice": {
            "type": "object",
            "required": ["currency", "unit_price"],
            "properties": {"currency": CURRENCY, "unit_price": MONEY},
            "additionalProperties": False,
        },
        "PriceTier": {
            "type": "object",
            "required": ["currency", "up_to", "unit_price", "flat_fee"],
            "properties": {
                "currency": CURRENCY,
                "up_to": _nullable({"type": "number"}),
                "unit_price": MONEY,
                "flat_fee": MONEY,
            },
            "additionalProperties": False,
        },
        "PlanLine": {
            "type": "object",
            "required": ["id", "product_id", "description", "quantity", "line_type", "optional", "pricing_model"],
            "properties": {
                "id": {"type": "integer"},
                "product_id": {"type": "integer"},
                "description": _nullable({"type": "string"}),
                "quantity": {"type": "number"},
                "line_type": {"type": "string"},
                "optional": {"type": "boolean"},
                "pricing_model": {"type": "string"},
                "included_quantity": {"type": "number"},
                "metric": _nullable({"type": "string"}),
                "prices": {"type": "array", "items": _ref("PlanPrice")},
                "tiers": {"type": "array", "items": _ref("PriceTier")},
            },
            "additionalProperties": False,
        },
        "Plan": {
            "type": "object",
            "required": ["id", "object", "code", "name", "currency", "billing_period", "lines"],
            "properties": {
                "id": {"type": "integer"},
                "object": {"const": "plan"},
                "code": {"type": "string"},
                "name": {"type": "string"},
                "currency": CURRENCY,
                "billing_period": {
                    "type": "object",
                    "required": ["count", "unit"],
                    "properties": {"count": {"type": "integer"}, "unit": {"type": "string"}},
                    "additionalProperties": False,
                },
                "billing_timing": {"type": "string"},
                "trial": _nullable(
                    {
                        "type": "object",
                        "properties": {"count": {"type": "integer"}, "unit": {"type": "string"}},
                        "additionalProperties": False,
                    }
                ),
                "lines": {"type": "array", "items": _ref("PlanLine")},
            },
            "additionalProperties": False,
        },
        "PlanList": _list_of("Plan"),
        "SubscriptionLine": {
            "type": "object",
            "required": ["id", "product_id", "description", "quantity", "unit_price", "subtotal", "line_type"],
            "properties": {
                "id": {"type": "integer"},
                "product_id": {"type": "integer"},
                "description": _nullable({"type": "string"}),
                "quantity": {"type": "number"},
                "unit_price": MONEY,
                "discount": {"type": "number"},
                "subtotal": MONEY,
                "line_type": {"type": "string"},
                "is_addon": {"type": "boolean"},
                "metric": _nullable({"type": "string"}),
            },
            "additionalProperties": False,
        },
        "Subscription": {
            "type": "object",
            "required": ["id", "object", "reference", "state", "customer_id", "plan_id", "currency", "lines"],
            "properties": {
                "id": {"type": "integer"},
                "object": {"const": "subscription"},
                "reference": {"type": "string"},
                "state": {"enum": ["draft", "trial", "active", "paused", "notice", "ended"]},
                "customer_id": {"type": "integer"},
                "plan_id": {"type": "integer"},
                "plan_code": {"type": "string"},
                "currency": CURRENCY,
                "start_date": DATE,
                "trial_end_date": ISO_DATE_OR_NULL,
                "current_period_start": ISO_DATE_OR_NULL,
                "current_period_end": ISO_DATE_OR_NULL,
                "next_invoice_date": ISO_DATE_OR_NULL,
                "pause_date": ISO_DATE_OR_NULL,
                "cancellation_request_date": ISO_DATE_OR_NULL,
                "end_date": ISO_DATE_OR_NULL,
                "recurring_total": MONEY,
                "mrr": MONEY,
                "lines": {"type": "array", "items": _ref("SubscriptionLine")},
            },
            "additionalProperties": False,
        },
        "SubscriptionList": _list_of("Subscription"),
        "SubscriptionLineInput": {
            "type": "object",
            "required": ["product_id"],
            "properties": {
                "product_id": {"type": "integer", "minimum": 1},
                "quantity": {"type": "number", "exclusiveMinimum": 0, "maximum": 1e9},
                "description": {"type": "string", "maxLength": 1024},
                "is_addon": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "SubscriptionCreate": {
            "type": "object",
            "required": ["customer_id"],
            "properties": {
                "customer_id": {"type": "integer", "minimum": 1},
                "plan_id": {"type": "integer", "minimum": 1},
                "plan_code": {"type": "string", "minLength": 1, "maxLength": 64},
                "start_date": DATE,
                "trial_end_date": DATE,
                "lines": {
                    "type": "array",
                    "maxItems": 100,
                    "items": _ref("SubscriptionLineInput"),
                    "description": "Replaces the plan's default lines when given.",
                },
                "coupon": {"type": "string", "minLength": 1, "maxLength": 64},
                "start": {"type": "boolean", "default": True, "description": "Start it at once (else a draft)."},
            },
            "oneOf": [{"required": ["plan_id"]}, {"required": ["plan_code"]}],
            "additionalProperties": False,
        },
        "EffectiveDate": {
            "type": "object",
            "properties": {"date": DATE},
            "additionalProperties": False,
        },
        "SubscriptionCancel": {
            "type": "object",
            "properties": {
                "request_date": DATE,
                "end_date": {**DATE, "description": "A later end than the earliest the terms allow."},
                "reason": {"type": "string", "maxLength": 1024},
            },
            "additionalProperties": False,
        },
        "InvoicePreviewLine": {
            "type": "object",
            "required": ["description", "quantity", "unit_price", "subtotal"],
            "properties": {
                "description": _nullable({"type": "string"}),
                "quantity": {"type": "number"},
                "unit_price": MONEY,
                "subtotal": MONEY,
                "period_start": ISO_DATE_OR_NULL,
                "period_end": ISO_DATE_OR_NULL,
            },
            "additionalProperties": False,
        },
        "InvoicePreview": {
            "type": "object",
            "required": ["object", "currency", "invoice_date", "amount_untaxed", "amount_tax", "amount_total", "lines"],
            "properties": {
                "object": {"const": "invoice_preview"},
                "currency": CURRENCY,
                "invoice_date": ISO_DATE_OR_NULL,
                "amount_untaxed": MONEY,
                "amount_tax": MONEY,
                "amount_total": MONEY,
                "lines": {"type": "array", "items": _ref("InvoicePreviewLine")},
            },
            "additionalProperties": False,
        },
        "UpcomingInvoiceLine": {
            "type": "object",
            "required": [
                "description",
                "quantity",
                "unit_price",
                "subtotal",
                "to_be_rated",
                "period_start",
                "period_end",
            ],
            "properties": {
                "subscription_id": {"type": "integer"},
                "description": _nullable({"type": "string"}),
                "quantity": {"type": "number"},
                "unit_price": MONEY,
                "discount": {"type": "number"},
                "subtotal": _nullable(MONEY),
                "to_be_rated": {"type": "boolean", "description": "Metered usage: rated when the invoice is made."},
                "period_start": ISO_DATE_OR_NULL,
                "period_end": ISO_DATE_OR_NULL,
            },
            "additionalProperties": False,
        },
        "UpcomingInvoice": {
            "type": "object",
            "required": [
                "object",
                "subscription_id",
                "currency",
                "invoice_date",
                "amount_untaxed",
                "amount_tax",
                "amount_total",
                "lines",
            ],
            "properties": {
                "object": {"const": "upcoming_invoice"},
                "subscription_id": {"type": "integer"},
                "subscription_ids": {
                    "type": "array",
                    "items": {"type": "integer"},
                    "description": "All subscriptions on the invoice (a customer who groups its invoices).",
                },
                "currency": CURRENCY,
                "invoice_date": DATE,
                "amount_untaxed": MONEY,
                "amount_tax": MONEY,
                "amount_total": MONEY,
                "has_usage": {"type": "boolean", "description": "Metered usage is added when rated."},
                "lines": {"type": "array", "items": _ref("UpcomingInvoiceLine")},
            },
            "additionalProperties": False,
        },
        "UsageRecordInput": {
            "type": "object",
            "properties": {
                "subscription_id": {"type": "integer"},
                "customer_id": {"type": "integer", "description": "Instead of subscription_id: its one metering one."},
                "metric": {"type": "string", "description": "Metric code."},
                "metric_id": {"type": "integer"},
                "quantity": {"type": "number"},
                "timestamp": {"type": "string", "description": "ISO 8601 date-time; UTC when no offset."},
                "idempotency_key": {"type": "string", "maxLength": 255},
                "value": {"type": "string"},
                "attributes": {"type": "object"},
            },
            "additionalProperties": False,
        },
        "UsageBatch": {
            "type": "object",
            "required": ["records"],
            "properties": {
                "records": {"type": "array", "minItems": 1, "maxItems": 1000, "items": _ref("UsageRecordInput")}
            },
            "additionalProperties": False,
        },
        "UsageResult": {
            "type": "object",
            "required": ["idempotency_key", "status", "id", "error"],
            "properties": {
                "idempotency_key": _nullable({"type": "string"}),
                "status": {"enum": ["created", "duplicate", "rejected"]},
                "id": _nullable({"type": "integer"}),
                "error": _nullable({"type": "string"}),
            },
            "additionalProperties": False,
        },
        "UsageBatchResult": {
            "type": "object",
            "required": ["object", "created", "duplicate", "rejected", "results"],
            "properties": {
                "object": {"const": "usage_batch_result"},
                "created": {"type": "integer"},
                "duplicate": {"type": "integer"},
                "rejected": {"type": "integer"},
                "results": {"type": "array", "items": _ref("UsageResult")},
            },
            "additionalProperties": False,
        },
        "InvoiceLine": {
            "type": "object",
            "required": ["id", "description", "quantity", "unit_price", "subtotal", "total"],
            "properties": {
                "id": {"type": "integer"},
                "product_id": _nullable({"type": "integer"}),
                "description": _nullable({"type": "string"}),
                "quantity": {"type": "number"},
                "unit_price": MONEY,
                "subtotal": MONEY,
                "total": MONEY,
                "subscription_id": _nullable({"type": "integer"}),
                "period_start": ISO_DATE_OR_NULL,
                "period_end": ISO_DATE_OR_NULL,
            },
            "additionalProperties": False,
        },
        "Invoice": {
            "type": "object",
            "required": ["id", "object", "number", "type", "state", "payment_state", "customer_id", "currency"],
            "properties": {
                "id": {"type": "integer"},
                "object": {"const": "invoice"},
                "number": _nullable({"type": "string"}),
                "type": {"enum": ["invoice", "credit_note"]},
                "state": {"type": "string"},
                "payment_state": {"type": "string"},
                "customer_id": {"type": "integer"},
                "currency": CURRENCY,
                "invoice_date": ISO_DATE_OR_NULL,
                "due_date": ISO_DATE_OR_NULL,
                "amount_untaxed": MONEY,
                "amount_tax": MONEY,
                "amount_total": MONEY,
                "amount_residual": MONEY,
                "subscription_ids": {"type": "array", "items": {"type": "integer"}},
                "lines": {"type": "array", "items": _ref("InvoiceLine")},
            },
            "additionalProperties": False,
        },
        "InvoiceList": _list_of("Invoice"),
        "WebhookEndpoint": {
            "type": "object",
            "required": ["id", "object", "name", "url", "event_types", "active", "consecutive_failures"],
            "properties": {
                "id": {"type": "integer"},
                "object": {"const": "webhook_endpoint"},
                "name": {"type": "string"},
                "url": {"type": "string"},
                "event_types": {"type": "string"},
                "active": {"type": "boolean"},
                "consecutive_failures": {"type": "integer"},
                "disabled_reason": _nullable({"type": "string"}),
                "secret": {"type": "string", "description": "Only in the answer to the creation."},
            },
            "additionalProperties": False,
        },
        "WebhookEndpointList": _list_of("WebhookEndpoint"),
        "WebhookEndpointCreate": {
            "type": "object",
            "required": ["url"],
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 128},
                "url": {"type": "string", "minLength": 8, "maxLength": 2048},
                "event_types": {"type": "string", "minLength": 1, "maxLength": 1024},
            },
            "additionalProperties": False,
        },
        "WebhookEndpointUpdate": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "minLength": 1, "maxLength": 128},
                "url": {"type": "string", "minLength": 8, "maxLength": 2048},
                "event_types": {"type": "string", "minLength": 1, "maxLength": 1024},
                "active": {"type": "boolean"},
            },
            "additionalProperties": False,
        },
        "Event": {
            "type": "object",
            "required": ["id", "object", "type", "timestamp", "api_version", "data"],
            "properties": {
                "id": {"type": "string"},
                "object": {"const": "event"},
                "type": {
                    "type": "string",
                    "description": f"The event type and the schema of its data: {_EVENT_TYPES_TEXT}.",
                },
                "timestamp": {"type": "string"},
                "api_version": {"type": "string"},
                "data": {"type": "object"},
            },
            "additionalProperties": False,
        },
        "EventList": _list_of("Event"),
        "PaymentAttempt": {
            "type": "object",
            "description": "The data of invoice.payment_failed: one failed automatic charge of an invoice.",
            "required": ["id", "object", "attempt", "failure_kind", "next_attempt_date", "invoice"],
            "properties": {
                "id": {"type": "integer"},
                "object": {"const": "payment_attempt"},
                "reference": {"type": "string"},
                "attempt": {"type": "integer", "minimum": 1, "description": "Failures of the invoice so far."},
                "failure_kind": {"enum": ["soft", "hard", None], "description": "A hard failure is not retried."},
                "next_attempt_date": _nullable(
                    {**DATE, "description": "Null: charging gave up, the invoice goes to dunning."}
                ),
                "reason": _nullable({"type": "string"}),
                "amount": MONEY,
                "currency": CURRENCY,
                "invoice": _ref("Invoice"),
            },
            "additionalProperties": False,
        },
        "PaymentReturn": {
            "type": "object",
            "description": "The data of invoice.payment_returned: a booked SEPA direct debit came back; "
            "the invoice is open again.",
            "required": ["id", "object", "return_date", "reason_code", "amount", "invoice"],
            "properties": {
                "id": {"type": "integer"},
                "object": {"const": "payment_return"},
                "return_date": DATE,
                "reason_code": {"type": "string", "description": "The ISO 20022 return reason (AM04, MD06, ...)."},
                "reason": {"type": "string"},
                "amount": MONEY,
                "currency": CURRENCY,
                "mandate_id": _nullable({"type": "integer"}),
                "invoice": _ref("Invoice"),
            },
            "additionalProperties": False,
        },
        "DunningLetterItem": {
            "type": "object",
            "required": ["invoice_id", "number", "due_date", "amount_residual", "level"],
            "properties": {
                "invoice_id": {"type": "integer"},
                "number": _nullable({"type": "string"}),
                "due_date": ISO_DATE_OR_NULL,
                "amount_residual": MONEY,
                "currency": CURRENCY,
                "level": _nullable({"type": "string", "description": "The highest level the item reached."}),
                "reached_level_now": {"type": "boolean", "description": "The item reached its level with this letter."},
                "days_overdue": _nullable({"type": "integer"}),
                "interest": _nullable(MONEY),
                "flat_fee": _nullable(MONEY),
            },
            "additionalProperties": False,
        },
        "DunningLetter": {
            "type": "object",
            "description": "The data of dunning.letter_sent: one letter to one customer on one day.",
            "required": ["id", "object", "customer_id", "date", "level", "currency", "amount_total", "items"],
            "properties": {
                "id": {"type": "integer"},
                "object": {"const": "dunning_letter"},
                "customer_id": {"type": "integer"},
                "date": DATE,
                "level": {
                    "type": "object",
                    "required": ["id", "name", "days_after_due"],
                    "properties": {
                        "id": {"type": "integer"},
                        "name": {"type": "string"},
                        "days_after_due": {"type": "integer"},
                    },
                    "additionalProperties": False,
                },
                "state": {"enum": ["to_send", "sent"]},
                "currency": CURRENCY,
                "amount_overdue": MONEY,
                "fee_amount": MONEY,
                "flat_fee_amount": MONEY,
                "interest_amount": MONEY,
                "amount_total": MONEY,
                "fee_invoice_id": _nullable({"type": "integer"}),
                "items": {"type": "array", "items": _ref("DunningLetterItem")},
            },
            "additionalProperties": False,
        },
        "PaymentMethod": {
            "type": "object",
            "required": ["id", "object", "type", "customer_id", "state"],
            "properties": {
                "id": {"type": "integer"},
                "object": {"const": "payment_method"},
                "type": {"enum": ["sepa_debit", "token"]},
                "customer_id": {"type": "integer"},
                "state": {"type": "string"},
                "mandate_reference": {"type": "string"},
                "iban_last4": _nullable({"type": "string"}),
                "scheme": {"enum": ["CORE", "B2B"]},
                "mandate_type": {"enum": ["recurrent", "oneoff"]},
                "signature_date": ISO_DATE_OR_NULL,
                "subscription_ids": {"type": "array", "items": {"type": "integer"}},
                "provider": {"type": "string"},
                "details": _nullable({"type": "string"}),
            },
            "additionalProperties": False,
        },
        "PaymentMethodList": {
            "type": "object",
            "required": ["object", "data"],
            "properties": {"object": {"const": "list"}, "data": {"type": "array", "items": _ref("PaymentMethod")}},
            "additionalProperties": False,
        },
        "SepaMandateCreate": {
            "type": "object",
            "required": ["iban", "consent"],
            "properties": {
                "iban": {"type": "string", "minLength": 15, "maxLength": 42},
                "account_holder": {"type": "string", "maxLength": 128},
                "consent": {
                    "type": "object",
                    "required": ["date", "channel"],
                    "properties": {
                        "date": DATE,
                        "channel": {"enum": ["online", "paper", "phone"]},
                        "place": {"type": "string", "maxLength": 128},
                    },
                    "additionalProperties": False,
                },
                "scheme": {"enum": ["CORE", "B2B"], "default": "CORE"},
                "mandate_type": {"enum": ["recurrent", "oneoff"], "default": "recurrent"},
                "reference": {"type": "string", "minLength": 1, "maxLength": 35},
                "subscription_id": {
                    "type": "integer",
                    "minimum": 1,
                    "description": "Collect this subscription's invoices by direct debit with the mandate.",
                },
            },
            "additionalProperties": False,
        },
        "SubscriptionChangeInput": {
            "type": "object",
            "properties": {
                "plan_id": {"type": "integer", "minimum": 1},
                "plan_code": {"type": "string", "minLength": 1, "maxLength": 64},
                "lines": {
                    "type": "array",
                    "maxItems": 100,
                    "description": "Quantities per line of the target plan; default: its non-optional lines.",
                    "items": {
                        "type": "object",
                        "required": ["plan_line_id", "quantity"],
                        "properties": {
                            "plan_line_id": {"type": "integer", "minimum": 1},
                            "quantity": {"type": "number", "minimum": 0, "maximum": 1e9},
                        },
                        "additionalProperties": False,
                    },
                },
                "timing": {"enum": ["immediate", "period_end"], "default": "immediate"},
                "date": DATE,
            },
            "additionalProperties": False,
        },
        "ChangeCharge": {
            "type": "object",
            "required": ["description", "amount"],
            "properties": {
                "description": {"type": "string"},
                "amount": MONEY,
                "period_start": ISO_DATE_OR_NULL,
                "period_end": ISO_DATE_OR_NULL,
            },
            "additionalProperties": False,
        },
        "SubscriptionChange": {
            "type": "object",
            "required": ["object", "change_type", "timing", "effective_date", "state", "mrr_before", "mrr_after"],
            "properties": {
                "object": {"const": "subscription_change"},
                "id": _nullable({"type": "integer"}),
                "change_type": {"type": "string"},
                "timing": {"enum": ["immediate", "period_end"]},
                "effective_date": DATE,
                "state": {"type": "string"},
                "summary": _nullable({"type": "string"}),
                "old_plan_id": {"type": "integer"},
                "new_plan_id": {"type": "integer"},
                "mrr_before": MONEY,
                "mrr_after": MONEY,
                "charges": {"type": "array", "items": _ref("ChangeCharge")},
                "subscription": _ref("Subscription"),
            },
            "additionalProperties": False,
        },
    }
)

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


def _query(name, schema, description):
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


def _action(operation_id, summary, body_schema):
    return {
        "post": {
            "operationId": operation_id,
            "summary": summary,
            "parameters": [ID_PARAM, IDEMPOTENCY_PARAM],
            "requestBody": {**_body(body_schema), "required": False},
            "responses": {
                "200": _json_response("The subscription after the action.", "Subscription"),
                **_errors(400, 401, 403, 404, 409, 422),
            },
        }
    }


PATHS.update(
    {
        "/customers/{id}/payment_methods": {
            "get": {
                "operationId": "listPaymentMethods",
                "summary": "The customer's SEPA mandates and stored payment tokens.",
                "parameters": [ID_PARAM],
                "responses": {
                    "200": _json_response("The payment methods.", "PaymentMethodList"),
                    **_errors(401, 403, 404),
                },
            }
        },
        "/customers/{id}/payment_methods/sepa_debit": {
            "post": {
                "operationId": "createSepaMandate",
                "summary": "Record a SEPA direct debit mandate from an IBAN and the consent; active at once.",
                "parameters": [ID_PARAM, IDEMPOTENCY_PARAM],
                "requestBody": _body("SepaMandateCreate"),
                "responses": {
                    "201": _json_response("The mandate.", "PaymentMethod"),
                    **_errors(400, 401, 403, 404, 409, 422),
                },
            }
        },
        "/plans": {
            "get": {
                "operationId": "listPlans",
                "summary": "List the active plans with their prices per currency and tiers.",
                "parameters": LIST_PARAMS,
                "responses": {"200": _json_response("A page of plans.", "PlanList"), **_errors(400, 401, 403)},
            }
        },
        "/plans/{id}": {
            "get": {
                "operationId": "getPlan",
                "summary": "Read a plan.",
                "parameters": [ID_PARAM],
                "responses": {"200": _json_response("The plan.", "Plan"), **_errors(401, 403, 404)},
            }
        },
        "/subscriptions": {
            "get": {
                "operationId": "listSubscriptions",
                "summary": "List subscriptions, oldest first; filter by customer, plan and state.",
                "parameters": [
                    *LIST_PARAMS,
                    _query("customer_id", {"type": "integer"}, "Only this customer's."),
                    _query("plan_id", {"type": "integer"}, "Only this plan's."),
                    _query(
                        "state",
                        {"enum": ["draft", "trial", "active", "paused", "notice", "ended"]},
                        "Only in this state.",
                    ),
                ],
                "responses": {
                    "200": _json_response("A page of subscriptions.", "SubscriptionList"),
                    **_errors(400, 401, 403),
                },
            },
            "post": {
                "operationId": "createSubscription",
                "summary": "Create (and by default start) a subscription: plan lines or given lines, trial, coupon.",
                "parameters": [IDEMPOTENCY_PARAM],
                "requestBody": _body("SubscriptionCreate"),
                "responses": {
                    "201": _json_response("The subscription.", "Subscription"),
                    **_errors(400, 401, 403, 409, 422),
                },
            },
        },
        "/subscriptions/preview": {
            "post": {
                "operationId": "previewSubscription",
                "summary": "The first invoice the subscription would get; computed, nothing is stored.",
                "parameters": [IDEMPOTENCY_PARAM],
                "requestBody": _body("SubscriptionCreate"),
                "responses": {
                    "200": _json_response("The invoice preview.", "InvoicePreview"),
                    **_errors(400, 401, 403, 409, 422),
                },
            }
        },
        "/subscriptions/{id}": {
            "get": {
                "operationId": "getSubscription",
                "summary": "Read a subscription.",
                "parameters": [ID_PARAM],
                "responses": {"200": _json_response("The subscription.", "Subscription"), **_errors(401, 403, 404)},
            }
        },
        "/subscriptions/{id}/upcoming_invoice": {
            "get": {
                "operationId": "getUpcomingInvoice",
                "summary": "The next invoice the billing runs will create, projected; nothing is stored or locked.",
                "parameters": [ID_PARAM],
                "responses": {
                    "200": _json_response("The upcoming invoice.", "UpcomingInvoice"),
                    **_errors(401, 403, 404),
                },
            }
        },
        "/subscriptions/{id}/pause": _action(
            "pauseSubscription", "Pause from `date` (default today).", "EffectiveDate"
        ),
        "/subscriptions/{id}/resume": _action(
            "resumeSubscription", "Resume on `date` (default today).", "EffectiveDate"
        ),
        "/subscriptions/{id}/cancel": _action(
            "cancelSubscription",
            "Give notice on `request_date` (default today): ends at the earliest date the terms allow, "
            "or the later `end_date`.",
            "SubscriptionCancel",
        ),
        "/subscriptions/{id}/reactivate": _action(
            "reactivateSubscription",
            "Withdraw the notice, or restart an ended subscription on `date` (default today).",
            "EffectiveDate",
        ),
        "/subscriptions/{id}/change": {
            "post": {
                "operationId": "changeSubscription",
                "summary": "Change plan or quantities now (prorated credits and charges) or at the period end.",
                "parameters": [ID_PARAM, IDEMPOTENCY_PARAM],
                "requestBody": _body("SubscriptionChangeInput"),
                "responses": {
                    "200": _json_response("The change, applied or scheduled.", "SubscriptionChange"),
                    **_errors(400, 401, 403, 404, 409, 422),
                },
            }
        },
        "/subscriptions/{id}/change/preview": {
            "post": {
                "operationId": "previewSubscriptionChange",
                "summary": "What the change would do (MRR, prorated credits and charges); nothing is stored.",
                "parameters": [ID_PARAM, IDEMPOTENCY_PARAM],
                "requestBody": _body("SubscriptionChangeInput"),
                "responses": {
                    "200": _json_response("The change as it would be.", "SubscriptionChange"),
                    **_errors(400, 401, 403, 404, 409, 422),
                },
            }
        },
        "/webhook_endpoints": {
            "get": {
                "operationId": "listWebhookEndpoints",
                "summary": "The webhook endpoints of the key user's companies.",
                "parameters": LIST_PARAMS,
                "responses": {
                    "200": _json_response("A page of endpoints.", "WebhookEndpointList"),
                    **_errors(400, 401, 403),
                },
            },
            "post": {
                "operationId": "createWebhookEndpoint",
                "summary": "Add an endpoint; the answer holds its signing secret (the only time it is shown).",
                "parameters": [IDEMPOTENCY_PARAM],
                "requestBody": _body("WebhookEndpointCreate"),
                "responses": {
                    "201": _json_response("The endpoint with its secret.", "WebhookEndpoint"),
                    **_errors(400, 401, 403, 409, 422),
                },
            },
        },
        "/webhook_endpoints/{id}": {
            "get": {
                "operationId": "getWebhookEndpoint",
                "summary": "Read an endpoint.",
                "parameters": [ID_PARAM],
                "responses": {"200": _json_response("The endpoint.", "WebhookEndpoint"), **_errors(401, 403, 404)},
            },
            "patch": {
                "operationId": "updateWebhookEndpoint",
                "summary": "Change URL, event types, name; `active: true` enables a disabled endpoint again.",
                "parameters": [ID_PARAM],
                "requestBody": _body("WebhookEndpointUpdate"),
                "responses": {
                    "200": _json_response("The endpoint.", "WebhookEndpoint"),
                    **_errors(400, 401, 403, 404, 422),
                },
            },
        },
        "/events": {
            "get": {
                "operationId": "listEvents",
                "summary": "Recent webhook events of the key user's companies, newest first; filter by type.",
                "parameters": [*LIST_PARAMS, _query("type", {"type": "string"}, "Only events of this type.")],
                "responses": {"200": _json_response("A page of events.", "EventList"), **_errors(400, 401, 403)},
            }
        },
        "/usage_records": {
            "post": {
                "operationId": "ingestUsage",
                "summary": "Report up to 1,000 usage records; each is created, a duplicate (its key is known) "
                "or rejected with the reason.",
                "parameters": [IDEMPOTENCY_PARAM],
                "requestBody": _body("UsageBatch"),
                "responses": {
                    "200": _json_response("One result per record, in order.", "UsageBatchResult"),
                    **_errors(400, 401, 403, 409, 422),
                },
            }
        },
        "/invoices": {
            "get": {
                "operationId": "listInvoices",
                "summary": "List subscription invoices and credit notes; filter by customer or subscription.",
                "parameters": [
                    *LIST_PARAMS,
                    _query("customer_id", {"type": "integer"}, "Only this customer's."),
                    _query("subscription_id", {"type": "integer"}, "Only those billing this subscription."),
                ],
                "responses": {"200": _json_response("A page of invoices.", "InvoiceList"), **_errors(400, 401, 403)},
            }
        },
        "/invoices/{id}": {
            "get": {
                "operationId": "getInvoice",
                "summary": "Read an invoice with its lines and service periods.",
                "parameters": [ID_PARAM],
                "responses": {"200": _json_response("The invoice.", "Invoice"), **_errors(401, 403, 404)},
            }
        },
        "/invoices/{id}/pdf": {
            "get": {
                "operationId": "getInvoicePdf",
                "summary": "The invoice as PDF.",
                "parameters": [ID_PARAM],
                "responses": {
                    "200": {
                        "description": "The PDF.",
                        "content": {"application/pdf": {"schema": {"type": "string", "format": "binary"}}},
                    },
                    **_errors(401, 403, 404),
                },
            }
        },
    }
)

RATE_LIMIT_HEADERS = {
    "RateLimit-Limit": {
        "description": "Requests per minute allowed for the API key's user (absent when the limit is off).",
        "schema": {"type": "integer", "minimum": 1},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current one-minute window.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the current window ends and the count starts again.",
        "schema": {"type": "integer", "minimum": 1, "maximum": 60},
    },
}
RETRY_AFTER_HEADER = {
    "description": "Seconds to wait before the next request is accepted (the start of the next window).",
    "schema": {"type": "integer", "minimum": 1, "maximum": 60},
}


def _add_rate_limit(paths):
    """Every operation may answer 429 (rate limited); every answer carries the RateLimit-* headers."""
    for operations in paths.values():
        for operation in operations.values():
            responses = {
                **operation["responses"],
                "429": {
                    "description": "Too many requests for the key's user in this minute; retry after `Retry-After`.",
                    "headers": {"Retry-After": RETRY_AFTER_HEADER},
                    **PROBLEM_RESPONSE,
                },
            }
            operation["responses"] = {
                status: {**response, "headers": {**RATE_LIMIT_HEADERS, **response.get("headers", {})}}
                for status, response in responses.items()
            }


_add_rate_limit(PATHS)


# ----------------------------------------------------------------------
# Self-service sessions: issued with an API key, used with the session token from a browser
# ----------------------------------------------------------------------
SCHEMAS.update(
    {
        "PortalSessionCreate": {
            "type": "object",
            "properties": {
                "ttl_seconds": {
                    "type": "integer",
                    "minimum": 60,
                    "maximum": 3600,
                    "default": 900,
                    "description": "Lifetime of the token in seconds (default 15 minutes).",
                }
            },
            "additionalProperties": False,
        },
        "PortalSession": {
            "type": "object",
            "required": ["id", "object", "subscription_id", "expires_at", "revoked"],
            "properties": {
                "id": {"type": "integer"},
                "object": {"const": "portal_session"},
                "subscription_id": {"type": "integer"},
                "expires_at": DATETIME,
                "revoked": {"type": "boolean"},
                "token": {
                    "type": "string",
                    "description": "Only in the answer that issued it; the server keeps its SHA-256 only.",
                },
            },
            "additionalProperties": False,
        },
        "PortalSubscription": {
            "type": "object",
            "required": [
                "object",
                "subscription",
                "allowed_actions",
                "earliest_end_date",
                "max_pause_days",
                "plans",
                "session_expires_at",
            ],
            "properties": {
                "object": {"const": "portal_subscription"},
                "subscription": _ref("Subscription"),
                "allowed_actions": {
                    "type": "object",
                    "required": ["change", "pause", "resume", "cancel", "reactivate"],
                    "properties": {
                        name: {"type": "boolean"} for name in ("change", "pause", "resume", "cancel", "reactivate")
                    },
                    "additionalProperties": False,
                },
                "earliest_end_date": _nullable(
                    {**DATE, "description": "Last day of service of a cancellation given today; null: not allowed."}
                ),
                "max_pause_days": {"type": "integer"},
                "plans": {
                    "type": "array",
                    "description": "The plans the customer may change to (the current one included).",
                    "items": {
                        "type": "object",
                        "required": ["id", "name", "code"],
                        "properties": {
                            "id": {"type": "integer"},
                            "name": {"type": "string"},
                            "code": _nullable({"type": "string"}),
                        },
                        "additionalProperties": False,
                    },
                },
                "session_expires_at": DATETIME,
            },
            "additionalProperties": False,
        },
        "PortalChangeInput": {
            "type": "object",
            "properties": {
                "plan_id": {"type": "integer", "minimum": 1, "description": "Default: the current plan."},
                "lines": {
                    "type": "array",
                    "maxItems": 100,
                    "description": "Quantities per line of the target plan; default: the plan's quantities.",
                    "items": {
                        "type": "object",
                        "required": ["plan_line_id", "quantity"],
                        "properties": {
                            "plan_line_id": {"type": "integer", "minimum": 1},
                            "quantity": {"type": "number", "minimum": 0, "maximum": 1e9},
                        },
                        "additionalProperties": False,
                    },
                },
                "timing": {"enum": ["immediate", "period_end"], "default": "period_end"},
            },
            "additionalProperties": False,
        },
        "PortalPauseInput": {
            "type": "object",
            "required": ["resume_date"],
            "properties": {"resume_date": {**DATE, "description": "The first day of service again."}},
            "additionalProperties": False,
        },
        "PortalCancelInput": {
            "type": "object",
            "properties": {"reason_id": {"type": "integer", "minimum": 1}},
            "additionalProperties": False,
        },
        "PortalSessionEnded": {
            "type": "object",
            "required": ["object", "revoked"],
            "properties": {"object": {"const": "portal_session_ended"}, "revoked": {"const": True}},
            "additionalProperties": False,
        },
    }
)

SESSION_SECURITY = [{"portalSession": []}]


def _session_errors(*statuses):
    texts = {
        400: "Malformed request body (JSON).",
        401: "Missing, wrong, expired or revoked session token.",
        403: "The token is for another subscription, or the browser's origin is not allowed.",
        404: "No such route.",
        409: "The action is not allowed for this subscription now (plan settings, state).",
        422: "Validation failed; `field` names the offending input.",
    }
    return {str(status): {"description": texts[status], **PROBLEM_RESPONSE} for status in statuses}


def _session_op(operation_id, summary, response, body_schema=None):
    operation = {
        "operationId": operation_id,
        "summary": summary,
        "security": SESSION_SECURITY,
        "parameters": [ID_PARAM],
        "responses": {
            "200": response,
            **_session_errors(*((400, 401, 403, 404, 409, 422) if body_schema else (401, 403, 404))),
        },
    }
    if body_schema:
        operation["requestBody"] = _body(body_schema)
    return operation


PATHS.update(
    {
        "/subscriptions/{id}/portal_sessions": {
            "post": {
                "operationId": "createPortalSession",
                "summary": "Issue a short-lived self-service token of the subscription for the customer's browser "
                "(JavaScript SDK); the token is shown only in this answer.",
                "parameters": [ID_PARAM, IDEMPOTENCY_PARAM],
                "requestBody": {**_body("PortalSessionCreate"), "required": False},
                "responses": {
                    "201": _json_response("The session with its token.", "PortalSession"),
                    **_errors(400, 401, 403, 404, 409, 422),
                },
            }
        },
        "/subscriptions/{id}/portal_sessions/{session_id}/revoke": {
            "post": {
                "operationId": "revokePortalSession",
                "summary": "Revoke a self-service session: its token is refused from the next request on.",
                "parameters": [
                    ID_PARAM,
                    {**ID_PARAM, "name": "session_id"},
                    IDEMPOTENCY_PARAM,
                ],
                "responses": {
                    "200": _json_response("The revoked session.", "PortalSession"),
                    **_errors(400, 401, 403, 404, 409),
                },
            }
        },
    }
)
# issued and revoked with the API key: rate-limited like every API key route (the session routes are not)
_add_rate_limit(
    {path: operations for path, operations in PATHS.items() if path.endswith(("/portal_sessions", "/revoke"))}
)

PATHS.update(
    {
        "/portal/subscriptions/{id}": {
            "get": _session_op(
                "portalGetSubscription",
                "With a session token: the subscription, what the customer may do now, the plans to change to "
                "and the earliest end date of a cancellation given today.",
                _json_response("The subscription as its customer sees it.", "PortalSubscription"),
            )
        },
        "/portal/subscriptions/{id}/change/preview": {
            "post": _session_op(
                "portalPreviewChange",
                "With a session token: what the plan change would do (prorated credits and charges); nothing is "
                "stored.",
                _json_response("The change as it would be.", "SubscriptionChange"),
                "PortalChangeInput",
            )
        },
        "/portal/subscriptions/{id}/change": {
            "post": _session_op(
                "portalChange",
                "With a session token: change plan or quantities, at the period end (default) or now.",
                _json_response("The change, applied or scheduled.", "SubscriptionChange"),
                "PortalChangeInput",
            )
        },
        "/portal/subscriptions/{id}/pause": {
            "post": _session_op(
                "portalPause",
                "With a session token: pause from today until `resume_date` (within the plan's longest pause).",
                _json_response("The subscription after the pause.", "PortalSubscription"),
                "PortalPauseInput",
            )
        },
        "/portal/subscriptions/{id}/cancel": {
            "post": _session_op(
                "portalCancel",
                "With a session token: give notice today; the subscription ends on the earliest end date.",
                _json_response("The subscription after the notice.", "PortalSubscription"),
                "PortalCancelInput",
            )
        },
        "/portal/session": {
            "delete": {
                "operationId": "portalEndSession",
                "summary": "With a session token: end the session (log out); the token is refused from now on.",
                "security": SESSION_SECURITY,
                "responses": {
                    "200": _json_response("The session ended.", "PortalSessionEnded"),
                    **_session_errors(401, 403),
                },
            }
        },
    }
)


def _add_links(paths):
    """OpenAPI links: the ``id`` of a resource a POST creates (201) feeds every operation on it
    (``/customers`` -> ``/customers/{id}``, ``/customers/{id}/payment_methods``, ...), so clients
    and stateful testing (Schemathesis) can follow create -> read -> act."""
    for path, operations in paths.items():
        created = operations.get("post", {}).get("responses", {}).get("201")
        if not created or "{" in path:
            continue
        links = {}
        for other_path, other_operations in paths.items():
            if not other_path.startswith(f"{path}/{{id}}"):
                continue
            for operation in other_operations.values():
                links[operation["operationId"]] = {
                    "operationId": operation["operationId"],
                    "parameters": {"id": "$response.body#/id"},
                }
        if links:
            created["links"] = links


_add_links(PATHS)


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
            "securitySchemes": {
                "apiKey": {"type": "http", "scheme": "bearer", "description": "An Odoo API key."},
                "portalSession": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A self-service session token (`sbps_...`) from createPortalSession; "
                    "browsers of the company's SDK Allowed Origins may send it (CORS).",
                },
            },
        },
    }


def schema_for(name):
    """A standalone JSON Schema (draft 2020-12) for component ``name``, its references resolvable."""
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "components": {"schemas": SCHEMAS}, **_ref(name)}
