"""Browser origins a merchant allows to use the JavaScript SDK: parsing the setting, matching a request.

An origin is what a browser sends in the ``Origin`` header: ``scheme://host[:port]``, no path, no
trailing slash, lower-case scheme and host, default ports left out. No odoo import.
"""

from urllib.parse import urlsplit

DEFAULT_PORTS = {"http": 80, "https": 443}


def normalize_origin(value):
    """``value`` as a browser would send it as ``Origin``; ``ValueError`` if it is not an origin."""
    text = (value or "").strip()
    parts = urlsplit(text)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise ValueError("an origin starts with http:// or https:// and names a host")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username or parts.password:
        raise ValueError("an origin has no path, query, fragment or user")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError("the port of an origin is a number from 1 to 65535") from exc
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    if port and port != DEFAULT_PORTS[parts.scheme]:
        return f"{parts.scheme}://{host}:{port}"
    return f"{parts.scheme}://{host}"


def parse_origins(text):
    """``(origins, errors)`` of a setting with one origin per line (or separated by spaces/commas).

    ``origins`` is a tuple of normalised origins without duplicates, in the order given; ``errors``
    lists ``(entry, reason)`` for every entry that is not an origin.
    """
    origins, errors = [], []
    for entry in (text or "").replace(",", " ").split():
        try:
            origin = normalize_origin(entry)
        except ValueError as exc:
            errors.append((entry, str(exc)))
            continue
        if origin not in origins:
            origins.append(origin)
    return tuple(origins), errors


def is_allowed(origin, allowed):
    """Whether the request header ``origin`` is one of the ``allowed`` (normalised) origins."""
    try:
        return normalize_origin(origin) in allowed
    except ValueError:
        return False
