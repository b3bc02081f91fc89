"""The part of Shopify's Admin GraphQL schema ShopMate reads, and how the fake executes it.

Type and field names follow shopify.dev's Admin GraphQL reference (Order, LineItem,
Fulfillment, FulfillmentTrackingInfo, Refund, AppInstallation, ...). A field missing here is
refused as Shopify refuses it ("Field 'x' doesn't exist on type 'Order'"), so a misspelt
field in ShopMate's query fails in tests as it would against a real shop.
"""

from __future__ import annotations

from typing import Any

from fakes.shopify.graphql import Field, Operation, Variable

SCALAR, OBJECT, LIST, CONNECTION = "scalar", "object", "list", "connection"

# type -> field -> (field's type, kind). Lists and connections take `first`.
SCHEMA: dict[str, dict[str, tuple[str, str]]] = {
    "QueryRoot": {
        "orders": ("Order", CONNECTION),
        "shop": ("Shop", OBJECT),
        "currentAppInstallation": ("AppInstallation", OBJECT),
    },
    "Shop": {"name": ("String", SCALAR), "myshopifyDomain": ("String", SCALAR)},
    "AppInstallation": {"accessScopes": ("AccessScope", LIST)},
    "AccessScope": {"handle": ("String", SCALAR), "description": ("String", SCALAR)},
    "Order": {
        "id": ("ID", SCALAR),
        "name": ("String", SCALAR),
        "createdAt": ("DateTime", SCALAR),
        "email": ("String", SCALAR),
        "phone": ("String", SCALAR),
        "displayFulfillmentStatus": ("OrderDisplayFulfillmentStatus", SCALAR),
        "displayFinancialStatus": ("OrderDisplayFinancialStatus", SCALAR),
        "cancelledAt": ("DateTime", SCALAR),
        "cancelReason": ("OrderCancelReason", SCALAR),
        "refunds": ("Refund", LIST),
        "lineItems": ("LineItem", CONNECTION),
        "fulfillments": ("Fulfillment", LIST),
        "shippingAddress": ("MailingAddress", OBJECT),
        "billingAddress": ("MailingAddress", OBJECT),
        "customer": ("Customer", OBJECT),
        "note": ("String", SCALAR),
    },
    "Refund": {
        "createdAt": ("DateTime", SCALAR),
        "note": ("String", SCALAR),
        "totalRefundedSet": ("MoneyBag", OBJECT),
    },
    "MoneyBag": {"shopMoney": ("MoneyV2", OBJECT), "presentmentMoney": ("MoneyV2", OBJECT)},
    "MoneyV2": {"amount": ("Decimal", SCALAR), "currencyCode": ("CurrencyCode", SCALAR)},
    "LineItem": {
        "title": ("String", SCALAR),
        "quantity": ("Int", SCALAR),
        "variantTitle": ("String", SCALAR),
        "sku": ("String", SCALAR),
        "variant": ("ProductVariant", OBJECT),
    },
    "ProductVariant": {"title": ("String", SCALAR), "selectedOptions": ("SelectedOption", LIST)},
    "SelectedOption": {"name": ("String", SCALAR), "value": ("String", SCALAR)},
    "Fulfillment": {
        "status": ("FulfillmentStatus", SCALAR),
        "displayStatus": ("FulfillmentDisplayStatus", SCALAR),
        "createdAt": ("DateTime", SCALAR),
        "estimatedDeliveryAt": ("DateTime", SCALAR),
        "deliveredAt": ("DateTime", SCALAR),
        "inTransitAt": ("DateTime", SCALAR),
        "trackingInfo": ("FulfillmentTrackingInfo", LIST),
    },
    "FulfillmentTrackingInfo": {
        "company": ("String", SCALAR),
        "number": ("String", SCALAR),
        "url": ("URL", SCALAR),
    },
    "MailingAddress": {
        "name": ("String", SCALAR),
        "firstName": ("String", SCALAR),
        "lastName": ("String", SCALAR),
        "address1": ("String", SCALAR),
        "address2": ("String", SCALAR),
        "city": ("String", SCALAR),
        "province": ("String", SCALAR),
        "zip": ("String", SCALAR),
        "countryCodeV2": ("CountryCode", SCALAR),
        "phone": ("String", SCALAR),
    },
    "Customer": {
        "displayName": ("String", SCALAR),
        "firstName": ("String", SCALAR),
        "lastName": ("String", SCALAR),
        "email": ("String", SCALAR),
        "phone": ("String", SCALAR),
    },
}
_CONNECTION_FIELDS = {"nodes", "edges", "pageInfo"}
_PAGING_ARGUMENTS = {"first", "last", "after", "before", "reverse", "sortKey", "query"}


