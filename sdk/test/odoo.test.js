/**
 * The SDK against a real Odoo: `python3 scripts/dev.py test` (or `test-sdk`) starts Odoo on a throw-away
 * database, creates an API key, plans and a subscription (scripts/sdk_test_setup.py) and runs this file
 * with SB_BASE_URL, SB_API_KEY and the ids in the environment. Without SB_BASE_URL these tests are
 * skipped, and dev.py counts a skipped test as a failure.
 */
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { describe, test } from "node:test";

import { configure, fetchPlans, portal, SessionError } from "../src/index.js";
import { API_PREFIX, ApiClient, ApiError } from "../src/server.js";

const env = process.env;
const skip = env.SB_BASE_URL ? false : "needs a running Odoo: python3 scripts/dev.py test-sdk";
const run = randomUUID().slice(0, 8); // names unique per run
const today = new Date().toISOString().slice(0, 10);
/** A test that needs the server: skipped (and counted as skipped) without it. */
const it = (name, fn) => test(name, { skip }, fn);

function client() {
    return new ApiClient({ baseUrl: env.SB_BASE_URL, apiKey: env.SB_API_KEY, backoffMs: 50 });
}

async function newSubscription(api) {
    const customer = await api.createCustomer({ name: `Kunde ${run} ${randomUUID().slice(0, 4)}` });
    return api.createSubscription({ customer_id: customer.id, plan_id: Number(env.SB_PLAN_ID) });
}

describe("server client against Odoo", () => {
    it("creates a customer and a running subscription of a plan", async () => {
        const api = client();
        const customer = await api.createCustomer({ name: `Erika ${run}`, email: `erika.${run}@example.com` });
        assert.equal(customer.object, "customer");
        assert.equal(customer.email, `erika.${run}@example.com`);
        const sub = await api.createSubscription({ customer_id: customer.id, plan_id: Number(env.SB_PLAN_ID) });
        assert.equal(sub.object, "subscription");
        assert.equal(sub.customer_id, customer.id);
        assert.equal(sub.state, "active");
        assert.equal(sub.recurring_total, "10.00"); // the plan's one recurring line: 1 x 10.00
        assert.equal((await api.getSubscription(sub.id)).reference, sub.reference);
    });

    it("ingests usage: created, then a duplicate for the same record key", async () => {
        const api = client();
        const sub = await newSubscription(api);
        const record = {
            subscription_id: sub.id,
            metric: env.SB_METRIC_CODE,
            quantity: 42,
            timestamp: new Date().toISOString(),
            idempotency_key: `usage-${run}`,
        };
        const first = await api.ingestUsage([record]);
        assert.deepEqual([first.created, first.duplicate, first.rejected], [1, 0, 0]);
        const again = await api.ingestUsage([record]);
        assert.equal(again.results[0].status, "duplicate");
    });

    it("a retry with the same Idempotency-Key replays the first answer instead of creating twice", async () => {
        const api = client();
        const key = `create-${run}`;
        const first = await api.createCustomer({ name: `Once ${run}` }, { idempotencyKey: key });
        const response = await fetch(`${env.SB_BASE_URL}${API_PREFIX}/customers`, {
            method: "POST",
            headers: {
                Authorization: `Bearer ${env.SB_API_KEY}`,
                "Content-Type": "application/json",
                "Idempotency-Key": key,
            },
            body: JSON.stringify({ name: `Once ${run}` }),
        });
        assert.equal(response.status, 201);
        assert.equal(response.headers.get("idempotent-replayed"), "true");
        assert.equal((await response.json()).id, first.id);
        const replayed = await api.createCustomer({ name: `Once ${run}` }, { idempotencyKey: key });
        assert.equal(replayed.id, first.id);
    });

    it("the same Idempotency-Key with another body is a 409 and is not retried", async () => {
        const api = client();
        const key = `conflict-${run}`;
        await api.createCustomer({ name: `First ${run}` }, { idempotencyKey: key });
        const started = Date.now();
        await assert.rejects(api.createCustomer({ name: `Second ${run}` }, { idempotencyKey: key }), (error) => {
            assert.ok(error instanceof ApiError);
            assert.equal(error.status, 409);
            assert.equal(error.code, "idempotency_key_reused");
            return true;
        });
        assert.ok(Date.now() - started < 2000, "a 409 is final: no backoff, no retry");
    });

    it("bad input is an application/problem+json 422 naming the field", async () => {
        const response = await fetch(`${env.SB_BASE_URL}${API_PREFIX}/customers`, {
            method: "POST",
            headers: { Authorization: `Bearer ${env.SB_API_KEY}`, "Content-Type": "application/json" },
            body: JSON.stringify({ email: "no-name@example.com" }),
        });
        assert.equal(response.status, 422);
        assert.match(response.headers.get("content-type"), /^application\/problem\+json/);
        const problem = await response.json();
        assert.deepEqual([problem.status, problem.code, problem.field], [422, "validation_error", "name"]);
        await assert.rejects(client().createSubscription({ customer_id: 1, plan_id: 0 }), (error) => {
            assert.equal(error.status, 422);
            assert.equal(error.field, "plan_id");
            return true;
        });
    });

    it("a wrong API key is a 401 problem", async () => {
        const api = new ApiClient({ baseUrl: env.SB_BASE_URL, apiKey: "wrong", backoffMs: 1 });
        await assert.rejects(api.listPlans(), (error) => error.status === 401 && error.code === "invalid_api_key");
    });

    it("upcomingInvoice projects the next invoice of the plan's recurring line", async () => {
        const api = client();
        const sub = await newSubscription(api);
        const upcoming = await api.upcomingInvoice(sub.id);
        // the plan's one recurring line, 1 x 10.00 a month, on a day from today on
        assert.equal(upcoming.object, "upcoming_invoice");
        assert.equal(upcoming.subscription_id, sub.id);
        assert.equal(upcoming.amount_untaxed, "10.00");
        assert.ok(upcoming.invoice_date >= today, `${upcoming.invoice_date} is not before ${today}`);
        await assert.rejects(api.upcomingInvoice(999999999), (error) => error.status === 404);
    });

    it("previewChange computes the upgrade and stores nothing; change applies it", async () => {
        const api = client();
        const sub = await newSubscription(api);
        const upgrade = { plan_id: Number(env.SB_PLAN_UPGRADE_ID), timing: "period_end" };
        const preview = await api.previewChange(sub.id, upgrade);
        // Basic 10.00 -> Pro 20.00 a month
        assert.deepEqual([preview.id, preview.mrr_before, preview.mrr_after], [null, "10.00", "20.00"]);
        assert.equal((await api.getSubscription(sub.id)).plan_id, Number(env.SB_PLAN_ID));
        const change = await api.change(sub.id, upgrade);
        assert.ok(Number.isInteger(change.id));
        assert.equal(change.state, "scheduled");
        assert.equal(change.new_plan_id, Number(env.SB_PLAN_UPGRADE_ID));
    });
});

