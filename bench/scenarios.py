"""Items 1, 2 (ShopMate's side), 3, 4, 6 and 7: the real app, driven over HTTP like Slack does."""

from __future__ import annotations

import collections
import os
import sqlite3
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anthropic

from bench import seed
from bench.harness import DEFAULT_PACE, TRACKING, Conversation, RssSampler, Stack
from bench.stats import Summary
from bot.history import estimate_tokens
from fakes.claude import FakeClaude, Pace, count_input_tokens

ORDER_QUESTION = "Hi, where is my order {order}? ({tag})"
# Item 1 times one answer in a workspace whose Slack budget is not spent: Tier 2
# chat.startStream allows ~20 a minute with a burst of a few (the bot paces at 0.8x that,
# 2 at once), Tier 3 chat.update ~50 a minute. Twelve answers a second apart in one
# workspace spend both, and the later ones are posted whole when written: that is the busy
# case, which items 3 and 9 measure. So each fresh workspace (a fresh `shopmate serve` and
# fake Slack) takes the cold answer and 2 more.
LATENCY_BATCH = 2


def _question(order: str, tag: str) -> str:
    return ORDER_QUESTION.format(order=order, tag=tag)


# --------------------------------------------------------------------------- item 1 (+2, +4)


@dataclass
class TurnTiming:
    """One single-turn answer, timed against the fakes' clocks (seconds)."""

    sign: float  # POST -> first visible sign (status, placeholder or stream)
    first_token_to_text: float  # Claude's first text token -> first text visible in Slack
    last_token_to_final: float  # Claude's last token -> final text visible in Slack
    first_text: float  # POST -> first text visible
    first_answer_text: float  # POST -> first words of the final model call visible
    answer_token_to_text: float  # the final call's first token -> its first words visible
    wall: float  # POST -> final text visible
    model_calls: int
    output_tokens: int
    slack_calls: int
    complete: bool


def measure(conversation: Conversation) -> TurnTiming:
    requests = conversation.claude_requests()
    first, last = requests[0].timing, requests[-1].timing
    assert first.first_text is not None and last.last_text is not None, "no text streamed"
    replies = conversation.replies()
    states = sorted((v.time, v.text) for m in replies for v in m.history)
    first_text = conversation.first_text_visible()
    final = conversation.final_visible()
    sign = conversation.first_sign()
    assert first_text is not None and final is not None and sign is not None, "nothing shown"
    answer_start = last.first_text or last.first_delta or 0.0
    answer_visible = min((t for t, text in states if t >= answer_start and text), default=final)
    calls = [
        c
        for c in conversation.stack.slack_calls()
        if c.args.get("thread_ts") == conversation.thread_ts
        or c.args.get("ts") in {m.ts for m in replies}
    ]
    return TurnTiming(
        sign=sign - conversation.posted_at,
        first_token_to_text=first_text - first.first_text,
        last_token_to_final=final - last.last_text,
        first_text=first_text - conversation.posted_at,
        first_answer_text=answer_visible - conversation.posted_at,
        answer_token_to_text=answer_visible - answer_start,
        wall=final - conversation.posted_at,
        model_calls=len(requests),
        output_tokens=sum(r.timing.output_tokens or 0 for r in requests),
        slack_calls=len(calls),
        complete=conversation.complete(),
    )


@dataclass
class LatencyResult:
    runs: list[TurnTiming] = field(default_factory=list)
    cold: list[TurnTiming] = field(default_factory=list)  # first answer of each fresh process
    startup_s: list[float] = field(default_factory=list)
    flush_interval: float = 0.4

    def summary(self, name: str, scale: float = 1000.0) -> Summary:
        return Summary.of(getattr(r, name) for r in self.runs).scaled(scale)


def run_latency(runs: int, pace: Pace = DEFAULT_PACE, log: Any = print) -> LatencyResult:
    """Single answers one after another, in fresh workspaces of LATENCY_BATCH answers each."""
    from bot.settings import Settings

    result = LatencyResult(flush_interval=Settings().flush_interval)
    done = 0
    batch_no = 0
    while done < runs:
        batch = min(LATENCY_BATCH, runs - done)
        started = time.monotonic()
        with Stack(pace=pace) as stack:
            result.startup_s.append(time.monotonic() - started)
            # The first answer after startup pays one-off costs (lazy imports, the SDK's
            # model schemas); it is reported apart as "cold".
            warm = _ask_one(stack, "ORD-1001", f"cold {batch_no}", user="UCOLD", channel="CLAT")
            result.cold.append(measure(warm))
            for i in range(batch):
                order = "ORD-1001" if i % 2 == 0 else "ORD-1003"
                tag = f"lat {batch_no}.{i}"
                conversation = _ask_one(stack, order, tag, user=f"ULAT{i:02d}", channel="CLAT")
                result.runs.append(measure(conversation))
        done += batch
        batch_no += 1
        log(f"  latency: {done}/{runs} answers")
    return result


