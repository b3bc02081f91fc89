"""Benchmark 8: product descriptions — cost per 1,000 products live vs. batch, wall time live.

Both modes run the real code (`bot.describe`) through the real SDK against the fake Claude with
the scripted copywriter. Cost comes from the usage the fake returns (its token counts are an
estimate, about four characters of request JSON per token), priced at the Haiku rates in
bot/stats.py; batch tokens at 50% of those, as the Message Batches API bills them, and any live
retry (a voice violation) at full price. The fake's prompt cache needs a 4,096-token prefix, as
Haiku 4.5 does, so the two-example few-shot prefix (~300 tokens) is honestly not cached.
Live wall time depends on the fake's pace and the concurrency, both printed with the result.
"""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic

from bench.sections import item_section, markdown_lines
from bot.describe import Copywriter, Outcome, load_prompt
from bot.describe import batch as batch_mode
from bot.describe.catalogue import Product, make_product
from bot.describe.live import run_live
from bot.models import model_info
from bot.settings import DEFAULT_DESCRIBE_MODEL, Settings
from bot.stats import cost_of
from fakes.claude import FakeClaude, Pace
from fakes.claude.copywriter import ScriptedCopywriter
from storage import open_storage

HAIKU_MIN_CACHEABLE_TOKENS = 4096
BATCH_DISCOUNT = 0.5
TOKENS = (
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)


@dataclass
class ModeCost:
    """Tokens and calls one mode used for all products, split by billing (live / batch)."""

    products: int
    live: dict[str, int] = field(default_factory=dict)
    batch: dict[str, int] = field(default_factory=dict)

    def add(self, outcome: Outcome) -> None:
        for bucket, part in ((self.live, outcome.usage.live), (self.batch, outcome.usage.batch)):
            for key in ("calls", *TOKENS):
                bucket[key] = bucket.get(key, 0) + int(part.get(key, 0))

    def dollars(self) -> float:
        price = model_info(DEFAULT_DESCRIBE_MODEL)
        assert price is not None, f"{DEFAULT_DESCRIBE_MODEL} is not in bot/models.py"
        live = cost_of({t: self.live.get(t, 0) for t in TOKENS}, price)
        batch = cost_of({t: self.batch.get(t, 0) for t in TOKENS}, price) * BATCH_DISCOUNT
        return live + batch

    def per_1000(self) -> float:
        return self.dollars() * 1000 / self.products if self.products else 0.0

    @property
    def calls(self) -> int:
        return self.live.get("calls", 0) + self.batch.get("calls", 0)


@dataclass
class DescribeResult:
    products: int
    concurrency: int
    pace: tuple[float, float | None]
    live: ModeCost
    batch: ModeCost
    live_wall_s: float
    rerun_wall_s: float
    rerun_calls: int
    ok_live: int
    ok_batch: int
    violation_every: int


def catalogue(n: int) -> list[Product]:
    """`n` distinct products, shaped like ThreadCo's range."""
    materials = ("organic cotton", "recycled cotton", "hemp", "GOTS-certified organic cotton")
    colours = ("navy|sand", "black", "clay|moss|oat", "white|ink")
    features = ("a chest pocket", "a relaxed boxy cut", "a hand-screen-printed wave", "")
    return [
        make_product(
            id=f"TS-{i:05d}",
            name=f"Tee {i}",
            material=materials[i % len(materials)],
            price=f"{18 + i % 15}.00",
            colours=colours[i % len(colours)],
            key_feature=features[i % len(features)],
        )
        for i in range(n)
    ]


