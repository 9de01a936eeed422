"""Fixed-window rate limit of the REST API: the decision and the headers, from a counted request.

The counting itself happens in the database (one row per user and window, incremented with
``INSERT ... ON CONFLICT DO UPDATE``); this module only turns "this is request ``count`` of the
window, which ends in ``seconds_to_reset`` seconds" into an answer. No odoo import.
"""

import math

#: length of a window in seconds (the limit is "requests per minute")
WINDOW_SECONDS = 60
#: requests per window when the system parameter is missing or unreadable
DEFAULT_LIMIT = 600


def parse_limit(value, default=DEFAULT_LIMIT):
    """The configured limit: a whole number >= 0 (0 = no limit); ``default`` for anything else."""
    try:
        limit = int(str(value).strip())
    except (TypeError, ValueError):
        return default
    return limit if limit >= 0 else default


def decide(limit, count, seconds_to_reset):
    """``(allowed, headers)`` for request number ``count`` of a window with ``limit`` requests.

    ``seconds_to_reset`` is rounded up to whole seconds (at least 1), so a client that waits
    ``Retry-After`` seconds lands in the next window. ``headers`` holds ``RateLimit-Limit``,
    ``RateLimit-Remaining`` and ``RateLimit-Reset`` always, ``Retry-After`` when refused.
    """
    if limit <= 0:
        raise ValueError("a limit of 0 means no limit: nothing to decide")
    if count < 1:
        raise ValueError("count is the number of this request in its window, from 1")
    reset = max(1, min(WINDOW_SECONDS, math.ceil(seconds_to_reset)))
    allowed = count <= limit
    headers = [
        ("RateLimit-Limit", str(limit)),
        ("RateLimit-Remaining", str(max(0, limit - count))),
        ("RateLimit-Reset", str(reset)),
    ]
    if not allowed:
        headers.append(("Retry-After", str(reset)))
    return allowed, headers
