"""The house style is checked on every description, and the prompt carries it."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.describe import load_prompt
from bot.describe.catalogue import make_product
from bot.describe.prompt import DEFAULT_EXAMPLES_FILE, ExamplesError, read_examples
from bot.describe.voice import MAX_CHARS, check, clean, sentences

GOOD = (
    "A hand-screen-printed wave ripples across the chest in water-based inks that last. "
    "Cut just above the hip in breathable organic cotton, £29.99 and sized XS to 3XL."
)


def test_a_good_description_passes() -> None:
    assert check(GOOD, material="organic cotton") == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (GOOD.replace("breathable", "vibrant"), "forbidden word 'vibrant'"),
        (GOOD.replace("breathable", "perfectly soft"), "forbidden word 'perfectly'"),
        (GOOD.replace("breathable", "must have"), "forbidden word 'must have'"),
        (GOOD.replace("breathable", "Luxurious"), "forbidden word 'luxurious'"),
        (GOOD.replace("breathable", "stylish"), "forbidden word 'stylish'"),
        (GOOD[:-1] + "!", "exclamation mark"),
        (GOOD.replace("organic cotton", "fabric"), "does not name the material"),
        (GOOD + " Wear it often.", "has 3 sentences"),
        (GOOD.split(". ")[0] + ".", "has 1 sentence"),
        (GOOD[:-1] + ", " + "soft and light " * 20 + ".", f"over {MAX_CHARS}"),
    ],
)
def test_each_rule_is_checked_and_named(text: str, problem: str) -> None:
    problems = check(text, material="organic cotton")
    assert any(problem in p for p in problems), problems


def test_cut_off_answers_and_empty_ones_are_problems() -> None:
    assert "cut off" in check(GOOD, material="organic cotton", stop_reason="max_tokens")[0]
    assert check("", material="organic cotton") == ["it is empty"]


def test_prices_are_not_sentence_ends_and_wrapping_quotes_go() -> None:
    assert len(sentences("It costs £29.99 today. Made in the UK.")) == 2
    assert clean('  "Soft tee.  Organic cotton."  ') == "Soft tee. Organic cotton."


def test_the_material_matches_with_hyphens_and_case() -> None:
    text = "Knitted from GOTS certified Organic Cotton. Cut loose and long for easy days."
    assert check(text, material="GOTS-certified organic cotton") == []


def test_the_seeds_examples_are_in_the_file_and_follow_the_voice() -> None:
    examples = read_examples(DEFAULT_EXAMPLES_FILE)
    assert [e.name for e in examples] == ["Midnight Pocket Tee", "Wave Print Crop Tee"]
    for example in examples:
        assert check(example.text, material=example.material) == [], example.name


def test_the_few_shot_examples_sit_in_the_cached_system_prefix() -> None:
    prompt = load_prompt("claude-haiku-4-5")
    product = make_product(
        id="P1", name="Sunset Tee", material="organic cotton", price="29", colours="orange"
    )
    params = prompt.params(product)
    voice, examples = params["system"]
    assert "vibrant, perfect, stylish, must-have, luxurious" in voice["text"]
    assert "cache_control" not in voice
    assert examples["cache_control"] == {"type": "ephemeral"}
    assert "Midnight Pocket Tee" in examples["text"] and "Wave Print Crop Tee" in examples["text"]
    # The product is only in the message, after the cached prefix.
    assert "Sunset Tee" not in voice["text"] + examples["text"]
    assert "Sunset Tee" in params["messages"][0]["content"]
    assert params["model"] == "claude-haiku-4-5"


def test_the_input_hash_covers_the_product_the_prompt_and_the_examples(tmp_path: Path) -> None:
    prompt = load_prompt("claude-haiku-4-5")
    fields = dict(id="P1", name="Tee", material="hemp", price="20", colours="grey")
    base = prompt.input_hash(make_product(**fields))
    assert base == prompt.input_hash(make_product(**fields))
    assert base == prompt.input_hash(make_product(**{**fields, "id": "P2"})), "id is the key"
    assert base != prompt.input_hash(make_product(**{**fields, "price": "21"}))
    assert base != load_prompt("claude-sonnet-4-6").input_hash(make_product(**fields))
    edited = tmp_path / "examples.txt"
    edited.write_text(DEFAULT_EXAMPLES_FILE.read_text().replace("useful", "handy"))
    assert base != load_prompt("claude-haiku-4-5", edited).input_hash(make_product(**fields))


def test_a_malformed_examples_file_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "examples.txt"
    bad.write_text("---\nname: Tee\nNo material line here.\n")
    with pytest.raises(ExamplesError, match="line 1"):
        read_examples(bad)
