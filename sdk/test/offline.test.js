/**
 * What needs no Odoo: the client's retry timing against a local stand-in server, the HTML of the pricing
 * table, and the checkout popup's message handling with a fake window. The behaviour against the real
 * server is in odoo.test.js.
 */
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { after, before, test } from "node:test";

import { CHECKOUT_MESSAGE, checkout, checkoutUrl, configure, renderPricingTable } from "../src/index.js";
import { ApiClient, ApiError } from "../src/server.js";

const calls = [];
let script = []; // answers of the stand-in, consumed in order: [status, headers]
let server;
let base;

before(async () => {
    server = createServer((req, res) => {
        req.resume();
        req.on("end", () => {
            calls.push({ at: Date.now(), key: req.headers["idempotency-key"] });
            const [status, headers = {}] = script.shift() || [200];
            res.writeHead(status, { "Content-Type": "application/json", ...headers });
            res.end(JSON.stringify(status < 400 ? { ok: true } : { code: `status_${status}`, detail: "refused" }));
        });
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    base = `http://127.0.0.1:${server.address().port}`;
});

after(() => server.close());

test("5xx answers are retried with exponential backoff and the same idempotency key", async () => {
    const client = new ApiClient({ baseUrl: base, apiKey: "k", backoffMs: 40 });
    script = [[503], [502], [200]];
    calls.length = 0;
    await client.cancel(5, {}, { idempotencyKey: "cancel-5" });
    assert.equal(calls.length, 3);
    assert.deepEqual(new Set(calls.map((c) => c.key)), new Set(["cancel-5"]));
    // waits of 40 ms then 80 ms (timers fire no earlier than asked)
    assert.ok(calls[1].at - calls[0].at >= 38, `first wait ${calls[1].at - calls[0].at} ms`);
    assert.ok(calls[2].at - calls[1].at >= 78, `second wait ${calls[2].at - calls[1].at} ms`);
});

test("a 429 is retried after its Retry-After; 4xx refusals are final", async () => {
    const client = new ApiClient({ baseUrl: base, apiKey: "k", backoffMs: 1 });
    assert.equal(client.backoff(0, "2"), 2000);
    assert.equal(client.backoff(3, null), 8);
    assert.equal(new ApiClient({ baseUrl: base, apiKey: "k", maxBackoffMs: 500 }).backoff(0, "60"), 500);
    script = [[429, { "Retry-After": "1" }], [200]];
    calls.length = 0;
    await client.pause(5);
    assert.ok(calls[1].at - calls[0].at >= 990, "waited the Retry-After second");
    for (const status of [409, 422]) {
        script = [[status], [200]];
        calls.length = 0;
        await assert.rejects(client.pause(5), (error) => error instanceof ApiError && error.status === status);
        assert.equal(calls.length, 1, `${status} is not retried`);
    }
});

test("every POST carries an Idempotency-Key, GETs none", async () => {
    const client = new ApiClient({ baseUrl: base, apiKey: "k" });
    script = [[200], [200]];
    calls.length = 0;
    await client.pause(5);
    await client.getSubscription(5);
    assert.match(calls[0].key, /^[0-9a-f-]{36}$/);
    assert.equal(calls[1].key, undefined);
});

test("the pricing table escapes names, filters the period and links the hosted signup", () => {
    configure({ baseUrl: "https://billing.example.com/" });
    const plan = {
        id: 7, name: "<b>S</b>", price: 10, currency: "EUR", period_unit: "month", period_label: "/ month",
        trial_count: 0, signup_url: "/subscribe/3/7?currency=EUR",
    }; // prettier-ignore
    const html = renderPricingTable({ family: { id: 3 }, plans: [plan, { ...plan, id: 8, period_unit: "year" }] }, {
        period: "month",
    });
    assert.ok(html.includes("&lt;b&gt;S&lt;/b&gt;"));
    assert.ok(html.includes('href="https://billing.example.com/subscribe/3/7?currency=EUR"'));
    assert.ok(!html.includes('data-plan-id="8"'));
    assert.equal(
        checkoutUrl({ family: 3, plan: 7, currency: "EUR", origin: "https://shop.example" }),
        "https://billing.example.com/subscribe/3/7?currency=EUR&sdk_origin=https%3A%2F%2Fshop.example"
    );
    assert.throws(() => checkoutUrl({ family: "3", plan: 7 }), TypeError);
});

function fakeWindow() {
    const listeners = new Set();
    const popup = { closed: false };
    return {
        popup,
        opened: [],
        location: { origin: "https://shop.example", href: "https://shop.example/pricing" },
        open(href) {
            this.opened.push(href);
            return popup;
        },
        addEventListener: (type, fn) => listeners.add(fn),
        removeEventListener: (type, fn) => listeners.delete(fn),
        post: (event) => [...listeners].forEach((fn) => fn(event)),
        listeners,
    };
}

test("checkout resolves with the result the popup posts from the billing origin, ignoring any other", async () => {
    configure({ baseUrl: "https://billing.example.com" });
    const win = fakeWindow();
    const result = checkout({ family: 3, plan: 7, window: win });
    assert.match(win.opened[0], /sdk_origin=https%3A%2F%2Fshop.example/);
    const subscription = { id: 42, reference: "SUB/42", state: "trial", plan_id: 7, customer_id: 9 };
    const message = { type: CHECKOUT_MESSAGE, status: "complete", subscription };
    win.post({ origin: "https://evil.example", source: win.popup, data: { ...message, subscription: { id: 1 } } });
    win.post({ origin: "https://billing.example.com", source: {}, data: { ...message, subscription: { id: 2 } } });
    win.post({ origin: "https://billing.example.com", source: win.popup, data: { type: "other" } });
    win.post({ origin: "https://billing.example.com", source: win.popup, data: message });
    assert.deepEqual(await result, { status: "complete", subscription });
    assert.equal(win.listeners.size, 0, "the listener is removed");
});

test("checkout resolves as closed when the customer closes the popup", async () => {
    configure({ baseUrl: "https://billing.example.com" });
    const win = fakeWindow();
    const result = checkout({ family: 3, plan: 7, window: win });
    win.popup.closed = true;
    assert.deepEqual(await result, { status: "closed" });
    const blocked = { ...fakeWindow(), open: () => null };
    await assert.rejects(checkout({ family: 3, plan: 7, window: blocked }), /blocked/);
});
