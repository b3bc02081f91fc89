"""One settings object, read once from the environment and `.env`; nothing else reads os.environ."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from dotenv import dotenv_values

from bot.models import CURRENT_HAIKU, CURRENT_SONNET

# The current Sonnet answers, the current Haiku writes product copy (fast and cheap for
# high-volume text); their ids, prices and cache minimums are in bot/models.py.
DEFAULT_MODEL = CURRENT_SONNET
DEFAULT_DESCRIBE_MODEL = CURRENT_HAIKU
DEFAULT_SLACK_API_URL = "https://slack.com/api/"
# What the agent view offers when someone opens ShopMate: (title shown, message sent), at most 4
# (Slack's limit). ThreadCo's people ask about orders, the returns policy and size changes most.
DEFAULT_SUGGESTED_PROMPTS: tuple[tuple[str, str], ...] = (
    ("Order status", "What's the status of order ORD-1001?"),
    ("Returns policy", "What is ThreadCo's returns policy?"),
    ("Change a size", "A customer wants a different size for order ORD-1002. What can we do?"),
)
MAX_SUGGESTED_PROMPTS = 4
# Rotated under "is thinking…" while an answer is on its way (Slack takes at most 10).
DEFAULT_LOADING_MESSAGES: tuple[str, ...] = (
    "Looking into it…",
    "Pulling the thread…",
    "Checking the details…",
    "Putting an answer together…",
)
MAX_LOADING_MESSAGES = 10
# Items of a list of texts are separated by "|" (texts contain commas); a prompt is
# "title :: message", or just a message that is its own title.
TEXT_SEPARATOR = "|"
PROMPT_SEPARATOR = "::"


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the variable and the fix."""


@dataclass(frozen=True)
class _Spec:
    """How one setting is read: its variable, its kind, its check and the help its errors give."""

    env: str
    attr: str
    kind: str
    help: str
    secret: bool = False
    minimum: float | None = None
    choices: tuple[str, ...] = field(default=())
    max_items: int | None = None  # for "texts" and "prompts"

    def parse(self, raw: str) -> object:
        """The value of `raw`, checked; a SettingsError names the variable and the fix."""
        try:
            value = _PARSERS.get(self.kind, str)(raw)
        except ValueError:
            raise SettingsError(
                f"{self.env}={raw!r} is not a valid {self.kind}. {self.help}"
            ) from None
        self._check(value, raw)
        return value

    def _check(self, value: object, raw: str) -> None:
        if self.minimum is not None and isinstance(value, int | float) and value < self.minimum:
            raise SettingsError(
                f"{self.env}={raw!r} must be at least {self.minimum:g}. {self.help}"
            )
        if self.max_items is not None and isinstance(value, tuple) and len(value) > self.max_items:
            raise SettingsError(
                f"{self.env} has {len(value)} items; Slack takes at most {self.max_items}. "
                f"{self.help}"
            )
        if self.choices and value not in self.choices:
            raise SettingsError(
                f"{self.env}={raw!r} must be one of {', '.join(self.choices)}. {self.help}"
            )


def setting(
    env: str,
    default: object,
    kind: str,
    help: str,
    *,
    secret: bool = False,
    minimum: float | None = None,
    choices: tuple[str, ...] = (),
    max_items: int | None = None,
) -> Any:
    """Declare one field of Settings: its variable, default, kind, check and help, in one place.

    The field's name is filled in when SPECS is derived from the dataclass's fields.
    """
    if kind != "string" and kind not in _PARSERS:
        raise TypeError(f"{env}: no kind {kind!r}; kinds: string, {', '.join(_PARSERS)}")
    spec = _Spec(env, "", kind, help, secret, minimum, choices, max_items)
    return field(default=default, metadata={_SPEC: spec})


def _texts(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(TEXT_SEPARATOR) if item.strip())


def _prompt(item: str) -> tuple[str, str]:
    """One suggested prompt: "title :: message", or a message that is its own title."""
    title, separator, message = item.partition(PROMPT_SEPARATOR)
    if not separator:
        return item, item
    if not (title.strip() and message.strip()):
        raise ValueError(item)
    return title.strip(), message.strip()


def parse_days(raw: str) -> int:
    """Parse '90', '90d' or '12w' into a number of days."""
    match = re.fullmatch(r"\s*(\d+)\s*([dw]?)\s*", raw.lower())
    if not match:
        raise ValueError(raw)
    number, unit = int(match.group(1)), match.group(2)
    return number * 7 if unit == "w" else number


