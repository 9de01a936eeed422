import { registry } from "@web/core/registry";

/** A visitor chooses a plan on the pricing page and signs up with a SEPA mandate. */
function signupSteps({ email, country, welcome }) {
    return [
        {
            content: "Choose the plan on the pricing page",
            trigger: ".o_subscription_pricing_plan:contains(Storage S) a.o_subscription_pricing_choose",
            run: "click",
            expectUnloadPage: true,
        },
        { content: "Name", trigger: "input[name=name]", run: "edit Tina Tour" },
        { content: "E-mail", trigger: "input[name=email]", run: `edit ${email}` },
        { content: "Street", trigger: "input[name=street]", run: "edit Hauptstraße 1" },
        { content: "ZIP", trigger: "input[name=zip]", run: "edit 10115" },
        { content: "City", trigger: "input[name=city]", run: "edit Berlin" },
        ...(country ? [{ content: "Country", trigger: "select[name=country_id]", run: `selectByLabel ${country}` }] : []),
        { content: "SEPA direct debit", trigger: "input#payment_sepa", run: "check" },
        { content: "A mistyped IBAN", trigger: "input[name=iban]", run: "edit DE89 3704 0044 0532 0130 01" },
        { content: "Leave the field", trigger: "input[name=account_holder]", run: "click" },
        { content: "The IBAN is refused at once", trigger: "input[name=iban].is-invalid" },
        { content: "The right IBAN", trigger: "input[name=iban]", run: "edit DE89 3704 0044 0532 0130 00" },
        { content: "Account holder", trigger: "input[name=account_holder]", run: "edit Tina Tour" },
        { content: "The IBAN is accepted", trigger: "input[name=iban].is-valid" },
        { content: "Mandate consent", trigger: "input#sepa_consent", run: "check" },
        { content: "The order summary is shown", trigger: ".o_subscription_signup_summary" },
        { content: "Terms", trigger: "input#accept_terms", run: "check" },
        { content: "Right of withdrawal", trigger: "input#accept_withdrawal", run: "check" },
        {
            content: "Subscribe",
            trigger: "button.o_subscription_signup_submit",
            run: "click",
            expectUnloadPage: true,
        },
        { content: "Welcome on the subscription page", trigger: `.o_subscription_welcome:contains(${welcome})` },
    ];
}

registry.category("web_tour.tours").add("subscription_signup_sepa", {
    steps: () => signupSteps({ email: "tina.tour@example.com", country: "Germany", welcome: "Welcome!" }),
});

// German: the country stays the company's (preselected), so no country name to translate
registry.category("web_tour.tours").add("subscription_signup_sepa_de", {
    steps: () => signupSteps({ email: "tina.tour.de@example.com", country: null, welcome: "Willkommen!" }),
});

/**
 * Continues on the hosted signup form after the plain page of static/tests/sdk/sdk_embed.html (the SDK's
 * pricingTable, no Odoo assets) sent the visitor there: tests/test_sdk_browser.py clicks the plan there and
 * hands over to this tour. A trial without a payment method, ending on the welcome page.
 */
registry.category("web_tour.tours").add("subscription_sdk_embed_signup", {
    steps: () => [
        { content: "The signup form of the chosen plan", trigger: "form:has(input[name=submission_key])" },
        { content: "Name", trigger: "input[name=name]", run: "edit Sara Sdk" },
        { content: "E-mail", trigger: "input[name=email]", run: "edit sara.sdk@example.com" },
        { content: "Street", trigger: "input[name=street]", run: "edit Hauptstraße 2" },
        { content: "ZIP", trigger: "input[name=zip]", run: "edit 10115" },
        { content: "City", trigger: "input[name=city]", run: "edit Berlin" },
        { content: "Country", trigger: "select[name=country_id]", run: "selectByLabel Germany" },
        { content: "Trial without a payment method", trigger: "input#payment_trial", run: "check" },
        { content: "Terms", trigger: "input#accept_terms", run: "check" },
        { content: "Right of withdrawal", trigger: "input#accept_withdrawal", run: "check" },
        {
            content: "Subscribe",
            trigger: "button.o_subscription_signup_submit",
            run: "click",
            expectUnloadPage: true,
        },
        { content: "Welcome on the subscription page", trigger: ".o_subscription_welcome" },
    ],
});
