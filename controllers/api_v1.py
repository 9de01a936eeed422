"""REST API v1 of subscription billing: thin routes over the models' own methods.

Request and response shapes are described in :mod:`.api_openapi`; authentication, errors and
idempotency live in :mod:`.api_common`. A handler reads the validated body, calls the
models and shapes the result; it holds no billing logic.
"""

import json

from markupsafe import Markup

from odoo import fields, http
from odoo.http import request

from .api_common import (
    ApiError,
    RawResponse,
    api_route,
    decode_cursor,
    encode_cursor,
    iso_date,
    money,
    negotiate_lang,
    not_found,
    paginate,
    parse_limit,
    problem_body,
)
from .api_openapi import API_PREFIX, openapi_document
from .api_serializers import (
    change_data,
    customer_data,
    invoice_data,
    mandate_data,
    plan_data,
    portal_session_data,
    subscription_data,
    token_data,
    upcoming_invoice_data,
)


class SubscriptionApiV1(http.Controller):
    # ------------------------------------------------------------------
    # Document
    # ------------------------------------------------------------------
    @http.route(f"{API_PREFIX}/openapi.json", type="http", auth="none", methods=["GET"], save_session=False)
    def openapi_json(self):
        """The OpenAPI 3.1 document; public, it holds no data."""
        document = openapi_document(request.httprequest.host_url)
        return request.make_response(
            json.dumps(document, indent=1), headers=[("Content-Type", "application/json; charset=utf-8")]
        )

    @http.route(f"{API_PREFIX}/docs", type="http", auth="none", methods=["GET"], save_session=False)
    def openapi_docs(self):
        """A browsable page of the OpenAPI document: every operation, its parameters, body and answers,
        generated from the same document (no external script), with the JSON schemas at the end."""
        document = openapi_document(request.httprequest.host_url)
        html = Markup(
            "<!DOCTYPE html><html><head><meta charset='utf-8'><title>%s</title><style>"
            "body{font-family:sans-serif;max-width:60em;margin:2em auto}code,pre{background:#f4f4f4}"
            "h3{margin-bottom:.2em}.m{font-weight:bold;text-transform:uppercase}</style></head><body>"
            "<h1>%s %s</h1><p>%s</p><p>Machine-readable: <a href='openapi.json'>openapi.json</a> (OpenAPI 3.1)</p>"
        ) % (
            document["info"]["title"],
            document["info"]["title"],
            document["info"]["version"],
            document["info"]["description"],
        )
        for path, operations in document["paths"].items():
            for method, operation in operations.items():
                html += Markup("<h3><span class='m'>%s</span> <code>%s%s</code></h3><p>%s</p>") % (
                    method,
                    API_PREFIX,
                    path,
                    operation.get("summary", ""),
                )
                params = ", ".join(f"{p['name']} ({p['in']})" for p in operation.get("parameters", []))
                if params:
                    html += Markup("<p>Parameters: %s</p>") % params
                body = operation.get("requestBody", {}).get("content", {}).get("application/json", {})
                if body:
                    html += Markup("<p>Body: <a href='#%s'>%s</a></p>") % (
                        body["schema"]["$ref"].rsplit("/", 1)[1],
                        body["schema"]["$ref"].rsplit("/", 1)[1],
                    )
                answers = ", ".join(f"{code}" for code in operation["responses"])
                html += Markup("<p>Answers: %s</p>") % answers
        html += Markup("<h2>Schemas</h2>")
        for name, schema in document["components"]["schemas"].items():
            html += Markup("<h3 id='%s'>%s</h3><pre>%s</pre>") % (name, name, json.dumps(schema, indent=1))
        html += Markup("</body></html>")
        return request.make_response(str(html), headers=[("Content-Type", "text/html; charset=utf-8")])

    @http.route(
        [f"{API_PREFIX}/<path:rest>", API_PREFIX],
        type="http",
        auth="none",
        methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        csrf=False,
        save_session=False,
    )
    def unknown_route(self, rest=None):
        """Anything else below the prefix: a problem+json 404, not Odoo's HTML page."""
        env = request.env(context=dict(request.env.context, lang=negotiate_lang(request.env)))
        body = problem_body(
            404, "route_not_found", env._("There is no API route %(path)s.", path=request.httprequest.path)
        )
        return request.make_response(
            json.dumps(body, ensure_ascii=False),
            headers=[("Content-Type", "application/problem+json; charset=utf-8")],
            status=404,
        )

    # ------------------------------------------------------------------
    # Customers
    # ------------------------------------------------------------------
    def _customer_domain(self, env):
        # commercial partners the key user may read: the record rules keep company B's customers
        # (created with company B's key) away from company A's key
        return [("parent_id", "=", False)]

    def _get_customer(self, env, customer_id):
        partner = env["res.partner"].search([*self._customer_domain(env), ("id", "=", customer_id)])
        if not partner:
            raise not_found(env._("Customer %(id)s does not exist.", id=customer_id))
        return partner

    def _customer_values(self, env, body):
        """res.partner values of a create/update body; unknown languages and countries are refused."""
        vals = {}
        for name in ("name", "email", "vat", "is_company"):
            if name in body:
                vals[name] = body[name] if body[name] is not None else False
        if body.get("lang") is not None:
            langs = dict(env["res.lang"].get_installed())
            if body["lang"] not in langs:
                raise ApiError(
                    422,
                    "invalid_lang",
                    env._("The language %(lang)s is not active in this database.", lang=body["lang"]),
                    "lang",
                )
            vals["lang"] = body["lang"]
        address = body.get("address") or {}
        for name in ("street", "street2", "zip", "city"):
            if name in address:
                vals[name] = address[name] or False
        if address.get("country"):
            country = env["res.country"].search([("code", "=", address["country"])], limit=1)
            if not country:
                raise ApiError(
                    422,
                    "invalid_country",
                    env._("The country %(country)s is unknown.", country=address["country"]),
                    "address.country",
                )
            vals["country_id"] = country.id
        elif "country" in address:
            vals["country_id"] = False
        return vals

    def _set_invoice_email(self, partner, body):
        if "invoice_email" not in body:
            return
        contact = partner.child_ids.filtered(lambda child: child.type == "invoice")[:1]
        if contact and body["invoice_email"]:
            contact.email = body["invoice_email"]
        elif contact:
            contact.unlink()
        elif body["invoice_email"]:
            partner.env["res.partner"].create(
                {"parent_id": partner.id, "type": "invoice", "email": body["invoice_email"], "name": partner.name}
            )

    @api_route("/customers", "POST", "CustomerCreate")
    def create_customer(self, env, body):
        vals = self._customer_values(env, body)
        partner = env["res.partner"].create({**vals, "company_id": env.company.id, "customer_rank": 1})
        self._set_invoice_email(partner, body)
        return 201, customer_data(partner)

    @api_route("/customers", "GET")
    def list_customers(self, env, body):
        domain = [*self._customer_domain(env), ("customer_rank", ">", 0)]
        return 200, paginate(env["res.partner"], domain, request.httprequest.args, customer_data, env)

    @api_route("/customers/<int:customer_id>", "GET")
    def get_customer(self, env, body, customer_id):
        return 200, customer_data(self._get_customer(env, customer_id))

    @api_route("/customers/<int:customer_id>", "PATCH", "CustomerUpdate")
    def update_customer(self, env, body, customer_id):
        partner = self._get_customer(env, customer_id)
        partner.write(self._customer_values(env, body))
        self._set_invoice_email(partner, body)
        return 200, customer_data(partner)

    # ------------------------------------------------------------------
    # Payment methods
    # ------------------------------------------------------------------
    @api_route("/customers/<int:customer_id>/payment_methods", "GET")
    def list_payment_methods(self, env, body, customer_id):
        customer = self._get_customer(env, customer_id)
        mandates = env["sepa.mandate"].search([("commercial_partner_id", "=", customer.id)], order="id")
        # tokens are read as superuser once the customer is known to be the caller's (Odoo keeps
        # payment.token to administrators)
        tokens = env["payment.token"].sudo().search([("partner_id", "child_of", customer.id)], order="id")
        data = [mandate_data(mandate) for mandate in mandates] + [token_data(token) for token in tokens]
        return 200, {"object": "list", "data": data}

    @api_route("/customers/<int:customer_id>/payment_methods/sepa_debit", "POST", "SepaMandateCreate")
    def create_sepa_mandate(self, env, body, customer_id):
        """Through the backend's own mandate wizard: IBAN check, bank account, mandate, activation."""
        customer = self._get_customer(env, customer_id)
        subscription = self._get_subscription(env, body["subscription_id"]) if body.get("subscription_id") else None
        if subscription and subscription.commercial_partner_id != customer:
            raise ApiError(
                422,
                "invalid_subscription",
                env._("Subscription %(id)s is not a subscription of this customer.", id=body["subscription_id"]),
                "subscription_id",
            )
        consent = body["consent"]
        wizard = env["sepa.mandate.wizard"].create(
            {
                "partner_id": customer.id,
                "subscription_id": subscription.id if subscription else False,
                "iban": body["iban"],
                "account_holder": body.get("account_holder") or False,
                "signature_date": consent["date"],
                "signature_place": consent.get("place") or False,
                "consent_channel": consent["channel"],
                "scheme": body.get("scheme", "CORE"),
                "mandate_type": body.get("mandate_type", "recurrent"),
                "reference": body.get("reference") or False,
            }
        )
        return 201, mandate_data(wizard._create_mandate())

    # ------------------------------------------------------------------
    # Plans
    # ------------------------------------------------------------------
    @api_route("/plans", "GET")
    def list_plans(self, env, body):
        return 200, paginate(env["subscription.plan"], [], request.httprequest.args, plan_data, env)

    @api_route("/plans/<int:plan_id>", "GET")
    def get_plan(self, env, body, plan_id):
        plan = env["subscription.plan"].search([("id", "=", plan_id)])
        if not plan:
            raise not_found(env._("Plan %(plan)s does not exist.", plan=plan_id))
        return 200, plan_data(plan)

    # ------------------------------------------------------------------
    # Subscriptions
    # ------------------------------------------------------------------
    def _get_subscription(self, env, subscription_id):
        subscription = env["subscription.subscription"].search([("id", "=", subscription_id)])
        if not subscription:
            raise not_found(env._("Subscription %(id)s does not exist.", id=subscription_id))
        return subscription

    def _resolve_plan(self, env, body):
        Plan = env["subscription.plan"]
        if body.get("plan_id"):
            plan = Plan.search([("id", "=", body["plan_id"])])
            field, value = "plan_id", body["plan_id"]
        else:
            plan = Plan.search([("code", "=", body["plan_code"])], limit=1)
            field, value = "plan_code", body["plan_code"]
        if not plan:
            raise ApiError(422, "invalid_plan", env._("Plan %(plan)s does not exist.", plan=value), field)
        return plan

    def _create_subscription(self, env, body, today, name=None):
        """Create the subscription of a create body through the model's own methods (lines from
        the plan or the given products, coupon, start); the controller adds no rule of its own.

        ``name`` replaces the sequence number (the preview, rolled back, must not consume one: a
        sequence does not roll back with the transaction)."""
        customer = env["res.partner"].search([*self._customer_domain(env), ("id", "=", body["customer_id"])])
        if not customer:
            raise ApiError(
                422,
                "invalid_customer",
                env._("Customer %(id)s does not exist.", id=body["customer_id"]),
                "customer_id",
            )
        plan = self._resolve_plan(env, body)
        vals = {
            "partner_id": customer.id,
            "plan_id": plan.id,
            "start_date": body.get("start_date") or today,
            "company_id": plan.company_id.id or customer.company_id.id or env.company.id,
        }
        if name:
            vals["name"] = name
        if body.get("trial_end_date"):
            vals["trial_end_date"] = body["trial_end_date"]
        sub = env["subscription.subscription"].create(vals)
        if body.get("lines"):
            sub.line_ids.unlink()
            Line = env["subscription.line"]
            for index, line in enumerate(body["lines"]):
                product = env["product.product"].search([("id", "=", line["product_id"])])
                if not product:
                    raise ApiError(
                        422,
                        "invalid_product",
                        env._("Product %(id)s does not exist.", id=line["product_id"]),
                        f"lines.{index}.product_id",
                    )
                plan_line = plan.line_ids.filtered(lambda pl, product=product: pl.product_id == product)[:1]
                if plan_line:
                    line_vals = sub._prepare_line_values_from_plan(plan_line, line.get("quantity"))
                else:
                    line_vals = {
                        "subscription_id": sub.id,
                        "product_id": product.id,
                        "quantity": line.get("quantity", 1.0),
                    }
                if line.get("description"):
                    line_vals["name"] = line["description"]
                if "is_addon" in line:
                    line_vals["is_addon"] = line["is_addon"]
                Line.create(line_vals)
        if body.get("coupon"):
            sub._apply_coupon(body["coupon"], vals["start_date"])
        if body.get("start", True):
            sub._start(date_ref=today)
        return sub

    @api_route("/subscriptions", "POST", "SubscriptionCreate")
    def create_subscription(self, env, body):
        sub = self._create_subscription(env, body, fields.Date.context_today(env.user))
        return 201, subscription_data(sub)

    @api_route("/subscriptions/preview", "POST", "SubscriptionCreate")
    def preview_subscription(self, env, body):
        """Create, start and bill the subscription in a savepoint, read its first invoice, and roll
        everything back: the preview is what the billing run would really produce."""
        today = fields.Date.context_today(env.user)
        try:
            with env.cr.savepoint():
                sub = self._create_subscription(env, {**body, "start": True}, today, name=env._("Preview"))
                date_ref = sub.next_invoice_date or sub.start_date
                result = sub._run_billing(date_ref)
                if result["errors"]:
                    raise ApiError(422, "preview_failed", sub.billing_error or env._("The invoice cannot be computed."))
                preview = self._invoice_preview_data(result["invoices"][:1], sub)
                raise _PreviewDone(preview)
        except _PreviewDone as done:
            env.clear()
            return 200, done.preview

    def _invoice_preview_data(self, invoice, sub):
        currency = invoice.currency_id or sub.currency_id
        lines = invoice.invoice_line_ids.filtered(lambda line: line.display_type == "product")
        return {
            "object": "invoice_preview",
            "currency": currency.name,
            "invoice_date": iso_date(invoice.invoice_date),
            "amount_untaxed": money(invoice.amount_untaxed, currency),
            "amount_tax": money(invoice.amount_tax, currency),
            "amount_total": money(invoice.amount_total, currency),
            "lines": [
                {
                    "description": line.name or None,
                    "quantity": line.quantity,
                    "unit_price": money(line.price_unit, currency),
                    "subtotal": money(line.price_subtotal, currency),
                    "period_start": iso_date(line.subscription_period_start),
                    "period_end": iso_date(line.subscription_period_end),
                }
                for line in lines
            ],
        }

    @api_route("/subscriptions", "GET")
    def list_subscriptions(self, env, body):
        args = request.httprequest.args
        domain = []
        for name, field in (("customer_id", "commercial_partner_id"), ("plan_id", "plan_id")):
            if args.get(name):
                if not args[name].isdigit():
                    raise ApiError(400, "invalid_parameter", env._("%(name)s is a whole number.", name=name), name)
                domain.append((field, "=", int(args[name])))
        if args.get("state"):
            states = dict(env["subscription.subscription"]._fields["state"].selection)
            if args["state"] not in states:
                raise ApiError(
                    400, "invalid_parameter", env._("The state %(state)s is unknown.", state=args["state"]), "state"
                )
            domain.append(("state", "=", args["state"]))
        return 200, paginate(env["subscription.subscription"], domain, args, subscription_data, env)

    @api_route("/subscriptions/<int:subscription_id>", "GET")
    def get_subscription(self, env, body, subscription_id):
        return 200, subscription_data(self._get_subscription(env, subscription_id))

    @api_route("/subscriptions/<int:subscription_id>/upcoming_invoice", "GET")
    def get_upcoming_invoice(self, env, body, subscription_id):
        """The next invoice the billing runs will create, projected: nothing is written or locked."""
        sub = self._get_subscription(env, subscription_id)
        upcoming = None
        if sub.state not in ("draft", "ended"):
            upcoming = (
                env["subscription.billing.forecast"]
                .sudo()
                ._get_upcoming_invoice(sub.sudo(), fields.Date.context_today(env.user))
            )
        if not upcoming:
            raise not_found(
                env._("Subscription %(id)s has no upcoming invoice that can be projected.", id=subscription_id)
            )
        return 200, upcoming_invoice_data(upcoming, sub, env["res.currency"].browse(upcoming["currency_id"]))

    def _writable_subscription(self, env, subscription_id):
        sub = self._get_subscription(env, subscription_id)
        sub.check_access("write")
        return sub

    @api_route("/subscriptions/<int:subscription_id>/pause", "POST", "EffectiveDate")
    def pause_subscription(self, env, body, subscription_id):
        sub = self._writable_subscription(env, subscription_id)
        sub._pause(fields.Date.to_date(body.get("date")) or fields.Date.context_today(env.user))
        return 200, subscription_data(sub)

    @api_route("/subscriptions/<int:subscription_id>/resume", "POST", "EffectiveDate")
    def resume_subscription(self, env, body, subscription_id):
        sub = self._writable_subscription(env, subscription_id)
        sub._resume(fields.Date.to_date(body.get("date")) or fields.Date.context_today(env.user))
        return 200, subscription_data(sub)

    @api_route("/subscriptions/<int:subscription_id>/cancel", "POST", "SubscriptionCancel")
    def cancel_subscription(self, env, body, subscription_id):
        sub = self._writable_subscription(env, subscription_id)
        request_date = fields.Date.to_date(body.get("request_date")) or fields.Date.context_today(env.user)
        sub._request_cancellation(
            request_date, reason=body.get("reason"), end_date=fields.Date.to_date(body.get("end_date"))
        )
        return 200, subscription_data(sub)

    @api_route("/subscriptions/<int:subscription_id>/reactivate", "POST", "EffectiveDate")
    def reactivate_subscription(self, env, body, subscription_id):
        sub = self._writable_subscription(env, subscription_id)
        sub._reactivate(fields.Date.to_date(body.get("date")) or fields.Date.context_today(env.user))
        return 200, subscription_data(sub)

    def _change_target(self, env, sub, body):
        plan = self._resolve_plan(env, body) if body.get("plan_id") or body.get("plan_code") else sub.plan_id
        if body.get("lines"):
            lines = {str(line["plan_line_id"]): line["quantity"] for line in body["lines"]}
        else:
            lines = {str(pl.id): pl.quantity for pl in plan.line_ids.filtered(lambda pl: not pl.optional)}
        return {"plan_id": plan.id, "lines": lines}

    def _do_change(self, env, body, subscription_id):
        sub = self._writable_subscription(env, subscription_id)
        date_ref = fields.Date.to_date(body.get("date")) or fields.Date.context_today(env.user)
        change = sub._change(self._change_target(env, sub, body), body.get("timing", "immediate"), date_ref)
        return sub, change

    def _change_data(self, change, sub, persisted=True):
        return change_data(change, sub, persisted=persisted)

    @api_route("/subscriptions/<int:subscription_id>/change", "POST", "SubscriptionChangeInput")
    def change_subscription(self, env, body, subscription_id):
        sub, change = self._do_change(env, body, subscription_id)
        return 200, self._change_data(change, sub)

    @api_route("/subscriptions/<int:subscription_id>/change/preview", "POST", "SubscriptionChangeInput")
    def preview_subscription_change(self, env, body, subscription_id):
        """Apply the change in a savepoint, read it, roll back: the model computes, nothing stays."""
        try:
            with env.cr.savepoint():
                sub, change = self._do_change(env, body, subscription_id)
                raise _PreviewDone(self._change_data(change, sub, persisted=False))
        except _PreviewDone as done:
            env.clear()
            return 200, done.preview

    # ------------------------------------------------------------------
    # Self-service sessions (for the JavaScript SDK in the customer's browser)
    # ------------------------------------------------------------------
    @api_route("/subscriptions/<int:subscription_id>/portal_sessions", "POST", "PortalSessionCreate")
    def create_portal_session(self, env, body, subscription_id):
        """A short-lived token the merchant's backend hands to the customer's browser; shown only here."""
        sub = self._writable_subscription(env, subscription_id)
        session, token = env["subscription.portal.session"]._issue(sub, body.get("ttl_seconds"))
        return 201, portal_session_data(session, token)

    @api_route("/subscriptions/<int:subscription_id>/portal_sessions/<int:session_id>/revoke", "POST")
    def revoke_portal_session(self, env, body, subscription_id, session_id):
        sub = self._writable_subscription(env, subscription_id)
        session = env["subscription.portal.session"].search([("id", "=", session_id), ("subscription_id", "=", sub.id)])
        if not session:
            raise not_found(env._("Session %(id)s of subscription %(sub)s does not exist.", id=session_id, sub=sub.id))
        session.action_revoke()
        return 200, portal_session_data(session)

    # ------------------------------------------------------------------
    # Webhook endpoints and events
    # ------------------------------------------------------------------
    def _endpoint_data(self, endpoint, secret=None):
        data = {
            "id": endpoint.id,
            "object": "webhook_endpoint",
            "name": endpoint.name,
            "url": endpoint.url,
            "event_types": endpoint.event_types,
            "active": endpoint.active,
            "consecutive_failures": endpoint.consecutive_failures,
            "disabled_reason": endpoint.disabled_reason or None,
        }
        if secret:
            data["secret"] = secret
        return data

    def _get_endpoint(self, env, endpoint_id):
        endpoint = (
            env["subscription.webhook.endpoint"].with_context(active_test=False).search([("id", "=", endpoint_id)])
        )
        if not endpoint:
            raise not_found(env._("Webhook endpoint %(id)s does not exist.", id=endpoint_id))
        return endpoint

    @api_route("/webhook_endpoints", "GET")
    def list_webhook_endpoints(self, env, body):
        Endpoint = env["subscription.webhook.endpoint"].with_context(active_test=False)
        return 200, paginate(Endpoint, [], request.httprequest.args, self._endpoint_data, env)

    @api_route("/webhook_endpoints", "POST", "WebhookEndpointCreate")
    def create_webhook_endpoint(self, env, body):
        endpoint = env["subscription.webhook.endpoint"].create(
            {
                "name": body.get("name") or body["url"],
                "url": body["url"],
                "event_types": body.get("event_types") or "*",
                "company_id": env.company.id,
            }
        )
        # the secret is shown once, to its creator; afterwards only Subscription administrators read it
        return 201, self._endpoint_data(endpoint, secret=endpoint.sudo().secret)

    @api_route("/webhook_endpoints/<int:endpoint_id>", "GET")
    def get_webhook_endpoint(self, env, body, endpoint_id):
        return 200, self._endpoint_data(self._get_endpoint(env, endpoint_id))

    @api_route("/webhook_endpoints/<int:endpoint_id>", "PATCH", "WebhookEndpointUpdate")
    def update_webhook_endpoint(self, env, body, endpoint_id):
        endpoint = self._get_endpoint(env, endpoint_id)
        vals = {key: body[key] for key in ("name", "url", "event_types") if key in body}
        if vals:
            endpoint.write(vals)
        if body.get("active") is True and not endpoint.active:
            endpoint.action_enable()
        elif body.get("active") is False:
            endpoint.active = False
        return 200, self._endpoint_data(endpoint)

    def _event_data(self, event):
        payload = json.loads(event._get_payload())
        return {"object": "event", **payload}

    @api_route("/events", "GET")
    def list_events(self, env, body):
        args = request.httprequest.args
        domain = [("event_type", "=", args["type"])] if args.get("type") else []
        Event = env["subscription.webhook.event"]
        limit = parse_limit(args.get("limit"), env)
        before = decode_cursor(args.get("cursor"), env)
        if before:
            domain.append(("id", "<", before))
        events = Event.search(domain, order="id desc", limit=limit + 1)
        page = events[:limit]
        has_more = len(events) > limit
        return 200, {
            "object": "list",
            "data": [self._event_data(event) for event in page],
            "has_more": has_more,
            "next_cursor": encode_cursor(page[-1].id) if has_more else None,
        }

    # ------------------------------------------------------------------
    # Usage records
    # ------------------------------------------------------------------
    @api_route("/usage_records", "POST", "UsageBatch")
    def ingest_usage(self, env, body):
        records = []
        for record in body["records"]:
            record = dict(record)
            if "customer_id" in record:
                record["partner_id"] = record.pop("customer_id")
            records.append(record)
        results = env["subscription.usage.record"].ingest_usage(records)
        counts = {"created": 0, "duplicate": 0, "rejected": 0}
        shaped = []
        for result in results:
            counts[result["status"]] += 1
            shaped.append(
                {
                    "idempotency_key": result["idempotency_key"] or None,
                    "status": result["status"],
                    "id": result["id"] or None,
                    "error": result["error"] or None,
                }
            )
        return 200, {"object": "usage_batch_result", **counts, "results": shaped}

    # ------------------------------------------------------------------
    # Invoices
    # ------------------------------------------------------------------
    def _invoice_domain(self):
        return [("move_type", "in", ("out_invoice", "out_refund")), ("line_ids.subscription_id", "!=", False)]

    def _get_invoice(self, env, invoice_id):
        invoice = env["account.move"].search([*self._invoice_domain(), ("id", "=", invoice_id)])
        if not invoice:
            raise not_found(env._("Invoice %(id)s does not exist.", id=invoice_id))
        return invoice

    @api_route("/invoices", "GET")
    def list_invoices(self, env, body):
        args = request.httprequest.args
        domain = self._invoice_domain()
        for name, field in (("customer_id", "commercial_partner_id"), ("subscription_id", "line_ids.subscription_id")):
            if args.get(name):
                if not args[name].isdigit():
                    raise ApiError(400, "invalid_parameter", env._("%(name)s is a whole number.", name=name), name)
                domain.append((field, "=", int(args[name])))
        return 200, paginate(env["account.move"], domain, args, invoice_data, env)

    @api_route("/invoices/<int:invoice_id>", "GET")
    def get_invoice(self, env, body, invoice_id):
        return 200, invoice_data(self._get_invoice(env, invoice_id))

    @api_route("/invoices/<int:invoice_id>/pdf", "GET")
    def get_invoice_pdf(self, env, body, invoice_id):
        invoice = self._get_invoice(env, invoice_id)
        pdf, _content_type = env["ir.actions.report"]._render_qweb_pdf("account.account_invoices", invoice.ids)
        return 200, RawResponse(pdf, "application/pdf", f"{invoice.name or 'invoice'}.pdf".replace("/", "_"))


class _PreviewDone(Exception):
    """Carries the preview out of the savepoint that undoes the billing it was computed with."""

    def __init__(self, preview):
        super().__init__("preview")
        self.preview = preview
