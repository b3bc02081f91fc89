"""Products in and descriptions out: products.csv (bad rows by line number), descriptions.csv.

One validation (`make_product`) serves the CSV reader, the `--name/--material/...` flags and
the HTTP API's `POST /describe`, so a product is accepted or refused the same way
everywhere.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

logger = logging.getLogger(__name__)

CATALOGUE_COLUMNS = ("id", "name", "material", "price", "colours", "key_feature")
OUTPUT_COLUMNS = ("id", "name", "status", "description", "problems")
# The Message Batches API's rule for custom_id, which is the product id: checked on reading so
# a catalogue that runs live can also run as a batch.
PRODUCT_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
MAX_FIELD_CHARS = 200  # a field longer than this is a pasted paragraph, not a product attribute
MAX_PRICE = Decimal("10000")


class CatalogueError(Exception):
    """The file as a whole cannot be read (missing, not UTF-8, wrong header); nothing is used."""


class BadProduct(ValueError):
    """One product's fields are unusable; the message says which field and why."""


@dataclass(frozen=True)
class Product:
    """One product to describe. `price` is normalised to two decimals ("29.99")."""

    id: str
    name: str
    material: str
    price: str
    colours: tuple[str, ...]
    key_feature: str = ""

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "material": self.material,
            "price": self.price,
            "colours": list(self.colours),
            "key_feature": self.key_feature,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> Product:
        colours = data.get("colours") or ()
        return cls(
            id=str(data["id"]),
            name=str(data["name"]),
            material=str(data["material"]),
            price=str(data["price"]),
            colours=tuple(str(c) for c in colours),  # type: ignore[union-attr]
            key_feature=str(data.get("key_feature") or ""),
        )


def slug(name: str) -> str:
    """A product id from a name, for one-off products given on the command line."""
    text = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()
    return text[:64] or "product"


def make_product(
    *,
    id: str,
    name: str,
    material: str,
    price: str | float,
    colours: str | Iterable[str],
    key_feature: str | None = "",
) -> Product:
    """Validate and normalise one product's fields; raises BadProduct naming the field."""
    product_id = (id or "").strip()
    if not PRODUCT_ID_RE.fullmatch(product_id):
        raise BadProduct(
            f"id {product_id!r} must be 1-64 letters, digits, '-' or '_' "
            "(the Message Batches API's custom_id rule)"
        )
    cleaned: dict[str, str] = {}
    for label, value, required in (
        ("name", name, True),
        ("material", material, True),
        ("key_feature", key_feature or "", False),
    ):
        text = " ".join(str(value or "").split())
        if required and not text:
            raise BadProduct(f"{label} is empty")
        if len(text) > MAX_FIELD_CHARS:
            raise BadProduct(f"{label} is longer than {MAX_FIELD_CHARS} characters")
        cleaned[label] = text
    raw_price = str(price).strip().lstrip("£").strip()
    try:
        amount = Decimal(raw_price)
    except InvalidOperation:
        raise BadProduct(f"price {str(price)!r} is not a number, e.g. 29.99") from None
    if not amount.is_finite() or amount <= 0 or amount > MAX_PRICE:
        raise BadProduct(f"price {str(price)!r} must be above 0 and at most {MAX_PRICE}")
    parts = colours.split("|") if isinstance(colours, str) else list(colours)
    colour_list = tuple(" ".join(c.split()) for c in parts if c and c.strip())
    if not colour_list:
        raise BadProduct("colours is empty (separate several with |)")
    if any(len(c) > MAX_FIELD_CHARS for c in colour_list):
        raise BadProduct(f"a colour is longer than {MAX_FIELD_CHARS} characters")
    return Product(
        id=product_id,
        name=cleaned["name"],
        material=cleaned["material"],
        price=f"{amount.quantize(Decimal('0.01'))}",
        colours=colour_list,
        key_feature=cleaned["key_feature"],
    )


@dataclass
class Catalogue:
    """The good products in file order, and one message per bad row ("line 4: ...")."""

    products: list[Product]
    errors: list[str] = field(default_factory=list)


def read_catalogue(path: Path) -> Catalogue:
    """Read products.csv. A bad row is reported with its line number and skipped.

    Header: id,name,material,price,colours,key_feature (colours separated by `|`). A second row
    with an id already seen is a bad row: which of the two was meant is not ours to guess.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise CatalogueError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise CatalogueError(f"{path}: not UTF-8 text; save the CSV as UTF-8") from None
    except OSError as exc:
        raise CatalogueError(f"{path}: {exc.strerror or exc}") from None
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = [h.strip().lower() for h in next(reader)]
    except StopIteration:
        raise CatalogueError(f"{path}: the file is empty") from None
    except csv.Error as exc:
        raise CatalogueError(f"{path}: line 1: {exc}") from None
    missing = [c for c in CATALOGUE_COLUMNS if c not in header]
    if missing:
        raise CatalogueError(
            f"{path}: the header lacks {', '.join(missing)}; expected "
            + ",".join(CATALOGUE_COLUMNS)
        )
    catalogue = Catalogue(products=[])
    seen: dict[str, int] = {}
    start = reader.line_num + 1  # the physical line where the next record begins
    while True:
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            catalogue.errors.append(f"line {start}: {exc}")
            break
        line, start = start, reader.line_num + 1
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            catalogue.errors.append(
                f"line {line}: {len(row)} fields where the header has {len(header)}"
            )
            continue
        fields = dict(zip(header, row, strict=True))
        try:
            product = make_product(**{c: fields[c] for c in CATALOGUE_COLUMNS})
        except BadProduct as exc:
            catalogue.errors.append(f"line {line}: {exc}")
            continue
        if product.id in seen:
            catalogue.errors.append(
                f"line {line}: id {product.id!r} already used on line {seen[product.id]}"
            )
            continue
        seen[product.id] = line
        catalogue.products.append(product)
    logger.info(
        "read %d product(s) from %s, %d bad row(s)",
        len(catalogue.products),
        path,
        len(catalogue.errors),
    )
    return catalogue


def write_descriptions(path: Path, rows: Iterable[Mapping[str, str]]) -> int:
    """Write descriptions.csv (id,name,status,description,problems); returns the row count.

    Written to a temporary file and renamed, so an interrupted run never leaves half a file
    where a good one was.
    """
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=OUTPUT_COLUMNS, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({c: row.get(c, "") for c in OUTPUT_COLUMNS})
            count += 1
    tmp.replace(path)
    return count
