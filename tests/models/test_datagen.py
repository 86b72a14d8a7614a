"""The team-written training data: deterministic generation, no leakage across splits, sane labels,
a dataset card whose counts are those of the files."""

from __future__ import annotations

import json
import random
import re
from pathlib import Path

import pytest

from yujing.models.datagen import compose, leakage
from yujing.models.datagen.__main__ import CARD, DATA_DIR, DEFAULT_SEED, to_jsonl
from yujing.models.datagen.card import read_rows, render_card
from yujing.models.datagen.catalogue import ALL_FAMILIES
from yujing.models.datagen.families import KIND_LABELS, NEGATIVE_KINDS
from yujing.models.datagen.vocab import PLATFORMS
from yujing.models.dataset import read_splits

SMALL = {"train": 120, "dev": 40, "test": 40}
FIELDS = {"id", "text", "rumour", "panic", "gathering", "genre", "group"}


@pytest.fixture(scope="module")
def committed() -> dict[str, list[dict[str, object]]]:
    return read_rows(DATA_DIR)


def test_same_seed_same_rows_and_other_seed_other_rows() -> None:
    a = compose.generate(7, SMALL)
    assert a == compose.generate(7, SMALL)
    b = compose.generate(8, SMALL)
    assert [r["text"] for r in a["test"]] != [r["text"] for r in b["test"]]


def test_committed_files_are_exactly_what_the_generator_writes(committed: dict[str, list[dict[str, object]]]) -> None:
    fresh = compose.generate(DEFAULT_SEED, dict(compose.SIZES))
    for split in compose.SPLITS:
        assert (DATA_DIR / f"{split}.jsonl").read_text(encoding="utf-8") == to_jsonl(fresh[split]), split
    assert committed == fresh


def test_files_have_the_documented_fields_and_load_as_examples(committed: dict[str, list[dict[str, object]]]) -> None:
    splits = read_splits(DATA_DIR)  # the trainer's reader accepts them
    assert sum(len(v) for v in splits.values()) >= 3000
    for split, rows in committed.items():
        for row in rows:
            assert set(row) == FIELDS, row
            assert row["genre"] in compose.GENRES
            assert str(row["id"]).startswith(split)
        assert len({r["text"] for r in rows}) == len(rows)


def test_no_template_group_and_no_near_duplicate_crosses_splits(
    committed: dict[str, list[dict[str, object]]],
) -> None:
    groups = {s: {str(r["group"]) for r in rows} for s, rows in committed.items()}
    assert not groups["train"] & groups["dev"]
    assert not groups["train"] & groups["test"]
    assert not groups["dev"] & groups["test"]
    train = [str(r["text"]) for r in committed["train"]]
    for split in ("dev", "test"):
        best = leakage.nearest([str(r["text"]) for r in committed[split]], train)
        worst = max(b for b, _ in best)
        assert worst < leakage.MAX_CROSS_SIMILARITY, (split, worst)


def test_the_similarity_check_sees_near_duplicates() -> None:
    a = "听说金禾贷老板跑路了，大家赶紧转发，别说我没提醒"
    near = "听说金禾贷的老板跑路了，大家赶紧转发！别说我没提醒"
    other = "周五下午两点高中同学聚会在火锅店门口集合，AA制"
    (sim, where), (sim2, _) = leakage.nearest([near, other], [a])
    assert sim > 0.6 and where == 0
    assert sim2 < 0.1
    assert leakage.nearest([a], [a])[0][0] == 1.0


def test_every_split_has_every_signal_and_hard_negatives(committed: dict[str, list[dict[str, object]]]) -> None:
    for split, rows in committed.items():
        for label in compose.LABEL_NAMES:
            share = sum(int(str(r[label])) for r in rows) / len(rows)
            assert 0.15 < share < 0.4, (split, label, share)
        kinds = {str(r["group"]).split("/")[0] for r in rows if not any(int(str(r[k])) for k in compose.LABEL_NAMES)}
        negatives = {f.name for f in ALL_FAMILIES if f.kind in NEGATIVE_KINDS}
        assert len(kinds & negatives) >= 8, split


@pytest.mark.parametrize(
    ("target"),
    [(1, 0, 0), (0, 1, 0), (0, 0, 1), (1, 1, 0), (0, 1, 1), (1, 0, 1), (1, 1, 1)],
)
def test_units_chosen_for_a_label_set_carry_exactly_those_labels(target: tuple[int, int, int]) -> None:
    groups = compose.assign_groups(DEFAULT_SEED)
    rng = random.Random(1)
    for split in compose.SPLITS:
        for genre in compose.GENRES:
            chosen = compose.positive_units(target, groups[split], genre, rng)
            union = tuple(max(g.family.labels[j] for g in chosen) for j in range(3))
            assert union == target
            assert sum(sum(g.family.labels) for g in chosen) == sum(target)  # no signal twice


