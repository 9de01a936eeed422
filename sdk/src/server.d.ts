export class ApiError extends Error {
    status: number;
    code?: string;
    body: unknown;
}

export interface RequestOptions {
    body?: unknown;
    idempotencyKey?: string;
    query?: Record<string, string>;
}

export class ApiClient {
    constructor(options: { baseUrl: string; apiKey: string; retries?: number; backoffMs?: number; fetch?: typeof fetch });
    request<T = unknown>(method: "GET" | "POST" | "PATCH" | "DELETE", path: string, options?: RequestOptions): Promise<T>;
    listPlans(): Promise<unknown>;
    getSubscription(id: number): Promise<unknown>;
    previewChange(id: number, change: unknown): Promise<unknown>;
    change(id: number, change: unknown, options?: RequestOptions): Promise<unknown>;
    pause(id: number, body?: unknown, options?: RequestOptions): Promise<unknown>;
    cancel(id: number, body?: unknown, options?: RequestOptions): Promise<unknown>;
}
