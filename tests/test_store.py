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
