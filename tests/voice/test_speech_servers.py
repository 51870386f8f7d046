"""harness/speech_servers.py: start once, reuse while warm, report, stop."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from harness import speech_servers
from harness.servers import wyoming as wyoming_servers
from harness.servers.kamailio import free_port
from harness.servers.wyoming import SpeechServerUnavailableError


def test_start_reuse_status_stop(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(speech_servers, "STATE", tmp_path)
    monkeypatch.setattr(speech_servers, "PREFERRED_PORTS", {"stt": free_port(), "tts": free_port()})
    try:
        assert speech_servers.main(["start"]) == 0
        started = json.loads(capsys.readouterr().out)
        assert {kind: state["port"] for kind, state in started.items()} == speech_servers.PREFERRED_PORTS
        assert speech_servers.main(["start"]) == 0  # warm: the same processes
        assert json.loads(capsys.readouterr().out) == started
        assert speech_servers.main(["status"]) == 0
        assert json.loads(capsys.readouterr().out) == started
    finally:
        assert speech_servers.main(["stop"]) == 0
    assert capsys.readouterr().out == "stt: stopped\ntts: stopped\n"
    assert speech_servers.main(["status"]) == 1
    assert json.loads(capsys.readouterr().out) == {"stt": "stopped", "tts": "stopped"}
    assert speech_servers.main(["stop"]) == 0
    assert capsys.readouterr().out == "stt: was not running\ntts: was not running\n"


def test_a_dead_record_is_replaced(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(speech_servers, "STATE", tmp_path)
    (tmp_path / "tts.json").write_text(json.dumps({"pid": 2**22 + 1, "host": "127.0.0.1", "port": 9}))
    assert speech_servers.running("tts") is None
    assert speech_servers.stop("tts") is False
    assert not (tmp_path / "tts.json").exists()


def test_a_missing_venv_fails_loudly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wyoming_servers, "VENVS", tmp_path)
    with pytest.raises(SpeechServerUnavailableError, match=r"\.venvs/stt is missing|run script/setup"):
        wyoming_servers.start_server("stt", tmp_path / "work")


def test_a_server_that_dies_at_start_shows_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        wyoming_servers,
        "server_command",
        lambda *_: [sys.executable, "-c", "print('no model here'); exit(3)"],
    )
    with pytest.raises(SpeechServerUnavailableError, match=r"(?s)stt server exited with 3:.*no model here"):
        wyoming_servers.start_server("stt", tmp_path / "work")
