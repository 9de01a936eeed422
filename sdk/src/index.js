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

/** Fill ``element`` with the family's pricing table; "Choose" opens the hosted signup. */
export async function pricingTable(element, { family, currency, period } = {}) {
    const data = await fetchPlans({ family, currency });
    element.innerHTML = renderPricingTable(data, { period });
    return data;
}

/** URL of the hosted signup of ``plan`` (of ``family``). */
export function checkoutUrl({ family, plan, currency } = {}) {
    if (!Number.isInteger(family) || !Number.isInteger(plan)) {
        throw new TypeError("family and plan must be ids");
    }
    const query = currency ? `?currency=${encodeURIComponent(currency)}` : "";
    return url(`/subscribe/${family}/${plan}${query}`);
}

/** Open the hosted signup (in ``target``, default this window); returns the URL opened. */
export function checkout({ family, plan, currency, target = globalThis.window } = {}) {
    const href = checkoutUrl({ family, plan, currency });
    if (target && target.location) {
        target.location.assign(href);
    }
    return href;
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
};
