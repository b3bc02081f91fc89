"""bot/models.py: one table of prices and cache minimums, naming its source and date, that
knows the default models; an id it does not know has no price at all."""

from __future__ import annotations

from bot import models
from bot.settings import DEFAULT_DESCRIBE_MODEL, DEFAULT_MODEL, Settings


def test_the_defaults_are_the_current_sonnet_and_haiku_and_the_table_knows_them():
    assert (DEFAULT_MODEL, DEFAULT_DESCRIBE_MODEL) == (models.CURRENT_SONNET, models.CURRENT_HAIKU)
    settings = Settings.from_mapping({})
    for model in (settings.model, settings.describe_model):
        info = models.model_info(model)
        assert info is not None and info.cache_minimum is not None


def test_the_table_names_its_source_and_the_day_it_was_read():
    assert models.CHECKED == "2026-12-05"
    assert all(url.startswith("https://platform.claude.com/") for url in models.SOURCE_URLS)
    assert "2026-12-05" in (models.__doc__ or "")


def test_the_previous_generation_stays_priced():
    assert models.model_info("claude-sonnet-4-6").input == 3.0
    assert models.model_info("claude-haiku-4-5-20251001").cache_minimum == 4096


def test_an_id_the_table_does_not_know_has_no_entry():
    for model in ("claude-sonnet-5-6", "claude-haiku-5", "gpt-5", "", None):
        assert models.model_info(model) is None


def test_cache_prices_are_in_the_usual_proportions():
    """A typo guard: 5-minute writes cost 1.25x input; reads at most 0.1x (Sonnet 5.5: 0.05x)."""
    for info in models.MODELS.values():
        assert abs(info.cache_write - 1.25 * info.input) < 1e-9, info.id
        assert 0 < info.cache_read <= 0.1 * info.input + 1e-9, info.id
    assert models.model_info("claude-sonnet-5-5").cache_read == 0.1
