import { registry } from "@web/core/registry";

/** A customer upgrades with the preview, then cancels after seeing the retention offer. */
function selfServiceSteps({ reason, saved, cancelled }) {
    return [
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
            trigger: ".o_subscription_change_preview table tbody tr",
        },
        {
            content: "Confirm the change",
            trigger: "button.o_subscription_change_confirm",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The change is saved",
            trigger: `.o_subscription_self_service_message:contains(${saved})`,
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
            run: `selectByLabel ${reason}`,
        },
        {
            content: "Confirm the cancellation",
            trigger: "button.o_subscription_cancel_confirm",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The subscription is cancelled",
            trigger: `.o_subscription_self_service_message:contains(${cancelled})`,
        },
    ];
}

registry.category("web_tour.tours").add("subscription_portal_self_service", {
    steps: () =>
        selfServiceSteps({
            reason: "Too expensive",
            saved: "Your change has been saved.",
            cancelled: "Your subscription has been cancelled.",
        }),
});

registry.category("web_tour.tours").add("subscription_portal_self_service_de", {
    steps: () =>
        selfServiceSteps({
            reason: "Zu teuer",
            saved: "Ihre Änderung wurde gespeichert.",
            cancelled: "Ihr Abonnement wurde gekündigt.",
        }),
});
