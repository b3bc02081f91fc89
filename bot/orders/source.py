"""What an order source is: one lookup by ShopMate's order id, answered in ShopMate's fields.

Every source (the table, Shopify, a shop's own HTTP endpoint) returns an order as a plain dict
of the fields below, or None when the shop has no such order, and raises `SourceUnavailable`
when it cannot say (down, slow, throttled past the bound, refused). Nothing else crosses this
line: the tool, the cache and the history never know which source answered.

An order's fields (all optional but `order_id` and `status`):
    order_id     ShopMate's id, e.g. "ORD-1001"
    status       a few lower-case words: processing, shipped, partly shipped, delivered,
                 cancelled, refunded, ...
    item         one line naming what was bought ("Wave Print Crop Tee (M, Sage)")
    items        [{title, quantity, size?, colour?, variant?}]
    eta          estimated delivery, as the source gives it
    tracking, carrier, track_url     the (latest) parcel
    shipments    [{status, carrier, tracking_number, track_url, estimated_delivery, delivered}]
    payment      the financial status ("paid", "partially refunded", ...)
    cancelled    {"at": ..., "reason": ...}
    refunds      [{"at": ..., "amount": ..., "note"?: ...}]
    note         what a person decided about it (the table's approved exchanges)
Personal fields (email, phone, shipping_address, customer_name) are only read, kept and shown
when the operator names them in SHOPMATE_ORDER_FIELDS_ALLOWED.
"""

from __future__ import annotations

from typing import Any, Protocol

Order = dict[str, Any]

# Fields that name or reach a person: never read unless an operator allows them by name.
PERSONAL_FIELDS = ("email", "phone", "shipping_address", "customer_name")
ORDER_FIELDS = (
    "order_id",
    "status",
    "item",
    "items",
    "eta",
    "tracking",
    "carrier",
    "track_url",
    "shipments",
    "payment",
    "cancelled",
    "refunds",
    "note",
)


class SourceUnavailable(Exception):
    """The order system could not answer; `kind` says how (timeout, throttled, error, auth)."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class OrderSource(Protocol):
    """One place orders live. `name` is shown by `shopmate orders check` and in stats."""

    name: str

    def lookup(self, order_id: str) -> Order | None:
        """The order with ShopMate's id `order_id` (normalised), None if there is none.

        Raises SourceUnavailable when the source cannot answer.
        """
        ...


def keep_fields(order: Order, allowed_personal: tuple[str, ...] = ()) -> Order:
    """The order with only ShopMate's fields and the personal ones an operator allowed.

    Every source's answer passes through here before it is cached or shown, so a source that
    returns more than asked (a shop's endpoint sending the whole customer) leaks nothing.
    """
    keep = set(ORDER_FIELDS) | (set(allowed_personal) & set(PERSONAL_FIELDS))
    return {key: value for key, value in order.items() if key in keep and value not in (None, "")}
