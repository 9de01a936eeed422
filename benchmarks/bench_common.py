"""Setup shared by the benchmark scripts of this folder; not a benchmark itself.

Each script puts its own folder on ``sys.path`` and imports what it needs from
here, so that it still runs directly from any working directory (also under
``python3 -P``, as ``scripts/dev.py bench`` starts it)::

    python3 benchmarks/billing_run_benchmark.py -c odoo.conf --n 1000

Odoo is imported inside the functions: the scripts parse their arguments (and
answer ``--help``) before Odoo is loaded.
"""

import os
import resource
import signal
import sys

ADDON = "subscription_billing"

# --------------------------------------------------------------------------
# Odoo bootstrap
# --------------------------------------------------------------------------


def init_odoo(config_path):
    """Read the Odoo configuration file ``config_path`` (log level warn) and start Odoo's logging.

    Listing databases is allowed: the process creates and drops its own database.
    """
    import odoo
    from odoo.tools import config

    config.parse_config(["-c", config_path, "--log-level=warn"])
    config["list_db"] = True  # this process creates and drops its own database
    odoo.netsvc.init_logger()


def exit_on_sigterm():
    """Turn SIGTERM (e.g. a timeout) into ``SystemExit``, so that the caller's ``finally`` still drops its database."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def superuser_env(cr):
    """The environment the benchmarks work in: superuser, no chatter tracking."""
    from odoo import SUPERUSER_ID, api

    return api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})


# --------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------


def create_database(db_name):
    """An empty database (``DatabaseExists`` if the name is taken: then nothing is dropped afterwards).

    Says so first: ``Creating database <db_name> with subscription_billing ...``.
    """
    from odoo.service import db as db_service

    print(f"Creating database {db_name} with {ADDON} ...", flush=True)
    db_service._create_empty_database(db_name)


def install_addon(db_name):
    """Install subscription_billing (and what it depends on) in ``db_name``; returns the registry."""
    from odoo.modules.registry import Registry

    return Registry.new(db_name, update_module=True, install_modules=[ADDON])


def drop_database(db_name):
    """Drop ``db_name``; a failure is printed, not raised."""
    from odoo.service import db as db_service

    try:
        db_service.exp_drop(db_name)
    except Exception as error:  # noqa: BLE001 - the figures matter more than the cleanup
        print(f"could not drop {db_name}: {error}")


# --------------------------------------------------------------------------
# Common data
# --------------------------------------------------------------------------


def sale_journal(env):
    """The first sales journal of the current company (empty without a chart of accounts)."""
    return env["account.journal"].search([("company_id", "=", env.company.id), ("type", "=", "sale")], limit=1)


def ensure_chart(env):
    """Load the generic chart of accounts (without demo data) if the current company has no sales journal."""
    if not sale_journal(env):
        env["account.chart.template"].try_loading("generic_coa", company=env.company, install_demo=False)


def start_subscriptions(env, partners, plan, start_date, chunk_size=1000):
    """One subscription on ``plan`` from ``start_date`` per partner, started; returns their ids.

    Created and started ``chunk_size`` at a time, each chunk committed with a cleared cache.
    """
    subscription_ids = []
    for start in range(0, len(partners), chunk_size):
        chunk = partners[start : start + chunk_size]
        subs = env["subscription.subscription"].create(
            [{"partner_id": partner.id, "plan_id": plan.id, "start_date": start_date} for partner in chunk]
        )
        subs.action_start()
        subscription_ids += subs.ids
        env.cr.commit()
        env.invalidate_all()
    return subscription_ids


# --------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mib():
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return pages * resource.getpagesize() / 1024 / 1024


def usable_cpus():
    """The CPUs this process may run on."""
    return len(os.sched_getaffinity(0))


def machine_summary():
    """``<Odoo version> on <platform>, <n> CPU(s)``, for the summary line of a benchmark."""
    from odoo import release

    return f"{release.version} on {sys.platform}, {usable_cpus()} CPU(s)"


def dump_profile(profiler, path, top_cumulative=40, top_tottime=25):
    """Write the statistics of ``profiler`` to ``path`` and print its top functions (cumulative, then own time)."""
    import pstats

    profiler.dump_stats(path)
    stats = pstats.Stats(profiler)
    stats.sort_stats("cumulative").print_stats(top_cumulative)
    stats.sort_stats("tottime").print_stats(top_tottime)
