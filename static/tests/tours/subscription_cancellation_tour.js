import { registry } from "@web/core/registry";

/**
 * § 312k BGB: from the footer link of any page to the receipt, without login.
 * The Python test passes the customer's data in the URL-independent way: it sets them up so
 * that "Anna Tour" with anna.tour@mueller.example and the reference below identify a contract.
 */
function cancellationSteps({ linkText, buttonText, receivedText, reference }) {
    return [
        {
            content: "The cancellation link is in the footer of every page",
            trigger: `footer a.o_subscription_cancellation_link:contains("${linkText}")`,
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "Enter the name",
            trigger: "input[name=customer_name]",
            run: "edit Anna Tour",
        },
        {
            content: "Enter the e-mail address of the customer account",
            trigger: "input[name=email]",
            run: "edit anna.tour@mueller.example",
        },
        {
            content: "Enter the contract reference",
            trigger: "input[name=customer_reference]",
            run: `edit ${reference}`,
        },
        {
            content: "Ordinary cancellation is preselected",
            trigger: "input#kind_ordinary:checked",
        },
        {
            content: "Earliest possible end is preselected",
            trigger: "input#end_choice_earliest:checked",
        },
        {
            content: "Enter the e-mail address for the confirmation",
            trigger: "input[name=confirmation_email]",
            run: "edit anna.tour@mueller.example",
        },
        {
            content: "Press the cancellation button",
            trigger: `button.o_subscription_cancel_now:contains("${buttonText}")`,
            run: "click",
            expectUnloadPage: true,
        },
        {
            content: "The receipt page confirms the receipt with date and time",
            trigger: `.o_subscription_cancellation_receipt:contains("${receivedText}") .o_subscription_cancellation_received`,
        },
    ];
}

registry.category("web_tour.tours").add("subscription_cancellation_button_en", {
    steps: () =>
        cancellationSteps({
            linkText: "Cancel contracts here",
            buttonText: "Cancel now",
            receivedText: "Your cancellation has been received.",
            reference: "TOUR-EN-4711",
        }),
});

registry.category("web_tour.tours").add("subscription_cancellation_button_de", {
    steps: () =>
        cancellationSteps({
            linkText: "Verträge hier kündigen",
            buttonText: "jetzt kündigen",
            receivedText: "Ihre Kündigung ist eingegangen.",
            reference: "TOUR-DE-4712",
        }),
});
