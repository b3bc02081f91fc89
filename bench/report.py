"""The results table (printed) and bench/RESULTS.md: only what this run measured.

Every figure in RESULTS.md is computed from the `Results` of the run that writes it, with the
machine and the commit it ran on. Fixed explanations (why a target is missed, what was tried)
do not belong here: they live, hand-written and dated, in bench/README.md. Each section is
skipped when its `--only` item did not run.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import api_bench, describe_bench, facts_bench, field_bench, orders_bench, socket_mode
from bench.scenarios import (
    LATENCY_BATCH,
    ORDER_QUESTION,
    CostResult,
    LatencyResult,
    LoadResult,
    SeedResult,
    ShapeResult,
)
from bench.stats import Summary
from bench.storage_bench import StorageResult


@dataclass
class Results:
    """Everything one `python -m bench` run measured; any part may be missing (--only, smoke)."""

    mode: str
    pace: tuple[float, float | None]
    seconds: float = 0.0
    other_cpu_s: float = 0.0  # CPU used by processes other than the bench and its bots
    latency: LatencyResult | None = None
    seed: SeedResult | None = None
    loads: list[LoadResult] = field(default_factory=list)
    storage: StorageResult | None = None
    cost: list[CostResult] = field(default_factory=list)
    shapes: list[ShapeResult] = field(default_factory=list)
    # Other bench modules' results, keyed by their --only item; their sections read them.
    extra: dict[str, Any] = field(default_factory=dict)
    # The code that ran: taken when the run starts, before RESULTS.md is rewritten.
    commit: str = field(default_factory=lambda: git_state()[0])
    dirty: bool = field(default_factory=lambda: git_state()[1])


@dataclass(frozen=True)
class Target:
    item: str
    measure: str
    target: str
    result: str
    met: bool | str  # True / False, or "reported" (no target)


def git_state() -> tuple[str, bool]:
    """(HEAD's commit, whether tracked files differ from it); ("unknown", False) without git."""
    root = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=root,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return head, bool(changed.strip())


def machine() -> dict[str, str]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        nproc = subprocess.run(["nproc"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        nproc = str(os.cpu_count())
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    except OSError:
        pass
    return {
        "nproc": nproc.strip(),
        "cpu": cpu,
        "memory": memory,
        "python": sys.version.split()[0],
        "os": f"{platform.system()} {platform.release()}",
    }


def _ms(value: float) -> str:
    return f"{value:.0f} ms" if value >= 10 else f"{value:.1f} ms"


def _fmt(summary: Summary, unit: str = "ms") -> str:
    if unit == "ms":
        return f"{_ms(summary.median)} (p95 {_ms(summary.p95)})"
    return f"{summary.median:.2f} {unit} (p95 {summary.p95:.2f} {unit})"


def _by_name(loads: list[LoadResult], name: str) -> LoadResult | None:
    """The run called `name`; of repeated runs, the one with the median wall time."""
    runs = sorted((load for load in loads if load.name == name), key=lambda r: r.wall_s)
    return runs[(len(runs) - 1) // 2] if runs else None


def _all(loads: list[LoadResult], name: str) -> list[LoadResult]:
    return [load for load in loads if load.name == name]


def targets(results: Results) -> list[Target]:
    out: list[Target] = []
    lat, seed = results.latency, results.seed
    if lat and lat.runs:
        sign = lat.summary("sign")
        out.append(
            Target(
                "1 Latency",
                "event POST → first visible sign",
                "≤ 150 ms median",
                _fmt(sign),
                sign.median <= 150,
            )
        )
        limit_ms = (lat.flush_interval + 0.1) * 1000
        first = lat.summary("first_token_to_text")
        out.append(
            Target(
                "1 Latency",
                "Claude's first token → first text visible",
                f"≤ flush + 100 ms = {limit_ms:.0f} ms",
                _fmt(first),
                first.median <= limit_ms,
            )
        )
        final = lat.summary("last_token_to_final")
        out.append(
            Target(
                "1 Latency",
                "Claude's last token → final text complete",
                "(reported)",
                _fmt(final),
                "reported",
            )
        )
    if lat and lat.runs and seed:
        # Answer to answer: ShopMate's first words of its answering (last) model call as
        # Slack shows them, against the seed's first text chunk, which is the first model
        # text of its answering call (the only call it streams).
        ours = lat.summary("first_answer_text").median
        ratio = ours / seed.first_text.median
        out.append(
            Target(
                "2 vs seed",
                "answer's first words ÷ seed's (first text of the answering call)",
                "≤ 0.2×",
                f"{ratio:.2f}× ({_ms(ours)} vs {_ms(seed.first_text.median)})",
                ratio <= 0.2,
            )
        )
        preface = lat.summary("first_text").median
        out.append(
            Target(
                "2 vs seed",
                "any first text (ShopMate's may be a preface) ÷ seed's first text",
                "(reported)",
                f"{preface / seed.first_text.median:.2f}× ({_ms(preface)} vs "
                f"{_ms(seed.first_text.median)})",
                "reported",
            )
        )
        calls = sum(r.model_calls for r in lat.runs) / len(lat.runs)
        out.append(
            Target(
                "2 vs seed",
                "model calls per answer, one id pasted",
                "1 vs 3",
                f"{calls:g} vs {seed.model_calls:g}",
                calls == 1 and seed.model_calls >= 3,
            )
        )
        tokens = sum(r.output_tokens for r in lat.runs) / len(lat.runs)
        ratio = tokens / seed.output_tokens
        out.append(
            Target(
                "2 vs seed",
                "output tokens per answer",
                "≤ 0.45×",
                f"{ratio:.2f}× ({tokens:.0f} vs {seed.output_tokens:.0f})",
                ratio <= 0.45,
            )
        )
    for shape in results.shapes:
        wanted = 1 if shape.name == "two ids" else 2
        calls_seen = sorted(set(shape.model_calls))
        out.append(
            Target(
                "2 shapes",
                f"model calls, {shape.name} ({shape.complete}/{len(shape.model_calls)} complete)",
                f"{wanted}",
                f"{', '.join(map(str, calls_seen))}; first text {_ms(shape.first_text.median)}",
                calls_seen == [wanted] and shape.complete == len(shape.model_calls),
            )
        )
    for load in results.loads:
        if load.name.startswith("shared"):
            out.append(
                Target(
                    "3 Slack budget",
                    f"{load.conversations} at once, one channel: 429s / complete",
                    "0 / all",
                    f"{load.count_429} / {load.complete} of {load.conversations} "
                    f"({load.calls_per_reply:.1f} calls per reply)",
                    load.count_429 == 0 and load.complete == load.conversations,
                )
            )
    spread = _by_name(results.loads, "spread50")
    spreads = _all(results.loads, "spread50")
    if spread:
        n_429 = sum(r.count_429 for r in spreads)
        complete = sum(r.complete for r in spreads)
        asked = sum(r.conversations for r in spreads)
        out.append(
            Target(
                "3 Slack budget",
                f"50 at once, own channels ×{len(spreads)}: 429s / complete",
                "0 / all",
                f"{n_429} / {complete} of {asked} ({spread.calls_per_reply:.1f} calls per reply)",
                n_429 == 0 and complete == asked,
            )
        )
    if spread and lat and lat.runs:
        one = lat.summary("wall", 1.0).median
        ratio = spread.wall_s / one
        every = ", ".join(f"{r.wall_s / one:.2f}" for r in spreads)
        out.append(
            Target(
                "4 Throughput",
                "wall time, 50 at once ÷ one (median burst)",
                "≤ 1.5",
                f"{ratio:.2f} ({spread.wall_s:.2f} s vs {one:.2f} s; bursts: {every})",
                ratio <= 1.5,
            )
        )
    if results.storage:
        st = results.storage
        biggest = max(st.sizes)
        out.append(
            Target(
                "5 Storage",
                f"load a {biggest:,}-message thread",
                "≤ 10 ms" if biggest >= 1000 else "(smoke)",
                _fmt(st.load_ms[biggest]),
                st.load_ms[biggest].median <= 10 if biggest >= 1000 else "reported",
            )
        )
        append = max(st.append_turn_ms.values(), key=lambda s: s.median)
        out.append(
            Target(
                "5 Storage",
                "append (a whole turn, worst thread size)",
                "≤ 2 ms",
                _fmt(append),
                append.median <= 2,
            )
        )
    if spreads:
        peak = max(r.rss_peak_mb for r in results.loads)
        idle = max(r.rss_idle_mb for r in results.loads)
        out.append(
            Target(
                "6 Memory",
                "resident memory during 50 at once (worst run)",
                "≤ 120 MB",
                f"{peak:.0f} MB peak (idle {idle:.0f} MB)",
                peak <= 120,
            )
        )
    for cost in results.cost:
        cached = cost.cached_follow_ups
        if not cached:
            continue
        share = sum(t.cache_read for t in cached) / max(1, sum(t.input_tokens for t in cached))
        history = max(t.largest_history for t in cost.turns)
        holds = history <= cost.history_budget
        small = cost.history_budget < 5000
        out.append(
            Target(
                "7 Cost",
                f"share of input from cache, turns {cached[0].turn}–{cost.turns[-1].turn} "
                f"(history budget {cost.history_budget:,})",
                "(reported) / budget holds" if small else "≥ 90% / budget holds",
                f"{share:.0%} (lowest turn {min(t.cached_share for t in cached):.0%}); history "
                f"≤ {history:,} of {cost.history_budget:,}; largest request "
                f"{max(t.largest_request for t in cost.turns):,} tokens",
                holds if small else (share >= 0.9 and holds),
            )
        )
    if "socket" in results.extra:
        out += socket_mode.socket_targets(results.extra["socket"], Target)
    return out


def _span(values: list[float]) -> str:
    low, high = f"{min(values):.1f}", f"{max(values):.1f}"
    return low if low == high else f"{low}–{high}"


def _mark(met: bool | str) -> str:
    if met is True:
        return "met"
    if met is False:
        return "MISSED"
    return "reported"


def table(results: Results) -> str:
    rows = targets(results)
    widths = [14, 46, 24, 52]
    lines = [
        f"{'item':<{widths[0]}} {'measure':<{widths[1]}} {'target':<{widths[2]}} "
        f"{'result':<{widths[3]}} status"
    ]
    lines.append("-" * (sum(widths) + 14))
    for row in rows:
        lines.append(
            f"{row.item:<{widths[0]}} {row.measure:<{widths[1]}} {row.target:<{widths[2]}} "
            f"{row.result:<{widths[3]}} {_mark(row.met)}"
        )
    return "\n".join(lines)


def _md_table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(results: Results, notes: str = "") -> str:
    """RESULTS.md: the run's circumstances, the targets, then one section per item that ran."""
    m = machine()
    first_s, rate = results.pace
    commit = results.commit + (" with uncommitted changes" if results.dirty else "")
    out = [
        "# ShopMate benchmarks",
        "",
        "Generated by `python -m bench`: every figure below was measured by the run described "
        "here. Explanations, and what the fakes model, are hand-written in bench/README.md.",
        "",
        f"- Run: {results.mode} mode, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, "
        f"{results.seconds:.0f} s.",
        f"- Commit: `{commit}`.",
        f"- Machine: {m['nproc']} CPUs ({m['cpu']}), {m['memory']} RAM, Python {m['python']}, "
        f"{m['os']}; the fakes run in the bench process, beside `shopmate serve`.",
        f"- Other processes used {results.other_cpu_s:.0f} CPU-seconds during the run "
        f"({results.other_cpu_s / max(1.0, results.seconds):.0%} of one CPU on average).",
        f"- Fake Claude pace: {first_s:g} s to first token, then {rate:g} tokens/s.",
        "",
        "## Targets",
        "",
        _md_table(
            ["item", "measure", "target", "result", "status"],
            [[t.item, t.measure, t.target, t.result, _mark(t.met)] for t in targets(results)],
        ),
        "",
    ]
    for section in SECTIONS:
        out += section(results)
    if notes:
        out += ["## Derived from this run's figures", "", notes.strip(), ""]
    return "\n".join(out)


def _latency_section(results: Results) -> list[str]:
    lat = results.latency
    if not (lat and lat.runs):
        return []
    rows = []
    for name, label in (
        ("sign", "event POST → first visible sign (status)"),
        ("first_token_to_text", "first token → first text visible"),
        ("last_token_to_final", "last token → final text visible"),
        ("first_text", "event POST → first text visible"),
        ("first_answer_text", "event POST → first words of the answering call visible"),
        ("answer_token_to_text", "answering call's first token → its words visible"),
        ("wall", "event POST → answer complete"),
    ):
        s = lat.summary(name)
        c = Summary.of(getattr(r, name) for r in lat.cold).scaled(1000)
        rows.append([label, _ms(s.median), _ms(s.p95), _ms(c.median)])
    calls = sum(r.model_calls for r in lat.runs) / len(lat.runs)
    return [
        f"## 1. Latency ({len(lat.runs)} answers, one at a time)",
        "",
        f'Question: "{ORDER_QUESTION.format(order="ORD-1001", tag="…")}" (or ORD-1003), in '
        f"fresh workspaces of up to {LATENCY_BATCH} answers; 'cold' is the first answer after "
        f"each start of `shopmate serve` ({len(lat.cold)} in this run).",
        "",
        _md_table(["measure", "median", "p95", "cold (median)"], rows),
        "",
        f"Model calls per answer: {calls:g}. Slack calls per answer: "
        f"{sum(r.slack_calls for r in lat.runs) / len(lat.runs):.1f}. Serve start-up to "
        f"healthy: {_span(lat.startup_s)} s. Complete: {sum(r.complete for r in lat.runs)} of "
        f"{len(lat.runs)}.",
        "",
    ]


def _seed_section(results: Results) -> list[str]:
    lat, seed = results.latency, results.seed
    if not (seed and lat and lat.runs):
        return []
    ours_calls = sum(r.model_calls for r in lat.runs) / len(lat.runs)
    ours_tokens = sum(r.output_tokens for r in lat.runs) / len(lat.runs)
    answer = lat.summary("first_answer_text").median
    preface = lat.summary("first_text").median
    seed_first = seed.first_text.median
    return [
        "## 2. Against the seed's `stream_chat`",
        "",
        "Answer to answer: ShopMate's first words of its answering (last) model call as the "
        "fake Slack shows them, against the seed's first text chunk out of its generator, "
        "which is the first model text of its answering call (the seed streams only that "
        "call, and shows it nowhere: no Slack time is counted for it).",
        "",
        _md_table(
            ["measure", "ShopMate", "seed", "ratio"],
            [
                [
                    "first words of the answer (median)",
                    _ms(answer),
                    _ms(seed_first),
                    f"{answer / seed_first:.2f}×",
                ],
                [
                    "first text of any kind (median; ShopMate's may be a preface)",
                    _ms(preface),
                    _ms(seed_first),
                    f"{preface / seed_first:.2f}×",
                ],
                [
                    "answer complete (median)",
                    _ms(lat.summary("wall").median),
                    _ms(seed.total.median),
                    f"{lat.summary('wall').median / seed.total.median:.2f}×",
                ],
                ["model calls", f"{ours_calls:g}", f"{seed.model_calls:g}", ""],
                [
                    "output tokens",
                    f"{ours_tokens:.0f}",
                    f"{seed.output_tokens:.0f}",
                    f"{ours_tokens / seed.output_tokens:.2f}×",
                ],
            ],
        ),
        "",
        f"The seed's calls: its tool round wrote {seed.tool_round_tokens:.0f} output tokens "
        f"on average, each of its answer calls {seed.answer_tokens:.0f}.",
        "",
        *_shapes_table(results.shapes),
    ]


def _shapes_table(shapes: list[ShapeResult]) -> list[str]:
    """ShopMate on the other order-question shapes, one at a time (no seed counterpart)."""
    if not shapes:
        return []
    rows = [
        [
            f'"{shape.question}"',
            ", ".join(map(str, sorted(set(shape.model_calls)))),
            _fmt(shape.first_text),
            f"{shape.output_tokens:.0f}",
            f"{shape.complete}/{len(shape.model_calls)}",
        ]
        for shape in shapes
    ]
    header = ["question", "model calls", "first text visible", "output tokens", "complete"]
    return [_md_table(header, rows), ""]


def _load_section(results: Results) -> list[str]:
    if not results.loads:
        return []
    rows = []
    for load in results.loads:
        rows.append(
            [
                load.name,
                load.conversations,
                load.channels,
                f"{load.complete}/{load.conversations}",
                load.count_429,
                f"{load.calls_per_reply:.1f}",
                load.streamed,
                _fmt(load.sign),
                load.late_signs,
                f"{load.answer_wall.median:.2f} s / {load.answer_wall.max:.2f} s",
                f"{load.wall_s:.2f} s",
                f"{load.cpu_bot_s:.2f} / {load.cpu_fakes_s:.2f} / {load.cpu_other_s:.2f} s",
                f"{load.cpu_bot_s / max(1, load.conversations) * 1000:.0f} ms",
                f"{load.rss_idle_mb:.0f} / {load.rss_peak_mb:.0f} MB",
            ]
        )
    out = [
        "## 3, 4, 6. Many conversations at once",
        "",
        "Each row is a fresh `shopmate serve` and a fresh fake workspace; one warm-up answer "
        "first, then every question is posted at the same moment by distinct users.",
        "",
        _md_table(
            [
                "run",
                "answers",
                "channels",
                "complete",
                "429s",
                "Slack calls/reply",
                "streamed",
                "first sign",
                "signs after > 1 s",
                "answer time median / max",
                "wall",
                "CPU bot / fakes / other processes",
                "bot CPU per answer",
                "RSS idle / peak",
            ],
            rows,
        ),
        "",
        "Slack calls by method:",
        "",
    ]
    for load in results.loads:
        calls = ", ".join(f"{k} {v}" for k, v in load.calls_by_method.items())
        out.append(f"- {load.name}: {calls}")
    out.append("")
    return out


def _storage_section(results: Results) -> list[str]:
    st = results.storage
    if not st:
        return []
    rows = [
        [
            f"{size:,}",
            _fmt(st.load_ms[size]),
            _fmt(st.append_user_ms[size]),
            _fmt(st.append_turn_ms[size]),
        ]
        for size in st.sizes
    ]
    return [
        "## 5. Storage",
        "",
        f"SQLite ({st.journal} journal) in a temporary directory; threads built from "
        "exchanges of question, tool call, tool result and answer.",
        "",
        _md_table(
            [
                "messages in thread",
                "load history",
                "append user message",
                "append a turn (3 messages + usage)",
            ],
            rows,
        ),
        "",
        f"Dedupe check (`events.claim`): new event {_fmt(st.claim_new_ms)}, re-delivery "
        f"{_fmt(st.claim_dup_ms)}. Database bytes per 1,000 messages: "
        f"{st.bytes_per_1000 / 1024:.0f} KiB.",
        "",
    ]


def _cached_share(cost: CostResult, first_turn: int) -> float:
    turns = [t for t in cost.turns if t.turn >= first_turn]
    return sum(t.cache_read for t in turns) / max(1, sum(t.input_tokens for t in turns))


def _cost_section(results: Results) -> list[str]:
    out: list[str] = []
    for cost in results.cost:
        rows = [
            [
                t.turn,
                t.model_calls,
                t.messages_sent,
                f"{t.input_tokens:,}",
                f"{t.cache_read:,}",
                f"{t.cache_write:,}",
                f"{t.cached_share:.0%}",
                t.output_tokens,
                f"{t.largest_request:,}",
            ]
            for t in cost.turns
        ]
        later = f"{_cached_share(cost, 6):.0%}" if len(cost.turns) >= 6 else "n/a"
        out += [
            f"## 7. Cost per turn, {len(cost.turns)}-turn thread, history budget "
            f"{cost.history_budget:,} tokens",
            "",
            _md_table(
                [
                    "turn",
                    "model calls",
                    "messages sent",
                    "input tokens",
                    "cache read",
                    "cache write",
                    "share from cache",
                    "output tokens",
                    "largest request",
                ],
                rows,
            ),
            "",
            f"Input read from the cache in turns 6 onwards: {later}.",
            "",
        ]
    return out


# One function per section, in the order they appear; each returns [] when its item did not
# run. A new bench module adds its results to `Results.extra` and a section here.
SECTIONS: list[Callable[[Results], list[str]]] = [
    _latency_section,
    _seed_section,
    _load_section,
    _storage_section,
    _cost_section,
    describe_bench.section,
    field_bench.section,
    socket_mode.section,
    api_bench.section,
    orders_bench.section,
    facts_bench.section,
]


def explanations(results: Results) -> str:
    """Figures derived from this run's measurements alone (arithmetic, no fixed prose)."""
    parts: list[str] = []
    lat, seed = results.latency, results.seed
    if lat and lat.runs and seed and seed.tool_round_tokens and seed.answer_tokens:
        ours = sum(r.output_tokens for r in lat.runs) / len(lat.runs)
        a, b = seed.tool_round_tokens, seed.answer_tokens
        parts.append(
            f"- Output tokens: the seed's tool round wrote a = {a:.0f}, each answer call "
            f"b = {b:.0f}. If ShopMate wrote the same tool round and one answer, its share "
            f"would be (a + b) / (a + 2b) = {(a + b) / (a + 2 * b):.2f}; measured "
            f"{ours / seed.output_tokens:.2f} ({ours:.0f} vs {seed.output_tokens:.0f} tokens)."
        )
    spreads = _all(results.loads, "spread50")
    if spreads and lat and lat.runs:
        one = lat.summary("wall", 1.0).median
        ratios = sorted(r.wall_s / one for r in spreads)
        parts.append(
            f"- Throughput: {len(spreads)} burst(s) of 50 took {ratios[0]:.2f}–{ratios[-1]:.2f}× "
            f"one answer ({one:.2f} s)."
        )
    half = _by_name(results.loads, "spread25")
    if half and lat and lat.runs:
        one = lat.summary("wall", 1.0).median
        parts.append(f"- 25 at once, own channels: {half.wall_s / one:.2f}× one answer.")
    shared = _by_name(results.loads, "shared50")
    if shared:
        parts.append(
            f"- 50 at once in one channel: {shared.streamed} streamed, "
            f"{shared.conversations - shared.streamed} posted; wall {shared.wall_s:.1f} s, "
            f"{shared.wall_s / max(1, shared.conversations - shared.streamed):.2f} s per posted "
            "reply."
        )
    if lat and lat.cold:
        cold = Summary.of(r.wall for r in lat.cold).median
        parts.append(
            f"- Cold start: first answer after start-up {cold:.2f} s end to end (median of "
            f"{len(lat.cold)} starts), warm {lat.summary('wall', 1.0).median:.2f} s."
        )
    return "\n".join(parts)
