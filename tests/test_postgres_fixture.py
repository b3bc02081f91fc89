"""The PostgreSQL tests say why they cannot run, and in CI they fail instead of skipping."""

from __future__ import annotations

import pytest

from tests import postgres


def test_without_a_server_the_postgresql_tests_skip_and_say_why(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="need a PostgreSQL server: no initdb"):
        postgres._unavailable("no initdb")


def test_in_ci_a_missing_server_fails_the_postgresql_tests(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: the PostgreSQL tests must run"):
        postgres._unavailable("no initdb")
