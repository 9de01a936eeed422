"""The resources as the REST API returns them, shared by the controllers and the webhook events.

Functions of records (no request needed): money as decimal strings in the currency precision,
dates in ISO 8601. Their shapes are the OpenAPI schemas of the same names in api_openapi.py.
"""

from .api_common import iso_date, money


def customer_data(partner):
    invoice_contact = partner.child_ids.filtered(lambda child: child.type == "invoice")[:1]
    return {
        "id": partner.id,
        "object": "customer",
        "name": partner.name,
        "email": partner.email or None,
        "invoice_email": invoice_contact.email or None,
        "vat": partner.vat or None,
        "lang": partner.lang or None,
        "is_company": partner.is_company,
        "address": {
            "street": partner.street or None,
            "street2": partner.street2 or None,
            "zip": partner.zip or None,
            "city": partner.city or None,
            "country": partner.country_id.code or None,
        },
    }


def plan_data(plan):
    return {
        "id": plan.id,
        "object": "plan",
        "code": plan.code,
        "name": plan.name,
        "currency": plan.currency_id.name,
        "billing_period": {"count": plan.billing_period_count, "unit": plan.billing_period_unit},
        "billing_timing": plan.billing_timing,
        "trial": {"count": plan.trial_period_count, "unit": plan.trial_period_unit}
        if plan.trial_period_count
        else None,
        "lines": [plan_line_data(line) for line in plan.line_ids],
    }


def plan_line_data(line):
    prices = [{"currency": line.currency_id.name, "unit_price": money(line.price_unit, line.currency_id)}]
    prices += [
        {"currency": price.currency_id.name, "unit_price": money(price.price_unit, price.currency_id)}
        for price in line.price_ids
    ]
    return {
        "id": line.id,
        "product_id": line.product_id.id,
        "description": line.name or None,
        "quantity": line.quantity,
        "line_type": line.line_type,
        "optional": line.optional,
        "pricing_model": line.pricing_model,
        "included_quantity": line.included_quantity,
        "metric": line.metric_id.code or None,
        "prices": prices,
        "tiers": [
            {
                "currency": tier.currency_id.name,
                "up_to": None if tier.up_to_unlimited else tier.up_to,
                "unit_price": money(tier.unit_price, tier.currency_id),
                "flat_fee": money(tier.flat_fee, tier.currency_id),
            }
            for tier in line.tier_ids
        ],
    }


def subscription_data(sub):
    currency = sub.currency_id
    return {
        "id": sub.id,
        "object": "subscription",
        "reference": sub.name,
        "state": sub.state,
        "customer_id": sub.partner_id.id,
        "plan_id": sub.plan_id.id,
        "plan_code": sub.plan_id.code,
        "currency": currency.name,
        "start_date": iso_date(sub.start_date),
        "trial_end_date": iso_date(sub.trial_end_date),
        "current_period_start": iso_date(sub.current_period_start),
        "current_period_end": iso_date(sub.current_period_end),
        "next_invoice_date": iso_date(sub.next_invoice_date),
        "pause_date": iso_date(sub.pause_date),
        "cancellation_request_date": iso_date(sub.cancellation_request_date),
        "end_date": iso_date(sub.end_date),
        "recurring_total": money(sub.recurring_total, currency),
        "mrr": money(sub.mrr, currency),
        "lines": [
            {
                "id": line.id,
                "product_id": line.product_id.id,
                "description": line.name or None,
                "quantity": line.quantity,
                "unit_price": money(line.price_unit, line.price_currency_id or currency),
                "discount": line.discount,
                "subtotal": money(line.price_subtotal, currency),
                "line_type": line.line_type,
                "is_addon": line.is_addon,
                "metric": line.metric_id.code or None,
            }
            for line in sub.line_ids
        ],
    }


