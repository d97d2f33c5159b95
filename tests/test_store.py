"""StateStore: one transaction for position, entities, commands and counters; bounded by pruning."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from swarmsh.agents.base import EntityState
from swarmsh.store import CommandEntry, StateStore

POSITION = {"dev": 1, "ino": 2, "fp_len": 0, "fingerprint": "", "offset": 10}
FINAL = frozenset({"DONE"})


def test_commit_and_read_back(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.db") as store:
        store.commit(
            "r",
            POSITION,
            {"a": EntityState("OPEN").with_state("OPEN", team="x")},
            FINAL,
            [CommandEntry("c1", "swarmsh.scrum.plan", "emitted")],
            {"handled": 2},
            now=100.0,
        )
        store.commit("r", {**POSITION, "offset": 20}, counters={"handled": 1}, now=101.0)
    with StateStore(tmp_path / "s.db") as store:
        assert store.load_position("r") == {**POSITION, "offset": 20}
        assert store.entities()["a"].data["team"] == "x"
        assert store.command("c1") == CommandEntry("c1", "swarmsh.scrum.plan", "emitted", {})
        assert store.counters() == {"handled": 3}
        assert store.states_count() == {"OPEN": 1}
    assert (tmp_path / "s.db").stat().st_mode & 0o777 == 0o600


def test_a_failed_commit_changes_nothing(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.db") as store:
        store.commit("r", POSITION, {"a": EntityState("OPEN")}, FINAL)
        with pytest.raises(TypeError):  # an entity whose data cannot be stored
            store.commit(
                "r",
                {**POSITION, "offset": 99},
                {"b": EntityState("OPEN").with_state("OPEN", bad=object())},
                FINAL,
            )
        assert store.load_position("r") == POSITION
        assert set(store.entities()) == {"a"}


def test_prune_forgets_only_old_final_entities_and_settled_commands(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.db") as store:
        store.commit(
            "r",
            POSITION,
            {"old-done": EntityState("DONE"), "old-open": EntityState("OPEN")},
            FINAL,
            [CommandEntry("old", "x", "executed"), CommandEntry("pending", "x", "started")],
            now=10.0,
        )
        store.commit("r", POSITION, {"new-done": EntityState("DONE")}, FINAL, now=1000.0)
        assert store.prune(older_than=500.0) == 1
        assert set(store.entities()) == {"old-open", "new-done"}
        assert store.command("old") is None
        assert store.command("pending") is not None  # an intent is never forgotten


def test_wal_mode(tmp_path: Path) -> None:
    StateStore(tmp_path / "s.db").close()
    assert sqlite3.connect(tmp_path / "s.db").execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_on_a_full_disk_a_commit_fails_with_its_own_error_and_works_once_space_returns(
    tmp_path: Path,
) -> None:
    from tests.diskfull import fill, free, small_disk

    with small_disk(tmp_path / "disk") as disk, StateStore(disk / "s.db") as store:
        store.commit("r", POSITION, {"a": EntityState("OPEN")}, FINAL)
        fill(disk)
        big = {f"k{i}": EntityState("OPEN").with_state("OPEN", pad="x" * 2000) for i in range(200)}
        with pytest.raises(sqlite3.OperationalError) as caught:
            store.commit("r", {**POSITION, "offset": 99}, big, FINAL)
        assert "full" in str(caught.value)  # not "cannot rollback - no transaction is active"
        assert not store._db.in_transaction
        free(disk)
        assert store.load_position("r") == POSITION and set(store.entities()) == {"a"}
        store.commit("r", {**POSITION, "offset": 99}, big, FINAL)
        assert store.load_position("r") == {**POSITION, "offset": 99}
        assert len(store.entities()) == 201


@pytest.mark.parametrize(
    "garbage", [b"this is not a database at all" * 200, b"SQLite format 3\x00" + b"\xff" * 8000]
)
def test_a_corrupt_file_is_named_with_what_to_do(tmp_path: Path, garbage: bytes) -> None:
    from swarmsh.store import StoreCorrupt

    path = tmp_path / "state" / "roberts.db"
    path.parent.mkdir()
    path.write_bytes(garbage)
    with pytest.raises(StoreCorrupt) as caught:
        StateStore(path)
    message = str(caught.value)
    assert str(path) in message and "corrupt" in message
    assert f"mv {path} {path}.corrupt" in message


def test_data_the_caller_encoded_is_stored_beside_data_it_did_not(tmp_path: Path) -> None:
    from swarmsh.store import encode

    states = {"a": EntityState("OPEN").with_state("OPEN", team="x"), "b": EntityState("DONE")}
    states["c"] = states["a"].with_state("OPEN", team="y", n=[1, 2])
    with StateStore(tmp_path / "s.db") as store:
        store.commit(
            "r", POSITION, states, FINAL, encoded={k: encode(states[k].data) for k in "ac"}
        )
        assert store.entities() == states
        assert store.states_count() == {"OPEN": 2, "DONE": 1}
        assert store.prune(float("inf")) == 1  # "b" alone was stored as final
