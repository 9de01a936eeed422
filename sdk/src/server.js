/**
 * Server-side (Node >= 18) client of the subscription_billing REST API (/api/v1, Bearer API key).
 * POSTs carry an Idempotency-Key (generated once per call, kept across its retries), so a retried
 * request never creates twice; 429 and 5xx answers and network errors are retried with backoff.
 */
import { randomUUID } from "node:crypto";

export class ApiError extends Error {
    constructor(status, body) {
        super((body && (body.detail || body.title)) || `HTTP ${status}`);
        this.status = status;
        this.body = body;
        this.code = body && body.code;
    }
}

const RETRYABLE = new Set([408, 409, 425, 429, 500, 502, 503, 504]);

export class ApiClient {
    constructor({ baseUrl, apiKey, retries = 3, backoffMs = 200, fetch: fetchImpl } = {}) {
        if (!baseUrl || !apiKey) {
            throw new TypeError("baseUrl and apiKey are required");
        }
        this.baseUrl = baseUrl.replace(/\/+$/, "");
        this.apiKey = apiKey;
        this.retries = retries;
        this.backoffMs = backoffMs;
        this.fetch = fetchImpl || ((...args) => globalThis.fetch(...args));
    }

    async request(method, path, { body, idempotencyKey, query } = {}) {
        const headers = { Authorization: `Bearer ${this.apiKey}`, Accept: "application/json" };
        if (body !== undefined) {
            headers["Content-Type"] = "application/json";
        }
        if (method === "POST") {
            headers["Idempotency-Key"] = idempotencyKey || randomUUID();
        }
        const search = query ? `?${new URLSearchParams(query)}` : "";
        const target = `${this.baseUrl}/api/v1${path}${search}`;
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
                await this._sleep(attempt++, response.headers.get("Retry-After"));
                continue;
            }
            const text = await response.text();
            const data = text ? JSON.parse(text) : null;
            if (!response.ok) {
                throw new ApiError(response.status, data);
            }
            return data;
        }
    }

    _sleep(attempt, retryAfter) {
        const seconds = Number(retryAfter);
        const ms = Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : this.backoffMs * 2 ** attempt;
        return new Promise((resolve) => setTimeout(resolve, ms));
    }

    listPlans() {
        return this.request("GET", "/plans");
    }
    getSubscription(id) {
        return this.request("GET", `/subscriptions/${id}`);
    }
    previewChange(id, change) {
        return this.request("POST", `/subscriptions/${id}/change/preview`, { body: change });
    }
    change(id, change, options = {}) {
        return this.request("POST", `/subscriptions/${id}/change`, { body: change, ...options });
    }
    pause(id, body = {}, options = {}) {
        return this.request("POST", `/subscriptions/${id}/pause`, { body, ...options });
    }
    cancel(id, body = {}, options = {}) {
        return this.request("POST", `/subscriptions/${id}/cancel`, { body, ...options });
    }
}
