"""The pure parts of ``model/streams.py``: stream ids, and telling a forked journal from a gap."""

from __future__ import annotations

import pytest

from model.events import Deposited
from model.ids import UserId
from model.streams import epoch_regressions, id_tuple, seq_breaks


def _events(*seqs: int) -> list[tuple[str, Deposited]]:
    return [
        (f"{i + 1}-0", Deposited(seq=seq, ts=0, user_id=UserId(1), asset="INR", amount=1))
        for i, seq in enumerate(seqs)
    ]


@pytest.mark.parametrize(
    ("stream_id", "pair"),
    [("1700000000000-3", (1700000000000, 3)), (b"5-12", (5, 12)), ("7", (7, 0))],
)
def test_stream_ids_compare_in_stream_order(stream_id: str | bytes, pair: tuple[int, int]) -> None:
    assert id_tuple(stream_id) == pair
    assert id_tuple("9-10") > id_tuple("9-9")  # not as strings


def test_a_gapless_journal_has_no_breaks() -> None:
    breaks = seq_breaks(_events(1, 2, 3, 4))
    assert breaks.forks == []
    assert breaks.gaps == []


def test_a_run_of_seqs_seen_again_is_one_fork_naming_both_commands() -> None:
    breaks = seq_breaks(_events(1, 2, 3, 2, 3, 4, 5, 1))
    assert breaks.gaps == []
    assert breaks.forks == [
        "seq 2 again at command 4-0 (first at command 2-0) after seq 3",
        "seq 1 again at command 8-0 (first at command 1-0) after seq 5",
    ]


def test_a_skipped_seq_is_a_gap_not_a_fork() -> None:
    breaks = seq_breaks(_events(1, 2, 5, 6))
    assert breaks.forks == []
    assert breaks.gaps == ["seq 3..4 missing before command 3-0"]


def test_writer_epochs_may_only_grow_along_the_journal() -> None:
    assert epoch_regressions([("1-0", 1), ("2-0", 1), ("3-0", 2)]) == []
    assert epoch_regressions([("1-0", 1), ("2-0", 2), ("3-0", 1)]) == [
        "entry 3-0 written by epoch 1 after epoch 2"
    ]
