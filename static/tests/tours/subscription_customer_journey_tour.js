import { registry } from "@web/core/registry";

/**
 * Issue 13's "Done when", one customer from signup to cancellation: tests/test_customer_journey.py runs
 * these tours in sequence on the same customer (Jonas Journey) and checks the database after each one.
 */

registry.category("web_tour.tours").add("subscription_journey_signup", {
    steps: () => [
        {
            content: "Choose plan S on the pricing page",
            trigger: ".o_subscription_pricing_plan:contains(Journey S) a.o_subscription_pricing_choose",
            run: "click",
            expectUnloadPage: true,
        },
        { content: "Name", trigger: "input[name=name]", run: "edit Jonas Journey" },
        { content: "E-mail", trigger: "input[name=email]", run: "edit jonas.journey@example.com" },
        { content: "Street", trigger: "input[name=street]", run: "edit Hauptstraße 1" },
        { content: "ZIP", trigger: "input[name=zip]", run: "edit 10115" },
        { content: "City", trigger: "input[name=city]", run: "edit Berlin" },
        { content: "Country", trigger: "select[name=country_id]", run: "selectByLabel Germany" },
        { content: "SEPA direct debit", trigger: "input#payment_sepa", run: "check" },
        { content: "IBAN", trigger: "input[name=iban]", run: "edit DE89 3704 0044 0532 0130 00" },
        { content: "Account holder", trigger: "input[name=account_holder]", run: "edit Jonas Journey" },
        { content: "The IBAN is accepted", trigger: "input[name=iban].is-valid" },
        { content: "Mandate consent", trigger: "input#sepa_consent", run: "check" },
        { content: "Terms", trigger: "input#accept_terms", run: "check" },
        { content: "Right of withdrawal", trigger: "input#accept_withdrawal", run: "check" },
        {
            content: "Subscribe",
            trigger: "button.o_subscription_signup_submit",
            run: "click",
            expectUnloadPage: true,
        },
        { content: "Welcome on the subscription page", trigger: ".o_subscription_welcome:contains(Welcome!)" },
    ],
});

/**
 * Upgrade S → L on the signup day, right after the first month was invoiced: the whole month remains,
 * so the preview credits S's 10.00 and charges L's 30.00, 20.00 in all (lines named after the product).
 */
registry.category("web_tour.tours").add("subscription_journey_upgrade", {
    steps: () => [
        {
            content: "Open the change page",
            trigger: "a.o_subscription_change_link",
            run: "click",
            expectUnloadPage: true,
        },
        { content: "Choose plan L", trigger: "select[name=plan_id]", run: "selectByLabel Journey L" },
        { content: "Immediately, prorated", trigger: "input#timing_immediate", run: "check" },
        {
            content: "Show the preview",
            trigger: "button.o_subscription_change_preview_button",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Credit for the unused month of S: -10.00 (untaxed and total, the test company exports)",
            trigger:
                ".o_subscription_change_preview tr:contains(Unused time on Hosting) td:contains(-):contains(10.00)",
        },
        {
            content: "Charge for the month of L: 30.00",
            trigger:
                ".o_subscription_change_preview tr:contains(Remaining time on Hosting) td.text-end:contains(30.00)",
        },
        {
            content: "Total: 20.00",
            trigger: ".o_subscription_change_preview tr.fw-bold:contains(Total) td.text-end:contains(20.00)",
        },
        {
            content: "Confirm the change",
            trigger: "button.o_subscription_change_confirm",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The change is saved",
            trigger: ".o_subscription_self_service_message:contains(Your change has been saved.)",
        },
    ],
});

/** Replace the SEPA mandate by a card through Odoo's payment form (payment_demo). */
registry.category("web_tour.tours").add("subscription_journey_replace_payment", {
    steps: () => [
        {
            content: "Add a card / payment method",
            trigger: "a.o_subscription_add_payment_method",
            run: "click",
            expectUnloadPage: true,
        },
        { content: "Odoo's payment form, validation mode", trigger: "form#o_payment_form[data-mode=validation]" },
        { content: "Card number (demo provider)", trigger: "input[name=customer_input]", run: "edit 4242" },
        { content: "The demo provider confirms", trigger: "select#simulated_payment_state", run: "select done" },
        {
            content: "Save the payment method",
            trigger: "button[name=o_payment_submit_button]:enabled",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Back on the subscription: saved",
            trigger: ".o_subscription_self_service_message:contains(Your new payment method has been saved)",
        },
        { content: "The card is the payment method", trigger: "#subscription_payment_method p:contains(4242)" },
    ],
});

/** Pause until the latest day the plan allows (the date field's max). */
registry.category("web_tour.tours").add("subscription_journey_pause", {
    steps: () => [
        {
            content: "Pause until the latest day offered",
            trigger: ".o_subscription_pause_form input[name=resume_date][max]",
            run() {
                this.anchor.value = this.anchor.getAttribute("max");
                this.anchor.dispatchEvent(new Event("change", { bubbles: true }));
            },
        },
        {
            content: "Pause",
            trigger: ".o_subscription_pause_form button[type=submit]",
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The subscription is paused",
            trigger: ".o_subscription_self_service_message:contains(Your subscription is paused.)",
        },
        { content: "It can be resumed now", trigger: "button.o_subscription_resume" },
    ],
});

/**
 * Logged out, on the German pricing page: "Verträge hier kündigen" in the footer, the form, "jetzt kündigen".
 * The contract reference comes in the start URL (?journey_reference=...) and is kept for the next pages.
 */
const JOURNEY_REFERENCE_KEY = "subscription_journey_reference";

function journeyReference() {
    const fromUrl = new URLSearchParams(window.location.search).get("journey_reference");
    if (fromUrl) {
        window.sessionStorage.setItem(JOURNEY_REFERENCE_KEY, fromUrl);
    }
    return window.sessionStorage.getItem(JOURNEY_REFERENCE_KEY);
}

registry.category("web_tour.tours").add("subscription_journey_cancel_without_login", {
    steps: () => [
        {
            content: "Not logged in: the footer's cancellation link",
            trigger: 'footer a.o_subscription_cancellation_link:contains("Verträge hier kündigen")',
            run: "click",
            expectUnloadPage: true,
        },
        { content: "Name", trigger: "input[name=customer_name]", run: "edit Jonas Journey" },
        { content: "E-mail of the account", trigger: "input[name=email]", run: "edit jonas.journey@example.com" },
        {
            content: "Contract reference",
            trigger: "input[name=customer_reference]",
            run: `edit ${journeyReference()}`,
        },
        { content: "Ordinary cancellation is preselected", trigger: "input#kind_ordinary:checked" },
        { content: "Earliest possible end is preselected", trigger: "input#end_choice_earliest:checked" },
        {
            content: "E-mail for the confirmation",
            trigger: "input[name=confirmation_email]",
            run: "edit jonas.journey@example.com",
        },
        {
            content: "jetzt kündigen",
            trigger: 'button.o_subscription_cancel_now:contains("jetzt kündigen")',
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The receipt with date and time",
            trigger: [
                '.o_subscription_cancellation_receipt:contains("Ihre Kündigung ist eingegangen.")',
                ".o_subscription_cancellation_received",
            ].join(" "),
        },
    ],
});
