"""19.0.1.2.0: the MRR movement ledger is new; build it from the history of the existing subscriptions."""

from odoo import SUPERUSER_ID, api


def migrate(cr, version):
    if not version:
        return
    env = api.Environment(cr, SUPERUSER_ID, {})
    env["subscription.subscription"].with_context(active_test=False).search([])._rebuild_mrr_ledger()
