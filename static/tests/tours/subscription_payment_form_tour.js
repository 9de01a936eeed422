import { registry } from "@web/core/registry";

/** Enter a card in Odoo's payment form (payment_demo) and let the provider confirm it. */
function demoCardSteps() {
    return [
        { content: "Odoo's payment form, validation mode", trigger: "form#o_payment_form[data-mode=validation]" },
        { content: "Card number (demo provider)", trigger: "input[name=customer_input]", run: "edit 4242" },
        { content: "The demo provider confirms", trigger: "select#simulated_payment_state", run: "select done" },
        {
            content: "Save the payment method",
            trigger: "button[name=o_payment_submit_button]:enabled",
            run: "click",
            expectUnloadPage: true,
        },
    ];
}

/** A customer adds a card on the subscription page: it becomes the subscription's payment method. */
function addCardSteps({ saved }) {
    return [
        {
            content: "Add a card / payment method",
            trigger: "a.o_subscription_add_payment_method",
            run: "click",
            expectUnloadPage: true,
        },
        ...demoCardSteps(),
        { content: "Back on the subscription: saved", trigger: `.o_subscription_self_service_message:contains(${saved})` },
        { content: "The card is the payment method", trigger: "#subscription_payment_method p:contains(4242)" },
    ];
}

registry.category("web_tour.tours").add("subscription_portal_add_card", {
    steps: () => addCardSteps({ saved: "Your new payment method has been saved" }),
});

registry.category("web_tour.tours").add("subscription_portal_add_card_de", {
    steps: () => addCardSteps({ saved: "Ihre neue Zahlungsmethode wurde gespeichert" }),
});

/** A visitor signs up paying by card: the subscription starts once the card is confirmed. */
function signupCardSteps({ email, welcome }) {
    return [
        {
            content: "Choose the plan on the pricing page",
            trigger: ".o_subscription_pricing_plan:contains(Storage Card) a.o_subscription_pricing_choose",
            run: "click",
            expectUnloadPage: true,
        },
        { content: "Name", trigger: "input[name=name]", run: "edit Carla Tour" },
        { content: "E-mail", trigger: "input[name=email]", run: `edit ${email}` },
        { content: "Street", trigger: "input[name=street]", run: "edit Hauptstraße 1" },
        { content: "ZIP", trigger: "input[name=zip]", run: "edit 10115" },
        { content: "City", trigger: "input[name=city]", run: "edit Berlin" },
        { content: "Card / other (via payment provider)", trigger: "input#payment_card", run: "check" },
        { content: "Terms", trigger: "input#accept_terms", run: "check" },
        { content: "Right of withdrawal", trigger: "input#accept_withdrawal", run: "check" },
        {
            content: "Subscribe",
            trigger: "button.o_subscription_signup_submit",
            run: "click",
            expectUnloadPage: true,
        },
        { content: "Last step: the payment method", trigger: ".o_subscription_signup_awaiting_payment" },
        ...demoCardSteps(),
        { content: "Welcome: the subscription has started", trigger: `.o_subscription_welcome:contains(${welcome})` },
    ];
}

registry.category("web_tour.tours").add("subscription_signup_card", {
    steps: () => signupCardSteps({ email: "carla.tour@example.com", welcome: "Welcome!" }),
});

registry.category("web_tour.tours").add("subscription_signup_card_de", {
    steps: () => signupCardSteps({ email: "carla.tour.de@example.com", welcome: "Willkommen!" }),
});
