import { Interaction } from "@web/public/interaction";
import { registry } from "@web/core/registry";
import { rpc } from "@web/core/network/rpc";

/** Checks the IBAN while the customer types it (the server checks it again on submit). */
export class SubscriptionIbanCheck extends Interaction {
    static selector = ".o_subscription_iban_check";
    dynamicContent = {
        "input[name=iban]": { "t-on-change": this.check, "t-on-blur": this.check },
    };

    async check() {
        const input = this.el.querySelector("input[name=iban]");
        const feedback = this.el.querySelector(".o_subscription_iban_feedback");
        if (!input.value.trim()) {
            input.classList.remove("is-valid", "is-invalid");
            feedback.textContent = "";
            return;
        }
        const result = await this.waitFor(rpc("/subscription/iban/check", { iban: input.value }));
        input.classList.toggle("is-valid", result.valid);
        input.classList.toggle("is-invalid", !result.valid);
        feedback.textContent = result.valid ? result.iban : result.message;
        feedback.classList.toggle("text-danger", !result.valid);
        feedback.classList.toggle("text-success", result.valid);
    }
}

registry.category("public.interactions").add("subscription_billing.iban_check", SubscriptionIbanCheck);
