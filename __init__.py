from . import models
from . import wizards
from . import controllers


def _post_init_hook(env):
    """Companies whose chart is already loaded get its deferred-revenue account as default."""
    env["res.company"].search([])._set_default_deferred_revenue_account()