def run(
    n: int = 1000,
    pace: Pace | None = None,
    concurrency: int | None = None,
    violation_every: int = 50,
) -> DescribeResult:
    """Describe `n` products live (timed), again (stored: no calls), and as one batch.

    Every `violation_every`-th product's first draft breaks the voice (a forbidden word), so
    both modes pay for the one live retry the way a real catalogue run would (0 turns it off).
    """
    pace = pace or Pace()
    concurrency = concurrency or Settings().describe_concurrency
    products = catalogue(n)
    writer_model = ScriptedCopywriter()
    if violation_every:
        for product in products[::violation_every]:
            writer_model.violate(product.name, "forbidden_word", times=1)
    with (
        FakeClaude(
            pace=pace,
            model=writer_model,
            min_cacheable_tokens=HAIKU_MIN_CACHEABLE_TOKENS,
        ) as fake,
        tempfile.TemporaryDirectory() as tmp,
    ):
        client = anthropic.Anthropic(api_key="bench", base_url=fake.url, max_retries=2)
        prompt = load_prompt(DEFAULT_DESCRIBE_MODEL)
        try:
            live_store = open_storage(Path(tmp) / "live.db")
            writer = Copywriter(client, live_store.descriptions, prompt)
            started = time.monotonic()
            outcomes = run_live(writer, products, concurrency=concurrency)
            live_wall = time.monotonic() - started
            live = ModeCost(n)
            for outcome in outcomes:
                live.add(outcome)
            before = len(fake.requests)
            started = time.monotonic()
            run_live(writer, products, concurrency=concurrency)
            rerun_wall = time.monotonic() - started
            rerun_calls = len(fake.requests) - before
            live_store.close()

            batch_store = open_storage(Path(tmp) / "batch.db")
            writer = Copywriter(client, batch_store.descriptions, prompt)
            submitted = batch_mode.submit(writer, products)
            for batch_id in submitted.batch_ids:
                fake.batches.finish(batch_id)
            batch = ModeCost(n)
            collected = batch_mode.collect(writer)
            batch_outcomes = [o for c in collected for o in c.outcomes]
            for outcome in batch_outcomes:
                batch.add(outcome)
            batch_store.close()
        finally:
            client.close()
    return DescribeResult(
        products=n,
        concurrency=concurrency,
        pace=(pace.first_token_s, pace.tokens_per_s),
        live=live,
        batch=batch,
        live_wall_s=live_wall,
        rerun_wall_s=rerun_wall,
        rerun_calls=rerun_calls,
        ok_live=sum(1 for o in outcomes if o.status == "ok"),
        ok_batch=sum(1 for o in batch_outcomes if o.status == "ok"),
        violation_every=violation_every,
    )


def rows(r: DescribeResult) -> list[tuple[str, str]]:
    """(measure, result) pairs, every figure from this run."""
    pace = f"first token {r.pace[0]:g} s, {r.pace[1]:g} tokens/s" if r.pace[1] else "unpaced"
    ratio = r.batch.per_1000() / r.live.per_1000() if r.live.per_1000() else 0.0
    per_product = r.live.live.get("input_tokens", 0) / max(1, r.products)
    out_per = r.live.live.get("output_tokens", 0) / max(1, r.products)
    return [
        ("products described (ok live / ok batch)", f"{r.ok_live} / {r.ok_batch} of {r.products}"),
        ("cost per 1,000 products, live (Haiku list price)", f"${r.live.per_1000():.4f}"),
        ("cost per 1,000 products, batch (50% of list)", f"${r.batch.per_1000():.4f}"),
        ("batch ÷ live cost", f"{ratio:.2f}×"),
        (
            "tokens per product (input / output, fake's estimate)",
            f"{per_product:.0f} / {out_per:.0f}",
        ),
        (
            "prompt-cache reads (prefix below Haiku's 4,096-token minimum)",
            f"{r.live.live.get('cache_read_input_tokens', 0):,} tokens",
        ),
        (
            f"wall time, {r.products:,} products live ({r.concurrency} at once; fake {pace})",
            f"{r.live_wall_s:.1f} s ({r.products / r.live_wall_s:.1f} products/s)",
        ),
        (
            "rerun of the unchanged catalogue (stored: never paid twice)",
            f"{r.rerun_calls} model calls, {r.rerun_wall_s * 1000:.0f} ms",
        ),
        (
            "model calls, live run / batch run (1 in "
            f"{r.violation_every or '∞'} drafts breaks the voice: one live retry)",
            f"{r.live.calls:,} / {r.batch.calls:,} "
            f"({r.batch.batch.get('calls', 0):,} batched + {r.batch.live.get('calls', 0):,} live)",
        ),
    ]


def table(r: DescribeResult) -> str:
    width = max(len(m) for m, _ in rows(r))
    lines = ["8. Product descriptions"]
    lines += [f"  {m.ljust(width)}  {v}" for m, v in rows(r)]
    return "\n".join(lines)


def markdown(r: DescribeResult) -> str:
    lines = [
        "",
        "## 8. Product descriptions (`shopmate describe`)",
        "",
        "Live and batch runs of the same catalogue through the real code and SDK against the "
        "fake Claude. Cost is from the usage the fake returned, priced at Haiku's list price "
        "(bot/stats.py), batch at 50%. Token counts are the fake's estimate (about four "
        "characters of request JSON per token), so the ratio is the finding, not the dollars.",
        "",
        "| measure | result |",
        "|---|---|",
    ]
    lines += [f"| {m} | {v} |" for m, v in rows(r)]
    return "\n".join(lines) + "\n"


def section(results: Any) -> list[str]:
    """The RESULTS.md section (bench/report.py's SECTIONS), or [] when this item did not run."""
    return item_section(results, "describe", lambda found: markdown_lines(markdown(found)))
