import { registry } from "@web/core/registry";

/** A customer upgrades with the preview, then cancels after seeing the retention offer. */
registry.category("web_tour.tours").add("subscription_portal_self_service", {
    steps: () => [
        {
            content: "Open the change page",
            trigger: "a.o_subscription_change_link",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Choose the Pro plan",
            trigger: "select[name=plan_id]",
            run: "selectByLabel Pro Self",
        },
        {
            content: "Immediately, prorated",
            trigger: "input#timing_immediate",
            run: "check",
        },
        {
            content: "Show the preview",
            trigger: "button.o_subscription_change_preview_button",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The preview lists the proration with taxes",
            trigger: ".o_subscription_change_preview table:contains(Proration)",
        },
        {
            content: "Confirm the change",
            trigger: "button.o_subscription_change_confirm",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The change is saved",
            trigger: ".o_subscription_self_service_message",
        },
        {
            content: "Open the cancel page",
            trigger: "a.o_subscription_cancel_link",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The earliest end date and a retention offer are shown",
            trigger: ".o_subscription_retention_offer:contains(Basic Self)",
        },
        {
            content: "Pick a reason",
            trigger: "select[name=reason_id]",
            run: "selectByLabel Too expensive",
        },
        {
            content: "Confirm the cancellation",
            trigger: "button.o_subscription_cancel_confirm",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The subscription is cancelled",
            trigger: ".o_subscription_self_service_message",
        },
    ],
});
