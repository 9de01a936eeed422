import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";

import { checkout, checkoutUrl, configure, fetchPlans, portal, pricingTable, renderPricingTable } from "../src/index.js";
import { ApiClient, ApiError } from "../src/server.js";

// A local HTTP server stands in for Odoo: the public plans.json of the hosted signup and the REST API.
const PLANS = {
    family: { id: 3, name: "Cloud <Storage>" },
    plans: [
        { id: 7, name: "S", price: 10, currency: "EUR", period_unit: "month", period_count: 1, period_label: "/ month",
          trial_days: 14, trial_count: 14, trial_unit: "day", signup_url: "/subscribe/3/7?currency=EUR" },
        { id: 8, name: "S yearly", price: 100, currency: "EUR", period_unit: "year", period_count: 1,
          period_label: "/ year", trial_days: null, trial_count: 0, trial_unit: "day",
          signup_url: "/subscribe/3/8?currency=EUR" },
    ],
};
const calls = [];
let failuresLeft = 0;
let server;
let base;

before(async () => {
    server = createServer((req, res) => {
        let body = "";
        req.on("data", (chunk) => (body += chunk));
        req.on("end", () => {
            calls.push({ method: req.method, url: req.url, headers: req.headers, body });
            if (req.url.startsWith("/subscribe/3/plans.json")) {
                res.writeHead(200, { "Content-Type": "application/json" });
                return res.end(JSON.stringify(PLANS));
            }
            if (req.url.startsWith("/api/v1/")) {
                if (req.headers.authorization !== "Bearer key-123") {
                    res.writeHead(401, { "Content-Type": "application/problem+json" });
                    return res.end(JSON.stringify({ code: "authentication_required", title: "Unauthorized" }));
                }
                if (failuresLeft > 0) {
                    failuresLeft--;
                    res.writeHead(503);
                    return res.end();
                }
                res.writeHead(200, { "Content-Type": "application/json" });
                return res.end(JSON.stringify({ ok: true, key: req.headers["idempotency-key"] || null }));
            }
            res.writeHead(404);
            res.end();
        });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${server.address().port}`;
    configure({ baseUrl: base });
});

after(() => server.close());

test("fetchPlans reads the family's plans in the currency", async () => {
    const data = await fetchPlans({ family: 3, currency: "EUR" });
    assert.equal(data.plans.length, 2);
    assert.match(calls.at(-1).url, /currency=EUR/);
});

test("renderPricingTable escapes names, filters the period and links the hosted signup", () => {
    const html = renderPricingTable({ ...PLANS, plans: [{ ...PLANS.plans[0], name: "<b>S</b>" }] });
    assert.ok(html.includes("&lt;b&gt;S&lt;/b&gt;"));
    assert.ok(html.includes(`${base}/subscribe/3/7?currency=EUR`));
    const yearly = renderPricingTable(PLANS, { period: "year" });
    assert.ok(yearly.includes('data-plan-id="8"'));
    assert.ok(!yearly.includes('data-plan-id="7"'));
});

test("pricingTable fills an element", async () => {
    const element = { innerHTML: "" };
    await pricingTable(element, { family: 3, currency: "EUR", period: "month" });
    assert.ok(element.innerHTML.includes('data-plan-id="7"'));
});

test("checkout and portal build and open the hosted pages", () => {
    const opened = [];
    const target = { location: { assign: (href) => opened.push(href) } };
    assert.equal(checkoutUrl({ family: 3, plan: 7, currency: "EUR" }), `${base}/subscribe/3/7?currency=EUR`);
    checkout({ family: 3, plan: 7, target });
    portal.open({ id: 42, accessToken: "t/k" }, target);
    assert.deepEqual(opened, [`${base}/subscribe/3/7`, `${base}/my/subscriptions/42?access_token=t%2Fk`]);
    assert.throws(() => checkoutUrl({ family: "3", plan: 7 }), TypeError);
});

test("ApiClient retries a 503 with the same idempotency key", async () => {
    const client = new ApiClient({ baseUrl: base, apiKey: "key-123", backoffMs: 1 });
    failuresLeft = 2;
    const before = calls.length;
    const result = await client.cancel(5, {}, { idempotencyKey: "cancel-5" });
    const attempts = calls.slice(before);
    assert.equal(attempts.length, 3);
    assert.deepEqual(new Set(attempts.map((c) => c.headers["idempotency-key"])), new Set(["cancel-5"]));
    assert.equal(result.key, "cancel-5");
});

test("ApiClient generates an idempotency key for POSTs only and reports API errors", async () => {
    const client = new ApiClient({ baseUrl: base, apiKey: "key-123", backoffMs: 1 });
    const posted = await client.pause(5);
    assert.ok(posted.key && posted.key.length >= 32);
    const got = await client.getSubscription(5);
    assert.equal(got.key, null);
    const wrong = new ApiClient({ baseUrl: base, apiKey: "wrong", backoffMs: 1 });
    await assert.rejects(wrong.listPlans(), (error) => error instanceof ApiError && error.status === 401);
});
