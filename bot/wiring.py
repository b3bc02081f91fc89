"""Builds the parts every front needs (storage, tools, engine) from one Settings object."""

from __future__ import annotations

from dataclasses import dataclass

import anthropic

from bot.answers import AnswerService
from bot.claude_client import make_client
from bot.engine import Engine, EngineConfig
from bot.handoff.service import HandoffService
from bot.orders import OrderService, build_order_service
from bot.policies import PolicyLibrary, open_library
from bot.prefetch import OrderIdPrefetcher
from bot.settings import Settings
from bot.tools import ToolRegistry, get_order_tool
from bot.tools.handoff import handoff_tools
from bot.tools.policies import search_policies_tool
from storage import Storage, open_storage


@dataclass
class Services:
    """Everything a front needs, built once per process and passed down."""

    settings: Settings
    storage: Storage
    engine: Engine
    # Answers one turn (storage around the engine); `storage.conversations` is the table.
    answers: AnswerService
    # Fronts that can reach people register their notifier here (bot/slack/app.py does).
    handoff: HandoffService | None = None
    policies: PolicyLibrary | None = None
    orders: OrderService | None = None

    def close(self) -> None:
        self.storage.close()
        close_source = getattr(self.orders.source, "close", None) if self.orders else None
        if close_source is not None:
            close_source()
        if self.policies is not None:
            self.policies.close()


def build_services(settings: Settings, *, client: anthropic.Anthropic | None = None) -> Services:
    """Open storage and build the engine; `client` lets tests and the demo pass their own."""
    policies = open_library(settings)  # first: a bad SHOPMATE_KNOWLEDGE_DIR opens nothing
    storage = open_storage(settings.storage_target)
    try:
        orders = build_order_service(settings, storage)  # checks the source's settings
    except BaseException:
        storage.close()
        raise
    handoff = HandoffService(storage.handoff, channel_configured=bool(settings.escalation_channel))
    tools = ToolRegistry(
        [
            get_order_tool(orders, id_pattern=settings.order_id_pattern),
            *handoff_tools(handoff, orders, id_pattern=settings.order_id_pattern),
            search_policies_tool(policies),
        ]
    )
    engine = Engine(
        client or make_client(settings),
        tools,
        EngineConfig(
            model=settings.model,
            max_tokens=settings.max_tokens,
            max_rounds=settings.max_tool_rounds,
            history_token_budget=settings.history_token_budget,
        ),
        prefetcher=OrderIdPrefetcher(settings.order_id_pattern, limit=settings.prefetch_max_ids)
        if settings.prefetch_orders
        else None,
        turn_setup=policies.turn_setup,
    )
    return Services(
        settings,
        storage,
        engine,
        AnswerService(storage, engine),
        handoff,
        policies,
        orders=orders,
    )
