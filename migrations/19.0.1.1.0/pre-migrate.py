"""19.0.1.1.0: the "no day billed twice" exclusion constraint replaces the unique index.

Before Odoo adds the constraint (which it would only log a warning about if it
failed), look for live invoice lines of one subscription line whose service
periods overlap. If there are any, stop the upgrade and name them: an
accountant must cancel or credit the duplicate invoices first.
"""

import logging

_logger = logging.getLogger(__name__)

OVERLAPS = """
    SELECT a.id, b.id, a.subscription_line_id, am_a.name, am_b.name,
           a.subscription_period_start, a.subscription_period_end,
           b.subscription_period_start, b.subscription_period_end
      FROM account_move_line a
      JOIN account_move_line b
        ON b.subscription_line_id = a.subscription_line_id
       AND b.id > a.id
       AND b.parent_state != 'cancel'
       AND b.subscription_period_start IS NOT NULL
       AND daterange(a.subscription_period_start, a.subscription_period_end, '[]')
           && daterange(b.subscription_period_start, b.subscription_period_end, '[]')
      JOIN account_move am_a ON am_a.id = a.move_id
      JOIN account_move am_b ON am_b.id = b.move_id
     WHERE a.subscription_line_id IS NOT NULL
       AND a.parent_state != 'cancel'
       AND a.subscription_period_start IS NOT NULL
     ORDER BY a.id
"""


def migrate(cr, version):
    if not version:
        return
    cr.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    cr.execute(OVERLAPS)
    overlaps = cr.fetchall()
    if overlaps:
        report = "\n".join(
            f"  subscription line {line_id}: {move_a} (line {a_id}, {a_start}..{a_end}) and "
            f"{move_b} (line {b_id}, {b_start}..{b_end})"
            for a_id, b_id, line_id, move_a, move_b, a_start, a_end, b_start, b_end in overlaps
        )
        raise RuntimeError(
            f"subscription_billing 19.0.1.1.0: {len(overlaps)} pair(s) of live invoice lines bill the same days "
            f"of a subscription line twice. Cancel or credit the duplicates, then upgrade again:\n{report}"
        )
    _logger.info("subscription_billing: no overlapping service periods; adding the exclusion constraint")
    cr.execute("DROP INDEX IF EXISTS account_move_line__subscription_period_unique")
