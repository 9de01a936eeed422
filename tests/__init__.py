from . import test_billing_run
from . import test_billing_robustness
from . import test_lifecycle
from . import test_input_validation
from . import test_security
from . import test_portal
from . import test_pricing
from . import test_plan_changes
