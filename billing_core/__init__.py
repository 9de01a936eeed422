"""Pure-Python domain logic of subscription_billing (no Odoo import).

Models call into these modules; they are unit-tested on their own with pytest
and hypothesis (``billing_core/tests``).
"""
