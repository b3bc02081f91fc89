"""Tracking links: the one the order system gives, else one built from the carrier's name.

ThreadCo ships with several carriers; each has a public page that takes a tracking number in
its URL. The templates below are the carriers' public tracking pages as commonly linked (not
an API): a link the source gives always wins, and an unknown carrier gets no link rather than
a wrong one.
"""

from __future__ import annotations

import re
from urllib.parse import quote

# Carrier name as shown to people -> public tracking page with {number}.
CARRIER_TRACKING_URLS: dict[str, str] = {
    "Royal Mail": "https://track.royalmail.com/tracking/{number}",
    "Parcelforce": "https://www.parcelforce.com/track-trace?trackNumber={number}",
    "DPD": "https://track.dpd.co.uk/parcels/{number}",
    "Evri": "https://www.evri.com/track/parcel/{number}",
    "DHL": "https://www.dhl.com/gb-en/home/tracking/tracking-parcel.html?tracking-id={number}",
    "UPS": "https://www.ups.com/track?tracknum={number}",
}

# Names order systems use for the same carriers (compared lower-case, without punctuation).
_ALIASES: dict[str, str] = {
    "royalmail": "Royal Mail",
    "royal mail tracked": "Royal Mail",
    "parcelforce": "Parcelforce",
    "parcelforce worldwide": "Parcelforce",
    "dpd": "DPD",
    "dpd uk": "DPD",
    "evri": "Evri",
    "hermes": "Evri",  # Evri was Hermes UK until 2022
    "myhermes": "Evri",
    "dhl": "DHL",
    "dhl express": "DHL",
    "dhl parcel uk": "DHL",
    "ups": "UPS",
}


def carrier_name(raw: str | None) -> str | None:
    """The carrier's usual name for a name an order system gave ('royal-mail' -> 'Royal Mail').

    An unknown carrier keeps its own name (trimmed); None or blank stays None.
    """
    if raw is None or not raw.strip():
        return None
    key = re.sub(r"[^a-z0-9]+", " ", raw.lower()).strip()
    for name in CARRIER_TRACKING_URLS:
        if key == name.lower():
            return name
    return _ALIASES.get(key) or _ALIASES.get(key.replace(" ", "")) or raw.strip()


def tracking_url(carrier: str | None, number: str | None, given: str | None = None) -> str | None:
    """The link for a parcel: `given` when the source has one, else the carrier's page.

    None when there is neither a given link nor a known carrier with a number.
    """
    if given and re.match(r"^https?://", given.strip()):
        return given.strip()
    name = carrier_name(carrier)
    if not number or name not in CARRIER_TRACKING_URLS:
        return None
    return CARRIER_TRACKING_URLS[name].format(number=quote(number.strip(), safe=""))