describe("browser SDK against Odoo", () => {
    it("fetchPlans reads the family's public plans", async () => {
        configure({ baseUrl: env.SB_BASE_URL });
        const data = await fetchPlans({ family: Number(env.SB_FAMILY_ID) });
        assert.deepEqual(
            data.plans.map((plan) => plan.name),
            ["SDK Basic", "SDK Pro"]
        );
    });

    it("a session token reads, previews, changes, pauses and cancels its subscription", async () => {
        configure({ baseUrl: env.SB_BASE_URL });
        const api = client();
        const sub = await newSubscription(api);
        const issued = await api.createPortalSession(sub.id, { ttlSeconds: 300 });
        assert.match(issued.token, /^sbps_/);
        const session = portal.session(issued);
        const state = await session.get();
        assert.equal(state.subscription.id, sub.id);
        assert.equal(state.allowed_actions.pause, true);
        assert.match(state.earliest_end_date, /^\d{4}-\d\d-\d\d$/);
        const upgrade = { plan_id: Number(env.SB_PLAN_UPGRADE_ID), timing: "period_end" };
        const preview = await session.preview(upgrade);
        assert.deepEqual([preview.id, preview.mrr_after], [null, "20.00"]);
        const change = await session.change(upgrade);
        assert.equal(change.state, "scheduled");
        const resume = new Date(Date.now() + 30 * 86400000).toISOString().slice(0, 10);
        const paused = await session.pause({ resume_date: resume });
        assert.equal(paused.subscription.state, "paused");
        const cancelled = await session.cancel();
        assert.equal(cancelled.subscription.state, "notice");
        assert.equal(cancelled.subscription.end_date, state.earliest_end_date);
        assert.equal(cancelled.subscription.cancellation_request_date, today);
    });

    it("a session token cannot touch another subscription, and is dead once revoked", async () => {
        configure({ baseUrl: env.SB_BASE_URL });
        const api = client();
        const sub = await newSubscription(api);
        const issued = await api.createPortalSession(sub.id);
        const foreign = portal.session(issued.token, Number(env.SB_OTHER_SUBSCRIPTION_ID));
        await assert.rejects(foreign.cancel(), (error) => {
            assert.ok(error instanceof SessionError);
            assert.deepEqual([error.status, error.code], [403, "wrong_subscription"]);
            return true;
        });
        assert.equal((await api.getSubscription(Number(env.SB_OTHER_SUBSCRIPTION_ID))).state, "active");
        await api.revokePortalSession(sub.id, issued.id);
        await assert.rejects(portal.session(issued).get(), (error) => error.status === 401);
        const forged = portal.session(`sbps_${randomUUID()}`, sub.id);
        await assert.rejects(forged.get(), (error) => error.code === "invalid_session");
    });

    it("CORS: the preflight of an allowed origin passes, another origin's is refused", async () => {
        const path = `${env.SB_BASE_URL}${API_PREFIX}/portal/subscriptions/${env.SB_OTHER_SUBSCRIPTION_ID}/cancel`;
        const preflight = (origin) =>
            fetch(path, {
                method: "OPTIONS",
                headers: {
                    Origin: origin,
                    "Access-Control-Request-Method": "POST",
                    "Access-Control-Request-Headers": "authorization, content-type",
                },
            });
        const allowed = await preflight(env.SB_ALLOWED_ORIGIN);
        assert.equal(allowed.status, 204);
        assert.equal(allowed.headers.get("access-control-allow-origin"), env.SB_ALLOWED_ORIGIN);
        const refused = await preflight("https://evil.example.com");
        assert.equal(refused.status, 403);
        assert.equal(refused.headers.get("access-control-allow-origin"), null);
    });
});
