import json
from datetime import datetime, timedelta

from openapi_spec_validator import validate

from odoo.exceptions import AccessError
from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.subscription_billing.controllers.api_openapi import API_PREFIX

from .common_api import ApiCommon


@tagged("post_install", "-at_install", "subscription_billing")
class TestApiFoundation(ApiCommon):
    """Authentication, isolation, errors, idempotency and the OpenAPI document, over real HTTP."""

    # ------------------------------------------------------------------
    # The document
    # ------------------------------------------------------------------
    def test_openapi_document_is_valid_and_served(self):
        """The served document is a valid OpenAPI 3.1 description (openapi-spec-validator) and needs no key."""
        response = self.url_open(f"{API_PREFIX}/openapi.json")
        self.assertEqual(response.status_code, 200)
        document = response.json()
        self.assertEqual(document["openapi"], "3.1.0")
        validate(document)
        self.assertIn("/customers/{id}", document["paths"])

    def test_documentation_page_lists_every_operation(self):
        """The browsable page is generated from the document: every path is on it."""
        response = self.url_open(f"{API_PREFIX}/docs")
        self.assertEqual(response.status_code, 200)
        self.assertTrue(response.headers["Content-Type"].startswith("text/html"))
        for path in self._document()["paths"]:
            self.assertIn(f"{API_PREFIX}{path}", response.text)

    # ------------------------------------------------------------------
    # Authentication and authorisation
    # ------------------------------------------------------------------
    def test_no_key_is_401_problem(self):
        """Without an Authorization header: 401, problem+json with a stable code, no HTML."""
        status, body, response = self._call("GET", "/customers", key=False)
        self.assertEqual(status, 401)
        self.assertEqual(response.headers["Content-Type"].split(";")[0], "application/problem+json")
        self.assertEqual(body["code"], "authentication_required")
        self.assertIn("Bearer", response.headers["WWW-Authenticate"])

    def test_wrong_key_is_401(self):
        status, body, _response = self._call("GET", "/customers", key="0" * 40)
        self.assertEqual((status, body["code"]), (401, "invalid_api_key"))

    def test_revoked_key_is_401(self):
        """A key removed by its user stops working at once."""
        key = self._make_key(self.api_user)
        status, _body, _response = self._call("GET", "/customers", key=key)
        self.assertEqual(status, 200)
        self.env["res.users.apikeys"].sudo().search([("user_id", "=", self.api_user.id)])._remove()
        status, body, _response = self._call("GET", "/customers", key=key)
        self.assertEqual((status, body["code"]), (401, "invalid_api_key"))

    def test_expired_key_is_401(self):
        key = (
            self.env["res.users.apikeys"]
            .with_user(self.api_user)
            .sudo()
            ._generate(scope="rpc", name="short", expiration_date=datetime.now() + timedelta(days=1))
        )
        self.env.cr.execute(
            "UPDATE res_users_apikeys SET expiration_date = now() - interval '1 hour' WHERE name = 'short'"
        )
        status, body, _response = self._call("GET", "/customers", key=key)
        self.assertEqual((status, body["code"]), (401, "invalid_api_key"))

    def test_user_without_api_group_is_403(self):
        """A subscription user's valid key is refused: the API needs the group Subscriptions API."""
        status, body, _response = self._call("GET", "/customers", key=self.key_plain)
        self.assertEqual((status, body["code"]), (403, "api_access_denied"))
        status, body, _response = self._call("POST", "/customers", {"name": "X"}, key=self.key_plain)
        self.assertEqual((status, body["code"]), (403, "api_access_denied"))
        self.assertFalse(self.env["res.partner"].search([("name", "=", "X")]))

    def test_portal_users_key_is_403(self):
        status, body, _response = self._call("GET", "/customers", key=self.key_portal)
        self.assertEqual((status, body["code"]), (403, "api_access_denied"))

    def test_key_of_company_b_never_sees_company_a(self):
        """A customer created with company A's key is invisible (404, not in lists) with company B's key."""
        status, created, _response = self._call("POST", "/customers", {"name": "Only A GmbH"})
        self.assertEqual(status, 201)
        status, body, _response = self._call("GET", f"/customers/{created['id']}", key=self.key_b)
        self.assertEqual((status, body["code"]), (404, "not_found"))
        status, body, _response = self._call("PATCH", f"/customers/{created['id']}", {"name": "Hijack"}, key=self.key_b)
        self.assertEqual(status, 404)
        status, page, _response = self._call("GET", "/customers?limit=100", key=self.key_b)
        self.assertNotIn(created["id"], [customer["id"] for customer in page["data"]])
        self.assertEqual(self.env["res.partner"].browse(created["id"]).name, "Only A GmbH")

    # ------------------------------------------------------------------
    # Errors
    # ------------------------------------------------------------------
    def test_malformed_json_is_400(self):
        status, body, _response = self._call("POST", "/customers", raw="{not json")
        self.assertEqual((status, body["code"]), (400, "malformed_json"))

    def test_validation_error_names_the_field_and_writes_nothing(self):
        status, body, _response = self._call("POST", "/customers", {"email": "a@b.example"})
        self.assertEqual((status, body["code"], body["field"]), (422, "validation_error", "name"))
        status, body, _response = self._call("POST", "/customers", {"name": "A", "colour": "red"})
        self.assertEqual((status, body["code"], body["field"]), (422, "unknown_field", "colour"))
        status, body, _response = self._call("POST", "/customers", {"name": "Atlantis", "address": {"country": "XX"}})
        self.assertEqual((status, body["code"], body["field"]), (422, "invalid_country", "address.country"))
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Atlantis")]))

    def test_errors_are_translated_by_accept_language(self):
        """The same refusal in German for Accept-Language de, with the same stable code."""
        status, body, _response = self._call(
            "POST",
            "/customers",
            {"name": "Atlantis", "address": {"country": "XX"}},
            headers={"Accept-Language": "de-DE,de;q=0.9"},
        )
        self.assertEqual((status, body["code"]), (422, "invalid_country"))
        self.assertEqual(body["detail"], "Das Land XX ist unbekannt.")
        status, body, _response = self._call("GET", "/customers", key=False, headers={"Accept-Language": "de"})
        self.assertIn("API-Schlüssel", body["detail"])

    def test_unknown_route_is_problem_404(self):
        status, body, _response = self._call("GET", "/nothing/here", check=False)
        self.assertEqual((status, body["code"]), (404, "route_not_found"))

    def test_invalid_cursor_and_limit_are_400(self):
        status, body, _response = self._call("GET", "/customers?cursor=garbage")
        self.assertEqual((status, body["code"], body["field"]), (400, "invalid_cursor", "cursor"))
        status, body, _response = self._call("GET", "/customers?limit=1000")
        self.assertEqual((status, body["code"], body["field"]), (400, "invalid_parameter", "limit"))

    # ------------------------------------------------------------------
    # Idempotency
    # ------------------------------------------------------------------
    def test_retry_with_same_key_replays_and_creates_once(self):
        """Two POSTs with one Idempotency-Key and one body: one customer, the same response twice."""
        headers = {"Idempotency-Key": "signup-4711"}
        body = {"name": "Idem GmbH", "email": "idem@example.com"}
        status1, first, response1 = self._call("POST", "/customers", body, headers=headers)
        status2, second, response2 = self._call("POST", "/customers", body, headers=headers)
        self.assertEqual((status1, status2), (201, 201))
        self.assertEqual(first, second)
        self.assertEqual(response2.headers.get("Idempotent-Replayed"), "true")
        self.assertEqual(self.env["res.partner"].search_count([("name", "=", "Idem GmbH")]), 1)

    def test_same_key_other_body_is_409(self):
        headers = {"Idempotency-Key": "signup-4712"}
        self._call("POST", "/customers", {"name": "First GmbH"}, headers=headers)
        status, body, _response = self._call("POST", "/customers", {"name": "Second GmbH"}, headers=headers)
        self.assertEqual((status, body["code"], body["field"]), (409, "idempotency_key_reused", "Idempotency-Key"))
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Second GmbH")]))

    def test_keys_are_scoped_per_user(self):
        """The same key string used by two users is two different requests."""
        headers = {"Idempotency-Key": "shared-key"}
        status_a, a, _response = self._call("POST", "/customers", {"name": "Per User"}, headers=headers)
        status_b, b, _response = self._call("POST", "/customers", {"name": "Per User"}, key=self.key_b, headers=headers)
        self.assertEqual((status_a, status_b), (201, 201))
        self.assertNotEqual(a["id"], b["id"])

    def test_refusal_is_replayed_too(self):
        """A refused call stores its refusal: the retry gets the same 422 and still writes nothing."""
        headers = {"Idempotency-Key": "bad-country"}
        body = {"name": "Nowhere", "address": {"country": "XX"}}
        status1, first, _response = self._call("POST", "/customers", body, headers=headers)
        status2, second, _response = self._call("POST", "/customers", body, headers=headers)
        self.assertEqual((status1, status2), (422, 422))
        self.assertEqual(first, second)
        self.assertFalse(self.env["res.partner"].search([("name", "=", "Nowhere")]))

    def test_unique_constraint_guards_the_key(self):
        """The database refuses a second row for one (user, key): the guarantee is not Python's."""
        Idem = self.env["subscription.api.idempotency"]
        claimed, _row = Idem._claim(self.api_user.id, "k1", "h", "POST", "/x")
        again, row = Idem._claim(self.api_user.id, "k1", "h", "POST", "/x")
        self.assertTrue(claimed)
        self.assertFalse(again)
        self.assertEqual(row.key, "k1")
        with (
            self.assertRaises(Exception),  # noqa: B017 - psycopg2 IntegrityError
            self.env.cr.savepoint(),
            mute_logger("odoo.sql_db"),  # the refused INSERT is logged as an error: expected here
        ):
            self.env.cr.execute(
                "INSERT INTO subscription_api_idempotency (user_id, key, request_hash, method, path, create_date)"
                " VALUES (%s, 'k1', 'h', 'POST', '/x', now())",
                [self.api_user.id],
            )

    def test_stored_responses_are_not_readable_by_api_users(self):
        """The idempotency rows hold other calls' responses: no group but system administrators reads them."""
        self._call("POST", "/customers", {"name": "Stored GmbH"}, headers={"Idempotency-Key": "stored"})
        for user in (self.api_user, self.plain_user, self.portal_api_user):
            with self.assertRaises(AccessError):
                self.env["subscription.api.idempotency"].with_user(user).search([])

    # ------------------------------------------------------------------
    # Customers
    # ------------------------------------------------------------------
    def test_customer_create_read_update(self):
        """Create with address, VAT, language and invoice e-mail; read it back; change some fields."""
        status, created, _response = self._call(
            "POST",
            "/customers",
            {
                "name": "Kunde AG",
                "email": "info@kunde.example",
                "invoice_email": "rechnung@kunde.example",
                "lang": "de_DE",
                "is_company": True,
                "address": {"street": "Hauptstr. 1", "zip": "10115", "city": "Berlin", "country": "DE"},
            },
        )
        self.assertEqual(status, 201)
        partner = self.env["res.partner"].browse(created["id"])
        self.assertEqual(partner.company_id, self.env.company)
        self.assertEqual(partner.country_id.code, "DE")
        self.assertEqual(created["invoice_email"], "rechnung@kunde.example")
        status, read, _response = self._call("GET", f"/customers/{created['id']}")
        self.assertEqual((status, read), (200, created))
        status, updated, _response = self._call(
            "PATCH", f"/customers/{created['id']}", {"email": "new@kunde.example", "invoice_email": None}
        )
        self.assertEqual(status, 200)
        self.assertEqual(updated["email"], "new@kunde.example")
        self.assertIsNone(updated["invoice_email"])
        self.assertEqual(updated["address"]["city"], "Berlin")

    def test_customer_list_pagination_is_stable_while_customers_are_added(self):
        """Paging 2 by 2 over 5 customers while 2 more are created: every customer once, the new ones last."""
        names = [f"Page {i}" for i in range(5)]
        for name in names:
            self._call("POST", "/customers", {"name": name})
        seen, cursor, added = [], None, False
        while True:
            status, page, _response = self._call("GET", "/customers?limit=2" + (f"&cursor={cursor}" if cursor else ""))
            self.assertEqual(status, 200)
            seen += [customer["name"] for customer in page["data"]]
            if not added:
                for name in ("Late 1", "Late 2"):
                    self._call("POST", "/customers", {"name": name})
                added = True
            if not page["has_more"]:
                break
            cursor = page["next_cursor"]
        ours = [name for name in seen if name.startswith(("Page", "Late"))]
        self.assertEqual(ours, [*names, "Late 1", "Late 2"])
        self.assertEqual(len(seen), len(set(seen)))

    def test_json_body_must_be_an_object(self):
        status, body, _response = self._call("POST", "/customers", raw=json.dumps([1, 2]))
        self.assertEqual((status, body["code"]), (422, "validation_error"))

    def test_text_postgresql_cannot_store_is_refused_naming_the_field(self):
        """A NUL sent as the escape \\u0000, a lone surrogate sent as the escape \\ud800 and the
        same surrogate sent as raw UTF-8 bytes (ED A0 80, which Python's json decodes) are each
        refused with 422 invalid_text naming the field; nothing is created. A plain UTF-8 body
        with umlauts (no escape, no ED byte) is stored."""
        partners_before = self.env["res.partner"].search_count([])
        for raw in (
            b'{"name": "A\\u0000B"}',
            b'{"name": "A\\ud800B"}',
            b'{"name": "A\xed\xa0\x80B"}',
        ):
            status, body, _response = self._call("POST", "/customers", raw=raw)
            self.assertEqual((status, body["code"], body["field"]), (422, "invalid_text", "name"), raw)
        self.assertEqual(self.env["res.partner"].search_count([]), partners_before)
        status, body, _response = self._call("POST", "/customers", raw='{"name": "Jörg Straße"}'.encode())
        self.assertEqual((status, body["name"]), (201, "Jörg Straße"))

    def test_invalid_usage_batch_gets_the_full_validators_field_path(self):
        """Bodies the fast check does not accept go to the full validator: an unknown field of the
        second record is 422 unknown_field records.1.colour, a string quantity is 422
        validation_error records.0.quantity, 1,001 records are 422 on records."""
        record = {"subscription_id": 1, "metric": "m", "quantity": 1, "timestamp": "2026-01-01T00:00:00Z"}
        cases = [
            ({"records": [record, dict(record, colour="red")]}, "unknown_field", "records.1.colour"),
            ({"records": [dict(record, quantity="1")]}, "validation_error", "records.0.quantity"),
            ({"records": [record] * 1001}, "validation_error", "records"),
        ]
        for payload, code, field in cases:
            status, body, _response = self._call("POST", "/usage_records", payload)
            self.assertEqual((status, body["code"], body["field"]), (422, code, field))
