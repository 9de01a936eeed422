"""Pure-Python domain logic of subscription_billing (no Odoo import).

``periods`` (billing periods), ``terms`` (minimum term, renewal, notice),
``pricing`` (per-unit and tiered prices, discounts, exact rounding),
``proration`` (by days), ``usage`` (aggregation of metered usage),
``fx`` (conversion of prices by an exchange rate), ``tax_regime`` (domestic,
EU OSS, reverse charge or export VAT), ``deferral`` (deferred revenue
schedules) and ``ageing`` (receivable ageing buckets).
Models call into these modules; they are unit-tested on their own with
pytest and hypothesis (``billing_core/tests``).
"""