def change_data(change, sub, persisted=True):
    """A plan change (applied, scheduled or, with ``persisted`` False, only previewed)."""
    currency = sub.currency_id
    return {
        "object": "subscription_change",
        "id": change.id if persisted else None,
        "change_type": change.change_type,
        "timing": change.timing,
        "effective_date": iso_date(change.effective_date),
        "state": change.state,
        "summary": change.summary or None,
        "old_plan_id": change.old_plan_id.id,
        "new_plan_id": change.new_plan_id.id,
        "mrr_before": money(change.mrr_before, currency),
        "mrr_after": money(change.mrr_after, currency),
        "charges": [
            {
                "description": charge.name,
                "amount": money(charge.amount, currency),
                "period_start": iso_date(charge.service_start),
                "period_end": iso_date(charge.service_end),
            }
            for charge in change.charge_ids
        ],
        "subscription": subscription_data(sub),
    }


def portal_session_data(session, token=None):
    """A self-service session; ``token`` only in the answer that issued it (the database keeps its hash)."""
    data = {
        "id": session.id,
        "object": "portal_session",
        "subscription_id": session.subscription_id.id,
        "expires_at": session.expires_at.isoformat() + "Z",
        "revoked": session.revoked,
    }
    if token:
        data["token"] = token
    return data


def invoice_data(move):
    currency = move.currency_id
    lines = move.invoice_line_ids.filtered(lambda line: line.display_type == "product")
    return {
        "id": move.id,
        "object": "invoice",
        "number": move.name if move.name and move.name != "/" else None,
        "type": "invoice" if move.move_type == "out_invoice" else "credit_note",
        "state": move.state,
        "payment_state": move.payment_state,
        "customer_id": move.commercial_partner_id.id,
        "currency": currency.name,
        "invoice_date": iso_date(move.invoice_date),
        "due_date": iso_date(move.invoice_date_due),
        "amount_untaxed": money(move.amount_untaxed, currency),
        "amount_tax": money(move.amount_tax, currency),
        "amount_total": money(move.amount_total, currency),
        "amount_residual": money(move.amount_residual, currency),
        "subscription_ids": move.line_ids.subscription_id.ids,
        "lines": [
            {
                "id": line.id,
                "product_id": line.product_id.id or None,
                "description": line.name or None,
                "quantity": line.quantity,
                "unit_price": money(line.price_unit, currency),
                "subtotal": money(line.price_subtotal, currency),
                "total": money(line.price_total, currency),
                "subscription_id": line.subscription_id.id or None,
                "period_start": iso_date(line.subscription_period_start),
                "period_end": iso_date(line.subscription_period_end),
            }
            for line in lines
        ],
    }


def mandate_data(mandate):
    iban = mandate.partner_bank_id.sanitized_acc_number or ""
    return {
        "id": mandate.id,
        "object": "payment_method",
        "type": "sepa_debit",
        "customer_id": mandate.commercial_partner_id.id,
        "mandate_reference": mandate.reference,
        "iban_last4": iban[-4:] or None,
        "scheme": mandate.scheme,
        "mandate_type": mandate.mandate_type,
        "state": mandate.state,
        "signature_date": iso_date(mandate.signature_date),
        "subscription_ids": mandate.subscription_ids.ids,
    }


def token_data(token):
    return {
        "id": token.id,
        "object": "payment_method",
        "type": "token",
        "customer_id": token.partner_id.commercial_partner_id.id,
        "provider": token.provider_id.code,
        "details": token.payment_details or None,
        "state": "active" if token.active else "inactive",
    }


def payment_attempt_data(tx):
    """A failed automatic charge of an invoice (event ``invoice.payment_failed``): the invoice as
    the API returns it and the attempt (its number, hard or soft, the next attempt or null when
    charging gave up and the invoice goes to dunning)."""
    return {
        "id": tx.id,
        "object": "payment_attempt",
        "reference": tx.reference,
        "attempt": tx.subscription_charge_attempt,
        "failure_kind": tx.subscription_charge_failure_kind or None,
        "next_attempt_date": iso_date(tx.subscription_charge_retry_date),
        "reason": tx.state_message or tx.state,
        "amount": money(tx.amount, tx.currency_id),
        "currency": tx.currency_id.name,
        "invoice": invoice_data(tx.subscription_charge_invoice_id),
    }


