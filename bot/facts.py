"""One-line facts from a tool's own result ("ORD-1001 · shipped · Royal Mail RM4… · due 2 Apr").

A front shows such a line the moment a lookup returns, before Claude has written a word (a
finished step in Slack's stream, a status line, a terminal note). It is built from the fields
of the result Claude itself gets, never from a store's rows, so any order source (the CSV
import, Shopify, …) that fills the same fields gets the same line, and a source that leaves a
field out gets a shorter line rather than an error.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any
from urllib.parse import urlsplit

SEPARATOR = " · "
# Carriers recognised by their tracking page's host, for results that give only a URL.
_CARRIER_HOSTS = {
    "royalmail.com": "Royal Mail",
    "parcelforce.com": "Parcelforce",
    "dhl.com": "DHL",
    "dpd.co.uk": "DPD",
    "evri.com": "Evri",
    "ups.com": "UPS",
    "fedex.com": "FedEx",
    "usps.com": "USPS",
}


def order_fact(result: Mapping[str, Any]) -> str:
    """The key facts of a `get_order` result in one line; "" when it names no order.

    Fields read (each optional but the id): `order_id`, `status`, `carrier` (else the
    tracking page's host), `tracking_number`, `estimated_delivery` (shown as "due 2 Apr"),
    `as_of` (a last copy's time).
    """
    order_id = _text(result.get("order_id"))
    if not order_id:
        return ""
    parts = [order_id]
    status = _text(result.get("status"))
    if status:
        parts.append(status)
    tracking = _text(result.get("tracking_number"))
    carrier = _text(result.get("carrier")) or _carrier_of(_text(result.get("track_url")))
    shipment = " ".join(p for p in (carrier, tracking) if p)
    if shipment:
        parts.append(shipment)
    due = _day(result.get("estimated_delivery"))
    if due:
        parts.append(f"due {due}")
    as_of = _text(result.get("as_of"))
    if as_of:
        # A last copy served while the order system is down says how old it is, here too.
        parts.append(f"as of {as_of}")
    return SEPARATOR.join(parts)


def _text(value: Any) -> str:
    """A field as one short line: strings and numbers only, whitespace folded."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return ""
    return " ".join(str(value).split())[:80]


def _carrier_of(url: str) -> str:
    host = (urlsplit(url).hostname or "") if url else ""
    for suffix, name in _CARRIER_HOSTS.items():
        if host == suffix or host.endswith("." + suffix):
            return name
    return ""


def _day(value: Any) -> str:
    """An ISO date (or date-time) as "2 Apr"; any other text as given ("2 Apr", "next week")."""
    text = _text(value)
    if not text:
        return ""
    try:
        day: date = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return text
    return f"{day.day} {day.strftime('%b')}"
