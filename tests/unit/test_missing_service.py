"""The one rule for a missing service: any truthy ``CI`` fails the test, otherwise it skips."""

from __future__ import annotations

import pytest
from services import missing_service


@pytest.mark.parametrize("value", ["true", "TRUE", "1", "yes", "on", "woodpecker"])
def test_missing_service_fails_under_any_truthy_ci(
    monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match="MariaDB is not available: gone"):
        missing_service("MariaDB", "gone")


@pytest.mark.parametrize("value", [None, "", "0", "false", "False", "no", "off"])
def test_missing_service_skips_outside_ci(
    monkeypatch: pytest.MonkeyPatch, value: str | None
) -> None:
    if value is None:
        monkeypatch.delenv("CI", raising=False)
    else:
        monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.skip.Exception, match="MariaDB is not available: gone"):
        missing_service("MariaDB", "gone")
