import hashlib
import json
from datetime import datetime, timedelta

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import new_test_user, tagged

from .common_api import ApiCommon

SHOP = "https://shop.example.com"


@tagged("post_install", "-at_install", "subscription_billing")
class TestSdkPortalSession(ApiCommon):
    """Self-service from the merchant's own pages: the merchant's backend issues a short-lived token for ONE
    subscription with its API key; the customer's browser (an allowed origin) then reads, previews, changes,
    pauses and cancels that subscription through the portal's own model methods, and nothing else."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.today = fields.Date.context_today(cls.env.user)
        cls.env.company.subscription_sdk_allowed_origins = f"{SHOP}\nhttp://localhost:3000"
        cls.company_b.subscription_sdk_allowed_origins = "https://shop-b.example.com"
        cls.family = cls.env["subscription.plan.family"].create({"name": "SDK tiers"})
        cls.plan_basic = cls._create_plan(
            code="SDK-B",
            name="SDK Basic",
            price=10.0,
            family_id=cls.family.id,
            rank=1,
            portal_pause_allowed=True,
            portal_max_pause_days=60,
        )
        cls.plan_pro = cls._create_plan(code="SDK-P", name="SDK Pro", price=20.0, family_id=cls.family.id, rank=2)
        start = cls.today - timedelta(days=10)
        cls.sub = cls._start(plan=cls.plan_basic, partner=cls.customer, start_date=start)
        cls.sub_other = cls._start(plan=cls.plan_basic, partner=cls.other_customer, start_date=start)

    # ------------------------------------------------------------------
    # helpers
    # ------------------------------------------------------------------
    def _issue(self, sub=None, **body):
        status, data, _response = self._call("POST", f"/subscriptions/{(sub or self.sub).id}/portal_sessions", body)
        self.assertEqual(status, 201, data)
        return data

    def _as_customer(self, method, path, token, body=None, origin=None, headers=None):
        headers = {**(headers or {}), **({"Origin": origin} if origin else {})}
        return self._call(method, path, body, key=token, headers=headers)

    def _notes(self, sub):
        return sub.message_ids.filtered(lambda m: "by the customer" in (m.body or ""))

    # ------------------------------------------------------------------
    # issuing, storing, revoking
    # ------------------------------------------------------------------
    def test_token_is_shown_once_and_only_its_hash_is_stored(self):
        """The answer carries the raw token and an expiry 15 minutes (900 s) ahead; the database row holds
        the SHA-256 of the token, and no column of the row contains the token itself."""
        before = fields.Datetime.now()
        data = self._issue()
        token = data["token"]
        self.assertTrue(token.startswith("sbps_") and len(token) > 40)
        session = self.env["subscription.portal.session"].browse(data["id"])
        self.assertEqual(session.subscription_id, self.sub)
        self.assertEqual(session.company_id, self.sub.company_id)
        self.assertEqual(session.sudo().token_hash, hashlib.sha256(token.encode()).hexdigest())
        expires = datetime.fromisoformat(data["expires_at"].rstrip("Z"))
        self.assertLessEqual(abs((expires - before).total_seconds() - 900), 5)
        self.env.cr.execute("SELECT * FROM subscription_portal_session WHERE id = %s", [session.id])
        self.assertNotIn(token, json.dumps(self.env.cr.fetchone(), default=str))
        revoked = self._call("POST", f"/subscriptions/{self.sub.id}/portal_sessions/{session.id}/revoke")[1]
        self.assertEqual((revoked["revoked"], "token" in revoked), (True, False))

    def test_sessions_expired_for_a_day_are_deleted_by_the_autovacuum(self):
        Session = self.env["subscription.portal.session"].sudo()
        now = fields.Datetime.now()
        old, recent, live = (Session.browse(self._issue()["id"]) for _i in range(3))
        old.expires_at = now - timedelta(days=1, minutes=1)
        recent.expires_at = now - timedelta(hours=23)
        Session._gc_expired_sessions()
        self.assertEqual((old.exists(), recent.exists(), live.exists()), (Session, recent, live))

    def test_lifetime_is_bounded_between_one_minute_and_one_hour(self):
        self.assertEqual(self._issue(ttl_seconds=3600)["object"], "portal_session")
        for ttl in (59, 3601):
            status, data, _response = self._call(
                "POST", f"/subscriptions/{self.sub.id}/portal_sessions", {"ttl_seconds": ttl}
            )
            self.assertEqual((status, data["code"], data["field"]), (422, "validation_error", "ttl_seconds"))
        with self.assertRaises(ValidationError):
            self.env["subscription.portal.session"]._issue(self.sub, 30)

    def test_a_subscription_administrator_revokes_in_the_backend_a_user_cannot(self):
        """The list under Configuration > SDK Sessions: "Revoke" works for a Subscriptions administrator; a
        Subscriptions user may read sessions but not revoke them; the revoked token is refused at once."""
        data = self._issue()
        session = self.env["subscription.portal.session"].browse(data["id"])
        user = new_test_user(self.env, login="sdk_user", groups="subscription_billing.group_subscription_user")
        manager = new_test_user(self.env, login="sdk_mgr", groups="subscription_billing.group_subscription_manager")
        self.assertEqual(session.with_user(user).subscription_id, self.sub)
        with self.assertRaises(AccessError):
            session.with_user(user).action_revoke()
        self.assertFalse(session.revoked)
        session.with_user(manager).action_revoke()
        self.assertTrue(session.revoked)
        status, body, _response = self._as_customer("GET", f"/portal/subscriptions/{self.sub.id}", data["token"])
        self.assertEqual((status, body["code"]), (401, "invalid_session"))

    def test_key_of_another_company_cannot_issue_a_session(self):
        """Company B's key does not see company A's subscription: 404, and no session is created."""
        count = self.env["subscription.portal.session"].sudo().search_count([])
        status, data, _response = self._call(
            "POST", f"/subscriptions/{self.sub.id}/portal_sessions", {}, key=self.key_b
        )
        self.assertEqual((status, data["code"]), (404, "not_found"))
        self.assertEqual(self.env["subscription.portal.session"].sudo().search_count([]), count)

    # ------------------------------------------------------------------
    # the customer's calls
    # ------------------------------------------------------------------
    def test_session_reads_its_subscription_with_the_earliest_end_date(self):
        token = self._issue()["token"]
        status, data, response = self._as_customer("GET", f"/portal/subscriptions/{self.sub.id}", token, origin=SHOP)
        self.assertEqual(status, 200, data)
        self.assertEqual(response.headers["Access-Control-Allow-Origin"], SHOP)
        self.assertEqual((data["subscription"]["id"], data["subscription"]["state"]), (self.sub.id, "active"))
        self.assertEqual(
            data["allowed_actions"],
            {"change": True, "pause": True, "resume": False, "cancel": True, "reactivate": False},
        )
        self.assertEqual(data["earliest_end_date"], self.sub._get_earliest_end_date(self.today).isoformat())
        self.assertEqual([plan["id"] for plan in data["plans"]], [self.plan_basic.id, self.plan_pro.id])

    def test_preview_writes_nothing_then_change_goes_through_the_portal_method(self):
        """The preview of Basic (10) -> Pro (20) at the period end shows MRR 10.00 -> 20.00 and leaves no
        change and no chatter note; the change then schedules it and notes it as done by the customer."""
        token = self._issue()["token"]
        changes = self.env["subscription.change"].search_count([("subscription_id", "=", self.sub.id)])
        body = {"plan_id": self.plan_pro.id, "timing": "period_end"}
        path = f"/portal/subscriptions/{self.sub.id}/change"
        status, preview, _response = self._as_customer("POST", f"{path}/preview", token, body)
        self.assertEqual(status, 200, preview)
        self.assertEqual((preview["id"], preview["mrr_before"], preview["mrr_after"]), (None, "10.00", "20.00"))
        self.assertEqual(self.env["subscription.change"].search_count([("subscription_id", "=", self.sub.id)]), changes)
        self.assertFalse(self._notes(self.sub))
        status, change, _response = self._as_customer("POST", path, token, body)
        self.assertEqual(status, 200, change)
        record = self.env["subscription.change"].browse(change["id"])
        self.assertEqual((record.new_plan_id, record.timing, record.state), (self.plan_pro, "period_end", "scheduled"))
        self.assertIn("Plan change", self._notes(self.sub)[:1].body)

    def test_pause_then_cancel_ends_on_the_earliest_end_date(self):
        token = self._issue()["token"]
        resume = self.today + timedelta(days=30)
        status, data, _response = self._as_customer(
            "POST", f"/portal/subscriptions/{self.sub.id}/pause", token, {"resume_date": resume.isoformat()}
        )
        self.assertEqual(status, 200, data)
        self.assertEqual((self.sub.state, self.sub.pause_resume_date), ("paused", resume))
        earliest = self.sub._get_earliest_end_date(self.today)
        status, data, _response = self._as_customer("POST", f"/portal/subscriptions/{self.sub.id}/cancel", token, {})
        self.assertEqual(status, 200, data)
        self.assertEqual((self.sub.state, self.sub.end_date), ("notice", earliest))
        self.assertEqual(data["subscription"]["end_date"], earliest.isoformat())
        self.assertEqual(len(self._notes(self.sub)), 2, "pause and cancellation, each noted as the customer's")

    def test_what_the_plan_forbids_is_409_and_a_bad_date_422_both_writing_nothing(self):
        """Pro does not allow pausing (409 action_refused); Basic allows at most 60 days (a pause of 61 days
        is 422); an unknown field is 422 unknown_field. The subscription stays active, without notes."""
        self.plan_basic.portal_pause_allowed = False
        token = self._issue()["token"]
        path = f"/portal/subscriptions/{self.sub.id}/pause"
        status, data, _response = self._as_customer("POST", path, token, {"resume_date": "2099-01-01"})
        self.assertEqual((status, data["code"]), (409, "action_refused"))
        self.plan_basic.portal_pause_allowed = True
        too_long = (self.today + timedelta(days=61)).isoformat()
        status, data, _response = self._as_customer("POST", path, token, {"resume_date": too_long})
        self.assertEqual((status, data["code"]), (422, "validation_error"))
        status, data, _response = self._as_customer("POST", path, token, {"resume_date": too_long, "resume": 1})
        self.assertEqual((status, data["code"], data["field"]), (422, "unknown_field", "resume"))
        self.assertEqual(self.sub.state, "active")
        self.assertFalse(self._notes(self.sub))

    def test_errors_speak_the_callers_language(self):
        token = self._issue()["token"]
        status, data, _response = self._as_customer(
            "GET", f"/portal/subscriptions/{self.sub.id}", "sbps_forged", headers={"Accept-Language": "de-DE"}
        )
        self.assertEqual((status, data["code"]), (401, "invalid_session"))
        self.assertIn("Sitzung", data["detail"])
        self.assertTrue(token)

    # ------------------------------------------------------------------
    # break-in attempts
    # ------------------------------------------------------------------
    def test_token_of_one_subscription_cannot_touch_another(self):
        """Every call of A's token on B is 403 wrong_subscription, readable by the allowed page (CORS header),
        and B stays as it was."""
        token = self._issue()["token"]
        for method, suffix, body in (
            ("GET", "", None),
            ("POST", "/cancel", {}),
            ("POST", "/change", {"plan_id": self.plan_pro.id}),
            ("POST", "/pause", {"resume_date": (self.today + timedelta(days=5)).isoformat()}),
        ):
            with self.subTest(suffix=suffix):
                status, data, response = self._as_customer(
                    method, f"/portal/subscriptions/{self.sub_other.id}{suffix}", token, body, origin=SHOP
                )
                self.assertEqual((status, data["code"]), (403, "wrong_subscription"))
                self.assertEqual(response.headers["Access-Control-Allow-Origin"], SHOP)
        self.assertEqual((self.sub_other.state, self.sub_other.plan_id), ("active", self.plan_basic))
        self.assertFalse(self._notes(self.sub_other))

    def test_expired_revoked_forged_and_api_key_tokens_are_401(self):
        path = f"/portal/subscriptions/{self.sub.id}"
        expired = self._issue()
        self.env["subscription.portal.session"].browse(expired["id"]).sudo().write(
            {"expires_at": fields.Datetime.now() - timedelta(seconds=1)}
        )
        revoked = self._issue()
        self.env["subscription.portal.session"].browse(revoked["id"]).action_revoke()
        ended = self._issue()["token"]
        status, data, _response = self._as_customer("DELETE", "/portal/session", ended)
        self.assertEqual((status, data["revoked"]), (200, True))
        live = self._issue()["token"]
        forged = "sbps_" + live[5:-2] + ("AA" if not live.endswith("AA") else "BB")
        for name, token in (
            ("expired", expired["token"]),
            ("revoked", revoked["token"]),
            ("ended by the browser", ended),
            ("forged", forged),
            ("the API key", self.key),
        ):
            with self.subTest(name):
                status, data, response = self._as_customer("POST", f"{path}/cancel", token, {})
                self.assertEqual((status, data["code"]), (401, "invalid_session"))
                self.assertIn("Bearer", response.headers["WWW-Authenticate"])
        status, data, _response = self._as_customer("GET", path, False)
        self.assertEqual((status, data["code"]), (401, "session_required"))
        # and a session token opens no API key route
        status, data, _response = self._call("GET", f"/subscriptions/{self.sub.id}", key=live)
        self.assertEqual((status, data["code"]), (401, "invalid_api_key"))
        self.assertEqual(self.sub.state, "active")

    # ------------------------------------------------------------------
    # CORS
    # ------------------------------------------------------------------
    def _preflight(self, path, origin, method="POST"):
        headers = {
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "authorization, content-type",
        }
        return self.url_open(f"/api/subscription/v1{path}", headers=headers, method="OPTIONS")

    def test_preflight_allows_only_configured_origins(self):
        path = f"/portal/subscriptions/{self.sub.id}/cancel"
        response = self._preflight(path, SHOP)
        self.assertEqual(response.status_code, 204)
        self.assertEqual(response.headers["Access-Control-Allow-Origin"], SHOP)
        self.assertEqual(response.headers["Access-Control-Allow-Methods"], "POST")
        self.assertIn("Authorization", response.headers["Access-Control-Allow-Headers"])
        self.assertIn("Origin", response.headers["Vary"])
        for origin in ("https://evil.example.com", "https://shop.example.com.evil.com", "null"):
            with self.subTest(origin=origin):
                response = self._preflight(path, origin)
                self.assertEqual(response.status_code, 403)
                self.assertNotIn("Access-Control-Allow-Origin", response.headers)

    def test_request_from_an_origin_the_sessions_company_does_not_allow_is_refused(self):
        """Company B's origin is allowed for company B only: with a session of company A it is 403 and
        the cancellation does not happen; the same request without Origin (a server) succeeds."""
        token = self._issue()["token"]
        path = f"/portal/subscriptions/{self.sub.id}/cancel"
        for origin in ("https://shop-b.example.com", "https://evil.example.com"):
            status, data, response = self._as_customer("POST", path, token, {}, origin=origin)
            self.assertEqual((status, data["code"]), (403, "origin_not_allowed"))
            self.assertNotIn("Access-Control-Allow-Origin", response.headers)
        self.assertEqual(self.sub.state, "active")
        status, _data, response = self._as_customer("POST", path, token, {})
        self.assertEqual((status, self.sub.state), (200, "notice"))
        self.assertNotIn("Access-Control-Allow-Origin", response.headers)

    def test_allowed_origins_setting_refuses_what_is_not_an_origin(self):
        for value in ("*", "https://shop.example.com/path", "shop.example.com"):
            with self.subTest(value=value), self.assertRaises(ValidationError):
                self.env.company.subscription_sdk_allowed_origins = value

    # ------------------------------------------------------------------
    # the SDK files
    # ------------------------------------------------------------------
    def test_sdk_module_is_served_to_browsers_and_nothing_else_is(self):
        response = self.url_open("/subscription_billing/sdk/index.js")
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers["Content-Type"].split(";")[0], "text/javascript")
        self.assertEqual(response.headers["Access-Control-Allow-Origin"], "*")
        self.assertIn("export async function pricingTable", response.text)
        for name in ("server.js", "..%2F__manifest__.py", "package.json"):
            with self.subTest(name=name):
                self.assertEqual(self.url_open(f"/subscription_billing/sdk/{name}").status_code, 404)
