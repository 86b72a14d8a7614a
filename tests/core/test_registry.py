from __future__ import annotations

from pathlib import Path

import pytest

from yujing.errors import ConfigError
from yujing.registry import load_registry


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "registry.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_demo_registry_loads(demo_dir: Path) -> None:
    registry = load_registry(demo_dir / "registry.yaml")
    assert len(registry) == 10
    platform = registry.get("鑫盛贷")
    assert platform is not None and platform.district == "城东区" and "XSD" in platform.aliases


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("platforms:\n  - name: A\n    kind: bank\n", r"registry.yaml:2 platforms\[0\].kind: expected one of"),
        ("platforms:\n  - name: A\n  - name: A\n", r"registry.yaml:3 platforms\[1\].name: duplicate platform 'A'"),
        ("platforms:\n  - aliases: [x]\n", r"registry.yaml:2 platforms\[0\].name: expected a non-empty string"),
        ("platforms:\n  - name: A\n    alias: [x]\n", r"platforms\[0\].alias: unknown field"),
        ("platforms:\n  - name: A\n    aliases: x\n", r"platforms\[0\].aliases: expected a list"),
        ("platform: []\n", r"platforms: expected a top-level 'platforms:' list"),
        ("platforms: [\n", r"registry.yaml:\d+ yaml: cannot parse"),
    ],
)
def test_errors_name_file_line_and_field(tmp_path: Path, body: str, expected: str) -> None:
    with pytest.raises(ConfigError, match=expected):
        load_registry(_write(tmp_path, body))


def test_missing_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_registry(tmp_path / "nope.yaml")


def test_a_spreadsheet_registry_loads_from_csv_in_gbk_with_chinese_headers_and_values(tmp_path: Path) -> None:
    path = tmp_path / "一户一档.csv"
    rows = ("名称,别名,类型,所在区,状态\r\n鑫盛贷,鑫盛；XSD、鑫盛金服,网贷,城东区,风险\r\n"
            "汇金宝,,众筹,城西区,正常运营\r\n,,,,\r\n")
    path.write_bytes(rows.encode("gbk"))  # as Excel saves "CSV" on a Chinese Windows
    registry = load_registry(path)
    assert [p.name for p in registry] == ["鑫盛贷", "汇金宝"]
    first = registry.get("鑫盛贷")
    assert first is not None and first.aliases == ("鑫盛", "XSD", "鑫盛金服")
    assert (first.kind, first.district, first.status) == ("p2p", "城东区", "troubled")
    second = registry.get("汇金宝")
    assert second is not None and (second.aliases, second.kind, second.status) == ((), "crowdfunding", "operating")
    english = tmp_path / "registry.csv"
    english.write_text('\ufeffname,aliases,kind,district,status\n安信通,"安信, AXT",payment,高新区,collapsed\n',
                       encoding="utf-8")
    (only,) = load_registry(english)
    assert only.aliases == ("安信", "AXT") and only.kind == "payment" and only.status == "collapsed"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("名称,备注\nA,x\n", r"registry.csv:1 column '备注': unknown column; delete it or rename it"),
        ("kind,district\np2p,城东区\n", r"registry.csv:1 header: no name column"),
        ("name,name\nA,B\n", r"registry.csv:1 column 'name': a second name column"),
        ("", r"registry.csv:1 header: expected a header row"),
        ("name,kind\nA,p2p\nB,bank\n", r"registry.csv:3 platforms\[1\].kind: expected one of"),
        ("name,kind\nA,p2p\nA,p2p\n", r"registry.csv:3 platforms\[1\].name: duplicate platform 'A'"),
        ("name,kind\nA,p2p,extra\n", r"registry.csv:2 row 2: 3 cells for 2 columns; quote a cell"),
    ],
)
def test_csv_errors_name_the_line_and_the_column(tmp_path: Path, body: str, expected: str) -> None:
    path = tmp_path / "registry.csv"
    path.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError, match=expected):
        load_registry(path)


def test_a_csv_in_neither_utf8_nor_gb18030_says_how_to_save_it(tmp_path: Path) -> None:
    path = tmp_path / "registry.csv"
    path.write_bytes(b"name\n\xff\xff\n")
    with pytest.raises(ConfigError, match="neither UTF-8 nor GB18030; save it as CSV UTF-8"):
        load_registry(path)


def test_the_service_warns_once_about_names_attribution_will_misread(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from yujing.app import registry_for
    from yujing.settings import Settings

    path = _write(tmp_path, "platforms:\n  - name: 聚宝盆\n  - name: 鑫盛贷\n    aliases: [鑫盛]\n")
    with caplog.at_level("WARNING", logger="yujing.app"):
        registry = registry_for(Settings(data_dir=tmp_path), path)
    assert len(registry) == 2
    (record,) = caplog.records
    assert "1 names attribution will misread (common_word)" in record.getMessage()
    assert f"yujing registry check {path}" in record.getMessage()
    caplog.clear()
    with caplog.at_level("WARNING", logger="yujing.app"):
        registry_for(Settings(data_dir=tmp_path), _write(tmp_path, "platforms:\n  - name: 鑫盛贷\n"))
    assert not caplog.records