# Label sanity: hand-written expectations about what each kind of family says.
HEARSAY = re.compile(r"听|据|传|消息|爆料|透露|说|内幕|员工|截图|名单|渠道")
WITHDRAWAL = re.compile(r"提现|提xian|兑付|逾期|撤|取不出|提不出|提出来|回款|挤兑|本金|抢|提了|额度|钱|限提|让提")
GATHER = re.compile(
    r"\{PL\}|集合|上访|横幅|堵|聚集|静坐|散步|喝茶|拜访|碰头|汇合|线下|集体|坐了|前往|门口|楼下|进京|陪同|当面|散bu|sàn步"
)
CALL_TO_ACT = re.compile(r"赶紧提|快提|集合|大家转发|转发一下|扩散|速转")


@pytest.mark.parametrize("family", ALL_FAMILIES, ids=lambda f: f.name)
def test_family_text_matches_its_kind(family: object) -> None:
    from yujing.models.datagen.families import Family

    assert isinstance(family, Family)
    rumour, panic, gathering = KIND_LABELS[family.kind]
    for template in family.templates:
        if rumour:
            assert HEARSAY.search(template), template
        if panic:
            assert WITHDRAWAL.search(template), template
        if gathering:
            assert GATHER.search(template), template
        if not (rumour or panic or gathering) and family.kind in ("debunk", "notice", "police_warning", "arrived"):
            assert not CALL_TO_ACT.search(template), template


def test_hand_written_texts_rendered_with_their_family_labels() -> None:
    by_name = {f.name: f for f in ALL_FAMILIES}
    expected = {
        "n_debunk_platform": (0, 0, 0),
        "n_police_warning": (0, 0, 0),
        "n_meetup": (0, 0, 0),
        "n_arrived": (0, 0, 0),
        "n_borrower_collect": (0, 0, 0),
        "n_spam_loan": (0, 0, 0),
        "g_walk_euphemism": (0, 0, 1),
        "g_news_report": (0, 0, 1),
        "p_urge_withdraw": (0, 1, 0),
        "p_dialect": (0, 1, 0),
        "r_heard_ran": (1, 0, 0),
        "rp_heard_withdraw": (1, 1, 0),
        "pg_then_go": (0, 1, 1),
        "rpg_urgent": (1, 1, 1),
    }
    for name, labels in expected.items():
        assert by_name[name].labels == labels, name
    slots = compose.Slots(random.Random(3))
    text = compose.expand(by_name["g_walk_euphemism"].templates[0], slots)
    assert "{" not in text and "[" not in text
    assert any(w in text for w in ("散步", "喝茶", "拜访", "参观"))
    assert slots.platform in PLATFORMS


def test_expand_keeps_a_slot_within_a_text_and_resolves_nested_choices() -> None:
    slots = compose.Slots(random.Random(0))
    out = compose.expand("{C}[a|[b|c]]{C}", slots)
    city = slots.values["C"]
    assert out.startswith(city) and out.endswith(city) and out[len(city) : -len(city)] in ("a", "b", "c")
    assert compose.finish("#{x}〔超话〕#") == "#{x}[超话]#"


def test_card_is_rendered_from_the_files_and_states_their_counts(committed: dict[str, list[dict[str, object]]]) -> None:
    card = (DATA_DIR / CARD).read_text(encoding="utf-8")
    assert card == render_card(committed)
    for split, rows in committed.items():
        pos = [sum(int(str(r[k])) for r in rows) for k in compose.LABEL_NAMES]
        row = next(line for line in card.splitlines() if line.startswith(f"| {split} | {len(rows)} |"))
        assert [int(c) for c in row.split("|")[4:7]] == pos


def test_datagen_cli_writes_and_checks(tmp_path: Path) -> None:
    from yujing.models.datagen.__main__ import main

    small = ["--out", str(tmp_path), "--sizes", "60,20,20"]
    assert main([*small, "--check"]) == 1  # nothing there yet
    assert main(small) == 0
    assert main([*small, "--check"]) == 0
    assert main(["--out", str(tmp_path), "--sizes", "60,20,21", "--check"]) == 1
    with pytest.raises(SystemExit):
        main(["--out", str(tmp_path), "--sizes", "60,20"])
    first = json.loads((tmp_path / "train.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert set(first) == FIELDS
