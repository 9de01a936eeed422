/**
 * Server-side (Node >= 18) client of the subscription_billing REST API (/api/subscription/v1, Bearer API key).
 *
 * Every POST carries an Idempotency-Key (yours, or one generated per call and kept across its retries), so a
 * retried request never acts twice: the server replays the first answer. 429 (after Retry-After), 5xx and
 * network errors are retried with exponential backoff; any other refusal throws an ApiError at once.
 */
import { randomUUID } from "node:crypto";

export const API_PREFIX = "/api/subscription/v1";

/** A refusal of the API: RFC 9457 problem details with a stable ``code`` and the offending ``field``. */
export class ApiError extends Error {
    constructor(status, body) {
        super((body && (body.detail || body.title)) || `HTTP ${status}`);
        this.name = "ApiError";
        this.status = status;
        this.body = body;
        this.code = body && body.code;
        this.field = body && body.field;
    }
}

const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504]);

export class ApiClient {
    constructor({ baseUrl, apiKey, retries = 3, backoffMs = 200, maxBackoffMs = 10000, fetch: fetchImpl } = {}) {
        if (!baseUrl || !apiKey) {
            throw new TypeError("baseUrl and apiKey are required");
        }
        this.baseUrl = baseUrl.replace(/\/+$/, "");
        this.apiKey = apiKey;
        this.retries = retries;
        this.backoffMs = backoffMs;
        this.maxBackoffMs = maxBackoffMs;
        this.fetch = fetchImpl || ((...args) => globalThis.fetch(...args));
    }

    /** ``method`` on ``path`` (below the API prefix); resolves with the parsed JSON answer. */
    async request(method, path, { body, idempotencyKey, query, headers: extra } = {}) {
        const headers = { Authorization: `Bearer ${this.apiKey}`, Accept: "application/json", ...extra };
        if (body !== undefined) {
            headers["Content-Type"] = "application/json";
        }
        if (method === "POST") {
            headers["Idempotency-Key"] = idempotencyKey || randomUUID();
        }
        const search = query ? `?${new URLSearchParams(query)}` : "";
        const target = `${this.baseUrl}${API_PREFIX}${path}${search}`;
        let attempt = 0;
        for (;;) {
            let response;
            try {
                response = await this.fetch(target, {
                    method,
                    headers,
                    body: body === undefined ? undefined : JSON.stringify(body),
                });
            } catch (error) {
                if (attempt >= this.retries) {
                    throw error;
                }
                await this._sleep(attempt++);
                continue;
            }
            if (RETRYABLE.has(response.status) && attempt < this.retries) {
                await response.arrayBuffer().catch(() => null); // free the connection
                await this._sleep(attempt++, response.headers.get("Retry-After"));
                continue;
            }
            const text = await response.text();
            let data = null;
            try {
                data = text ? JSON.parse(text) : null;
            } catch {
                data = { detail: text.slice(0, 500) };
            }
            if (!response.ok) {
                throw new ApiError(response.status, data);
            }
            return data;
        }
    }

    /** The delay before retry ``attempt``: Retry-After when the server sent one, else exponential backoff. */
    backoff(attempt, retryAfter) {
        const seconds = Number(retryAfter);
        if (Number.isFinite(seconds) && seconds > 0) {
            return Math.min(seconds * 1000, this.maxBackoffMs);
        }
        return Math.min(this.backoffMs * 2 ** attempt, this.maxBackoffMs);
    }

    _sleep(attempt, retryAfter) {
        return new Promise((resolve) => setTimeout(resolve, this.backoff(attempt, retryAfter)));
    }

    // customers
    createCustomer(customer, options = {}) {
        return this.request("POST", "/customers", { body: customer, ...options });
    }
    getCustomer(id) {
        return this.request("GET", `/customers/${id}`);
    }
    // plans
    listPlans(query) {
        return this.request("GET", "/plans", { query });
    }
    // subscriptions
    createSubscription(subscription, options = {}) {
        return this.request("POST", "/subscriptions", { body: subscription, ...options });
    }
    listSubscriptions(query) {
        return this.request("GET", "/subscriptions", { query });
    }
    getSubscription(id) {
        return this.request("GET", `/subscriptions/${id}`);
    }
    /** The next invoice the billing runs will create for the subscription (projected, nothing written). */
    upcomingInvoice(id) {
        return this.request("GET", `/subscriptions/${id}/upcoming_invoice`);
    }
    previewChange(id, change, options = {}) {
        return this.request("POST", `/subscriptions/${id}/change/preview`, { body: change, ...options });
    }
    change(id, change, options = {}) {
        return this.request("POST", `/subscriptions/${id}/change`, { body: change, ...options });
    }
    pause(id, body = {}, options = {}) {
        return this.request("POST", `/subscriptions/${id}/pause`, { body, ...options });
    }
    resume(id, body = {}, options = {}) {
        return this.request("POST", `/subscriptions/${id}/resume`, { body, ...options });
    }
    cancel(id, body = {}, options = {}) {
        return this.request("POST", `/subscriptions/${id}/cancel`, { body, ...options });
    }
    // usage
    ingestUsage(records, options = {}) {
        return this.request("POST", "/usage_records", { body: { records }, ...options });
    }
    // self-service sessions for the browser SDK (portal.session)
    createPortalSession(subscriptionId, { ttlSeconds } = {}, options = {}) {
        const body = ttlSeconds ? { ttl_seconds: ttlSeconds } : {};
        return this.request("POST", `/subscriptions/${subscriptionId}/portal_sessions`, { body, ...options });
    }
    revokePortalSession(subscriptionId, sessionId, options = {}) {
        return this.request("POST", `/subscriptions/${subscriptionId}/portal_sessions/${sessionId}/revoke`, options);
    }
}
