"""Logging: JSON lines off a terminal, stdlib loggers routed through the same renderer,
and no secret in any line."""

from __future__ import annotations

import json
import logging

import pytest

from archiver.log import configure_logging, get_logger, redact, register_secret


@pytest.fixture(autouse=True)
def _restore_logging() -> None:
    yield
    configure_logging("json")


def test_json_lines_carry_event_level_and_fields(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    get_logger("archiver.test").info("page saved", source="q", items=3)
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert (line["event"], line["level"], line["source"], line["items"]) == ("page saved", "info", "q", 3)
    assert line["timestamp"].endswith("Z")


def test_stdlib_loggers_come_through_the_same_renderer(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    logging.getLogger("apscheduler.scheduler").warning("job missed by %s", "1s")
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["event"] == "job missed by 1s"
    assert line["logger"] == "apscheduler.scheduler"


def test_chatty_libraries_are_quiet_below_warning(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("json")
    logging.getLogger("httpx").info("HTTP Request: GET https://x/y?token=abc")
    assert capsys.readouterr().err == ""


def test_console_format_is_human(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("console")
    get_logger("archiver.test").warning("waiting for lease", source="q")
    err = capsys.readouterr().err
    assert "waiting for lease" in err and "source" in err
    with pytest.raises(json.JSONDecodeError):
        json.loads(err.strip().splitlines()[-1])


def test_registered_secrets_and_credential_shapes_never_reach_a_line(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("json")
    register_secret("sk_qu_topsecret42")
    log = get_logger("archiver.test")
    log.info("request", header="Authorization: Bearer sk_qu_topsecret42", nested={"k": ["sk_qu_topsecret42"]})
    log.info("file", url="https://api.aurous-labs.com/v1/images/x/output/0?token=eyJhbGciOi&w=1")
    logging.getLogger("archiver.other").error("failed with key %s", "sk_qu_topsecret42")
    try:
        raise RuntimeError("boom sk_qu_topsecret42")
    except RuntimeError:
        log.exception("crash")
    err = capsys.readouterr().err
    assert "sk_qu_topsecret42" not in err
    assert "eyJhbGciOi" not in err
    assert err.count("[REDACTED]") >= 5


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("X-Api-Key: al_live_abcdef", "al_live_abcdef"),
        ('{"api_key": "zzz-123-secret"}', "zzz-123-secret"),
        ("https://cdn/x.png?signature=abc123&x=1", "abc123"),
    ],
)
def test_redact_patterns(text: str, hidden: str) -> None:
    assert hidden not in redact(text)
