"""ThreadCo's orders as a Shopify shop holds them: several parcels, refunds, a cancellation,
and the customer's email, phone and address (which ShopMate must never pass on unasked)."""

from __future__ import annotations

import copy
from typing import Any

# Personal data the fake shop holds; tests check none of it reaches Claude.
CUSTOMERS = {
    "maya": {
        "displayName": "Maya Okafor",
        "firstName": "Maya",
        "lastName": "Okafor",
        "email": "maya.okafor@example.net",
        "phone": "+447700900123",
    },
    "tom": {
        "displayName": "Tom Brennan",
        "firstName": "Tom",
        "lastName": "Brennan",
        "email": "tom.brennan@example.org",
        "phone": "+447700900456",
    },
}
ADDRESSES = {
    "maya": {
        "name": "Maya Okafor",
        "address1": "14 Elmwood Terrace",
        "address2": "Flat 2",
        "city": "Leeds",
        "province": "England",
        "zip": "LS6 2QJ",
        "countryCodeV2": "GB",
        "phone": "+447700900123",
    },
    "tom": {
        "name": "Tom Brennan",
        "address1": "3 Harbour Lane",
        "address2": None,
        "city": "Bristol",
        "province": "England",
        "zip": "BS1 4RW",
        "countryCodeV2": "GB",
        "phone": "+447700900456",
    },
}
PERSONAL_VALUES = tuple(
    value
    for record in (*CUSTOMERS.values(), *ADDRESSES.values())
    for key, value in record.items()
    if value and key in {"email", "phone", "address1", "address2", "zip", "lastName"}
)


def _line(title: str, size: str, colour: str, quantity: int = 1) -> dict[str, Any]:
    return {
        "title": title,
        "quantity": quantity,
        "variantTitle": f"{size} / {colour}",
        "sku": f"{title[:4].upper()}-{size}",
        "variant": {
            "title": f"{size} / {colour}",
            "selectedOptions": [
                {"name": "Size", "value": size},
                {"name": "Color", "value": colour},
            ],
        },
    }


def _parcel(
    company: str | None,
    number: str | None,
    *,
    url: str | None = None,
    display: str = "IN_TRANSIT",
    eta: str | None = None,
    delivered: str | None = None,
    status: str = "SUCCESS",
) -> dict[str, Any]:
    return {
        "status": status,
        "displayStatus": display,
        "createdAt": "2026-12-01T09:12:00Z",
        "inTransitAt": "2026-12-01T17:40:00Z",
        "estimatedDeliveryAt": eta,
        "deliveredAt": delivered,
        "trackingInfo": [{"company": company, "number": number, "url": url}] if number else [],
    }


def _order(number: int, who: str, **fields: Any) -> dict[str, Any]:
    order: dict[str, Any] = {
        "id": f"gid://shopify/Order/{5_000_000 + number}",
        "name": f"#{number}",
        "createdAt": "2026-11-30T10:00:00Z",
        "email": CUSTOMERS[who]["email"],
        "phone": CUSTOMERS[who]["phone"],
        "customer": CUSTOMERS[who],
        "shippingAddress": ADDRESSES[who],
        "billingAddress": ADDRESSES[who],
        "displayFinancialStatus": "PAID",
        "displayFulfillmentStatus": "UNFULFILLED",
        "cancelledAt": None,
        "cancelReason": None,
        "refunds": [],
        "fulfillments": [],
        "note": f"Gift wrap please, ring {CUSTOMERS[who]['phone']}",
    }
    order.update(fields)
    return order


def sample_orders() -> list[dict[str, Any]]:
    """A fresh copy of the shop's orders (tests change them)."""
    return copy.deepcopy(_SAMPLE)


_SAMPLE = [
    # Shipped with DPD; Shopify has no URL for it, so ShopMate builds DPD's link.
    _order(
        1001,
        "maya",
        lineItems=[_line("Wave Print Crop Tee", "M", "Sage")],
        displayFulfillmentStatus="FULFILLED",
        fulfillments=[_parcel("DPD", "15501234567890", eta="2026-12-08T18:00:00Z")],
    ),
    # Two parcels: Evri delivered, Royal Mail on its way with the link Shopify gives.
    _order(
        1002,
        "tom",
        lineItems=[
            _line("Organic Crew Tee", "L", "Navy", 2),
            _line("Wave Print Crop Tee", "S", "Sand"),
        ],
        displayFulfillmentStatus="FULFILLED",
        fulfillments=[
            _parcel(
                "Evri",
                "H01HYA0012345678",
                display="DELIVERED",
                eta="2026-12-03T18:00:00Z",
                delivered="2026-12-03T11:20:00Z",
            ),
            _parcel(
                "Royal Mail",
                "RM493827651GB",
                url="https://www.royalmail.com/track-your-item#/tracking-results/RM493827651GB",
                eta="2026-12-09T18:00:00Z",
            ),
        ],
    ),
    # Paid, being packed.
    _order(1003, "maya", lineItems=[_line("Botanical Long Sleeve", "XL", "Oat")]),
    # Cancelled by the customer and refunded in full.
    _order(
        1004,
        "tom",
        lineItems=[_line("Organic Crew Tee", "M", "Black")],
        displayFinancialStatus="REFUNDED",
        cancelledAt="2026-12-02T08:30:00Z",
        cancelReason="CUSTOMER",
        refunds=[
            {
                "createdAt": "2026-12-02T08:31:00Z",
                "note": "Cancelled before dispatch",
                "totalRefundedSet": {
                    "shopMoney": {"amount": "28.00", "currencyCode": "GBP"},
                    "presentmentMoney": {"amount": "28.00", "currencyCode": "GBP"},
                },
            }
        ],
    ),
    # Delivered by UPS, one tee refunded after a return.
    _order(
        1005,
        "maya",
        lineItems=[_line("Organic Crew Tee", "S", "White", 2)],
        displayFulfillmentStatus="FULFILLED",
        displayFinancialStatus="PARTIALLY_REFUNDED",
        fulfillments=[
            _parcel(
                "UPS",
                "1Z999AA10123456784",
                display="DELIVERED",
                delivered="2026-11-28T14:05:00Z",
            )
        ],
        refunds=[
            {
                "createdAt": "2026-12-01T16:00:00Z",
                "note": "One tee returned (too small)",
                "totalRefundedSet": {
                    "shopMoney": {"amount": "24.00", "currencyCode": "GBP"},
                    "presentmentMoney": {"amount": "24.00", "currencyCode": "GBP"},
                },
            }
        ],
    ),
    # Half sent by Parcelforce, the rest still to come (a cancelled DHL label in between).
    _order(
        1006,
        "tom",
        lineItems=[
            _line("Wave Print Crop Tee", "M", "Sage"),
            _line("Botanical Long Sleeve", "L", "Oat"),
        ],
        displayFulfillmentStatus="PARTIALLY_FULFILLED",
        fulfillments=[
            _parcel("DHL", "JD014600006281203948", display="CANCELED", status="CANCELLED"),
            _parcel("Parcelforce Worldwide", "PB1234567890GB", eta="2026-12-07T18:00:00Z"),
        ],
    ),
]
