"""Tracking links: the source's own, else the carrier's page; Royal Mail is one of several."""

from __future__ import annotations

import pytest

from bot.orders.carriers import CARRIER_TRACKING_URLS, carrier_name, tracking_url


@pytest.mark.parametrize(
    ("given", "name"),
    [
        ("royal-mail", "Royal Mail"),
        ("ROYAL MAIL", "Royal Mail"),
        ("Parcelforce Worldwide", "Parcelforce"),
        ("dpd_uk", "DPD"),
        ("Hermes", "Evri"),
        ("DHL Express", "DHL"),
        ("ups", "UPS"),
        ("Yodel", "Yodel"),
        ("  ", None),
    ],
)
def test_carrier_names_are_tidied(given, name):
    assert carrier_name(given) == name


def test_threadcos_carriers_each_have_a_tracking_page():
    assert set(CARRIER_TRACKING_URLS) == {"Royal Mail", "Parcelforce", "DPD", "Evri", "DHL", "UPS"}
    for carrier, template in CARRIER_TRACKING_URLS.items():
        link = tracking_url(carrier, "AB123")
        assert link == template.format(number="AB123") and link.startswith("https://")


def test_the_link_the_source_gives_wins_and_an_unknown_carrier_gets_none():
    assert (
        tracking_url("DPD", "1", "https://shop.example/track/1") == "https://shop.example/track/1"
    )
    assert tracking_url("Yodel", "JD0001") is None
    assert tracking_url(None, "JD0001") is None
    assert tracking_url("DPD", None) is None
    # A tracking number is put in a URL, so whatever it holds stays inside its segment.
    assert tracking_url("Evri", "a/b?c") == "https://www.evri.com/track/parcel/a%2Fb%3Fc"
