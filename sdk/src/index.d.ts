export interface Plan {
    id: number;
    name: string;
    price: number;
    currency: string;
    period_unit: "day" | "week" | "month" | "year";
    period_count: number;
    period_label: string;
    trial_days: number | null;
    trial_count: number;
    trial_unit: string;
    signup_url: string;
}

export interface PlansResponse {
    family: { id: number; name: string };
    plans: Plan[];
}

export function configure(options?: { baseUrl?: string; fetch?: typeof fetch }): void;
export function fetchPlans(options: { family: number; currency?: string }): Promise<PlansResponse>;
export function renderPricingTable(data: PlansResponse, options?: { period?: Plan["period_unit"] }): string;
export function pricingTable(
    element: { innerHTML: string; addEventListener?: HTMLElement["addEventListener"] },
    options: {
        family: number;
        currency?: string;
        period?: Plan["period_unit"];
        /** Called instead of following the "Choose" link (e.g. to open checkout() in a popup). */
        onChoose?: (plan: Plan, event: Event) => void;
    }
): Promise<PlansResponse>;
export function checkoutUrl(options: { family: number; plan: number; currency?: string; origin?: string }): string;

export const CHECKOUT_MESSAGE: "subscription_billing:checkout";

export interface CheckoutSubscription {
    id: number;
    reference: string;
    state: "draft" | "trial" | "active" | "paused" | "notice" | "ended";
    plan_id: number;
    customer_id: number;
}

export type CheckoutResult =
    | { status: "complete"; subscription: CheckoutSubscription }
    | { status: "closed" };

export interface CheckoutOptions {
    family: number;
    plan: number;
    currency?: string;
    /** Window features of the popup (default "popup,width=720,height=900"). */
    features?: string;
    /** The window to open from (default: the global window). */
    window?: Window;
}

/** Opens the hosted signup in a popup; resolves when the customer signed up or closed the popup. */
export function checkout(options: CheckoutOptions & { mode?: "popup" }): Promise<CheckoutResult>;
/** Opens the hosted signup in this window; returns its URL (no result). */
export function checkout(options: CheckoutOptions & { mode: "redirect" }): string;

export interface SubscriptionLine {
    id: number;
    product_id: number;
    description: string | null;
    quantity: number;
    unit_price: string;
    discount: number;
    subtotal: string;
    line_type: string;
    is_addon: boolean;
    metric: string | null;
}

export interface Subscription {
    id: number;
    object: "subscription";
    reference: string;
    state: CheckoutSubscription["state"];
    customer_id: number;
    plan_id: number;
    plan_code?: string;
    currency: string;
    start_date?: string;
    trial_end_date?: string | null;
    current_period_start?: string | null;
    current_period_end?: string | null;
    next_invoice_date?: string | null;
    pause_date?: string | null;
    cancellation_request_date?: string | null;
    end_date?: string | null;
    recurring_total?: string;
    mrr?: string;
    lines: SubscriptionLine[];
}

export interface PortalSubscription {
    object: "portal_subscription";
    subscription: Subscription;
    allowed_actions: { change: boolean; pause: boolean; resume: boolean; cancel: boolean; reactivate: boolean };
    /** Last day of service of a cancellation given today (YYYY-MM-DD); null when cancelling is not allowed. */
    earliest_end_date: string | null;
    max_pause_days: number;
    plans: { id: number; name: string; code: string | null }[];
    session_expires_at: string;
}

export interface SubscriptionChange {
    object: "subscription_change";
    /** null in a preview (nothing was stored). */
    id: number | null;
    change_type: string;
    timing: "immediate" | "period_end";
    effective_date: string;
    state: string;
    summary: string | null;
    old_plan_id: number;
    new_plan_id: number;
    mrr_before: string;
    mrr_after: string;
    charges: { description: string; amount: string; period_start?: string | null; period_end?: string | null }[];
    subscription: Subscription;
}

export interface ChangeInput {
    plan_id?: number;
    lines?: { plan_line_id: number; quantity: number }[];
    timing?: "immediate" | "period_end";
}

/** A refusal of the self-service API (RFC 9457 problem details). */
export class SessionError extends Error {
    status: number;
    code?: string;
    field?: string;
    body: unknown;
}

export interface PortalSessionClient {
    subscriptionId: number;
    get(): Promise<PortalSubscription>;
    preview(change?: ChangeInput): Promise<SubscriptionChange>;
    change(change?: ChangeInput): Promise<SubscriptionChange>;
    pause(options: { resume_date: string }): Promise<PortalSubscription>;
    cancel(options?: { reason_id?: number }): Promise<PortalSubscription>;
    end(): Promise<{ object: "portal_session_ended"; revoked: true }>;
}

export interface SubscriptionRef {
    id: number;
    accessToken?: string;
}

export const portal: {
    url(subscription: SubscriptionRef): string;
    open(subscription: SubscriptionRef, target?: { location: { assign(url: string): void } } | null): string;
    /** Self-service calls with a session token from `POST /subscriptions/{id}/portal_sessions`. */
    session(session: { token: string; subscription_id: number }): PortalSessionClient;
    session(token: string, subscriptionId: number): PortalSessionClient;
};
