from . import models
from . import wizards
from . import controllers


def _post_init_hook(env):
    """Companies whose chart is already loaded get its deferred-revenue account and reverse-charge position."""
    companies = env["res.company"].search([])
    companies._set_default_deferred_revenue_account()
    companies._create_reverse_charge_services_position()
    env["subscription.subscription"].with_context(active_test=False).search([])._rebuild_mrr_ledger()
