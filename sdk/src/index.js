/**
 * Browser SDK of subscription_billing: no dependencies, no build step.
 *
 *   import { configure, pricingTable, checkout, portal } from "./index.js";
 *   configure({ baseUrl: "https://billing.example.com" });
 *   await pricingTable(document.querySelector("#pricing"), { family: 3, currency: "EUR" });
 */

const state = { baseUrl: "", fetch: (...args) => globalThis.fetch(...args) };

/** Where the Odoo server is, and (for tests) which fetch to use. */
export function configure({ baseUrl = "", fetch: fetchImpl } = {}) {
    state.baseUrl = baseUrl.replace(/\/+$/, "");
    if (fetchImpl) {
        state.fetch = fetchImpl;
    }
}

function url(path) {
    return `${state.baseUrl}${path}`;
}

function escapeHtml(text) {
    return String(text).replace(
        /[&<>"']/g,
        (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]
    );
}

/** The plans of a family with their prices in ``currency`` (the data of the hosted pricing page). */
export async function fetchPlans({ family, currency } = {}) {
    if (!Number.isInteger(family) || family <= 0) {
        throw new TypeError("family must be the id of a plan family");
    }
    const query = currency ? `?currency=${encodeURIComponent(currency)}` : "";
    const response = await state.fetch(url(`/subscribe/${family}/plans.json${query}`));
    if (!response.ok) {
        throw new Error(`plans of family ${family}: HTTP ${response.status}`);
    }
    return response.json();
}

/** HTML of a pricing table (pure: testable without a DOM). */
export function renderPricingTable(data, { period } = {}) {
    const plans = period ? data.plans.filter((p) => p.period_unit === period) : data.plans;
    const cards = plans.map((plan) => {
        const price = new Intl.NumberFormat(undefined, { style: "currency", currency: plan.currency }).format(plan.price);
        const trial = plan.trial_count ? `<p class="sb-trial">${plan.trial_count} ${escapeHtml(plan.trial_unit)}</p>` : "";
        return (
            `<div class="sb-plan" data-plan-id="${plan.id}">` +
            `<h3>${escapeHtml(plan.name)}</h3>` +
            `<p class="sb-price">${escapeHtml(price)} <span>${escapeHtml(plan.period_label)}</span></p>` +
            trial +
            `<a class="sb-choose" href="${escapeHtml(url(plan.signup_url))}">Choose</a>` +
            "</div>"
        );
    });
    return `<div class="sb-pricing-table">${cards.join("")}</div>`;
}

/**
 * Fill ``element`` with the family's pricing table. "Choose" links to the hosted signup; with
 * ``onChoose(plan, event)`` the click calls it instead (e.g. to open ``checkout()`` in a popup).
 */
export async function pricingTable(element, { family, currency, period, onChoose } = {}) {
    const data = await fetchPlans({ family, currency });
    element.innerHTML = renderPricingTable(data, { period });
    if (onChoose && element.addEventListener) {
        element.addEventListener("click", (event) => {
            const card = event.target.closest && event.target.closest(".sb-plan");
            if (!card || !event.target.closest(".sb-choose")) {
                return;
            }
            const plan = data.plans.find((p) => String(p.id) === card.dataset.planId);
            if (plan) {
                event.preventDefault();
                onChoose(plan, event);
            }
        });
    }
    return data;
}

/** URL of the hosted signup of ``plan`` (of ``family``); ``origin``: the page to send the result to. */
export function checkoutUrl({ family, plan, currency, origin } = {}) {
    if (!Number.isInteger(family) || !Number.isInteger(plan)) {
        throw new TypeError("family and plan must be ids");
    }
    const query = new URLSearchParams();
    if (currency) {
        query.set("currency", currency);
    }
    if (origin) {
        query.set("sdk_origin", origin);
    }
    const search = query.toString();
    return url(`/subscribe/${family}/${plan}${search ? `?${search}` : ""}`);
}

/** The origin of the Odoo server (where the hosted pages and their messages come from). */
function serverOrigin(win) {
    return new URL(state.baseUrl || win.location.origin, win.location.href).origin;
}

export const CHECKOUT_MESSAGE = "subscription_billing:checkout";

/**
 * Open the hosted signup of ``plan`` in a popup and resolve with its result once the customer has
 * signed up: ``{status: "complete", subscription: {id, reference, state, plan_id, customer_id}}``,
 * or ``{status: "closed"}`` if the popup was closed before. The confirmation page posts the result
 * to this page's origin only, and only if the merchant listed it in "SDK Allowed Origins"; messages
 * from any other window or origin are ignored.
 *
 * ``mode: "redirect"`` opens the signup in this window instead (no result; returns the URL).
 */
export function checkout({ family, plan, currency, mode = "popup", window: win = globalThis.window, features } = {}) {
    if (!win) {
        throw new TypeError("checkout() runs in a browser window");
    }
    const href = checkoutUrl({ family, plan, currency, origin: mode === "popup" ? win.location.origin : undefined });
    if (mode === "redirect") {
        win.location.assign(href);
        return href;
    }
    const popup = win.open(href, "subscription_billing_checkout", features || "popup,width=720,height=900");
    if (!popup) {
        return Promise.reject(new Error("The browser blocked the signup popup; call checkout() from a click."));
    }
    const origin = serverOrigin(win);
    return new Promise((resolve) => {
        const finish = (result) => {
            win.removeEventListener("message", onMessage);
            clearInterval(watch);
            resolve(result);
        };
        const onMessage = (event) => {
            if (event.origin !== origin || event.source !== popup) {
                return;
            }
            const data = event.data;
            if (data && data.type === CHECKOUT_MESSAGE && data.subscription) {
                finish({ status: data.status || "complete", subscription: data.subscription });
            }
        };
        const watch = setInterval(() => {
            if (popup.closed) {
                finish({ status: "closed" });
            }
        }, 500);
        win.addEventListener("message", onMessage);
    });
}

/** A refusal of the self-service API (RFC 9457 problem): ``status``, stable ``code``, ``field``. */
export class SessionError extends Error {
    constructor(status, body) {
        super((body && (body.detail || body.title)) || `HTTP ${status}`);
        this.name = "SessionError";
        this.status = status;
        this.code = body && body.code;
        this.field = body && body.field;
        this.body = body;
    }
}

const API_PREFIX = "/api/subscription/v1";

function sessionClient(token, subscriptionId) {
    if (typeof token !== "string" || !token) {
        throw new TypeError("a session token (from createPortalSession) is required");
    }
    if (!Number.isInteger(subscriptionId)) {
        throw new TypeError("the session's subscription id is required");
    }
    const call = async (method, path, body) => {
        const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
        if (body !== undefined) {
            headers["Content-Type"] = "application/json";
        }
        const response = await state.fetch(url(`${API_PREFIX}${path}`), {
            method,
            headers,
            body: body === undefined ? undefined : JSON.stringify(body),
            credentials: "omit",
        });
        const text = await response.text();
        let data = null;
        try {
            data = text ? JSON.parse(text) : null;
        } catch {
            data = { detail: text.slice(0, 200) };
        }
        if (!response.ok) {
            throw new SessionError(response.status, data);
        }
        return data;
    };
    const base = `/portal/subscriptions/${subscriptionId}`;
    return {
        subscriptionId,
        /** The subscription, what the customer may do now, the plans, the earliest end date. */
        get: () => call("GET", base),
        /** What a change would do (nothing is stored): ``{plan_id, lines, timing}``. */
        preview: (change = {}) => call("POST", `${base}/change/preview`, change),
        change: (change = {}) => call("POST", `${base}/change`, change),
        /** Pause until ``resume_date`` (YYYY-MM-DD). */
        pause: ({ resume_date } = {}) => call("POST", `${base}/pause`, { resume_date }),
        /** Give notice today; ends on the earliest end date. */
        cancel: ({ reason_id } = {}) => call("POST", `${base}/cancel`, reason_id ? { reason_id } : {}),
        /** End the session: the token is refused from now on. */
        end: () => call("DELETE", "/portal/session"),
    };
}

export const portal = {
    /** URL of a subscription's self-service page; ``accessToken`` opens it without a login. */
    url({ id, accessToken } = {}) {
        if (!Number.isInteger(id)) {
            throw new TypeError("id must be a subscription id");
        }
        const query = accessToken ? `?access_token=${encodeURIComponent(accessToken)}` : "";
        return url(`/my/subscriptions/${id}${query}`);
    },
    /** Open the self-service page of ``subscription`` ({id, accessToken}). */
    open(subscription, target = globalThis.window) {
        const href = portal.url(subscription);
        if (target && target.location) {
            target.location.assign(href);
        }
        return href;
    },
    /**
     * Self-service calls with a session token the merchant's backend obtained from
     * ``POST /subscriptions/{id}/portal_sessions``: pass that answer (``{token, subscription_id}``),
     * or the token and the subscription id.
     */
    session(session, subscriptionId) {
        if (session && typeof session === "object") {
            return sessionClient(session.token, session.subscription_id);
        }
        return sessionClient(session, subscriptionId);
    },
};
