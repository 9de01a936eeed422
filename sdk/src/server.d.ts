export const API_PREFIX: "/api/subscription/v1";

/** A refusal of the API (RFC 9457 problem details). */
export class ApiError extends Error {
    status: number;
    code?: string;
    field?: string;
    body: unknown;
}

export interface RequestOptions {
    body?: unknown;
    /** Sent on every POST (generated when omitted); the same key on a retry replays the first answer. */
    idempotencyKey?: string;
    query?: Record<string, string>;
    headers?: Record<string, string>;
}

export type CallOptions = Omit<RequestOptions, "body">;

export interface PortalSession {
    id: number;
    object: "portal_session";
    subscription_id: number;
    expires_at: string;
    revoked: boolean;
    /** Only in the answer of createPortalSession. */
    token?: string;
}

export class ApiClient {
    constructor(options: {
        baseUrl: string;
        apiKey: string;
        retries?: number;
        backoffMs?: number;
        maxBackoffMs?: number;
        fetch?: typeof fetch;
    });
    request<T = unknown>(method: "GET" | "POST" | "PATCH" | "DELETE", path: string, options?: RequestOptions): Promise<T>;
    backoff(attempt: number, retryAfter?: string | null): number;
    createCustomer(customer: Record<string, unknown>, options?: CallOptions): Promise<any>;
    getCustomer(id: number): Promise<any>;
    listPlans(query?: Record<string, string>): Promise<any>;
    createSubscription(subscription: Record<string, unknown>, options?: CallOptions): Promise<any>;
    listSubscriptions(query?: Record<string, string>): Promise<any>;
    getSubscription(id: number): Promise<any>;
    /** The next invoice the billing runs will create (projected; money as decimal strings). */
    upcomingInvoice(id: number): Promise<UpcomingInvoice>;
    previewChange(id: number, change: Record<string, unknown>, options?: CallOptions): Promise<any>;
    change(id: number, change: Record<string, unknown>, options?: CallOptions): Promise<any>;
    pause(id: number, body?: { date?: string }, options?: CallOptions): Promise<any>;
    resume(id: number, body?: { date?: string }, options?: CallOptions): Promise<any>;
    cancel(id: number, body?: { request_date?: string; end_date?: string; reason?: string }, options?: CallOptions): Promise<any>;
    ingestUsage(records: Record<string, unknown>[], options?: CallOptions): Promise<any>;
    createPortalSession(subscriptionId: number, options?: { ttlSeconds?: number }, call?: CallOptions): Promise<PortalSession>;
    revokePortalSession(subscriptionId: number, sessionId: number, options?: CallOptions): Promise<PortalSession>;
}

export interface UpcomingInvoice {
    object: "upcoming_invoice";
    subscription_id: number;
    subscription_ids?: number[];
    currency: string;
    invoice_date: string;
    amount_untaxed: string;
    amount_tax: string;
    amount_total: string;
    has_usage?: boolean;
    lines: Record<string, unknown>[];
}
