"""`shopmate describe`: one product, a catalogue live or as a Message Batch, status, collect.

The arguments and the output live here; the work lives in bot/describe/.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bot.cli.base import Add
from bot.cli.preflight import CommandError
from bot.settings import Settings

logger = logging.getLogger(__name__)

DEFAULT_OUT = Path("descriptions.csv")


def register(sub: Any, add: Add) -> None:
    """Add the `describe` command to the `shopmate` subparsers.

    Its parser is made directly, without `add`: `describe` has argument groups and a longer
    description than its help line, and no --log-level.
    """
    help_text = "Write product descriptions in ThreadCo's voice (one product or a catalogue)."
    p = sub.add_parser(
        "describe",
        help=help_text,
        description=help_text
        + " Every description is checked against the house style and stored; an unchanged "
        "product is never sent twice.",
    )
    one = p.add_argument_group("one product")
    one.add_argument("--name", help="the product name; describes one product (default: none)")
    one.add_argument(
        "--material", help="the sustainable material, e.g. 'organic cotton' (default: none)"
    )
    one.add_argument("--price", help="e.g. 29.99 (default: none)")
    one.add_argument("--colours", help="separated by | or commas, e.g. 'navy|sand' (default: none)")
    one.add_argument("--key-feature", default="", help="e.g. 'a chest pocket' (default: none)")
    one.add_argument("--id", dest="product_id", help="product id (default: from the name)")
    many = p.add_argument_group("a catalogue")
    many.add_argument(
        "--csv",
        type=Path,
        help="products: id,name,material,price,colours,key_feature (default: none)",
    )
    many.add_argument("--out", type=Path, help=f"descriptions to write (default: {DEFAULT_OUT})")
    many.add_argument(
        "--batch", action="store_true", help="submit a Message Batch and return (default: live)"
    )
    many.add_argument(
        "--concurrency",
        type=int,
        help="live requests at once (default: SHOPMATE_DESCRIBE_CONCURRENCY)",
    )
    p.add_argument(
        "--status", action="store_true", help="show the batches and their progress (default: off)"
    )
    p.add_argument(
        "--collect", action="store_true", help="write the results of ended batches (default: off)"
    )
    p.add_argument(
        "--retry",
        action="store_true",
        help="with --collect: describe errored/expired live (default: off)",
    )
    p.add_argument(
        "--force", action="store_true", help="describe again even if stored (default: off)"
    )
    p.set_defaults(handler=cmd_describe)


def cmd_describe(args: argparse.Namespace, settings: Settings) -> int:
    modes = [
        name
        for name, on in (
            ("--name", args.name is not None),
            ("--csv", args.csv is not None),
            ("--status", args.status),
            ("--collect", args.collect),
        )
        if on
    ]
    if len(modes) != 1:
        raise CommandError(
            "describe needs exactly one of --name (one product), --csv, --status or --collect"
        )
    if args.batch and not args.csv:
        raise CommandError("--batch needs --csv")
    if args.retry and not args.collect:
        raise CommandError("--retry goes with --collect (a live --csv run retries errors itself)")
    concurrency = args.concurrency or settings.describe_concurrency
    if concurrency < 1:
        raise CommandError("--concurrency must be at least 1")
    with _copywriter(settings) as copywriter:
        if args.name is not None:
            return _one(args, copywriter)
        if args.csv is not None:
            return _catalogue(args, copywriter, concurrency)
        if args.status:
            return _status(copywriter)
        return _collect(args, copywriter)


@contextmanager
def _copywriter(settings: Settings) -> Iterator[Any]:
    from bot.claude_client import make_client
    from bot.describe.prompt import ExamplesError, load_prompt
    from bot.describe.service import Copywriter
    from storage import open_storage

    try:
        prompt = load_prompt(settings.describe_model, settings.describe_examples)
    except ExamplesError as exc:
        raise CommandError(str(exc)) from None
    client = make_client(settings)
    storage = open_storage(settings.db_path)
    try:
        yield Copywriter(client, storage.descriptions, prompt)
    except _fatal_errors() as exc:
        # Stored work is safe: what was answered is in the database, and a batch's results
        # can be collected again, so the same command can simply be run again.
        raise CommandError(f"the Anthropic API failed, stopping: {_one_line(exc)}") from None
    finally:
        storage.close()
        client.close()


def _one_line(exc: BaseException) -> str:
    import anthropic

    from bot.describe.service import describe_error

    return describe_error(exc) if isinstance(exc, anthropic.APIError) else str(exc)


def _fatal_errors() -> tuple[type[BaseException], ...]:
    import anthropic

    from bot.describe.service import FatalAPIError

    return (FatalAPIError, anthropic.APIError)


def _one(args: argparse.Namespace, copywriter: Any) -> int:
    from bot.describe.catalogue import BadProduct, make_product, slug

    missing = [f"--{n}" for n in ("material", "price", "colours") if getattr(args, n) is None]
    if missing:
        raise CommandError(f"one product needs {', '.join(missing)} too")
    colours = args.colours.replace(",", "|")
    try:
        product = make_product(
            id=args.product_id or slug(args.name),
            name=args.name,
            material=args.material,
            price=args.price,
            colours=colours,
            key_feature=args.key_feature,
        )
    except BadProduct as exc:
        raise CommandError(str(exc)) from None
    outcome = copywriter.describe(product, force=args.force)
    if outcome.status == "ok":
        print(outcome.text)
        if outcome.stored:
            print(
                "(stored earlier for these inputs: no new call; --force to redo)", file=sys.stderr
            )
        return 0
    if outcome.status == "rejected":
        print(f"Rejected after one retry: {'; '.join(outcome.problems)}", file=sys.stderr)
        print(f"Draft (not kept): {outcome.text}", file=sys.stderr)
        return 1
    if outcome.status == "pending":
        print(f"Already sent in batch {outcome.batch_id}; run --collect.", file=sys.stderr)
        return 1
    raise CommandError(f"no description: {outcome.error}")


def _catalogue(args: argparse.Namespace, copywriter: Any, concurrency: int) -> int:
    from bot.describe.catalogue import CatalogueError, read_catalogue

    try:
        catalogue = read_catalogue(args.csv)
    except CatalogueError as exc:
        raise CommandError(f"nothing described: {exc}") from None
    for problem in catalogue.errors:
        print(f"{args.csv}: {problem}", file=sys.stderr)
    if not catalogue.products:
        raise CommandError(f"nothing described: no usable products in {args.csv}")
    out = args.out or DEFAULT_OUT
    if args.batch:
        return _submit(args, copywriter, catalogue, out)
    from bot.describe.catalogue import write_descriptions
    from bot.describe.live import run_live

    with _progress(len(catalogue.products)) as advance:
        outcomes = run_live(
            copywriter,
            catalogue.products,
            concurrency=concurrency,
            force=args.force,
            on_outcome=advance,
        )
    write_descriptions(out, (o.as_row() for o in outcomes))
    counts = _counts(outcomes)
    print(
        f"Described {len(outcomes)} product(s) into {out}: {counts['new']} written now, "
        f"{counts['stored']} already stored (no call), {counts['rejected']} rejected, "
        f"{counts['error']} failed, {counts['pending']} waiting in a batch; "
        f"{len(catalogue.errors)} bad row(s) skipped."
    )
    _list_problems(outcomes)
    if counts["error"]:
        print("Run the same command again to retry the failed ones.", file=sys.stderr)
    return 1 if (catalogue.errors or counts["rejected"] or counts["error"]) else 0


def _submit(args: argparse.Namespace, copywriter: Any, catalogue: Any, out: Path) -> int:
    from bot.describe.batch import submit

    result = submit(copywriter, catalogue.products, force=args.force, out_path=str(out))
    known = len(result.known)
    if not result.batch_ids:
        print(f"Nothing to send: all {known} product(s) are stored or waiting in a batch.")
    else:
        print(
            f"Submitted batch {', '.join(result.batch_ids)} with {result.sent} product(s) "
            f"({known} already stored or pending, not sent). Results arrive within 24 hours: "
            "`shopmate describe --status`, then `shopmate describe --collect`."
        )
    return 1 if catalogue.errors else 0


def _status(copywriter: Any) -> int:
    from bot.describe.batch import refresh

    batches = refresh(copywriter)
    if not batches:
        print("No batches yet: `shopmate describe --csv products.csv --batch` submits one.")
        return 0
    for b in batches:
        if b.status == "submitting":
            print(
                f"(unconfirmed) created {b.created_utc}, {b.request_count} request(s): the "
                "process stopped before Anthropic's answer was stored; check the Batches page "
                "of the Anthropic console before submitting these products again."
            )
            continue
        c = b.counts
        done = b.request_count - c.get("processing", b.request_count)
        print(
            f"{b.batch_id}  {b.status:<11} {done}/{b.request_count} done  "
            f"succeeded {c.get('succeeded', 0)}, errored {c.get('errored', 0)}, "
            f"expired {c.get('expired', 0)}, canceled {c.get('canceled', 0)}  "
            f"submitted {b.created_utc[:19]}Z"
            + (f", ended {b.ended_utc[:19]}Z" if b.ended_utc else "")
        )
    if any(b.status == "ended" for b in batches):
        print("Ended batches are ready: `shopmate describe --collect`.")
    return 0


def _collect(args: argparse.Namespace, copywriter: Any) -> int:
    from bot.describe.batch import collect
    from bot.describe.catalogue import write_descriptions

    results = collect(copywriter, retry=args.retry)
    if not results:
        print("Nothing to collect: no batch has ended yet (see `shopmate describe --status`).")
        return 0
    status = 0
    for result in results:
        out = args.out or Path(result.out_path or DEFAULT_OUT)
        write_descriptions(out, (o.as_row() for o in result.outcomes))
        counts = _counts(result.outcomes)
        print(
            f"Batch {result.batch_id}: wrote {len(result.outcomes)} product(s) to {out}: "
            f"{counts['ok']} ok, {counts['rejected']} rejected, {len(result.failed)} without "
            "an answer."
        )
        for product_id, kind, why in result.failed:
            print(f"  {product_id}: {kind}{': ' + why if why else ''}", file=sys.stderr)
        if result.failed and not args.retry:
            print("Retry those live with `shopmate describe --collect --retry`.", file=sys.stderr)
        _list_problems(result.outcomes)
        if result.failed or counts["rejected"]:
            status = 1
    return status


def _counts(outcomes: list[Any]) -> dict[str, int]:
    counts = {"ok": 0, "rejected": 0, "error": 0, "pending": 0, "stored": 0, "new": 0}
    for o in outcomes:
        counts[o.status] = counts.get(o.status, 0) + 1
        if o.status in ("ok", "rejected"):
            counts["stored" if o.stored else "new"] += 1
    return counts


def _list_problems(outcomes: list[Any]) -> None:
    for o in outcomes:
        if o.status == "rejected":
            print(f"  {o.product.id}: rejected: {'; '.join(o.problems)}", file=sys.stderr)
        elif o.status == "error":
            print(f"  {o.product.id}: failed: {o.error}", file=sys.stderr)


@contextmanager
def _progress(total: int) -> Iterator[Any]:
    """A rich progress bar on a terminal (stderr); nothing when output is not a terminal."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    console = Console(stderr=True)
    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=console,
        disable=not console.is_terminal,
    ) as progress:
        task = progress.add_task("describing", total=total)
        yield lambda _outcome: progress.advance(task)
