"""REST API v1 of subscription billing: thin routes over the models' own methods.

Request and response shapes are described in :mod:`.api_openapi`; authentication, errors and
idempotency live in :mod:`.api_common`. A handler reads the validated body, calls the
models and shapes the result; it holds no billing logic.
"""

import json

from odoo import http
from odoo.http import request

from .api_common import ApiError, api_route, negotiate_lang, not_found, paginate, problem_body
from .api_openapi import API_PREFIX, openapi_document


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
        # API customers belong to a company: a key of company A never sees company B's
        return [("company_id", "in", env.companies.ids), ("parent_id", "=", False)]

    def _get_customer(self, env, customer_id):
        partner = env["res.partner"].search([*self._customer_domain(env), ("id", "=", customer_id)])
        if not partner:
            raise not_found(env, env._("Customer"), customer_id)
        return partner

    def _customer_data(self, partner):
        invoice_contact = partner.child_ids.filtered(lambda child: child.type == "invoice")[:1]
        return {
            "id": partner.id,
            "object": "customer",
            "name": partner.name,
            "email": partner.email or None,
            "invoice_email": invoice_contact.email or None,
            "vat": partner.vat or None,
            "lang": partner.lang or None,
            "is_company": partner.is_company,
            "address": {
                "street": partner.street or None,
                "street2": partner.street2 or None,
                "zip": partner.zip or None,
                "city": partner.city or None,
                "country": partner.country_id.code or None,
            },
        }

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
        return 201, self._customer_data(partner)

    @api_route("/customers", "GET")
    def list_customers(self, env, body):
        return 200, paginate(
            env["res.partner"], self._customer_domain(env), request.httprequest.args, self._customer_data, env
        )

    @api_route("/customers/<int:customer_id>", "GET")
    def get_customer(self, env, body, customer_id):
        return 200, self._customer_data(self._get_customer(env, customer_id))

    @api_route("/customers/<int:customer_id>", "PATCH", "CustomerUpdate")
    def update_customer(self, env, body, customer_id):
        partner = self._get_customer(env, customer_id)
        partner.write(self._customer_values(env, body))
        self._set_invoice_email(partner, body)
        return 200, self._customer_data(partner)