def _boolean(raw: str) -> bool:
    lowered = raw.lower()
    if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
        raise ValueError(raw)
    return lowered in {"1", "true", "yes", "on"}


def _list(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())


def _prompts(raw: str) -> tuple[tuple[str, str], ...]:
    return tuple(_prompt(item) for item in _texts(raw))


def _regex(raw: str) -> str:
    try:
        re.compile(raw)
    except re.error:
        raise ValueError(raw) from None
    return raw


def _url(raw: str) -> str:
    if not re.match(r"^https?://[^/\s]+", raw):
        raise ValueError(raw)
    return raw


def _database_url(raw: str) -> str:
    if not re.match(r"^postgres(ql)?://", raw):
        raise ValueError("a postgresql:// URL")
    return raw


# Each kind of setting and how its text becomes a value (a ValueError means malformed);
# a kind not named here ("string") is kept as given.
_PARSERS: dict[str, Callable[[str], object]] = {
    "integer": int,
    "number": float,
    "boolean": _boolean,
    "path": lambda raw: Path(raw).expanduser(),
    "list": _list,
    "texts": _texts,
    "prompts": _prompts,
    "regex": _regex,
    "url": _url,
    "database_url": _database_url,
    "duration": parse_days,
}
_SPEC = "shopmate_setting"