def _error(message: str, f: Field | None, path: list[str], code: str, **extra: Any) -> dict:
    error: dict[str, Any] = {"message": message, "extensions": {"code": code, **extra}}
    if f is not None:
        error["locations"] = [{"line": f.line, "column": f.column}]
        error["path"] = path
    return error


def validate(operation: Operation, variables: dict[str, Any]) -> list[dict[str, Any]]:
    """Shopify-like errors for fields, selections, arguments and variables (empty: valid)."""
    errors: list[dict[str, Any]] = []
    for name, type_text in operation.variables.items():
        if type_text.endswith("!") and variables.get(name) is None:
            errors.append(
                _error(
                    f"Variable ${name} of type {type_text} was provided invalid value",
                    None,
                    [],
                    "INVALID_VARIABLE",
                )
            )
    _check(operation.selections, "QueryRoot", [operation.kind], operation, errors)
    return errors


def _check(
    fields: list[Field], type_name: str, path: list[str], op: Operation, errors: list[dict]
) -> None:
    for f in fields:
        here = [*path, f.key]
        spec = SCHEMA[type_name].get(f.name)
        if spec is None:
            errors.append(
                _error(
                    f"Field '{f.name}' doesn't exist on type '{type_name}'",
                    f,
                    here,
                    "undefinedField",
                    typeName=type_name,
                    fieldName=f.name,
                )
            )
            continue
        target, kind = spec
        for argument, value in f.arguments.items():
            if kind not in (LIST, CONNECTION) or argument not in _PAGING_ARGUMENTS:
                errors.append(
                    _error(
                        f"Field '{f.name}' doesn't accept argument '{argument}'",
                        f,
                        here,
                        "argumentNotAccepted",
                    )
                )
            elif isinstance(value, Variable) and value.name not in op.variables:
                errors.append(
                    _error(
                        f"Variable ${value.name} is used but not declared",
                        f,
                        here,
                        "undefinedVariable",
                    )
                )
        if kind == SCALAR:
            if f.selections:
                errors.append(
                    _error(
                        f"Selections can't be made on scalars (field '{f.name}' returns {target})",
                        f,
                        here,
                        "selectionMismatch",
                    )
                )
            continue
        if not f.selections:
            errors.append(
                _error(
                    f"Field must have selections (field '{f.name}' returns {target} but has no "
                    "selections. Did you mean '{f.name} {{ ... }}'?)",
                    f,
                    here,
                    "selectionMismatch",
                )
            )
            continue
        if kind == CONNECTION:
            _check_connection(f, target, here, op, errors)
        else:
            _check(f.selections, target, here, op, errors)


def _check_connection(
    f: Field, target: str, path: list[str], op: Operation, errors: list[dict]
) -> None:
    if not any(k in f.arguments for k in ("first", "last")):
        errors.append(_error("you must provide one of first or last", f, path, "BAD_REQUEST"))
    for sub in f.selections or []:
        here = [*path, sub.key]
        if sub.name == "nodes" and sub.selections:
            _check(sub.selections, target, here, op, errors)
        elif sub.name == "edges" and sub.selections:
            for edge_field in sub.selections:
                if edge_field.name == "node" and edge_field.selections:
                    _check(edge_field.selections, target, [*here, "node"], op, errors)
                elif edge_field.name != "cursor":
                    errors.append(
                        _error(
                            f"Field '{edge_field.name}' doesn't exist on type '{target}Edge'",
                            edge_field,
                            [*here, edge_field.key],
                            "undefinedField",
                        )
                    )
        elif sub.name not in _CONNECTION_FIELDS:
            errors.append(
                _error(
                    f"Field '{sub.name}' doesn't exist on type '{target}Connection'",
                    sub,
                    here,
                    "undefinedField",
                )
            )