def _ask_one(stack: Stack, order: str, tag: str, *, user: str, channel: str) -> Conversation:
    conversation = stack.ask(
        _question(order, tag), channel=channel, user=user, expect=TRACKING[order], marker=tag
    )
    if not stack.wait_done([conversation], timeout=60):
        raise RuntimeError(f"no answer to {tag!r} within 60 s:\n{stack.log_tail()}")
    _settle(stack, [conversation])
    return conversation


def _settle(stack: Stack, conversations: list[Conversation], timeout: float = 5.0) -> None:
    """Wait until every reply shows its final text (the turn is marked done just after)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not all(c.complete() for c in conversations):
        time.sleep(0.05)


# --------------------------------------------------------------------------- item 2


@dataclass
class SeedResult:
    first_text: Summary  # ms, question -> first text chunk out of stream_chat
    total: Summary  # ms, question -> last chunk
    model_calls: float
    output_tokens: float
    tool_round_tokens: float  # output of the call that asked for get_order
    answer_tokens: float  # output of the call that wrote the answer


def run_seed(runs: int, pace: Pace = DEFAULT_PACE, concurrency: int = 4) -> SeedResult:
    """The seed's stream_chat through the real SDK against a fake Claude at the same pace.

    Runs go `concurrency` at a time: each waits ~4 s on the fake's pace and uses almost no
    CPU, so overlapping them changes nothing measurable and saves a minute.
    """
    with FakeClaude(pace=pace) as fake:
        client = anthropic.Anthropic(api_key="sk-ant-bench", base_url=fake.url, max_retries=0)
        questions = [
            "Hi, where is my order ORD-1001?" if i % 2 == 0 else "Hi, where is my order ORD-1003?"
            for i in range(runs)
        ]
        with ThreadPoolExecutor(concurrency) as pool:
            results = list(pool.map(lambda q: seed.ask(client, q), questions))
        requests = [r for r in fake.requests if r.path == "/v1/messages"]
        client.close()
    for r in results:
        assert "RM" in r.text, "the seed's answer must contain the tracking number"
    per_run_calls = len(requests) / runs
    streamed = [r.timing.output_tokens or 0 for r in requests if r.timing.streamed]
    tool_rounds = [
        r.timing.output_tokens or 0
        for r in requests
        if not r.timing.streamed and not _has_tool_result(r.body)
    ]
    return SeedResult(
        first_text=Summary.of(r.first_text_s for r in results).scaled(1000),
        total=Summary.of(r.total_s for r in results).scaled(1000),
        model_calls=per_run_calls,
        output_tokens=sum(r.timing.output_tokens or 0 for r in requests) / runs,
        tool_round_tokens=sum(tool_rounds) / max(1, len(tool_rounds)),
        answer_tokens=sum(streamed) / max(1, len(streamed)),
    )


def _has_tool_result(body: dict[str, Any]) -> bool:
    last = (body.get("messages") or [{}])[-1]
    content = last.get("content")
    return isinstance(content, list) and any(
        (b.get("type") if isinstance(b, dict) else getattr(b, "type", None)) == "tool_result"
        for b in content
    )


@dataclass
class ShapeResult:
    """ShopMate answering one kind of question, one at a time (item 2's other shapes)."""

    name: str
    question: str
    model_calls: list[int]
    first_text: Summary  # ms, event POST -> first text visible
    output_tokens: float
    complete: int


# Order-question shapes beside item 1's single pasted id: two ids in one message, and an id
# the model must resolve itself because the text does not hold it in the id pattern's form.
SHAPES = (
    ("two ids", "Hi, where are my orders ORD-1001 and ORD-1003? ({tag})", "RM381726495GB"),
    ("no id in the pattern's form", "Hi, where is my order ord1001? ({tag})", "RM493827651GB"),
)


def run_shapes(runs: int, pace: Pace = DEFAULT_PACE) -> list[ShapeResult]:
    """Each shape `runs` times through the real app, in one fresh workspace per shape."""
    out: list[ShapeResult] = []
    for name, template, expect in SHAPES:
        timings: list[TurnTiming] = []
        with Stack(pace=pace) as stack:
            for i in range(runs + 1):  # the first answer after start-up is cold: not counted
                tag = f"{name} {i}"
                conversation = stack.ask(
                    template.format(tag=tag),
                    channel="CSHAPE",
                    user=f"USHAPE{i:02d}",
                    expect=expect,
                    marker=tag,
                )
                if not stack.wait_done([conversation], timeout=60):
                    raise RuntimeError(f"no answer to {tag!r} within 60 s:\n{stack.log_tail()}")
                _settle(stack, [conversation])
                if i:
                    timings.append(measure(conversation))
        out.append(
            ShapeResult(
                name=name,
                question=template.format(tag="…").replace(" (…)", ""),
                model_calls=[t.model_calls for t in timings],
                first_text=Summary.of(t.first_text for t in timings).scaled(1000),
                output_tokens=sum(t.output_tokens for t in timings) / len(timings),
                complete=sum(t.complete for t in timings),
            )
        )
    return out


# --------------------------------------------------------------------------- items 3, 4, 6


@dataclass
class LoadResult:
    name: str
    conversations: int
    channels: int
    wall_s: float
    complete: int
    count_429: int
    slack_calls: int
    calls_by_method: dict[str, int]
    sign: Summary  # ms
    late_signs: int  # answers whose first visible sign came more than 1 s after the question
    answer_wall: Summary  # s, per conversation POST -> final text
    streamed: int  # replies that used native streaming
    rss_idle_mb: float
    rss_peak_mb: float
    cpu_bot_s: float  # CPU the bot process used during the burst
    cpu_fakes_s: float  # CPU this process (the fakes, the event sender) used meanwhile
    cpu_other_s: float  # CPU every other process on the machine used meanwhile

    @property
    def calls_per_reply(self) -> float:
        return self.slack_calls / max(1, self.conversations)


def machine_busy_s() -> float:
    """CPU seconds the whole machine has spent busy (all CPUs, from /proc/stat)."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_load(
    name: str,
    conversations: int,
    *,
    channels: int,
    pace: Pace = DEFAULT_PACE,
    env: dict[str, str] | None = None,
    command: tuple[str, ...] | None = None,
    log: Any = print,
) -> LoadResult:
    """`conversations` users ask at the same moment, spread over `channels` channels."""
    kwargs: dict[str, Any] = {"command": command} if command else {}
    with Stack(pace=pace, env=env or {}, **kwargs) as stack:
        # Idle: started, one answer given (imports and SDK schemas loaded), then quiet.
        warm = _ask_one(stack, "ORD-1001", f"{name} warm", user="UWARM", channel="CWARM")
        time.sleep(1.0)
        rss_idle = stack.rss_mb()
        stack.slack.reset()  # count only the burst's calls; the bot's own budget keeps its view
        del warm

        def ask(i: int) -> Conversation:
            order = "ORD-1001" if i % 2 == 0 else "ORD-1003"
            tag = f"{name} {i}"
            return stack.ask(
                _question(order, tag),
                channel=f"C{name.upper()}{i % channels:03d}",
                user=f"U{name.upper()}{i:03d}",
                expect=TRACKING[order],
                marker=tag,
            )

        cpu_bot, cpu_fakes = _cpu_s(stack.pid), _cpu_s(os.getpid())
        busy = machine_busy_s()
        with RssSampler(stack.pid) as rss, ThreadPoolExecutor(conversations) as pool:
            started = time.monotonic()
            burst = list(pool.map(ask, range(conversations)))
            finished = stack.wait_done(burst, timeout=240)
            _settle(stack, burst)
        cpu_bot, cpu_fakes = _cpu_s(stack.pid) - cpu_bot, _cpu_s(os.getpid()) - cpu_fakes
        cpu_other = max(0.0, machine_busy_s() - busy - cpu_bot - cpu_fakes)
        if not finished:
            log(f"  {name}: not every turn finished:\n{stack.log_tail()}")
        finals = [c.final_visible() for c in burst]
        signs = [c.first_sign() for c in burst]
        calls = stack.slack_calls()
        by_method = collections.Counter(c.method for c in calls)
        result = LoadResult(
            name=name,
            conversations=conversations,
            channels=channels,
            wall_s=max((f for f in finals if f is not None), default=started) - started,
            complete=sum(c.complete() for c in burst),
            count_429=stack.slack.count_429,
            slack_calls=len(calls),
            calls_by_method=dict(sorted(by_method.items())),
            sign=Summary.of(s - c.posted_at for s, c in zip(signs, burst, strict=True) if s).scaled(
                1000
            ),
            late_signs=sum(
                1 for s, c in zip(signs, burst, strict=True) if s is None or s - c.posted_at > 1
            ),
            answer_wall=Summary.of(
                f - c.posted_at for f, c in zip(finals, burst, strict=True) if f is not None
            ),
            streamed=by_method.get("chat.startStream", 0),
            rss_idle_mb=rss_idle,
            rss_peak_mb=rss.peak_mb,
            cpu_bot_s=cpu_bot,
            cpu_fakes_s=cpu_fakes,
            cpu_other_s=cpu_other,
        )
    log(
        f"  {name}: {result.complete}/{conversations} complete in {result.wall_s:.2f} s, "
        f"{result.count_429} 429s, {result.calls_per_reply:.1f} Slack calls/reply"
    )
    return result


# --------------------------------------------------------------------------- item 7

FOLLOW_UPS = (
    "Hi, where is my order ORD-1001?",
    "Can I change the size to L?",
    "What about ORD-1002?",
    "What are your tees made of?",
    "And ORD-1003, has that arrived?",
    "Thanks!",
    "Where is ORD-9999?",
    "Sorry, I meant ORD-1001. When will it arrive?",
    "Can I return it if it doesn't fit?",
    "Thank you, that's all",
)
# Prompt caching needs a prefix of at least this many tokens (1,024 for Sonnet-class models;
# more for some), below which the API caches nothing and says nothing: the fake does the same.
MIN_CACHEABLE_TOKENS = 1024


@dataclass
class CostTurn:
    turn: int
    model_calls: int
    input_tokens: int  # all input: uncached + cache writes + cache reads
    cache_read: int
    cache_write: int
    output_tokens: int
    largest_request: int  # the fake's count of the largest request's prompt, in tokens
    messages_sent: int  # messages in the turn's last request
    largest_history: int = 0  # the bot's own estimate of the largest history sent (its budget)

    @property
    def cached_share(self) -> float:
        return self.cache_read / self.input_tokens if self.input_tokens else 0.0


@dataclass
class CostResult:
    history_budget: int
    turns: list[CostTurn]

    @property
    def follow_ups(self) -> list[CostTurn]:
        return self.turns[1:]

    @property
    def cached_follow_ups(self) -> list[CostTurn]:
        """Follow-ups after the first turn whose prompt was long enough to be cached."""
        first = next((t.turn for t in self.turns if t.cache_write or t.cache_read), None)
        return [] if first is None else [t for t in self.turns if t.turn > first]


def run_cost(history_budget: int | None, pace: Pace = DEFAULT_PACE) -> CostResult:
    """A 10-turn thread; what each turn sends to Claude, and how much of it the cache serves."""
    from bot.settings import Settings

    env = {
        # The thread is played in seconds, not minutes: lift the per-user turn limit for it.
        "SHOPMATE_USER_TURNS_PER_MINUTE": "1000",
    }
    if history_budget is not None:
        env["SHOPMATE_HISTORY_TOKENS"] = str(history_budget)
    budget = history_budget or Settings().history_token_budget
    turns: list[CostTurn] = []
    with Stack(pace=pace, env=env, min_cacheable_tokens=MIN_CACHEABLE_TOKENS) as stack:
        thread_ts: str | None = None
        for number, text in enumerate(FOLLOW_UPS, start=1):
            before = len(stack.claude.requests)
            conversation = stack.ask(
                text, channel="CCOST", user="UCOST", thread_ts=thread_ts, marker=text
            )
            if not stack.wait_done([conversation], timeout=60):
                raise RuntimeError(f"turn {number} unanswered:\n{stack.log_tail()}")
            thread_ts = conversation.thread_ts
            requests = [r for r in stack.claude.requests[before:] if r.path == "/v1/messages"]
            usage = _turn_usage(stack, conversation.thread_ts, number)
            turns.append(
                CostTurn(
                    turn=number,
                    model_calls=len(requests),
                    input_tokens=usage["input_tokens"]
                    + usage["cache_read_input_tokens"]
                    + usage["cache_creation_input_tokens"],
                    cache_read=usage["cache_read_input_tokens"],
                    cache_write=usage["cache_creation_input_tokens"],
                    output_tokens=usage["output_tokens"],
                    largest_request=max(count_input_tokens(r.body) for r in requests),
                    messages_sent=len(requests[-1].body.get("messages") or []),
                    largest_history=max(_history_estimate(r.body) for r in requests),
                )
            )
    return CostResult(history_budget=budget, turns=turns)


def _history_estimate(body: dict[str, Any]) -> int:
    """The messages of a request as the bot's history budget counts them."""
    return sum(estimate_tokens(m.get("content")) for m in body.get("messages") or [])


def _turn_usage(stack: Stack, thread_ts: str, number: int) -> dict[str, int]:
    """Token usage of the thread's `number`-th turn, as the bot itself recorded it."""
    with sqlite3.connect(f"file:{stack.db_path}?mode=ro", uri=True, timeout=10) as db:
        rows = db.execute(
            "select t.input_tokens, t.output_tokens, t.cache_read_input_tokens, "
            "t.cache_creation_input_tokens from turns t join conversations c "
            "on c.id = t.conversation_id where c.thread_ts = ? order by t.id",
            [thread_ts],
        ).fetchall()
    row = rows[number - 1]
    keys = (
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
    )
    return {k: int(v or 0) for k, v in zip(keys, row, strict=True)}
