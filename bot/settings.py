"""One settings object, read once from the environment and `.env`; nothing else reads os.environ."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

from dotenv import dotenv_values

# The current Sonnet answers, the current Haiku writes product copy (fast and cheap for
# high-volume text); prices and cache minimums of both are in bot/models.py.
DEFAULT_MODEL = "claude-sonnet-5-5"
DEFAULT_DESCRIBE_MODEL = "claude-haiku-5-5"
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
class Settings:
    """Everything ShopMate can be configured with. Build it with `Settings.load()`."""

    anthropic_api_key: str | None = None
    anthropic_base_url: str | None = None
    db_path: Path = Path("shopmate.db")
    # postgresql://... keeps everything in PostgreSQL instead of the SQLite file (more hosts).
    database_url: str | None = None
    model: str = DEFAULT_MODEL
    max_tokens: int = 1024
    max_tool_rounds: int = 6
    history_token_budget: int = 20_000
    max_retry_wait: float = 20.0
    anthropic_max_retries: int = 2
    order_id_pattern: str = r"ORD-\d{4,}"
    prefetch_orders: bool = True
    prefetch_max_ids: int = 5
    slack_bot_token: str | None = None
    slack_signing_secret: str | None = None
    slack_app_token: str | None = None
    slack_api_url: str = DEFAULT_SLACK_API_URL
    slack_workers: int = 64
    flush_interval: float = 0.4
    slack_native_streaming: bool = True
    slack_feedback: bool = True
    slack_task_steps: bool = True
    facts_first: bool = True
    first_sign: str = "both"
    slack_minute_s: float = 60.0
    # The agent view (Slack's AI entry point and split view); each part has its off-switch.
    suggested_prompts_enabled: bool = True
    suggested_prompts: tuple[tuple[str, str], ...] = DEFAULT_SUGGESTED_PROMPTS
    thread_titles: bool = True
    loading_messages_enabled: bool = True
    loading_messages: tuple[str, ...] = DEFAULT_LOADING_MESSAGES
    log_level: str = "INFO"
    # Trust settings (who may ask, what it costs, what is kept).
    allowed_teams: tuple[str, ...] = ()
    allowed_channels: tuple[str, ...] = ()
    user_turns_per_minute: int = 10
    team_turns_per_minute: int = 120
    user_tokens_per_day: int = 500_000
    team_tokens_per_day: int = 5_000_000
    max_input_chars: int = 4_000
    retention_days: int = 0
    max_body_bytes: int = 1_000_000
    # Product descriptions (`shopmate describe`).
    describe_model: str = DEFAULT_DESCRIBE_MODEL
    describe_concurrency: int = 8
    describe_examples: Path | None = None
    # Graceful shutdown and Socket Mode.
    shutdown_grace: float = 20.0
    socket_ping_interval: float = 5.0
    # Claims as leases: several processes may share one database (see storage/events.py).
    claim_lease_seconds: float = 30.0
    lease_renew_seconds: float = 10.0
    recovery_interval_seconds: float = 15.0
    # The HTTP API (`shopmate api`) and its terminal client (`shopmate chat --url`).
    api_key: str | None = None
    api_workers: int = 64
    api_key_turns_per_minute: int = 30
    api_key_tokens_per_day: int = 2_000_000
    api_max_body_bytes: int = 65_536
    api_key_describes_per_minute: int = 30
    # The hand-off to people (escalations, approvals); see bot/handoff/.
    escalation_channel: str | None = None
    escalation_group: str | None = None
    approvers: tuple[str, ...] = ()
    approvers_cache_seconds: float = 60.0
    # The App Home's figures (bot/slack/home/): who sees them, and when an answer counts resolved.
    leads: tuple[str, ...] = ()
    resolution_window_hours: float = 24.0
    # Policies Claude answers from (bot/policies/): the folder, the prompt budget, reloads.
    knowledge_dir: Path | None = None
    knowledge_token_budget: int = 8_000
    knowledge_reload_seconds: float = 5.0
    # Where orders come from (bot/orders/): the table (default), Shopify, or a shop's endpoint.
    order_source: str = "table"
    shopify_shop: str | None = None
    shopify_admin_token: str | None = None
    shopify_client_id: str | None = None
    shopify_client_secret: str | None = None
    shopify_api_version: str = "2026-10"
    shopify_api_url: str | None = None
    shopify_order_name: str = "#{number}"
    orders_url: str | None = None
    orders_token: str | None = None
    orders_mapping: str | None = None
    order_timeout_seconds: float = 3.0
    order_cache_seconds: float = 60.0
    order_fields_allowed: tuple[str, ...] = ()
    # Files people attach (bot/attachments/): checked before any download.
    max_file_bytes: int = 10 * 1024 * 1024
    max_files: int = 5

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


@dataclass(frozen=True)
class _Spec:
    env: str
    attr: str
    kind: str
    help: str
    secret: bool = False
    minimum: float | None = None
    choices: tuple[str, ...] = field(default=())
    max_items: int | None = None  # for "texts" and "prompts"

    def parse(self, raw: str) -> object:
        try:
            return self._parse(raw)
        except SettingsError:
            raise
        except ValueError:
            raise SettingsError(
                f"{self.env}={raw!r} is not a valid {self.kind}. {self.help}"
            ) from None

    def _parse(self, raw: str) -> object:
        if self.kind == "integer":
            value: object = int(raw)
        elif self.kind == "number":
            value = float(raw)
        elif self.kind == "boolean":
            lowered = raw.lower()
            if lowered not in {"1", "0", "true", "false", "yes", "no", "on", "off"}:
                raise ValueError(raw)
            value = lowered in {"1", "true", "yes", "on"}
        elif self.kind == "path":
            value = Path(raw).expanduser()
        elif self.kind == "list":
            value = tuple(item.strip() for item in raw.split(",") if item.strip())
        elif self.kind == "texts":
            value = _texts(raw)
        elif self.kind == "prompts":
            value = tuple(_prompt(item) for item in _texts(raw))
        elif self.kind == "regex":
            try:
                re.compile(raw)
            except re.error:
                raise ValueError(raw) from None
            value = raw
        elif self.kind == "url":
            if not re.match(r"^https?://[^/\s]+", raw):
                raise ValueError(raw)
            value = raw
        elif self.kind == "database_url":
            if not re.match(r"^postgres(ql)?://", raw):
                raise ValueError("a postgresql:// URL")
            value = raw
        elif self.kind == "duration":
            value = parse_days(raw)
        else:
            value = raw
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
        return value


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


SPECS: tuple[_Spec, ...] = (
    _Spec(
        "ANTHROPIC_API_KEY",
        "anthropic_api_key",
        "string",
        "Create a key at console.anthropic.com and put ANTHROPIC_API_KEY=... in .env.",
        secret=True,
    ),
    _Spec(
        "ANTHROPIC_BASE_URL",
        "anthropic_base_url",
        "url",
        "Leave it unset for Anthropic's API, or give a URL such as http://127.0.0.1:8080.",
    ),
    _Spec(
        "SHOPMATE_DB",
        "db_path",
        "path",
        "Give a file path for the SQLite database, e.g. SHOPMATE_DB=./shopmate.db.",
    ),
    _Spec(
        "SHOPMATE_DATABASE_URL",
        "database_url",
        "database_url",
        "Leave it unset for the SQLite file (SHOPMATE_DB), or give a PostgreSQL URL such as "
        "postgresql://shopmate:PASSWORD@db.internal/shopmate.",
        secret=True,
    ),
    _Spec(
        "SHOPMATE_MODEL",
        "model",
        "string",
        "Give a Claude model id such as claude-sonnet-5-5 or claude-haiku-5-5.",
    ),
    _Spec(
        "SHOPMATE_MAX_TOKENS",
        "max_tokens",
        "integer",
        "Give the most output tokens per model call, e.g. 1024.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_MAX_TOOL_ROUNDS",
        "max_tool_rounds",
        "integer",
        "Give how many tool rounds one answer may take, e.g. 6.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_HISTORY_TOKENS",
        "history_token_budget",
        "integer",
        "Give the most input tokens of history sent per call, e.g. 20000.",
        minimum=500,
    ),
    _Spec(
        "SHOPMATE_MAX_RETRY_WAIT",
        "max_retry_wait",
        "number",
        "Give the longest wait in seconds before retrying Claude, e.g. 20.",
        minimum=0,
    ),
    _Spec(
        "SHOPMATE_ANTHROPIC_RETRIES",
        "anthropic_max_retries",
        "integer",
        "Give how often a failed Claude call is retried, e.g. 2.",
        minimum=0,
    ),
    _Spec(
        "SHOPMATE_ORDER_ID_PATTERN",
        "order_id_pattern",
        "regex",
        "Give a regular expression for order ids, e.g. ORD-\\d{4,}.",
    ),
    _Spec(
        "SHOPMATE_PREFETCH_ORDERS",
        "prefetch_orders",
        "boolean",
        "Say true to look up order ids named in a message before asking Claude, false not to.",
    ),
    _Spec(
        "SHOPMATE_PREFETCH_MAX_IDS",
        "prefetch_max_ids",
        "integer",
        "Give how many order ids of one message are looked up before asking Claude, e.g. 5.",
        minimum=1,
    ),
    _Spec(
        "SLACK_BOT_TOKEN",
        "slack_bot_token",
        "string",
        "Copy the Bot User OAuth Token (xoxb-...) from OAuth & Permissions in your Slack app.",
        secret=True,
    ),
    _Spec(
        "SLACK_SIGNING_SECRET",
        "slack_signing_secret",
        "string",
        "Copy the Signing Secret from your Slack app's Basic Information page.",
        secret=True,
    ),
    _Spec(
        "SLACK_APP_TOKEN",
        "slack_app_token",
        "string",
        "Create an app-level token (xapp-...) with connections:write under Basic Information.",
        secret=True,
    ),
    _Spec(
        "SLACK_API_URL",
        "slack_api_url",
        "url",
        "Give the Slack Web API base URL, e.g. https://slack.com/api/.",
    ),
    _Spec(
        "SHOPMATE_SLACK_WORKERS",
        "slack_workers",
        "integer",
        "Give how many Slack events may be handled at once, e.g. 64.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_FLUSH_INTERVAL",
        "flush_interval",
        "number",
        "Give seconds between streamed Slack updates, e.g. 0.4.",
        minimum=0.05,
    ),
    _Spec(
        "SHOPMATE_NATIVE_STREAMING",
        "slack_native_streaming",
        "boolean",
        "Say true to use Slack's chat.startStream, false to post and update.",
    ),
    _Spec(
        "SHOPMATE_FEEDBACK",
        "slack_feedback",
        "boolean",
        "Say true to put thumbs up/down under every finished answer in Slack, false not to.",
    ),
    _Spec(
        "SHOPMATE_TASK_STEPS",
        "slack_task_steps",
        "boolean",
        "Say true to show each lookup as a step in Slack's streamed answers, false for the "
        "status line only.",
    ),
    _Spec(
        "SHOPMATE_FACTS_FIRST",
        "facts_first",
        "boolean",
        "Say true to show what a lookup found (ORD-1001 · shipped · tracking · due date) at "
        "once, before Claude's first words, false to show it only in Claude's answer.",
    ),
    _Spec(
        "SHOPMATE_FIRST_SIGN",
        "first_sign",
        "string",
        "Give both (every asker's first sign waits its turn for a status line or an :eyes: "
        "reaction, whichever Slack allows first) or status (a status line only when one is "
        "free at once).",
        choices=("both", "status"),
    ),
    _Spec(
        "SHOPMATE_SLACK_MINUTE_S",
        "slack_minute_s",
        "number",
        "Leave it at 60 for Slack; only a fake Slack with a shortened minute (tests, bench) "
        "wants less.",
        minimum=0.1,
    ),
    _Spec(
        "SHOPMATE_SUGGESTED_PROMPTS_ENABLED",
        "suggested_prompts_enabled",
        "boolean",
        "Say true to offer suggested prompts when someone opens ShopMate, false not to.",
    ),
    _Spec(
        "SHOPMATE_SUGGESTED_PROMPTS",
        "suggested_prompts",
        "prompts",
        "Give up to 4 prompts separated by |, each 'title :: message' or just a message, "
        "e.g. Order status :: Where is order ORD-1001?|What is the returns policy?",
        max_items=MAX_SUGGESTED_PROMPTS,
    ),
    _Spec(
        "SHOPMATE_THREAD_TITLES",
        "thread_titles",
        "boolean",
        "Say true to title a DM thread after its first question, false not to.",
    ),
    _Spec(
        "SHOPMATE_LOADING_MESSAGES_ENABLED",
        "loading_messages_enabled",
        "boolean",
        "Say true to rotate loading messages under 'is thinking…', false for the status alone.",
    ),
    _Spec(
        "SHOPMATE_LOADING_MESSAGES",
        "loading_messages",
        "texts",
        "Give up to 10 short messages separated by |, e.g. Looking into it…|Nearly there…",
        max_items=MAX_LOADING_MESSAGES,
    ),
    _Spec(
        "SHOPMATE_LOG_LEVEL",
        "log_level",
        "string",
        "Give DEBUG, INFO, WARNING or ERROR.",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
    ),
    _Spec(
        "SHOPMATE_ALLOWED_TEAMS",
        "allowed_teams",
        "list",
        "Give comma-separated Slack workspace ids (T...) whose members may use the bot.",
    ),
    _Spec(
        "SHOPMATE_ALLOWED_CHANNELS",
        "allowed_channels",
        "list",
        "Give comma-separated channel ids (C.../D...) where the bot answers; empty means all.",
    ),
    _Spec(
        "SHOPMATE_USER_TURNS_PER_MINUTE",
        "user_turns_per_minute",
        "integer",
        "Give how many answers one user may get per minute, e.g. 10.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_TEAM_TURNS_PER_MINUTE",
        "team_turns_per_minute",
        "integer",
        "Give how many answers one workspace may get per minute, e.g. 120.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_USER_TOKENS_PER_DAY",
        "user_tokens_per_day",
        "integer",
        "Give how many tokens one user may spend per day, e.g. 500000.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_TEAM_TOKENS_PER_DAY",
        "team_tokens_per_day",
        "integer",
        "Give how many tokens one workspace may spend per day, e.g. 5000000.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_MAX_INPUT_CHARS",
        "max_input_chars",
        "integer",
        "Give the longest incoming message, in characters, sent to Claude, e.g. 4000.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_RETENTION_DAYS",
        "retention_days",
        "duration",
        "Give how many days conversations are kept (0 keeps them forever), e.g. 90.",
    ),
    _Spec(
        "SHOPMATE_MAX_BODY_BYTES",
        "max_body_bytes",
        "integer",
        "Give the largest Slack request body accepted, in bytes, e.g. 1000000.",
        minimum=1024,
    ),
    _Spec(
        "SHOPMATE_DESCRIBE_MODEL",
        "describe_model",
        "string",
        "Give the Claude model that writes product descriptions, e.g. claude-haiku-5-5.",
    ),
    _Spec(
        "SHOPMATE_DESCRIBE_CONCURRENCY",
        "describe_concurrency",
        "integer",
        "Give how many description requests may run at once in live mode, e.g. 8.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_DESCRIBE_EXAMPLES",
        "describe_examples",
        "path",
        "Give the few-shot examples file for descriptions (default: the packaged one).",
    ),
    _Spec(
        "SHOPMATE_SHUTDOWN_GRACE",
        "shutdown_grace",
        "number",
        "Give the seconds answers in flight get to finish on SIGTERM/SIGINT, e.g. 20.",
        minimum=0,
    ),
    _Spec(
        "SHOPMATE_SOCKET_PING_INTERVAL",
        "socket_ping_interval",
        "number",
        "Give the seconds between Socket Mode pings, e.g. 5 (a silent link is dropped after 1.5x).",
        minimum=0.5,
    ),
    _Spec(
        "SHOPMATE_CLAIM_LEASE",
        "claim_lease_seconds",
        "number",
        "Give how many seconds a claimed message stays reserved for its process without a "
        "renewal, e.g. 30.",
        minimum=0.5,
    ),
    _Spec(
        "SHOPMATE_LEASE_RENEW",
        "lease_renew_seconds",
        "number",
        "Give how often, in seconds, a process renews the claims it works on, e.g. 10.",
        minimum=0.1,
    ),
    _Spec(
        "SHOPMATE_RECOVERY_INTERVAL",
        "recovery_interval_seconds",
        "number",
        "Give how often, in seconds, a process looks for messages a dead process left, e.g. 15.",
        minimum=0.1,
    ),
    _Spec(
        "SHOPMATE_API_KEY",
        "api_key",
        "string",
        "Give a key from `shopmate api-keys create NAME` for `shopmate chat --url`.",
        secret=True,
    ),
    _Spec(
        "SHOPMATE_API_WORKERS",
        "api_workers",
        "integer",
        "Give how many API answers may run at once, e.g. 64.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_API_KEY_TURNS_PER_MINUTE",
        "api_key_turns_per_minute",
        "integer",
        "Give how many answers one API key may get per minute, e.g. 30.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_API_KEY_TOKENS_PER_DAY",
        "api_key_tokens_per_day",
        "integer",
        "Give how many tokens one API key may spend per day, e.g. 2000000.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_API_MAX_BODY_BYTES",
        "api_max_body_bytes",
        "integer",
        "Give the largest API request body accepted, in bytes, e.g. 65536.",
        minimum=1024,
    ),
    _Spec(
        "SHOPMATE_API_KEY_DESCRIBES_PER_MINUTE",
        "api_key_describes_per_minute",
        "integer",
        "Give how many new product descriptions one API key may ask for per minute, e.g. 30.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_ESCALATION_CHANNEL",
        "escalation_channel",
        "string",
        "Give the id (C...) of the channel where hand-offs and approval requests are posted.",
    ),
    _Spec(
        "SHOPMATE_ESCALATION_GROUP",
        "escalation_group",
        "string",
        "Give the id (S...) of the user group mentioned on each hand-off, e.g. S0123ABCD.",
    ),
    _Spec(
        "SHOPMATE_APPROVERS",
        "approvers",
        "list",
        "Give comma-separated user ids (U...) or user group ids (S...) who may approve changes.",
    ),
    _Spec(
        "SHOPMATE_APPROVERS_CACHE_S",
        "approvers_cache_seconds",
        "number",
        "Give how many seconds a user group's members are remembered, e.g. 60.",
        minimum=0,
    ),
    _Spec(
        "SHOPMATE_LEADS",
        "leads",
        "list",
        "Give comma-separated user ids (U...) or user group ids (S...) who see the figures on "
        "ShopMate's Home tab (approvers always do).",
    ),
    _Spec(
        "SHOPMATE_RESOLUTION_WINDOW_H",
        "resolution_window_hours",
        "number",
        "Give how many hours after ShopMate's last answer a conversation with no hand-off and "
        "no thumbs down counts as resolved by ShopMate, e.g. 24.",
        minimum=0,
    ),
    _Spec(
        "SHOPMATE_KNOWLEDGE_DIR",
        "knowledge_dir",
        "path",
        "Give a folder of Markdown policy documents (default: the ones shipped with ShopMate).",
    ),
    _Spec(
        "SHOPMATE_KNOWLEDGE_TOKENS",
        "knowledge_token_budget",
        "integer",
        "Give the most (estimated) tokens of policies put in the prompt, e.g. 8000; past it "
        "Claude searches them instead (0: always search).",
        minimum=0,
    ),
    _Spec(
        "SHOPMATE_KNOWLEDGE_RELOAD_S",
        "knowledge_reload_seconds",
        "number",
        "Give how often, in seconds, ShopMate looks for edited policy documents, e.g. 5.",
        minimum=0,
    ),
    _Spec(
        "SHOPMATE_ORDER_SOURCE",
        "order_source",
        "string",
        "Say where orders come from: table (imported with `shopmate orders import`), shopify, "
        "or http (your own endpoint).",
        choices=("table", "shopify", "http"),
    ),
    _Spec(
        "SHOPIFY_SHOP",
        "shopify_shop",
        "string",
        "Give your shop's domain, e.g. SHOPIFY_SHOP=yourstore.myshopify.com.",
    ),
    _Spec(
        "SHOPIFY_ADMIN_TOKEN",
        "shopify_admin_token",
        "string",
        "Give the Admin API access token (shpat_...) of a custom app with read_orders.",
        secret=True,
    ),
    _Spec(
        "SHOPIFY_CLIENT_ID",
        "shopify_client_id",
        "string",
        "Give the client id of a Dev Dashboard app installed on your store (instead of "
        "SHOPIFY_ADMIN_TOKEN; ShopMate asks Shopify for tokens with it).",
    ),
    _Spec(
        "SHOPIFY_CLIENT_SECRET",
        "shopify_client_secret",
        "string",
        "Give the client secret of that Dev Dashboard app (Settings in the Dev Dashboard).",
        secret=True,
    ),
    _Spec(
        "SHOPIFY_API_VERSION",
        "shopify_api_version",
        "string",
        "Give a stable Admin API version (YYYY-MM, quarterly), e.g. 2026-10.",
    ),
    _Spec(
        "SHOPIFY_API_URL",
        "shopify_api_url",
        "url",
        "Leave it unset for https://SHOPIFY_SHOP, or give a base URL (a proxy, a test server).",
    ),
    _Spec(
        "SHOPIFY_ORDER_NAME",
        "shopify_order_name",
        "string",
        "Give how an order id maps to the shop's order name: #{number} (ORD-1001 is #1001) "
        "or {id} (the name is ORD-1001).",
    ),
    _Spec(
        "SHOPMATE_ORDERS_URL",
        "orders_url",
        "url",
        "Give your endpoint with {order_id} in it, e.g. https://shop.example/api/orders/{order_id}.",
    ),
    _Spec(
        "SHOPMATE_ORDERS_TOKEN",
        "orders_token",
        "string",
        "Give the token sent to SHOPMATE_ORDERS_URL as Authorization: Bearer ...",
        secret=True,
    ),
    _Spec(
        "SHOPMATE_ORDERS_MAPPING",
        "orders_mapping",
        "string",
        "Give field=path pairs, comma-separated, e.g. status=state,eta=delivery.estimate.",
    ),
    _Spec(
        "SHOPMATE_ORDER_TIMEOUT_S",
        "order_timeout_seconds",
        "number",
        "Give the most seconds one order lookup may take (waits for throttling included), e.g. 3.",
        minimum=0.1,
    ),
    _Spec(
        "SHOPMATE_ORDER_CACHE_S",
        "order_cache_seconds",
        "number",
        "Give how many seconds an order read from Shopify or your endpoint is reused, e.g. 60.",
        minimum=0,
    ),
    _Spec(
        "SHOPMATE_ORDER_FIELDS_ALLOWED",
        "order_fields_allowed",
        "list",
        "Name the customer's personal fields Claude may see, comma-separated, from: email, "
        "phone, shipping_address, customer_name (default: none).",
    ),
    _Spec(
        "SHOPMATE_MAX_FILE_BYTES",
        "max_file_bytes",
        "integer",
        "Give the largest attached file ShopMate downloads, in bytes, e.g. 10485760 (10 MB); "
        "Claude's request limit is 32 MB.",
        minimum=1,
    ),
    _Spec(
        "SHOPMATE_MAX_FILES",
        "max_files",
        "integer",
        "Give how many files one message may carry, e.g. 5 (0 reads no files).",
        minimum=0,
    ),
)
