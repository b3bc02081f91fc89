"""The doctor's checks of what ShopMate reads beyond SQLite: a remote order source (Shopify, a
shop's endpoint) and a PostgreSQL database.

Both areas own their checks (`bot.orders.check`, `bot.cli.db.check_database`, also used by
`shopmate orders check`); this module only turns their findings into the doctor's lines, each
with its fix.
"""

from __future__ import annotations

from bot.doctor.result import Check, ok, problem, warning
from bot.settings import Settings

SCHEMA_FIX = "Run `shopmate db migrate` (or start ShopMate once: it applies them on start)."
DATABASE_FIX = (
    "Check SHOPMATE_DATABASE_URL (host, port, database, user, password) and that the server "
    "accepts connections from this host."
)
CLOCK_FIX = "Keep every host's clock in sync with the database server's (NTP)."


def orders_checks(settings: Settings) -> list[Check]:
    """A remote order source answers, with which permissions, and one timed lookup.

    The `table` source is ShopMate's own database: the storage checks cover it (read-only).
    """
    if settings.order_source == "table":
        return []
    from bot.orders.check import check_order_source

    return [
        ok("orders", r.name, r.detail)
        if r.ok
        else problem("orders", r.name, r.detail, r.fix or "Run `shopmate orders check`.")
        for r in check_order_source(settings)
    ]


def postgres_checks(settings: Settings) -> list[Check]:
    """The PostgreSQL database: reachable, schema current, clocks in step."""
    from bot.cli.db import check_database

    lines: list[Check] = []
    for found in check_database(settings):
        if found.status == "ok":
            lines.append(ok("storage", found.name, found.message))
        elif found.name == "clock":
            lines.append(warning("storage", found.name, found.message, CLOCK_FIX))
        else:
            fix = SCHEMA_FIX if found.name == "schema" else DATABASE_FIX
            lines.append(problem("storage", found.name, found.message, fix))
    return lines