@dataclass(frozen=True)
class Settings:
    """Everything ShopMate can be configured with. Build it with `Settings.load()`.

    Each field is one `setting(...)`: its variable, default, kind, check and help together.
    Code that takes a setting as an argument defaults it to `Settings.<name>` (the class
    attribute is the default), so no default is typed twice.
    """

    anthropic_api_key: str | None = setting(
        "ANTHROPIC_API_KEY",
        None,
        "string",
        "Create a key at console.anthropic.com and put ANTHROPIC_API_KEY=... in .env.",
        secret=True,
    )
    anthropic_base_url: str | None = setting(
        "ANTHROPIC_BASE_URL",
        None,
        "url",
        "Leave it unset for Anthropic's API, or give a URL such as http://127.0.0.1:8080.",
    )
    db_path: Path = setting(
        "SHOPMATE_DB",
        Path("shopmate.db"),
        "path",
        "Give a file path for the SQLite database, e.g. SHOPMATE_DB=./shopmate.db.",
    )
    # postgresql://... keeps everything in PostgreSQL instead of the SQLite file (more hosts).
    database_url: str | None = setting(
        "SHOPMATE_DATABASE_URL",
        None,
        "database_url",
        "Leave it unset for the SQLite file (SHOPMATE_DB), or give a PostgreSQL URL such as "
        "postgresql://shopmate:PASSWORD@db.internal/shopmate.",
        secret=True,
    )
    model: str = setting(
        "SHOPMATE_MODEL",
        DEFAULT_MODEL,
        "string",
        "Give a Claude model id such as claude-sonnet-5-5 or claude-haiku-5-5.",
    )
    max_tokens: int = setting(
        "SHOPMATE_MAX_TOKENS",
        1024,
        "integer",
        "Give the most output tokens per model call, e.g. 1024.",
        minimum=1,
    )
    max_tool_rounds: int = setting(
        "SHOPMATE_MAX_TOOL_ROUNDS",
        6,
        "integer",
        "Give how many tool rounds one answer may take, e.g. 6.",
        minimum=1,
    )
    history_token_budget: int = setting(
        "SHOPMATE_HISTORY_TOKENS",
        20_000,
        "integer",
        "Give the most input tokens of history sent per call, e.g. 20000.",
        minimum=500,
    )
    max_retry_wait: float = setting(
        "SHOPMATE_MAX_RETRY_WAIT",
        20.0,
        "number",
        "Give the longest wait in seconds before retrying Claude, e.g. 20.",
        minimum=0,
    )
    anthropic_max_retries: int = setting(
        "SHOPMATE_ANTHROPIC_RETRIES",
        2,
        "integer",
        "Give how often a failed Claude call is retried, e.g. 2.",
        minimum=0,
    )
    order_id_pattern: str = setting(
        "SHOPMATE_ORDER_ID_PATTERN",
        r"ORD-\d{4,}",
        "regex",
        "Give a regular expression for order ids, e.g. ORD-\\d{4,}.",
    )
    prefetch_orders: bool = setting(
        "SHOPMATE_PREFETCH_ORDERS",
        True,
        "boolean",
        "Say true to look up order ids named in a message before asking Claude, false not to.",
    )
    prefetch_max_ids: int = setting(
        "SHOPMATE_PREFETCH_MAX_IDS",
        5,
        "integer",
        "Give how many order ids of one message are looked up before asking Claude, e.g. 5.",
        minimum=1,
    )
    slack_bot_token: str | None = setting(
        "SLACK_BOT_TOKEN",
        None,
        "string",
        "Copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions in your Slack app.",
        secret=True,
    )
    slack_signing_secret: str | None = setting(
        "SLACK_SIGNING_SECRET",
        None,
        "string",
        "Copy the Signing Secret from your Slack app's Basic Information page.",
        secret=True,
    )
    slack_app_token: str | None = setting(
        "SLACK_APP_TOKEN",
        None,
        "string",
        "Create an app-level token (xapp-...) with connections:write under Basic Information.",
        secret=True,
    )
    slack_api_url: str = setting(
        "SLACK_API_URL",
        DEFAULT_SLACK_API_URL,
        "url",
        "Give the Slack Web API base URL, e.g. https://slack.com/api/.",
    )
    slack_workers: int = setting(
        "SHOPMATE_SLACK_WORKERS",
        64,
        "integer",
        "Give how many Slack events may be handled at once, e.g. 64.",
        minimum=1,
    )
    flush_interval: float = setting(
        "SHOPMATE_FLUSH_INTERVAL",
        0.4,
        "number",
        "Give seconds between streamed Slack updates, e.g. 0.4.",
        minimum=0.05,
    )
    slack_native_streaming: bool = setting(
        "SHOPMATE_NATIVE_STREAMING",
        True,
        "boolean",
        "Say true to use Slack's chat.startStream, false to post and update.",
    )
    slack_feedback: bool = setting(
        "SHOPMATE_FEEDBACK",
        True,
        "boolean",
        "Say true to put thumbs up/down under every finished answer in Slack, false not to.",
    )
    slack_task_steps: bool = setting(
        "SHOPMATE_TASK_STEPS",
        True,
        "boolean",
        "Say true to show each lookup as a step in Slack's streamed answers, false for the "
        "status line only.",
    )
    facts_first: bool = setting(
        "SHOPMATE_FACTS_FIRST",
        True,
        "boolean",
        "Say true to show what a lookup found (ORD-1001 · shipped · tracking · due date) at "
        "once, before Claude's first words, false to show it only in Claude's answer.",
    )
    first_sign: str = setting(
        "SHOPMATE_FIRST_SIGN",
        "both",
        "string",
        "Give both (every asker's first sign waits its turn for a status line or an :eyes: "
        "reaction, whichever Slack allows first) or status (a status line only when one is "
        "free at once).",
        choices=("both", "status"),
    )
    slack_minute_s: float = setting(
        "SHOPMATE_SLACK_MINUTE_S",
        60.0,
        "number",
        "Leave it at 60 for Slack; only a fake Slack with a shortened minute (tests, bench) "
        "wants less.",
        minimum=0.1,
    )
    # The agent view (Slack's AI entry point and split view); each part has its off-switch.
    suggested_prompts_enabled: bool = setting(
        "SHOPMATE_SUGGESTED_PROMPTS_ENABLED",
        True,
        "boolean",
        "Say true to offer suggested prompts when someone opens ShopMate, false not to.",
    )
    suggested_prompts: tuple[tuple[str, str], ...] = setting(
        "SHOPMATE_SUGGESTED_PROMPTS",
        DEFAULT_SUGGESTED_PROMPTS,
        "prompts",
        "Give up to 4 prompts separated by |, each 'title :: message' or just a message, "
        "e.g. Order status :: Where is order ORD-1001?|What is the returns policy?",
        max_items=MAX_SUGGESTED_PROMPTS,
    )
    thread_titles: bool = setting(
        "SHOPMATE_THREAD_TITLES",
        True,
        "boolean",
        "Say true to title a DM thread after its first question, false not to.",
    )
    loading_messages_enabled: bool = setting(
        "SHOPMATE_LOADING_MESSAGES_ENABLED",
        True,
        "boolean",
        "Say true to rotate loading messages under 'is thinking…', false for the status alone.",
    )
    loading_messages: tuple[str, ...] = setting(
        "SHOPMATE_LOADING_MESSAGES",
        DEFAULT_LOADING_MESSAGES,
        "texts",
        "Give up to 10 short messages separated by |, e.g. Looking into it…|Nearly there…",
        max_items=MAX_LOADING_MESSAGES,
    )
    log_level: str = setting(
        "SHOPMATE_LOG_LEVEL",
        "INFO",
        "string",
        "Give DEBUG, INFO, WARNING or ERROR.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    )
    # Trust settings (who may ask, what it costs, what is kept).
    allowed_teams: tuple[str, ...] = setting(
        "SHOPMATE_ALLOWED_TEAMS",
        (),
        "list",
        "Give comma-separated Slack workspace ids (T...) whose members may use the bot.",
    )
    allowed_channels: tuple[str, ...] = setting(
        "SHOPMATE_ALLOWED_CHANNELS",
        (),
        "list",
        "Give comma-separated channel ids (C.../D...) where the bot answers; empty means all.",
    )
    user_turns_per_minute: int = setting(
        "SHOPMATE_USER_TURNS_PER_MINUTE",
        10,
        "integer",
        "Give how many answers one user may get per minute, e.g. 10.",
        minimum=1,
    )
    team_turns_per_minute: int = setting(
        "SHOPMATE_TEAM_TURNS_PER_MINUTE",
        120,
        "integer",
        "Give how many answers one workspace may get per minute, e.g. 120.",
        minimum=1,
    )
    user_tokens_per_day: int = setting(
        "SHOPMATE_USER_TOKENS_PER_DAY",
        500_000,
        "integer",
        "Give how many tokens one user may spend per day, e.g. 500000.",
        minimum=1,
    )
    team_tokens_per_day: int = setting(
        "SHOPMATE_TEAM_TOKENS_PER_DAY",
        5_000_000,
        "integer",
        "Give how many tokens one workspace may spend per day, e.g. 5000000.",
        minimum=1,
    )
    max_input_chars: int = setting(
        "SHOPMATE_MAX_INPUT_CHARS",
        4_000,
        "integer",
        "Give the longest incoming message, in characters, sent to Claude, e.g. 4000.",
        minimum=1,
    )
    retention_days: int = setting(
        "SHOPMATE_RETENTION_DAYS",
        0,
        "duration",
        "Give how many days conversations are kept (0 keeps them forever), e.g. 90.",
    )
    max_body_bytes: int = setting(
        "SHOPMATE_MAX_BODY_BYTES",
        1_000_000,
        "integer",
        "Give the largest Slack request body accepted, in bytes, e.g. 1000000.",
        minimum=1024,
    )
    # Product descriptions (`shopmate describe`).
    describe_model: str = setting(
        "SHOPMATE_DESCRIBE_MODEL",
        DEFAULT_DESCRIBE_MODEL,
        "string",
        "Give the Claude model that writes product descriptions, e.g. claude-haiku-5-5.",
    )
    describe_concurrency: int = setting(
        "SHOPMATE_DESCRIBE_CONCURRENCY",
        8,
        "integer",
        "Give how many description requests may run at once in live mode, e.g. 8.",
        minimum=1,
    )
    describe_examples: Path | None = setting(
        "SHOPMATE_DESCRIBE_EXAMPLES",
        None,
        "path",
        "Give the few-shot examples file for descriptions (default: the packaged one).",
    )
    # Graceful shutdown and Socket Mode.
    shutdown_grace: float = setting(
        "SHOPMATE_SHUTDOWN_GRACE",
        20.0,
        "number",
        "Give the seconds answers in flight get to finish on SIGTERM/SIGINT, e.g. 20.",
        minimum=0,
    )
    socket_ping_interval: float = setting(
        "SHOPMATE_SOCKET_PING_INTERVAL",
        5.0,
        "number",
        "Give the seconds between Socket Mode pings, e.g. 5 (a silent link is dropped after 1.5x).",
        minimum=0.5,
    )
    # Claims as leases: several processes may share one database (see storage/claims.py).
    claim_lease_seconds: float = setting(
        "SHOPMATE_CLAIM_LEASE",
        30.0,
        "number",
        "Give how many seconds a claimed message stays reserved for its process without a "
        "renewal, e.g. 30.",
        minimum=0.5,
    )
    lease_renew_seconds: float = setting(
        "SHOPMATE_LEASE_RENEW",
        10.0,
        "number",
        "Give how often, in seconds, a process renews the claims it works on, e.g. 10.",
        minimum=0.1,
    )
    recovery_interval_seconds: float = setting(
        "SHOPMATE_RECOVERY_INTERVAL",
        15.0,
        "number",
        "Give how often, in seconds, a process looks for messages a dead process left, e.g. 15.",
        minimum=0.1,
    )
    # The HTTP API (`shopmate api`) and its terminal client (`shopmate chat --url`).
    api_key: str | None = setting(
        "SHOPMATE_API_KEY",
        None,
        "string",
        "Give a key from `shopmate api-keys create NAME` for `shopmate chat --url`.",
        secret=True,
    )
    api_workers: int = setting(
        "SHOPMATE_API_WORKERS",
        64,
        "integer",
        "Give how many API answers may run at once, e.g. 64.",
        minimum=1,
    )
    api_key_turns_per_minute: int = setting(
        "SHOPMATE_API_KEY_TURNS_PER_MINUTE",
        30,
        "integer",
        "Give how many answers one API key may get per minute, e.g. 30.",
        minimum=1,
    )
    api_key_tokens_per_day: int = setting(
        "SHOPMATE_API_KEY_TOKENS_PER_DAY",
        2_000_000,
        "integer",
        "Give how many tokens one API key may spend per day, e.g. 2000000.",
        minimum=1,
    )
    api_max_body_bytes: int = setting(
        "SHOPMATE_API_MAX_BODY_BYTES",
        65_536,
        "integer",
        "Give the largest API request body accepted, in bytes, e.g. 65536.",
        minimum=1024,
    )
    api_key_describes_per_minute: int = setting(
        "SHOPMATE_API_KEY_DESCRIBES_PER_MINUTE",
        30,
        "integer",
        "Give how many new product descriptions one API key may ask for per minute, e.g. 30.",
        minimum=1,
    )
    # The hand-off to people (escalations, approvals); see bot/handoff/.
    escalation_channel: str | None = setting(
        "SHOPMATE_ESCALATION_CHANNEL",
        None,
        "string",
        "Give the id (C...) of the channel where hand-offs and approval requests are posted.",
    )
    escalation_group: str | None = setting(
        "SHOPMATE_ESCALATION_GROUP",
        None,
        "string",
        "Give the id (S...) of the user group mentioned on each hand-off, e.g. S0123ABCD.",
    )
    approvers: tuple[str, ...] = setting(
        "SHOPMATE_APPROVERS",
        (),
        "list",
        "Give comma-separated user ids (U...) or user group ids (S...) who may approve changes.",
    )
    approvers_cache_seconds: float = setting(
        "SHOPMATE_APPROVERS_CACHE_S",
        60.0,
        "number",
        "Give how many seconds a user group's members are remembered, e.g. 60.",
        minimum=0,
    )
    # The App Home's figures (bot/slack/home/): who sees them, and when an answer counts resolved.
    leads: tuple[str, ...] = setting(
        "SHOPMATE_LEADS",
        (),
        "list",
        "Give comma-separated user ids (U...) or user group ids (S...) who see the figures on "
        "ShopMate's Home tab (approvers always do).",
    )
    resolution_window_hours: float = setting(
        "SHOPMATE_RESOLUTION_WINDOW_H",
        24.0,
        "number",
        "Give how many hours after ShopMate's last answer a conversation with no hand-off and "
        "no thumbs down counts as resolved by ShopMate, e.g. 24.",
        minimum=0,
    )
    # Policies Claude answers from (bot/policies/): the folder, the prompt budget, reloads.
    knowledge_dir: Path | None = setting(
        "SHOPMATE_KNOWLEDGE_DIR",
        None,
        "path",
        "Give a folder of Markdown policy documents (default: the ones shipped with ShopMate).",
    )
    knowledge_token_budget: int = setting(
        "SHOPMATE_KNOWLEDGE_TOKENS",
        8_000,
        "integer",
        "Give the most (estimated) tokens of policies put in the prompt, e.g. 8000; past it "
        "Claude searches them instead (0: always search).",
        minimum=0,
    )
    knowledge_reload_seconds: float = setting(
        "SHOPMATE_KNOWLEDGE_RELOAD_S",
        5.0,
        "number",
        "Give how often, in seconds, ShopMate looks for edited policy documents, e.g. 5.",
        minimum=0,
    )
    # Where orders come from (bot/orders/): the table (default), Shopify, or a shop's endpoint.
    order_source: str = setting(
        "SHOPMATE_ORDER_SOURCE",
        "table",
        "string",
        "Say where orders come from: table (imported with `shopmate orders import`), shopify, "
        "or http (your own endpoint).",
        choices=("table", "shopify", "http"),
    )
    shopify_shop: str | None = setting(
        "SHOPIFY_SHOP",
        None,
        "string",
        "Give your shop's domain, e.g. SHOPIFY_SHOP=yourstore.myshopify.com.",
    )
    shopify_admin_token: str | None = setting(
        "SHOPIFY_ADMIN_TOKEN",
        None,
        "string",
        "Give the Admin API access token (shpat_...) of a custom app with read_orders.",
        secret=True,
    )
    shopify_client_id: str | None = setting(
        "SHOPIFY_CLIENT_ID",
        None,
        "string",
        "Give the client id of a Dev Dashboard app installed on your store (instead of "
        "SHOPIFY_ADMIN_TOKEN; ShopMate asks Shopify for tokens with it).",
    )
    shopify_client_secret: str | None = setting(
        "SHOPIFY_CLIENT_SECRET",
        None,
        "string",
        "Give the client secret of that Dev Dashboard app (Settings in the Dev Dashboard).",
        secret=True,
    )
    # Shopify releases a version each quarter (YYYY-MM); 2026-10 is the stable one as of 2026-12.
    shopify_api_version: str = setting(
        "SHOPIFY_API_VERSION",
        "2026-10",
        "string",
        "Give a stable Admin API version (YYYY-MM, quarterly), e.g. 2026-10.",
    )
    shopify_api_url: str | None = setting(
        "SHOPIFY_API_URL",
        None,
        "url",
        "Leave it unset for https://SHOPIFY_SHOP, or give a base URL (a proxy, a test server).",
    )
    shopify_order_name: str = setting(
        "SHOPIFY_ORDER_NAME",
        "#{number}",
        "string",
        "Give how an order id maps to the shop's order name: #{number} (ORD-1001 is #1001) "
        "or {id} (the name is ORD-1001).",
    )
    orders_url: str | None = setting(
        "SHOPMATE_ORDERS_URL",
        None,
        "url",
        "Give your endpoint with {order_id} in it, e.g. https://shop.example/api/orders/{order_id}.",
    )
    orders_token: str | None = setting(
        "SHOPMATE_ORDERS_TOKEN",
        None,
        "string",
        "Give the token sent to SHOPMATE_ORDERS_URL as Authorization: Bearer ...",
        secret=True,
    )
    orders_mapping: str | None = setting(
        "SHOPMATE_ORDERS_MAPPING",
        None,
        "string",
        "Give field=path pairs, comma-separated, e.g. status=state,eta=delivery.estimate.",
    )
    order_timeout_seconds: float = setting(
        "SHOPMATE_ORDER_TIMEOUT_S",
        3.0,
        "number",
        "Give the most seconds one order lookup may take (waits for throttling included), e.g. 3.",
        minimum=0.1,
    )
    order_cache_seconds: float = setting(
        "SHOPMATE_ORDER_CACHE_S",
        60.0,
        "number",
        "Give how many seconds an order read from Shopify or your endpoint is reused, e.g. 60.",
        minimum=0,
    )
    order_fields_allowed: tuple[str, ...] = setting(
        "SHOPMATE_ORDER_FIELDS_ALLOWED",
        (),
        "list",
        "Name the customer's personal fields Claude may see, comma-separated, from: email, "
        "phone, shipping_address, customer_name (default: none).",
    )
    # Files people attach (bot/attachments/): checked before any download.
    max_file_bytes: int = setting(
        "SHOPMATE_MAX_FILE_BYTES",
        10 * 1024 * 1024,
        "integer",
        "Give the largest attached file ShopMate downloads, in bytes, e.g. 10485760 (10 MB); "
        "Claude's request limit is 32 MB.",
        minimum=1,
    )
    max_files: int = setting(
        "SHOPMATE_MAX_FILES",
        5,
        "integer",
        "Give how many files one message may carry, e.g. 5 (0 reads no files).",
        minimum=0,
    )

    @classmethod
    def load(
        cls, environ: Mapping[str, str] | None = None, *, env_file: str | Path | None = ".env"
    ) -> Settings:
        """Read settings from `environ` (default: os.environ) over the values in `env_file`.

        The process environment wins over `.env`, as python-dotenv does by default.
        """
        merged: dict[str, str] = {}
        if env_file is not None and Path(env_file).is_file():
            merged.update({k: v for k, v in dotenv_values(env_file).items() if v is not None})
        merged.update(os.environ if environ is None else environ)
        return cls.from_mapping(merged)

    @classmethod
    def from_mapping(cls, env: Mapping[str, str]) -> Settings:
        """Parse and validate settings from a plain mapping of variable names to strings."""
        values: dict[str, object] = {}
        for spec in SPECS:
            raw = env.get(spec.env)
            if raw is None or raw.strip() == "":
                continue
            values[spec.attr] = spec.parse(raw.strip())
        settings = cls(**values)
        settings._validate()
        return settings

    def _validate(self) -> None:
        if self.lease_renew_seconds * 2 > self.claim_lease_seconds:
            raise SettingsError(
                f"SHOPMATE_LEASE_RENEW={self.lease_renew_seconds:g} must be at most half of "
                f"SHOPMATE_CLAIM_LEASE={self.claim_lease_seconds:g}, so one late renewal does not "
                "hand a message that is being answered to another process."
            )
        _check_slack_ids(self)
        _check_order_fields(self)
        if not self.slack_api_url.endswith("/"):
            object.__setattr__(self, "slack_api_url", self.slack_api_url + "/")

    def require(self, *names: str) -> None:
        """Fail with a SettingsError naming the first missing variable among `names` (env names)."""
        by_env = {spec.env: spec for spec in SPECS}
        for name in names:
            spec = by_env[name]
            if not getattr(self, spec.attr):
                raise SettingsError(f"{name} is not set. {spec.help}")

    @property
    def storage_target(self) -> str | Path:
        """What `open_storage` opens: the PostgreSQL URL when one is set, else the SQLite file."""
        return self.database_url or self.db_path

    def redacted(self) -> dict[str, object]:
        """Settings as a dict with secrets masked, safe to log."""
        out: dict[str, object] = {}
        secret_attrs = {s.attr for s in SPECS if s.secret}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = "***" if (f.name in secret_attrs and value) else value
        return out


def _derive_specs() -> tuple[_Spec, ...]:
    """SPECS, read off Settings' fields: a field declared without `setting()` fails at import."""
    specs = []
    for f in fields(Settings):
        if _SPEC not in f.metadata:
            raise TypeError(f"Settings.{f.name} must be declared with setting(...)")
        specs.append(replace(f.metadata[_SPEC], attr=f.name))
    return tuple(specs)


SPECS: tuple[_Spec, ...] = _derive_specs()


def _check_order_fields(settings: Settings) -> None:
    """Personal fields are allowed by name; a typo would silently allow nothing."""
    known = ("email", "phone", "shipping_address", "customer_name")
    for name in settings.order_fields_allowed:
        if name not in known:
            raise SettingsError(
                f"SHOPMATE_ORDER_FIELDS_ALLOWED names {name!r}; allowed: {', '.join(known)}."
            )


def _check_slack_ids(settings: Settings) -> None:
    """Hand-off ids are Slack ids, not names: '#support' or '@team' would fail much later."""
    checks = [
        ("SHOPMATE_ESCALATION_CHANNEL", settings.escalation_channel, "CG", "a channel id (C...)"),
        ("SHOPMATE_ESCALATION_GROUP", settings.escalation_group, "S", "a user group id (S...)"),
    ]
    checks += [
        ("SHOPMATE_APPROVERS", item, "UWS", "user ids (U...) or user group ids (S...)")
        for item in settings.approvers
    ]
    checks += [
        ("SHOPMATE_LEADS", item, "UWS", "user ids (U...) or user group ids (S...)")
        for item in settings.leads
    ]
    for env, value, first, what in checks:
        if value and not re.fullmatch(f"[{first}][A-Z0-9]{{2,}}", value):
            raise SettingsError(
                f"{env}: {value!r} is not {what}. Copy the id from Slack (a channel's or group's "
                "details, a person's profile: More > Copy member ID)."
            )
