from . import subscription_billing_run_wizard
from . import subscription_cancel_wizard
from . import subscription_change_wizard
from . import subscription_coupon_wizard
from . import sepa_mandate_wizard
from . import sepa_return_wizard
from . import subscription_receivable_statement
