import { Interaction } from "@web/public/interaction";
import { registry } from "@web/core/registry";

/**
 * The end of a hosted signup opened by the JavaScript SDK's checkout(): tell the page that opened it
 * (popup: window.opener, iframe: window.parent) which subscription was created. The message goes to
 * the one origin the server rendered (an allowed origin of the company), never to "*".
 */
export class SubscriptionCheckoutResult extends Interaction {
    static selector = ".o_subscription_checkout_result";

    start() {
        const origin = this.el.dataset.origin;
        const result = JSON.parse(this.el.dataset.result);
        const target = window.opener || (window.parent !== window ? window.parent : null);
        if (target && origin) {
            target.postMessage(result, origin);
        }
    }
}

registry.category("public.interactions").add("subscription_billing.checkout_result", SubscriptionCheckoutResult);
