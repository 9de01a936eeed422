import json
import re

import jsonschema

from odoo.tests import HttpCase, new_test_user
from odoo.tools import mute_logger

from odoo.addons.subscription_billing.controllers.api_openapi import API_PREFIX, PATHS, openapi_document, schema_for

from .common import SubscriptionCommon


def _path_regex(template):
    return re.compile("^" + re.sub(r"\{[^}]+\}", r"[^/]+", template) + "$")


OPERATIONS = [(_path_regex(template), template, ops) for template, ops in PATHS.items()]


class ApiCommon(SubscriptionCommon, HttpCase):
    """API users with keys and :meth:`_call`, which checks every response against the OpenAPI document.

    ``api_user`` (group Subscriptions API, main company) and ``api_user_b`` (its twin in a
    second company) have API keys; ``plain_user`` is a subscription user without the API
    group and ``portal_api_user`` a portal user, both with keys too.
    """

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.company_b = cls.setup_other_company()["company"]
        api_group = "subscription_billing.group_subscription_api"
        cls.api_user = new_test_user(
            cls.env, login="api_a", groups=api_group, company_id=cls.env.company.id, name="API A"
        )
        cls.api_user_b = new_test_user(
            cls.env,
            login="api_b",
            groups=api_group,
            company_id=cls.company_b.id,
            company_ids=[(6, 0, cls.company_b.ids)],
            name="API B",
        )
        cls.plain_user = new_test_user(
            cls.env, login="no_api", groups="subscription_billing.group_subscription_user", name="No API"
        )
        cls.portal_api_user = new_test_user(cls.env, login="portal_api", groups="base.group_portal", name="Portal")
        cls.key = cls._make_key(cls.api_user)
        cls.key_b = cls._make_key(cls.api_user_b)
        cls.key_plain = cls._make_key(cls.plain_user)
        cls.key_portal = cls._make_key(cls.portal_api_user)
        cls.env["res.lang"]._activate_lang("de_DE")

    @classmethod
    def _make_key(cls, user):
        return (
            cls.env["res.users.apikeys"]
            .with_user(user)
            .sudo()
            ._generate(scope="rpc", name="api test", expiration_date=None)
        )

    def _call(self, method, path, body=None, key=None, headers=None, raw=None, check=True):
        """``method`` on API ``path`` with the key (default: ``self.key``): (status, parsed body, response).

        Unless ``check`` is False, asserts that the status is documented for the operation and
        that the body matches the documented schema and content type.
        """
        all_headers = {"Authorization": f"Bearer {key or self.key}"} if key is not False else {}
        if body is not None or raw is not None:
            all_headers["Content-Type"] = "application/json"
        all_headers.update(headers or {})
        data = raw if raw is not None else (json.dumps(body) if body is not None else None)
        with mute_logger("odoo.http", "werkzeug"):
            response = self.url_open(API_PREFIX + path, data=data, headers=all_headers, method=method, timeout=60)
        is_json = response.headers.get("Content-Type", "").split(";")[0].endswith("json")
        parsed = response.json() if response.content and is_json else None
        if check:
            self._check_against_document(method, path, response, parsed)
        return response.status_code, parsed, response

    def _check_against_document(self, method, path, response, parsed):
        bare = path.split("?")[0]
        matches = [ops for regex, _template, ops in OPERATIONS if regex.match(bare)]
        self.assertTrue(matches, f"{bare} is not in the OpenAPI document")
        operation = matches[0].get(method.lower())
        self.assertTrue(operation, f"{method} {bare} is not in the OpenAPI document")
        documented = operation["responses"].get(str(response.status_code))
        self.assertTrue(documented, f"{method} {bare} answered {response.status_code}, not documented: {parsed}")
        content_type = response.headers["Content-Type"].split(";")[0]
        self.assertIn(content_type, documented["content"])
        schema = documented["content"][content_type]["schema"]
        if "$ref" not in schema:  # a binary download (PDF)
            return
        schema_ref = schema["$ref"].rsplit("/", 1)[1]
        jsonschema.validate(parsed, schema_for(schema_ref), cls=jsonschema.Draft202012Validator)

    @staticmethod
    def _document():
        return openapi_document("http://localhost:8069/")
