"""products.csv: good rows are used, bad rows are reported with their line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.describe.catalogue import CatalogueError, read_catalogue, write_descriptions
from tests.describe.conftest import HEADER


def test_bad_rows_are_reported_by_line_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text(
        HEADER
        + "TS-001,Sunset Tee,organic cotton,29.99,orange|sand,a hand-dyed gradient\n"  # line 2
        + 'TS-002,"Wave\nTee",organic cotton,25,blue,\n'  # lines 3-4: a quoted newline
        + "TS-003,Fog Tee,,25,grey,\n"  # line 5: no material
        + "TS-004,Moss Tee,hemp,cheap,green,\n"  # line 6: price
        + "TS 005,Bad Id,hemp,25,green,\n"  # line 7: not a custom_id
        + "TS-001,Again,hemp,25,green,\n"  # line 8: duplicate id
        + "\n"  # line 9: blank, ignored
        + "TS-006,Clay Tee,recycled cotton,£18,clay| ,\n"  # line 10: fine
        + 'TS-007,"Two\nLines",,25,grey,\n',  # lines 11-12: no material, reported at its start
        encoding="utf-8",
    )
    catalogue = read_catalogue(path)
    assert [p.id for p in catalogue.products] == ["TS-001", "TS-002", "TS-006"]
    assert [e.split(":")[0] for e in catalogue.errors] == [
        "line 5",
        "line 6",
        "line 7",
        "line 8",
        "line 11",
    ]
    assert "material is empty" in catalogue.errors[0]
    assert "already used on line 2" in catalogue.errors[3]
    clay = catalogue.products[2]
    assert (clay.price, clay.colours) == ("18.00", ("clay",))


def test_a_wrong_header_reads_nothing(tmp_path: Path) -> None:
    path = tmp_path / "products.csv"
    path.write_text("id,name,price\nTS-1,Tee,20\n")
    with pytest.raises(CatalogueError, match="lacks material, colours, key_feature"):
        read_catalogue(path)


def test_descriptions_csv_is_replaced_whole(tmp_path: Path) -> None:
    out = tmp_path / "descriptions.csv"
    out.write_text("old\n")
    write_descriptions(out, [{"id": "A", "name": "Tee", "status": "ok", "description": "x"}])
    assert out.read_text().splitlines() == ["id,name,status,description,problems", "A,Tee,ok,x,"]
    assert not (tmp_path / "descriptions.csv.tmp").exists()