def payment_return_data(sepa_return):
    """A returned direct debit (event ``invoice.payment_returned``): the return (date, amount,
    reason code and text, the mandate) and the invoice as the API returns it, reopened."""
    return {
        "id": sepa_return.id,
        "object": "payment_return",
        "return_date": iso_date(sepa_return.return_date),
        "reason_code": sepa_return.reason_id.code,
        "reason": sepa_return.reason_id.name,
        "amount": money(sepa_return.amount, sepa_return.currency_id),
        "currency": sepa_return.currency_id.name,
        "mandate_id": sepa_return.mandate_id.id or None,
        "invoice": invoice_data(sepa_return.invoice_id),
    }


def dunning_letter_data(letter):
    """A dunning letter (event ``dunning.letter_sent``): customer, level, the overdue items it
    lists with the level each reached, and its totals in the company currency."""
    currency = letter.currency_id
    entries = {entry.invoice_id.id: entry for entry in letter.entry_ids}
    items = []
    for invoice in letter.invoice_ids.sorted("id"):
        entry = entries.get(invoice.id)
        items.append(
            {
                "invoice_id": invoice.id,
                "number": invoice.name if invoice.name and invoice.name != "/" else None,
                "due_date": iso_date(invoice.invoice_date_due),
                "amount_residual": money(invoice.amount_residual, invoice.currency_id),
                "currency": invoice.currency_id.name,
                "level": letter._get_item_level(invoice).name or None,
                "reached_level_now": bool(entry),
                "days_overdue": entry.days_overdue if entry else None,
                "interest": money(entry.interest, currency) if entry else None,
                "flat_fee": money(entry.flat_fee, currency) if entry else None,
            }
        )
    return {
        "id": letter.id,
        "object": "dunning_letter",
        "customer_id": letter.partner_id.commercial_partner_id.id,
        "date": iso_date(letter.date),
        "level": {
            "id": letter.level_id.id,
            "name": letter.level_id.name,
            "days_after_due": letter.level_id.days_after_due,
        },
        "state": letter.state,
        "currency": currency.name,
        "amount_overdue": money(letter.amount_overdue, currency),
        "fee_amount": money(letter.fee_amount, currency),
        "flat_fee_amount": money(letter.flat_fee_amount, currency),
        "interest_amount": money(letter.interest_amount, currency),
        "amount_total": money(letter.amount_total, currency),
        "fee_invoice_id": letter.fee_invoice_id.id or None,
        "items": items,
    }


def upcoming_invoice_data(row, subscription, currency):
    """The projected next invoice of ``subscription`` (a row of ``subscription.billing.forecast._forecast``
    with its lines): metered usage is ``to_be_rated``, without an amount."""
    return {
        "object": "upcoming_invoice",
        "subscription_id": subscription.id,
        "subscription_ids": list(row["subscription_ids"]),
        "currency": currency.name,
        "invoice_date": iso_date(row["invoice_date"]),
        "amount_untaxed": money(row["amount_untaxed"], currency),
        "amount_tax": money(row["amount_tax"], currency),
        "amount_total": money(row["amount_total"], currency),
        "has_usage": bool(row["has_usage"]),
        "lines": [
            {
                "subscription_id": line["subscription_id"],
                "description": line["name"] or None,
                "quantity": float(line["quantity"]),
                "unit_price": money(float(line["price_unit"]), currency),
                "discount": float(line["discount"]),
                "subtotal": None if line["to_be_rated"] else money(float(line["amount"]), currency),
                "to_be_rated": line["to_be_rated"],
                "period_start": iso_date(line["start"]),
                "period_end": iso_date(line["end"]),
            }
            for line in row["lines"]
        ],
    }
