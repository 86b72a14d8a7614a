"""``yujing silence add|list|expire`` against the real store in the test's DATA_DIR."""

from __future__ import annotations

import json

import pytest

from yujing.alerting.store import AlertStore
from yujing.cli import main
from yujing.settings import Settings


def _store() -> AlertStore:
    return AlertStore(Settings().data_dir / "alerts.db")


def test_add_list_expire(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["silence", "add", "--match", "platform=鑫盛贷", "--match", "signal=rumour,panic", "--hours", "2",
                 "--by", "张科长", "--comment", "检查中"]) == 0
    [silence] = _store().silences()
    assert silence.creator == "张科长" and silence.matchers == {"platform": ("鑫盛贷",), "signal": ("rumour", "panic")}
    capsys.readouterr()
    assert main(["silence", "list", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(s["id"], s["active"]) for s in listed] == [(silence.id, True)]
    assert main(["silence", "expire", silence.id, "--by", "张科长"]) == 0
    [after] = _store().silences()
    assert after.expired_by == "张科长" and after.ends <= silence.ends
    capsys.readouterr()
    assert main(["silence", "list"]) == 0
    assert f"{silence.id} expired(张科长)" in capsys.readouterr().out


@pytest.mark.parametrize(("argv", "field"), [
    (["--match", "signal=weather", "--hours", "1", "--by", "张"], "--match"),
    (["--match", "colour=red", "--hours", "1", "--by", "张"], "--match"),
    (["--match", "platform=鑫盛贷", "--hours", "0", "--by", "张"], "--hours"),
    (["--match", "platform=鑫盛贷", "--hours", "1", "--by", " "], "--by"),
])
def test_bad_silence_names_the_option(capsys: pytest.CaptureFixture[str], argv: list[str], field: str) -> None:
    assert main(["silence", "add", *argv]) != 0
    assert field in capsys.readouterr().err
    assert _store().silences() == []


def test_expire_unknown(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["silence", "expire", "sil-nope", "--by", "张"]) != 0
    assert "unknown silence" in capsys.readouterr().err