def _argument(f: Field, name: str, variables: dict[str, Any], default: Any = None) -> Any:
    value = f.arguments.get(name, default)
    return variables.get(value.name) if isinstance(value, Variable) else value


def requested_cost(fields: list[Field], type_name: str, variables: dict[str, Any]) -> int:
    """Shopify's worst case: objects cost 1, a list or connection its `first` times its items
    (connections 2 more); scalars and enums are free."""
    total = 0
    for f in fields:
        target, kind = SCHEMA[type_name].get(f.name, ("", SCALAR))
        if kind == SCALAR or not f.selections:
            continue
        if kind == OBJECT:
            total += 1 + requested_cost(f.selections, target, variables)
        elif kind == LIST:
            size = int(_argument(f, "first", variables, 10) or 10)
            total += size * (1 + requested_cost(f.selections, target, variables))
        else:
            size = int(_argument(f, "first", variables, 10) or 10)
            total += 2 + size * (1 + requested_cost(_node_fields(f), target, variables))
    return total


def _node_fields(f: Field) -> list[Field]:
    nodes: list[Field] = []
    for sub in f.selections or []:
        if sub.name == "nodes":
            nodes.extend(sub.selections or [])
        elif sub.name == "edges":
            for edge_field in sub.selections or []:
                if edge_field.name == "node":
                    nodes.extend(edge_field.selections or [])
    return nodes


class Executor:
    """Resolves a valid operation over the fake's data; counts the actual cost as it goes."""

    def __init__(self, root: dict[str, Any], variables: dict[str, Any], resolve_root) -> None:
        self.root = root
        self.variables = variables
        self.resolve_root = resolve_root
        self.actual_cost = 0

    def run(self, operation: Operation) -> dict[str, Any]:
        return self._select(operation.selections, "QueryRoot", self.root)

    def _select(self, fields: list[Field], type_name: str, value: dict[str, Any]) -> dict:
        out: dict[str, Any] = {}
        for f in fields:
            target, kind = SCHEMA[type_name][f.name]
            if type_name == "QueryRoot":
                raw = self.resolve_root(f.name, f, self.variables)
            else:
                raw = value.get(f.name)
            out[f.key] = self._value(f, target, kind, raw)
        return out

    def _value(self, f: Field, target: str, kind: str, raw: Any) -> Any:
        if kind == SCALAR or raw is None:
            return raw
        if kind == OBJECT:
            self.actual_cost += 1
            return self._select(f.selections or [], target, raw)
        first = _argument(f, "first", self.variables)
        items = list(raw)[: int(first)] if first is not None else list(raw)
        if kind == LIST:
            self.actual_cost += len(items)
            return [self._select(f.selections or [], target, item) for item in items]
        self.actual_cost += 2 + len(items)
        out: dict[str, Any] = {}
        for sub in f.selections or []:
            if sub.name == "nodes":
                out[sub.key] = [self._select(sub.selections or [], target, i) for i in items]
            elif sub.name == "edges":
                out[sub.key] = [self._edge(sub, target, n, i) for n, i in enumerate(items)]
            elif sub.name == "pageInfo":
                out[sub.key] = {"hasNextPage": len(raw) > len(items), "hasPreviousPage": False}
        return out

    def _edge(self, edges: Field, target: str, index: int, item: dict[str, Any]) -> dict:
        out: dict[str, Any] = {}
        for edge_field in edges.selections or []:
            if edge_field.name == "node":
                out[edge_field.key] = self._select(edge_field.selections or [], target, item)
            else:
                out[edge_field.key] = f"cursor{index}"
        return out
