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
    element: { innerHTML: string },
    options: { family: number; currency?: string; period?: Plan["period_unit"] }
): Promise<PlansResponse>;
export function checkoutUrl(options: { family: number; plan: number; currency?: string }): string;
export function checkout(options: {
    family: number;
    plan: number;
    currency?: string;
    target?: { location: { assign(url: string): void } } | null;
}): string;

export interface SubscriptionRef {
    id: number;
    accessToken?: string;
}

export const portal: {
    url(subscription: SubscriptionRef): string;
    open(subscription: SubscriptionRef, target?: { location: { assign(url: string): void } } | null): string;
};
