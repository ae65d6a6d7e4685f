"""Behaviour of the versioned node store, on real SQLite files.

Every test works through ``isometry.api`` (the porcelain) and checks what it promises, often
also through a second, plain ``sqlite3`` connection, the way the sqlite3 shell or Datasette
would see the file.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from isometry import api
from isometry.clock import FixedStepClock
from isometry.errors import (
    InvalidOperation,
    InvalidRefName,
    IsometryError,
    MergeInProgress,
    NodeNotFound,
    NoMergeInProgress,
    RefExists,
    RefNotFound,
    RepositoryExists,
    RepositoryNotFound,
    SchemaTooNew,
    StoreError,
    UnresolvedConflicts,
)
from isometry.model import JSON
from isometry.store.migrations import MIGRATIONS, latest_version
from isometry.vcs.commits import Commit
from isometry.vcs.merging import MergeResult
from isometry.vcs.ops import Op, parse_op
from isometry.vcs.repository import DB_NAME, Repository

Row = dict[str, JSON]

# -- helpers ----------------------------------------------------------------------------------


def up(**fields: JSON) -> Op:
    return parse_op({"op": "upsert", "node": fields})


def patch(key: str, **fields: JSON) -> Op:
    return parse_op({"op": "patch", "node": {"id": key, **fields}})


def delete(key: str) -> Op:
    return parse_op({"op": "delete", "node": key})


def up_edge(**fields: JSON) -> Op:
    return parse_op({"op": "upsert", "edge": fields})


def patch_edge(key: str, **fields: JSON) -> Op:
    return parse_op({"op": "patch", "edge": {"id": key, **fields}})


def delete_edge(key: str) -> Op:
    return parse_op({"op": "delete", "edge": key})


def commit(
    repo: Repository,
    *ops: Op,
    branch: str = "main",
    author: str = "alice",
    message: str = "change",
) -> Commit:
    return api.apply(repo, ops, branch=branch, message=message, author=author).commit


def nodes(repo: Repository, at: str = "main") -> dict[str, Row]:
    return {str(row["id"]): row for row in api.nodes(repo, at=at)}


def node(repo: Repository, key: str, at: str = "main") -> Row:
    kind, row = api.show(repo, key, at=at)
    assert kind == "node"
    return row


def edges(repo: Repository, at: str = "main") -> dict[str, Row]:
    return {str(row["id"]): row for row in api.edges(repo, at=at)}


@contextmanager
def plain(path: Path) -> Iterator[sqlite3.Connection]:
    """A second connection, knowing nothing of isometry."""
    conn = sqlite3.connect(path / DB_NAME)
    try:
        yield conn
    finally:
        conn.close()


def table_counts(path: Path) -> dict[str, int]:
    names = ("commits", "changes", "row_versions", "refs", "nodes", "edges", "conflicts")
    with plain(path) as conn:
        return {name: conn.execute(f"SELECT COUNT(*) FROM {name}").fetchone()[0] for name in names}


def pending_state(path: Path) -> dict[str, list[tuple[object, ...]]]:
    with plain(path) as conn:
        return {
            table: conn.execute(f"SELECT * FROM {table} ORDER BY 1, 2, 3").fetchall()
            for table in ("pending_merges", "pending_rows", "conflicts")
        }


def merge(
    repo: Repository,
    strategy: str = "manual",
    source: str = "feature",
    into: str = "main",
    **overrides: dict[str, str],
) -> MergeResult:
    policy = api.policy(strategy, overrides.get("by_type"), overrides.get("by_field"))
    return api.merge(repo, source, into, author="merger", strategy=policy)


def diverge(
    repo: Repository, base: list[Op], ours: list[Op], theirs: list[Op], name: str = "feature"
) -> None:
    """``base`` on main, then branch ``name``; ``ours`` on main and ``theirs`` on the branch."""
    if base:
        commit(repo, *base, message="base")
    api.create_branch(repo, name)
    if ours:
        commit(repo, *ours, message="ours", author="olivia")
    if theirs:
        commit(repo, *theirs, branch=name, message="theirs", author="theo")


def assert_fsck_clean(repo: Repository) -> None:
    report = api.fsck(repo)
    assert report.problems == []
    assert report.ok


# -- init and open ------------------------------------------------------------------------------


def test_init_creates_main_with_an_initial_commit(repo: Repository) -> None:
    history = api.log(repo)
    assert [c.message for c in history] == ["Initial commit"]
    assert history[0].parents == ()
    assert [b.name for b in api.branches(repo)] == ["main"]
    assert nodes(repo) == {}
    assert_fsck_clean(repo)


def test_init_refuses_an_existing_repository(repo: Repository, repo_path: Path) -> None:
    with pytest.raises(RepositoryExists):
        api.init(repo_path, clock=repo.clock, author="bob")


def test_open_of_a_missing_repository(tmp_path: Path, clock: FixedStepClock) -> None:
    with pytest.raises(RepositoryNotFound) as caught:
        api.open_repository(tmp_path / "nowhere", clock=clock)
    assert isinstance(caught.value, FileNotFoundError)
    assert "nowhere" in str(caught.value)
    assert not (tmp_path / "nowhere").exists()


def test_open_of_a_file_that_is_no_database(tmp_path: Path, clock: FixedStepClock) -> None:
    (tmp_path / DB_NAME).write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError):
        api.open_repository(tmp_path, clock=clock)


def test_reopen_sees_what_was_written(repo: Repository, repo_path: Path) -> None:
    head = commit(repo, up(id="n1", name="Shopping"))
    repo.close()
    with api.open_repository(repo_path, clock=repo.clock) as again:
        assert again.commit("main").id == head.id
        assert node(again, "n1")["name"] == "Shopping"


def test_migrations_are_recorded(repo: Repository, repo_path: Path) -> None:
    with plain(repo_path) as conn:
        rows = conn.execute("SELECT version, name FROM schema_migrations").fetchall()
    assert rows == [(m.version, m.name) for m in MIGRATIONS]
    assert rows[0] == (1, "versioned node store")
    assert latest_version() == len(MIGRATIONS)
    repo.close()
    api.open_repository(repo_path, clock=repo.clock).close()
    with plain(repo_path) as conn:
        assert conn.execute("SELECT COUNT(*) FROM schema_migrations").fetchone()[0] == len(
            MIGRATIONS
        )


def test_an_older_repository_is_migrated_on_open(repo: Repository, repo_path: Path) -> None:
    """A repository written before the engine existed gains its tables, keeping its data."""
    first = commit(repo, up(id="n1", name="kept"))
    repo.close()
    with plain(repo_path) as conn:
        for table in (
            "operations",
            "checkpoints",
            "quarantine",
            "op_seen",
            "lineage",
            "lineage_origins",
            "op_log",
            "settings",
        ):
            conn.execute(f"DROP TABLE {table}")
        conn.execute("DELETE FROM schema_migrations WHERE version >= 2")
        conn.commit()
    with api.open_repository(repo_path, clock=repo.clock) as reopened:
        assert api.show_commit(reopened, "main").id == first.id
        assert api.show(reopened, "n1")[1]["name"] == "kept"
    with plain(repo_path) as conn:
        versions = [v for (v,) in conn.execute("SELECT version FROM schema_migrations")]
        assert versions == [m.version for m in MIGRATIONS]
        assert conn.execute("SELECT COUNT(*) FROM operations").fetchone()[0] == 0


def test_a_repository_from_a_newer_version_is_refused_untouched(
    repo: Repository, repo_path: Path
) -> None:
    commit(repo, up(id="n1", name="kept"))
    repo.close()
    with plain(repo_path) as conn:
        conn.execute(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'future', 'x')"
        )
        conn.commit()

    def snapshot() -> list[object]:
        with plain(repo_path) as conn:
            return [
                conn.execute("SELECT * FROM schema_migrations ORDER BY version").fetchall(),
                conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall(),
                conn.execute("SELECT id, root FROM commits ORDER BY seq").fetchall(),
                conn.execute("SELECT * FROM refs").fetchall(),
                conn.execute("SELECT * FROM nodes").fetchall(),
            ]

    before = snapshot()
    with pytest.raises(SchemaTooNew) as caught:
        api.open_repository(repo_path, clock=repo.clock)
    message = str(caught.value)
    assert "99" in message
    assert str(latest_version()) in message
    assert "upgrade" in message
    assert snapshot() == before


def test_wal_mode_is_on(repo: Repository, repo_path: Path) -> None:
    with plain(repo_path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


def test_main_is_readable_with_plain_sqlite(repo: Repository, repo_path: Path) -> None:
    commit(
        repo,
        up(id="n1", name="Groceries", content="milk and bread", tags=["home", "food"]),
        up(id="n2", name="Taxes", content="file the return", priority=2),
        up_edge(id="e1", source_id="n1", target_id="n2", label="before"),
    )
    with plain(repo_path) as conn:
        assert conn.execute("SELECT id, name, priority FROM nodes ORDER BY id").fetchall() == [
            ("n1", "Groceries", None),
            ("n2", "Taxes", 2),
        ]
        tags = conn.execute("SELECT tags FROM nodes WHERE id = 'n1'").fetchone()[0]
        assert orjson.loads(tags) == ["food", "home"]
        assert conn.execute("SELECT id, source_id, target_id, label FROM edges").fetchall() == [
            ("e1", "n1", "n2", "before")
        ]
        found = conn.execute(
            "SELECT nodes.id FROM nodes_fts JOIN nodes ON nodes.rowid = nodes_fts.rowid"
            " WHERE nodes_fts MATCH 'bread'"
        ).fetchall()
        assert found == [("n1",)]


def test_full_text_index_follows_main(repo: Repository, repo_path: Path) -> None:
    commit(repo, up(id="n1", name="Groceries", content="milk"), up(id="n2", name="Milkshake"))
    commit(repo, patch("n1", content="bread"), delete("n2"))

    def match(word: str) -> list[str]:
        with plain(repo_path) as conn:
            return [
                row[0]
                for row in conn.execute(
                    "SELECT nodes.id FROM nodes_fts JOIN nodes ON nodes.rowid = nodes_fts.rowid"
                    " WHERE nodes_fts MATCH ? ORDER BY nodes.id",
                    (word,),
                )
            ]

    assert match("milk") == []
    assert match("milkshake") == []
    assert match("bread") == ["n1"]
    assert match("groceries") == ["n1"]
    assert [row["id"] for row in api.nodes(repo, search="bread")] == ["n1"]


def test_new_nodes_are_indexed_once_the_highest_rowid_is_taken(repo: Repository) -> None:
    """New rows are found for the index by their rowids above the old highest; when SQLite
    has to pick free rowids at random instead, they are still all indexed."""
    commit(repo, up(id="a", name="alpha"))
    cols = "name, content, summary, tags"
    with repo.db.transaction() as conn:
        # Main's nodes table is an ordinary table: a tool may well have moved a rowid.
        conn.execute(
            f"INSERT INTO nodes_fts (nodes_fts, rowid, {cols})"
            f" SELECT 'delete', rowid, {cols} FROM nodes WHERE id = 'a'"
        )
        conn.execute("UPDATE nodes SET rowid = ? WHERE id = 'a'", (2**63 - 1,))
        conn.execute(
            f"INSERT INTO nodes_fts (rowid, {cols}) SELECT rowid, {cols} FROM nodes WHERE id = 'a'"
        )
    commit(repo, *(up(id=f"n{i}", name=f"word{chr(97 + i)}") for i in range(20)))
    for i in range(20):
        assert [row["id"] for row in api.nodes(repo, search=f"word{chr(97 + i)}")] == [f"n{i}"]
    assert [row["id"] for row in api.nodes(repo, search="alpha")] == ["a"]


# -- apply ------------------------------------------------------------------------------------


def test_upsert_writes_the_whole_row(repo: Repository) -> None:
    commit(repo, up(id="n1", name="a", content="text", priority=1))
    assert node(repo, "n1") == {
        "id": "n1",
        "node_type": "note",
        "name": "a",
        "content": "text",
        "priority": 1,
    }
    commit(repo, up(id="n1", name="b"))
    assert node(repo, "n1") == {"id": "n1", "node_type": "note", "name": "b"}


def test_patch_changes_only_given_fields(repo: Repository) -> None:
    commit(repo, up(id="n1", name="a", content="text", priority=1, properties={"x": 1}))
    commit(repo, patch("n1", name="b", priority=None))
    assert node(repo, "n1") == {
        "id": "n1",
        "node_type": "note",
        "name": "b",
        "content": "text",
        "properties": {"x": 1},
    }


def test_delete_removes_the_row(repo: Repository, repo_path: Path) -> None:
    commit(repo, up(id="n1", name="a"), up(id="n2", name="b"))
    commit(repo, delete("n1"))
    assert set(nodes(repo)) == {"n2"}
    with pytest.raises(NodeNotFound):
        api.show(repo, "n1")
    with plain(repo_path) as conn:
        assert conn.execute("SELECT id FROM nodes").fetchall() == [("n2",)]


def test_edges_upsert_patch_delete(repo: Repository) -> None:
    commit(repo, up(id="a"), up(id="b"), up_edge(id="e1", source_id="a", target_id="b"))
    assert edges(repo)["e1"]["edge_type"] == "LINK"
    commit(repo, patch_edge("e1", weight=0.5, label="cites"))
    assert edges(repo)["e1"] == {
        "id": "e1",
        "edge_type": "LINK",
        "source_id": "a",
        "target_id": "b",
        "label": "cites",
        "weight": 0.5,
        "directed": True,
    }
    commit(repo, delete_edge("e1"))
    assert edges(repo) == {}
    assert set(nodes(repo)) == {"a", "b"}
    assert_fsck_clean(repo)


def test_a_commit_carries_author_message_metadata_and_change_count(repo: Repository) -> None:
    result = api.apply(
        repo,
        [up(id="n1"), up(id="n2"), patch("n2", name="x")],
        branch="main",
        message="two nodes",
        author="bob",
        metadata={"operation": "op-1"},
    )
    assert result.changes == 2
    head = api.show_commit(repo, "main")
    assert head == result.commit
    assert (head.author, head.message, head.metadata, head.changes) == (
        "bob",
        "two nodes",
        {"operation": "op-1"},
        2,
    )
    assert head.parents == (api.log(repo)[1].id,)


def test_apply_that_changes_nothing_makes_no_commit(repo: Repository) -> None:
    first = commit(repo, up(id="n1", name="a"))
    result = api.apply(repo, [up(id="n1", name="a")], branch="main", message="same", author="a")
    assert result.changes == 0
    assert result.commit.id == first.id
    assert len(api.log(repo)) == 2


@pytest.mark.parametrize("branch", ["main", "feature"])
def test_apply_is_atomic(repo: Repository, repo_path: Path, branch: str) -> None:
    commit(repo, up(id="n1", name="a"))
    api.create_branch(repo, "feature")
    head = api.show_commit(repo, branch)
    before = table_counts(repo_path)
    with pytest.raises(NodeNotFound, match="missing"):
        commit(
            repo,
            up(id="n2", name="b"),
            patch("n1", name="c"),
            patch("missing", name="x"),
            branch=branch,
        )
    with pytest.raises(NodeNotFound, match="missing"):
        commit(repo, up(id="n2", name="b"), delete("missing"), branch=branch)
    assert table_counts(repo_path) == before
    assert api.show_commit(repo, branch) == head
    assert nodes(repo, branch) == {"n1": {"id": "n1", "node_type": "note", "name": "a"}}


def test_apply_to_a_missing_branch(repo: Repository) -> None:
    with pytest.raises(RefNotFound):
        commit(repo, up(id="n1"), branch="nope")


def test_a_value_main_cannot_hold_is_refused_cleanly(repo: Repository, repo_path: Path) -> None:
    """An integer past SQLite's 64-bit range must be refused with the package's own error, and
    nothing written (it is valid JSON for the encoder, so it gets as far as main's table)."""
    before = table_counts(repo_path)
    with pytest.raises(IsometryError, match="priority"):
        commit(repo, up(id="big", priority=2**63))
    assert table_counts(repo_path) == before


def test_a_failed_write_leaves_the_repository_usable(repo: Repository, repo_path: Path) -> None:
    """A write that fails after the commit row was inserted (here: the disk refuses the
    row in main's table) is rolled back; the next commit must still get the right parent and
    be found by its id."""
    first = commit(repo, up(id="n1", name="a"))
    with plain(repo_path) as conn:
        conn.execute(
            "CREATE TRIGGER refuse BEFORE INSERT ON nodes WHEN NEW.name = 'boom'"
            " BEGIN SELECT RAISE(ABORT, 'disk says no'); END"
        )
        conn.commit()
    with pytest.raises((sqlite3.DatabaseError, StoreError)):
        commit(repo, up(id="n2", name="boom"))
    assert api.show_commit(repo, "main").id == first.id
    second = commit(repo, up(id="n3", name="fine"))
    assert second.parents == (first.id,)
    assert api.show_commit(repo, second.id).id == second.id
    third = commit(repo, up(id="n4", name="fine too"))
    assert third.parents == (second.id,)
    with api.open_repository(repo_path, clock=repo.clock) as fresh:
        assert [c.id for c in api.log(fresh)] == [c.id for c in api.log(repo)]
        assert api.show_commit(fresh, "main").parents == (second.id,)


def test_apply_is_refused_while_a_merge_waits(repo: Repository) -> None:
    diverge(repo, [up(id="n1", name="a")], [patch("n1", name="b")], [patch("n1", name="c")])
    assert merge(repo).status == "conflicts"
    with pytest.raises(MergeInProgress):
        commit(repo, up(id="n2"))
    with pytest.raises(MergeInProgress):
        api.reset(repo, "main", "main~1")
    commit(repo, up(id="n2"), branch="feature")  # other branches are not blocked


# -- branches ---------------------------------------------------------------------------------


def test_branch_creation_copies_no_rows(repo: Repository, repo_path: Path) -> None:
    commit(repo, *[up(id=f"n{i}", name=str(i)) for i in range(50)])
    before = table_counts(repo_path)
    head = api.create_branch(repo, "feature")
    after = table_counts(repo_path)
    assert after == {**before, "refs": before["refs"] + 1}
    assert head.id == api.show_commit(repo, "main").id
    assert nodes(repo, "feature") == nodes(repo)


def test_branch_from_branch_tag_commit_and_ancestor(repo: Repository) -> None:
    c1 = commit(repo, up(id="n1"))
    c2 = commit(repo, up(id="n2"))
    c3 = commit(repo, up(id="n3"))
    api.tag(repo, "v1", c1.id)
    assert api.create_branch(repo, "from-tag", "v1").id == c1.id
    assert api.create_branch(repo, "from-commit", c2.id).id == c2.id
    assert api.create_branch(repo, "from-prefix", c2.id[:10]).id == c2.id
    assert api.create_branch(repo, "from-tilde", "main~2").id == c1.id
    assert api.create_branch(repo, "from-branch", "from-commit").id == c2.id
    assert api.create_branch(repo, "from-main").id == c3.id
    assert set(nodes(repo, "from-tag")) == {"n1"}
    assert set(nodes(repo, "from-tilde")) == {"n1"}
    assert set(nodes(repo, "from-branch")) == {"n1", "n2"}


def test_branches_are_isolated(repo: Repository, repo_path: Path) -> None:
    commit(repo, up(id="n1", name="a"))
    api.create_branch(repo, "feature")
    commit(repo, patch("n1", name="feature"), up(id="n2"), branch="feature")
    commit(repo, up(id="n3"))
    assert nodes(repo)["n1"]["name"] == "a"
    assert set(nodes(repo)) == {"n1", "n3"}
    assert set(nodes(repo, "feature")) == {"n1", "n2"}
    assert node(repo, "n1", "feature")["name"] == "feature"
    with plain(repo_path) as conn:
        assert conn.execute("SELECT id, name FROM nodes ORDER BY id").fetchall() == [
            ("n1", "a"),
            ("n3", ""),
        ]


def test_branch_names_and_duplicates(repo: Repository) -> None:
    api.create_branch(repo, "feature/x")
    with pytest.raises(RefExists):
        api.create_branch(repo, "feature/x")
    with pytest.raises(RefExists):
        api.create_branch(repo, "main")
    for bad in ("", "-x", ".x", "a..b", "a b", "x/", "a~1", "a@b"):
        with pytest.raises(InvalidRefName):
            api.create_branch(repo, bad)
    with pytest.raises(RefNotFound):
        api.create_branch(repo, "y", "no-such-start")


def test_delete_branch(repo: Repository) -> None:
    api.create_branch(repo, "feature")
    commit(repo, up(id="n1"), branch="feature")
    api.delete_branch(repo, "feature")
    assert [b.name for b in api.branches(repo)] == ["main"]
    with pytest.raises(RefNotFound):
        api.nodes(repo, at="feature")
    with pytest.raises(RefNotFound):
        api.delete_branch(repo, "feature")
    with pytest.raises(InvalidOperation):
        api.delete_branch(repo, "main")
    assert [b.name for b in api.branches(repo)] == ["main"]


# -- log --------------------------------------------------------------------------------------


def test_log_first_parent_and_full_after_a_merge(repo: Repository) -> None:
    c1 = commit(repo, up(id="n1"), message="c1")
    api.create_branch(repo, "feature")
    f1 = commit(repo, up(id="f1"), branch="feature", message="f1")
    f2 = commit(repo, up(id="f2"), branch="feature", message="f2")
    c2 = commit(repo, up(id="n2"), message="c2")
    result = merge(repo)
    assert result.status == "merged"
    assert result.commit is not None
    m = result.commit
    assert m.parents == (c2.id, f2.id)
    initial = api.log(repo)[-1]
    assert [c.id for c in api.log(repo, first_parent=True)] == [m.id, c2.id, c1.id, initial.id]
    full = [c.id for c in api.log(repo)]
    assert full[0] == m.id
    assert set(full) == {m.id, c2.id, f2.id, f1.id, c1.id, initial.id}
    assert len(full) == 6
    assert full.index(f2.id) < full.index(f1.id) < full.index(c1.id)
    assert [c.id for c in api.log(repo, limit=2)] == full[:2]
    assert [c.id for c in api.log(repo, "feature")] == [f2.id, f1.id, c1.id, initial.id]


# -- diff -------------------------------------------------------------------------------------


def test_diff_shapes(repo: Repository) -> None:
    commit(
        repo,
        up(id="keep", name="k", properties={"a": 1, "b": 2}),
        up(id="gone", name="g"),
        up(id="x"),
        up(id="y"),
        up_edge(id="e1", source_id="x", target_id="y"),
        up_edge(id="e2", source_id="y", target_id="x"),
    )
    api.create_branch(repo, "feature")
    commit(
        repo,
        patch("keep", name="K", priority=3, properties={"a": 1, "b": 5, "c": 0}),
        delete("gone"),
        up(id="new", name="n"),
        patch_edge("e1", weight=2.0),
        delete_edge("e2"),
        up_edge(id="e3", source_id="x", target_id="x", edge_type="NEST"),
        branch="feature",
    )
    d = api.diff(repo, "main", "feature")
    assert d.summary() == {
        "nodes": {"added": 1, "removed": 1, "modified": 1},
        "edges": {"added": 1, "removed": 1, "modified": 1},
    }
    assert d.nodes.added == [{"id": "new", "node_type": "note", "name": "n"}]
    assert d.nodes.removed == [{"id": "gone", "node_type": "note", "name": "g"}]
    assert d.nodes.modified == [
        {
            "id": "keep",
            "fields": {
                "name": {"from": "k", "to": "K"},
                "priority": {"from": None, "to": 3},
                "properties.b": {"from": 2, "to": 5},
                "properties.c": {"from": None, "to": 0},
            },
        }
    ]
    assert [e["id"] for e in d.edges.added] == ["e3"]
    assert [e["id"] for e in d.edges.removed] == ["e2"]
    assert d.edges.modified == [{"id": "e1", "fields": {"weight": {"from": 1.0, "to": 2.0}}}]
    out = d.to_json()
    assert out["from"] == "main"
    assert out["to"] == "feature"
    assert out["summary"] == d.summary()
    assert out["edges"]["added"] == d.edges.added
    assert set(d.to_json(stat=True)) == {"from", "to", "summary"}

    back = api.diff(repo, "feature", "main")
    assert back.nodes.added == d.nodes.removed
    assert back.nodes.removed == d.nodes.added
    assert back.nodes.modified[0]["fields"]["name"] == {"from": "K", "to": "k"}
    assert api.diff(repo, "main", "main").summary()["nodes"] == {
        "added": 0,
        "removed": 0,
        "modified": 0,
    }


def test_diff_between_two_arbitrary_commits(repo: Repository) -> None:
    a = commit(repo, up(id="n1", name="a"))
    api.create_branch(repo, "feature")
    f1 = commit(repo, patch("n1", name="f"), up(id="f"), branch="feature")
    commit(repo, up(id="late"), branch="feature")
    m1 = commit(repo, up(id="m"))
    commit(repo, patch("n1", name="m"))
    d = api.diff(repo, f1.id, m1.id)
    assert [r["id"] for r in d.nodes.added] == ["m"]
    assert [r["id"] for r in d.nodes.removed] == ["f"]
    assert d.nodes.modified == [{"id": "n1", "fields": {"name": {"from": "f", "to": "a"}}}]
    d2 = api.diff(repo, a.id, "feature~1")
    assert [r["id"] for r in d2.nodes.added] == ["f"]
    assert d2.nodes.modified == [{"id": "n1", "fields": {"name": {"from": "a", "to": "f"}}}]


# -- merge: the three-way rules -----------------------------------------------------------------


def test_merge_takes_a_change_made_on_one_side(repo: Repository, repo_path: Path) -> None:
    diverge(
        repo,
        [up(id="n1", name="a", content="c"), up(id="n2", name="x")],
        [patch("n1", content="ours"), up(id="n3")],
        [patch("n1", name="theirs"), delete("n2"), up(id="n4", name="new")],
    )
    result = merge(repo)
    assert result.status == "merged"
    assert result.conflicts == []
    assert nodes(repo) == {
        "n1": {"id": "n1", "node_type": "note", "name": "theirs", "content": "ours"},
        "n3": {"id": "n3", "node_type": "note", "name": ""},
        "n4": {"id": "n4", "node_type": "note", "name": "new"},
    }
    with plain(repo_path) as conn:
        assert conn.execute("SELECT id FROM nodes ORDER BY id").fetchall() == [
            ("n1",),
            ("n3",),
            ("n4",),
        ]
    assert_fsck_clean(repo)


def test_merge_takes_the_same_change_once(repo: Repository) -> None:
    diverge(
        repo,
        [up(id="n1", name="a"), up(id="n2")],
        [patch("n1", name="same"), delete("n2"), up(id="n3", name="twin")],
        [patch("n1", name="same"), delete("n2"), up(id="n3", name="twin")],
    )
    ours = api.show_commit(repo, "main")
    result = merge(repo)
    assert result.status == "merged"
    assert result.commit is not None
    assert result.commit.changes == 0
    assert result.commit.root == ours.root
    assert nodes(repo) == {
        "n1": {"id": "n1", "node_type": "note", "name": "same"},
        "n3": {"id": "n3", "node_type": "note", "name": "twin"},
    }


def test_different_changes_to_one_field_conflict(repo: Repository) -> None:
    diverge(
        repo,
        [up(id="n1", name="a", content="c")],
        [patch("n1", name="ours")],
        [patch("n1", name="theirs", content="t")],
    )
    result = merge(repo)
    assert result.status == "conflicts"
    assert result.commit is None
    assert [(c.id, c.field, c.base, c.ours, c.theirs) for c in result.conflicts] == [
        ("n1", "name", "a", "ours", "theirs")
    ]
    assert api.conflicts(repo) == result.conflicts


@pytest.mark.parametrize("deleted_on", ["main", "feature"])
def test_delete_against_modify_conflicts(repo: Repository, deleted_on: str) -> None:
    removal, change = [delete("n1")], [patch("n1", name="changed")]
    ours, theirs = (removal, change) if deleted_on == "main" else (change, removal)
    diverge(repo, [up(id="n1", name="a")], ours, theirs)
    result = merge(repo)
    assert result.status == "conflicts"
    (conflict,) = result.conflicts
    assert conflict.field == ""
    assert conflict.base == {"id": "n1", "node_type": "note", "name": "a"}
    modified = {"id": "n1", "node_type": "note", "name": "changed"}
    assert (conflict.ours, conflict.theirs) == (
        (None, modified) if deleted_on == "main" else (modified, None)
    )


def test_add_against_a_different_add_conflicts(repo: Repository) -> None:
    diverge(
        repo,
        [],
        [up(id="n1", name="ours", content="same", priority=1)],
        [up(id="n1", name="theirs", content="same", summary="s")],
    )
    result = merge(repo)
    assert result.status == "conflicts"
    assert [(c.field, c.base, c.ours, c.theirs) for c in result.conflicts] == [
        ("name", None, "ours", "theirs")
    ]
    api.resolve(repo, "n1", choice="theirs")
    api.merge_continue(repo)
    assert node(repo, "n1") == {
        "id": "n1",
        "node_type": "note",
        "name": "theirs",
        "content": "same",
        "priority": 1,
        "summary": "s",
    }


def test_fast_forward_when_the_target_has_not_moved(repo: Repository, repo_path: Path) -> None:
    diverge(repo, [up(id="n1", name="a")], [], [patch("n1", name="b"), up(id="n2")])
    feature = api.show_commit(repo, "feature")
    result = merge(repo)
    assert result.status == "fast-forward"
    assert api.show_commit(repo, "main") == feature
    assert nodes(repo) == nodes(repo, "feature")
    with plain(repo_path) as conn:
        assert conn.execute("SELECT id, name FROM nodes ORDER BY id").fetchall() == [
            ("n1", "b"),
            ("n2", ""),
        ]
    assert_fsck_clean(repo)


def test_no_fast_forward_makes_a_merge_commit(repo: Repository) -> None:
    diverge(repo, [up(id="n1", name="a")], [], [patch("n1", name="b")])
    main, feature = api.show_commit(repo, "main"), api.show_commit(repo, "feature")
    result = api.merge(repo, "feature", "main", author="m", fast_forward=False)
    assert result.status == "merged"
    assert result.commit is not None
    assert result.commit.parents == (main.id, feature.id)
    assert result.commit.root == feature.root
    assert node(repo, "n1")["name"] == "b"


def test_merge_up_to_date(repo: Repository) -> None:
    diverge(repo, [up(id="n1")], [up(id="n2")], [])
    head = api.show_commit(repo, "main")
    assert merge(repo).status == "up-to-date"
    assert api.merge(repo, "main", "main", author="m").status == "up-to-date"
    assert api.merge(repo, "main~1", "main", author="m").status == "up-to-date"
    assert api.show_commit(repo, "main") == head


def test_merge_commit_message_and_metadata(repo: Repository) -> None:
    diverge(repo, [up(id="n1")], [up(id="n2")], [up(id="n3")])
    result = api.merge(
        repo, "feature", "main", author="mo", message="bring in", strategy=api.policy("manual")
    )
    assert result.commit is not None
    head = api.show_commit(repo, "main")
    assert (head.author, head.message) == ("mo", "bring in")
    assert head.metadata["merge"]["source"] == "feature"
    assert head.metadata["merge"]["policy"]["default"] == "manual"


# -- merge strategies -------------------------------------------------------------------------


def test_manual_conflicts_are_stored_and_block_continue(repo: Repository, repo_path: Path) -> None:
    diverge(
        repo,
        [up(id="n1", name="a", priority=1), up(id="n2", name="x")],
        [patch("n1", name="ours", priority=2), patch("n2", name="ours")],
        [patch("n1", name="theirs", priority=3), patch("n2", name="theirs")],
    )
    main = api.show_commit(repo, "main")
    feature = api.show_commit(repo, "feature")
    result = merge(repo)
    assert result.status == "conflicts"
    assert api.show_commit(repo, "main") == main
    with plain(repo_path) as conn:
        stored = conn.execute(
            "SELECT target, key, field, resolved FROM conflicts ORDER BY key, field"
        ).fetchall()
        assert stored == [
            ("main", "n1", "name", 0),
            ("main", "n1", "priority", 0),
            ("main", "n2", "name", 0),
        ]
        assert conn.execute("SELECT target FROM pending_merges").fetchall() == [("main",)]
    assert [b.pending_merge for b in api.branches(repo)] == [False, True]

    with pytest.raises(UnresolvedConflicts, match="3 conflict"):
        api.merge_continue(repo)
    api.resolve(repo, "n1", choice="ours", field="name")
    api.resolve(repo, "n1", choice="theirs", field="priority")
    with pytest.raises(UnresolvedConflicts, match="n2"):
        api.merge_continue(repo)
    left = api.resolve(repo, "n2", choice="value", value="chosen", field="name")
    assert all(c.resolved for c in left)
    done = api.merge_continue(repo)
    assert done.status == "merged"
    assert done.commit is not None
    assert done.commit.parents == (main.id, feature.id)
    assert node(repo, "n1") == {"id": "n1", "node_type": "note", "name": "ours", "priority": 3}
    assert node(repo, "n2")["name"] == "chosen"
    assert pending_state(repo_path) == {"pending_merges": [], "pending_rows": [], "conflicts": []}
    assert [b.pending_merge for b in api.branches(repo)] == [False, False]
    assert_fsck_clean(repo)


def test_resolve_a_whole_row_conflict(repo: Repository) -> None:
    diverge(
        repo,
        [up(id="n1", name="a"), up(id="n2", name="b")],
        [delete("n1"), patch("n2", name="o")],
        [patch("n1", name="t"), delete("n2")],
    )
    result = merge(repo)
    assert {(c.id, c.field) for c in result.conflicts} == {("n1", ""), ("n2", "")}
    api.resolve(repo, "n1", choice="theirs")
    api.resolve(repo, "n2", choice="theirs", field="")
    api.merge_continue(repo)
    assert nodes(repo) == {"n1": {"id": "n1", "node_type": "note", "name": "t"}}


def test_resolve_errors(repo: Repository) -> None:
    with pytest.raises(NoMergeInProgress):
        api.resolve(repo, "n1", choice="ours")
    with pytest.raises(NoMergeInProgress):
        api.merge_continue(repo)
    with pytest.raises(NoMergeInProgress):
        api.merge_abort(repo)
    diverge(
        repo,
        [up(id="n1", name="a", priority=1)],
        [patch("n1", name="o", priority=2)],
        [patch("n1", name="t", priority=3)],
    )
    merge(repo)
    with pytest.raises(InvalidOperation):
        api.resolve(repo, "n1", choice="mine")
    with pytest.raises(InvalidOperation, match="field"):
        api.resolve(repo, "n1", choice="value", value="v")
    with pytest.raises(NoMergeInProgress):
        api.resolve(repo, "other", choice="ours")
    with pytest.raises(NoMergeInProgress):
        api.resolve(repo, "n1", choice="ours", field="content")
    with pytest.raises(MergeInProgress):
        merge(repo)


def test_abort_leaves_the_branch_exactly_as_before(repo: Repository, repo_path: Path) -> None:
    diverge(
        repo,
        [up(id="n1", name="a"), up(id="n2")],
        [patch("n1", name="ours")],
        [patch("n1", name="theirs"), delete("n2"), up(id="n3")],
    )
    head = api.show_commit(repo, "main")
    rows = nodes(repo)
    counts = table_counts(repo_path)
    with plain(repo_path) as conn:
        table = conn.execute("SELECT * FROM nodes ORDER BY id").fetchall()
    assert merge(repo).status == "conflicts"
    api.resolve(repo, "n1", choice="theirs")
    assert api.merge_abort(repo) == "main"
    assert api.show_commit(repo, "main") == head
    assert nodes(repo) == rows
    assert table_counts(repo_path) == counts
    assert pending_state(repo_path) == {"pending_merges": [], "pending_rows": [], "conflicts": []}
    with plain(repo_path) as conn:
        assert conn.execute("SELECT * FROM nodes ORDER BY id").fetchall() == table
    assert api.conflicts(repo) == []
    commit(repo, up(id="after"))  # the branch takes writes again
    assert_fsck_clean(repo)


def test_markers_merge_text_line_by_line(repo: Repository, repo_path: Path) -> None:
    diverge(
        repo,
        [
            up(id="clean", content="one\ntwo\nthree"),
            up(id="clash", content="one\ntwo\nthree", name="title"),
        ],
        [patch("clean", content="ONE\ntwo\nthree"), patch("clash", content="A\ntwo\nthree")],
        [
            patch("clean", content="one\ntwo\nTHREE"),
            patch("clash", content="B\ntwo\nthree", name="Title"),
        ],
    )
    result = merge(repo, "markers")
    assert result.status == "merged"
    assert node(repo, "clean")["content"] == "ONE\ntwo\nTHREE"
    clash = node(repo, "clash")
    assert clash["content"] == "<<<<<<< target\nA\n=======\nB\n>>>>>>> source\ntwo\nthree"
    assert clash["name"] == "Title"
    assert result.flagged == [{"kind": "node", "id": "clash", "field": "content"}]
    assert result.commit is not None
    assert result.commit.metadata["flagged"] == result.flagged
    with plain(repo_path) as conn:
        assert conn.execute("SELECT key, field FROM review_flags").fetchall() == [
            ("clash", "content")
        ]


def test_markers_leave_non_text_fields_to_a_person(repo: Repository) -> None:
    diverge(
        repo,
        [up(id="n1", content="x", priority=1)],
        [patch("n1", content="ours", priority=2)],
        [patch("n1", content="theirs", priority=3)],
    )
    result = merge(repo, "markers")
    assert result.status == "conflicts"
    assert [c.field for c in result.conflicts] == ["priority"]
    api.resolve(repo, "n1", choice="ours")
    done = api.merge_continue(repo)
    assert done.flagged == [{"kind": "node", "id": "n1", "field": "content"}]
    assert node(repo, "n1") == {
        "id": "n1",
        "node_type": "note",
        "name": "",
        "content": "<<<<<<< target\nours\n=======\ntheirs\n>>>>>>> source",
        "priority": 2,
    }


@pytest.mark.parametrize(
    ("strategy", "winner"), [("prefer-source", "theirs"), ("prefer-target", "ours")]
)
def test_prefer_strategies(repo: Repository, strategy: str, winner: str) -> None:
    diverge(
        repo,
        [
            up(id="n1", name="a", priority=1, properties={"k": 0}),
            up(id="gone", name="a"),
            up(id="kept", name="a"),
        ],
        [patch("n1", name="ours", properties={"k": 1}), delete("gone"), patch("kept", name="ours")],
        [
            patch("n1", name="theirs", priority=3, properties={"k": 2}),
            patch("gone", name="theirs"),
            delete("kept"),
        ],
    )
    result = merge(repo, strategy)
    assert result.status == "merged"
    assert node(repo, "n1") == {
        "id": "n1",
        "node_type": "note",
        "name": winner,
        "priority": 3,
        "properties": {"k": 1 if winner == "ours" else 2},
    }
    present = set(nodes(repo))
    if winner == "ours":
        assert present == {"n1", "kept"}
        assert node(repo, "kept")["name"] == "ours"
    else:
        assert present == {"n1", "gone"}
        assert node(repo, "gone")["name"] == "theirs"


def test_last_writer_wins_by_modified_at(repo: Repository) -> None:
    diverge(
        repo,
        [
            up(id="t-later", name="a", modified_at="2024-01-01T00:00:00Z"),
            up(id="o-later", name="a", modified_at="2024-01-01T00:00:00Z"),
        ],
        [
            patch("t-later", name="ours", modified_at="2024-02-01T00:00:00Z"),
            patch("o-later", name="ours", modified_at="2024-03-01T00:00:00Z"),
        ],
        [
            patch("t-later", name="theirs", modified_at="2024-03-01T00:00:00Z"),
            patch("o-later", name="theirs", modified_at="2024-02-01T00:00:00Z"),
        ],
    )
    assert merge(repo, "last-writer-wins").status == "merged"
    assert node(repo, "t-later")["name"] == "theirs"
    assert node(repo, "t-later")["modified_at"] == "2024-03-01T00:00:00Z"
    assert node(repo, "o-later")["name"] == "ours"
    assert node(repo, "o-later")["modified_at"] == "2024-03-01T00:00:00Z"


def test_last_writer_wins_compares_times_not_strings(repo: Repository) -> None:
    """10:00:05.5 is later than 10:00:05, though '.5' sorts before 'Z' as text."""
    diverge(
        repo,
        [up(id="n1", name="a", modified_at="2024-01-01T10:00:00Z")],
        [patch("n1", name="ours", modified_at="2024-01-01T10:00:05.500Z")],
        [patch("n1", name="theirs", modified_at="2024-01-01T10:00:05Z")],
    )
    assert merge(repo, "last-writer-wins").status == "merged"
    assert node(repo, "n1")["name"] == "ours"


def test_last_writer_wins_against_a_deletion_uses_its_commit_time(repo: Repository) -> None:
    # The deletion is committed in 2030 (the test clock); a change stamped before it loses,
    # a change stamped after it wins.
    diverge(
        repo,
        [
            up(id="older", name="a", modified_at="2024-01-01T00:00:00Z"),
            up(id="newer", name="a", modified_at="2024-01-01T00:00:00Z"),
        ],
        [delete("older"), delete("newer")],
        [
            patch("older", name="t", modified_at="2029-12-31T00:00:00Z"),
            patch("newer", name="t", modified_at="2031-01-01T00:00:00Z"),
        ],
    )
    assert merge(repo, "last-writer-wins").status == "merged"
    assert set(nodes(repo)) == {"newer"}


@pytest.mark.parametrize("deleted_on", ["main", "feature"])
def test_last_writer_wins_times_a_deletion_that_came_through_a_merge(
    repo: Repository, deleted_on: str
) -> None:
    """As above, but the side without the row got the deletion by merging another branch, so
    its own first-parent line never held the row. The deletion (2030) is still the later write
    and must win against the change stamped 2024, whichever side it is on."""
    api.create_branch(repo, "side")
    api.create_branch(repo, "feature")
    added = commit(repo, up(id="x", name="x", modified_at="2024-01-01T00:00:00Z"), branch="side")
    commit(repo, delete("x"), branch="side")
    deleting, changing = ("main", "feature") if deleted_on == "main" else ("feature", "main")
    commit(repo, up(id="c"), branch=changing)
    assert api.merge(repo, added.id, changing, author="m").status == "merged"
    commit(repo, patch("x", name="changed", modified_at="2024-06-01T00:00:00Z"), branch=changing)
    commit(repo, up(id="d"), branch=deleting)
    assert api.merge(repo, "side", deleting, author="m").status == "merged"
    assert "x" not in nodes(repo, deleting)
    assert merge(repo, "last-writer-wins").status == "merged"
    assert set(nodes(repo)) == {"c", "d"}


def test_per_type_override(repo: Repository) -> None:
    diverge(
        repo,
        [up(id="note", name="a"), up(id="task", node_type="task", name="a")],
        [patch("note", name="ours"), patch("task", name="ours")],
        [patch("note", name="theirs"), patch("task", name="theirs")],
    )
    result = merge(repo, "manual", by_type={"task": "prefer-source"})
    assert result.status == "conflicts"
    assert [(c.id, c.field) for c in result.conflicts] == [("note", "name")]
    api.resolve(repo, "note", choice="ours")
    api.merge_continue(repo)
    assert node(repo, "note")["name"] == "ours"
    assert node(repo, "task")["name"] == "theirs"


def test_per_field_override(repo: Repository) -> None:
    diverge(
        repo,
        [up(id="n1", name="a", priority=1, content="c", properties={"p": 0, "q": 0, "r": 0})],
        [patch("n1", name="ours", priority=2, content="ours", properties={"p": 1, "q": 1, "r": 0})],
        [
            patch(
                "n1",
                name="theirs",
                priority=3,
                content="theirs",
                properties={"p": 2, "q": 0, "r": 2},
            )
        ],
    )
    result = merge(
        repo,
        "manual",
        by_field={"name": "prefer-target", "properties": "prefer-source", "content": "markers"},
    )
    assert result.status == "conflicts"
    assert [c.field for c in result.conflicts] == ["priority"]
    api.resolve(repo, "n1", choice="theirs")
    api.merge_continue(repo)
    assert node(repo, "n1") == {
        "id": "n1",
        "node_type": "note",
        "name": "ours",
        "priority": 3,
        "content": "<<<<<<< target\nours\n=======\ntheirs\n>>>>>>> source",
        # properties merge key by key: p clashed (source wins), q and r changed on one side
        "properties": {"p": 2, "q": 1, "r": 2},
    }


def test_per_field_override_beats_per_type(repo: Repository) -> None:
    diverge(
        repo,
        [up(id="t", node_type="task", name="a", priority=1)],
        [patch("t", name="ours", priority=2)],
        [patch("t", name="theirs", priority=3)],
    )
    result = merge(
        repo, "manual", by_type={"task": "prefer-source"}, by_field={"name": "prefer-target"}
    )
    assert result.status == "merged"
    assert node(repo, "t") == {"id": "t", "node_type": "task", "name": "ours", "priority": 3}


def test_unknown_strategy_is_refused(repo: Repository) -> None:
    with pytest.raises(InvalidOperation, match="strategy"):
        api.policy("whatever")
    with pytest.raises(InvalidOperation, match="strategy"):
        api.policy("manual", by_field={"name": "coin-flip"})


# -- revert -----------------------------------------------------------------------------------


def test_revert_undoes_a_commit(repo: Repository) -> None:
    commit(repo, up(id="n1", name="a"), up(id="n2"))
    target = commit(repo, patch("n1", name="b"), delete("n2"), up(id="n3"), message="oops")
    commit(repo, up(id="n4"))
    result = api.revert(repo, target.id, author="bob")
    assert result.status == "merged"
    assert result.commit is not None
    assert result.commit.message == 'Revert "oops"'
    assert result.commit.metadata["revert"] == target.id
    assert len(result.commit.parents) == 1
    assert set(nodes(repo)) == {"n1", "n2", "n4"}
    assert node(repo, "n1")["name"] == "a"
    assert_fsck_clean(repo)


def test_revert_conflicts_when_a_later_commit_touched_the_field(repo: Repository) -> None:
    commit(repo, up(id="n1", name="a", content="x"))
    target = commit(repo, patch("n1", name="b", content="y"))
    commit(repo, patch("n1", name="c"))
    head = api.show_commit(repo, "main")
    result = api.revert(repo, target.id, author="bob")
    assert result.status == "conflicts"
    assert [(c.field, c.base, c.ours, c.theirs) for c in result.conflicts] == [
        ("name", "b", "c", "a")
    ]
    assert api.show_commit(repo, "main") == head
    with pytest.raises(MergeInProgress):
        commit(repo, up(id="n9"))
    api.resolve(repo, "n1", choice="theirs")
    done = api.merge_continue(repo)
    assert done.commit is not None
    assert done.commit.parents == (head.id,)
    assert node(repo, "n1") == {"id": "n1", "node_type": "note", "name": "a", "content": "x"}


def test_revert_of_a_revert_restores_the_original(repo: Repository) -> None:
    commit(repo, up(id="n1", name="a"), up(id="n2", name="b"))
    target = commit(repo, patch("n1", name="changed"), delete("n2"), up(id="n3"))
    after = nodes(repo)
    root = target.root
    first = api.revert(repo, target.id, author="bob")
    assert first.commit is not None
    assert set(nodes(repo)) == {"n1", "n2"}
    second = api.revert(repo, first.commit.id, author="bob")
    assert second.commit is not None
    assert nodes(repo) == after
    assert second.commit.root == root


def test_revert_refusals(repo: Repository) -> None:
    initial = api.show_commit(repo, "main")
    with pytest.raises(InvalidOperation):
        api.revert(repo, initial.id, author="bob")
    api.create_branch(repo, "feature")
    elsewhere = commit(repo, up(id="n1"), branch="feature")
    with pytest.raises(InvalidOperation, match="history"):
        api.revert(repo, elsewhere.id, author="bob")


# -- reset ------------------------------------------------------------------------------------


def test_reset_moves_a_branch_and_mains_tables_follow(repo: Repository, repo_path: Path) -> None:
    c1 = commit(repo, up(id="n1", name="a"))
    c2 = commit(repo, patch("n1", name="b"), up(id="n2", content="findme"))

    def table() -> list[tuple[str, str]]:
        with plain(repo_path) as conn:
            return conn.execute("SELECT id, name FROM nodes ORDER BY id").fetchall()

    assert api.reset(repo, "main", c1.id) == c1
    assert api.show_commit(repo, "main") == c1
    assert table() == [("n1", "a")]
    assert api.nodes(repo, search="findme") == []
    assert api.reset(repo, "main", c2.id) == c2
    assert table() == [("n1", "b"), ("n2", "")]
    assert [r["id"] for r in api.nodes(repo, search="findme")] == ["n2"]
    api.create_branch(repo, "feature")
    api.reset(repo, "feature", "main~2")
    assert nodes(repo, "feature") == {}
    assert table() == [("n1", "b"), ("n2", "")]
    assert_fsck_clean(repo)


def test_reset_to_another_branchs_commit(repo: Repository, repo_path: Path) -> None:
    commit(repo, up(id="n1", name="a"))
    api.create_branch(repo, "feature")
    f = commit(repo, patch("n1", name="f"), branch="feature")
    commit(repo, up(id="m"))
    api.reset(repo, "main", "feature")
    assert api.show_commit(repo, "main") == f
    with plain(repo_path) as conn:
        assert conn.execute("SELECT id, name FROM nodes").fetchall() == [("n1", "f")]
    assert_fsck_clean(repo)


# -- tags -------------------------------------------------------------------------------------


def test_tags_are_immutable(repo: Repository) -> None:
    c1 = commit(repo, up(id="n1"))
    assert api.tag(repo, "v1") == c1
    with pytest.raises(RefExists):
        api.tag(repo, "v1")
    commit(repo, up(id="n2"))
    with pytest.raises(RefExists):
        api.tag(repo, "v1", "main")
    assert api.tags(repo) == [("v1", c1)]
    assert set(nodes(repo, "v1")) == {"n1"}
    with pytest.raises(RefNotFound):
        api.reset(repo, "v1", "main")
    with pytest.raises(RefNotFound):
        commit(repo, up(id="n3"), branch="v1")
    with pytest.raises(RefExists):
        api.create_branch(repo, "v1")
    assert api.show_commit(repo, "v1") == c1


# -- reads AS OF --------------------------------------------------------------------------------


def test_as_of_every_kind_of_revision(repo: Repository) -> None:
    c1 = commit(repo, up(id="n1", name="one"))
    c2 = commit(repo, patch("n1", name="two"), up(id="n2"))
    api.tag(repo, "v2")
    c3 = commit(repo, patch("n1", name="three"), delete("n2"))
    api.create_branch(repo, "old", c1.id)

    def name_at(at: str) -> JSON:
        return node(repo, "n1", at)["name"]

    assert name_at("main") == "three"
    assert name_at("old") == "one"
    assert name_at("v2") == "two"
    assert name_at(c1.id) == "one"
    assert name_at(c2.id[:8]) == "two"
    assert name_at("main~1") == "two"
    assert name_at("main~2") == "one"
    assert name_at("v2~1") == "one"
    assert name_at(f"main@{c2.time}") == "two"
    assert name_at(f"main@{{{c1.time}}}") == "one"
    assert name_at(c3.time) == "three"
    assert name_at(c2.time) == "two"
    assert set(nodes(repo, c2.id)) == {"n1", "n2"}
    assert set(nodes(repo, c3.id)) == {"n1"}
    with pytest.raises(RefNotFound):
        api.nodes(repo, at="main~9")
    with pytest.raises(RefNotFound):
        api.nodes(repo, at="2000-01-01T00:00:00Z")
    with pytest.raises(RefNotFound):
        api.nodes(repo, at="no-such-thing")
    with pytest.raises(NodeNotFound):
        api.show(repo, "n2", at=c3.id)


def test_as_of_a_time_between_commits(repo: Repository) -> None:
    c1 = commit(repo, up(id="n1", name="one"))
    c2 = commit(repo, patch("n1", name="two"))
    # The clock moves a second per reading: half a second after c1 is before c2.
    moment = _when(c1.time) + timedelta(milliseconds=500)
    assert moment < _when(c2.time)
    assert node(repo, "n1", f"main@{moment.isoformat()}")["name"] == "one"
    assert node(repo, "n1", moment.isoformat())["name"] == "one"
    elsewhere = (_when(c2.time) + timedelta(hours=1)).astimezone(timezone(timedelta(hours=5)))
    assert node(repo, "n1", f"main@{elsewhere.isoformat()}")["name"] == "two"
    west = timezone(timedelta(hours=-3))
    assert node(repo, "n1", f"main@{moment.astimezone(west).isoformat()}")["name"] == "one"
    before = (_when(c1.time) - timedelta(milliseconds=1)).astimezone(west)
    with pytest.raises(NodeNotFound):
        api.show(repo, "n1", at=f"main@{before.isoformat()}")


def _when(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


# -- blame ------------------------------------------------------------------------------------


def test_blame_names_the_commit_that_last_set_each_field(repo: Repository) -> None:
    c1 = commit(repo, up(id="n1", name="a", content="c", properties={"p": 1}), author="ann")
    c2 = commit(repo, patch("n1", name="b"), author="ben")
    c3 = commit(repo, patch("n1", properties={"p": 1, "q": 2}), author="cat")
    lines = {line.field: line for line in api.blame(repo, "n1")}
    assert set(lines) == {"id", "node_type", "name", "content", "properties.p", "properties.q"}
    assert lines["name"].commit == c2
    assert lines["name"].value == "b"
    assert lines["content"].commit == c1
    assert lines["properties.p"].commit == c1
    assert lines["properties.q"].commit == c3
    assert lines["properties.q"].to_json()["author"] == "cat"
    old = {line.field: line.commit for line in api.blame(repo, "n1", at=c2.id)}
    assert old["name"] == c2
    assert "properties.q" not in old


def test_blame_follows_a_merge_to_the_branch_commit(repo: Repository) -> None:
    c1 = commit(repo, up(id="n1", name="a", content="c", priority=1), author="ann")
    api.create_branch(repo, "feature")
    f1 = commit(repo, patch("n1", content="from feature"), branch="feature", author="fay")
    f2 = commit(repo, patch("n1", priority=7), branch="feature", author="fred")
    m1 = commit(repo, patch("n1", name="from main"), author="max")
    result = merge(repo)
    assert result.commit is not None
    lines = {line.field: line.commit for line in api.blame(repo, "n1")}
    assert lines["content"] == f1
    assert lines["content"].author == "fay"
    assert lines["priority"] == f2
    assert lines["name"] == m1
    assert lines["node_type"] == c1


def test_blame_of_a_missing_node(repo: Repository) -> None:
    with pytest.raises(NodeNotFound):
        api.blame(repo, "nope")


# -- gc ---------------------------------------------------------------------------------------


def _exists(path: Path, table: str, column: str, value: object) -> bool:
    with plain(path) as conn:
        return (
            conn.execute(f"SELECT 1 FROM {table} WHERE {column} = ?", (value,)).fetchone()
            is not None
        )


def _row_hash(path: Path, seq: int) -> bytes:
    with plain(path) as conn:
        found = conn.execute("SELECT new FROM changes WHERE commit_seq = ?", (seq,)).fetchone()
    assert found is not None
    digest: bytes = found[0]
    return digest


def test_gc_removes_what_no_ref_reaches(repo: Repository, repo_path: Path) -> None:
    keep = commit(repo, up(id="n1", name="kept"))
    api.create_branch(repo, "doomed")
    lost = commit(repo, up(id="lost", name="only on the branch"), branch="doomed")
    lost_row = _row_hash(repo_path, lost.seq)
    api.delete_branch(repo, "doomed")
    reset_away = commit(repo, up(id="undone", name="reset away"))
    undone_row = _row_hash(repo_path, reset_away.seq)
    api.reset(repo, "main", keep.id)

    report = api.gc(repo, keep_unreachable=timedelta(0))
    assert report.commits_removed == 2
    assert report.row_versions_removed == 2
    assert not _exists(repo_path, "commits", "seq", lost.seq)
    assert not _exists(repo_path, "commits", "seq", reset_away.seq)
    assert not _exists(repo_path, "row_versions", "hash", lost_row)
    assert not _exists(repo_path, "row_versions", "hash", undone_row)
    assert not _exists(repo_path, "changes", "commit_seq", lost.seq)
    with pytest.raises(RefNotFound):
        api.show_commit(repo, lost.id)
    assert nodes(repo) == {"n1": {"id": "n1", "node_type": "note", "name": "kept"}}
    assert len(api.log(repo)) == 2
    assert_fsck_clean(repo)
    again = api.gc(repo, keep_unreachable=timedelta(0))
    assert (again.commits_removed, again.row_versions_removed) == (0, 0)


def test_gc_keeps_what_a_tag_reaches(repo: Repository, repo_path: Path) -> None:
    base = commit(repo, up(id="n1", name="a"))
    api.create_branch(repo, "release")
    tagged = commit(repo, up(id="t", name="tagged"), branch="release")
    api.tag(repo, "v1", "release")
    api.delete_branch(repo, "release")
    gone = commit(repo, up(id="g"))
    api.reset(repo, "main", base.id)
    report = api.gc(repo, keep_unreachable=timedelta(0))
    assert report.commits_removed == 1
    assert _exists(repo_path, "commits", "seq", tagged.seq)
    assert not _exists(repo_path, "commits", "seq", gone.seq)
    assert set(nodes(repo, "v1")) == {"n1", "t"}
    assert node(repo, "t", "v1")["name"] == "tagged"
    assert_fsck_clean(repo)


def test_gc_keeps_recent_unreachable_commits(repo: Repository, repo_path: Path) -> None:
    base = commit(repo, up(id="n1"))
    undone = commit(repo, up(id="n2"))
    api.reset(repo, "main", base.id)
    assert api.gc(repo).commits_removed == 0
    assert _exists(repo_path, "commits", "seq", undone.seq)
    api.reset(repo, "main", undone.id)  # a reset can be undone inside the window
    assert set(nodes(repo)) == {"n1", "n2"}


def test_gc_keeps_a_waiting_merge(repo: Repository) -> None:
    diverge(repo, [up(id="n1", name="a")], [patch("n1", name="o")], [patch("n1", name="t")])
    assert merge(repo).status == "conflicts"
    api.delete_branch(repo, "feature")
    api.gc(repo, keep_unreachable=timedelta(0))
    api.resolve(repo, "n1", choice="theirs")
    assert api.merge_continue(repo).status == "merged"
    assert node(repo, "n1")["name"] == "t"
    assert_fsck_clean(repo)


# -- fsck -------------------------------------------------------------------------------------


def _healthy(repo: Repository) -> None:
    commit(
        repo,
        up(id="n1", name="Groceries", content="milk"),
        up(id="n2", name="Taxes"),
        up_edge(id="e1", source_id="n1", target_id="n2"),
    )
    api.create_branch(repo, "feature")
    commit(repo, patch("n1", content="bread"), branch="feature")
    commit(repo, up(id="n3", name="Garden"))
    merge(repo)


def test_fsck_is_clean_on_a_healthy_repository(repo: Repository) -> None:
    _healthy(repo)
    report = api.fsck(repo)
    assert report.ok
    assert report.problems == []
    assert report.checked["commits"] == len(api.log(repo))
    assert report.checked["table_rows"] == 4
    assert report.checked["row_versions"] > 0


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE nodes SET name = 'tampered' WHERE id = 'n1'",
        "DELETE FROM nodes WHERE id = 'n2'",
        "INSERT INTO nodes (id, node_type) VALUES ('intruder', 'note')",
        "UPDATE edges SET weight = 9 WHERE id = 'e1'",
    ],
)
def test_fsck_finds_and_repairs_tampered_tables(
    repo: Repository, repo_path: Path, tamper: str
) -> None:
    _healthy(repo)
    expected = nodes(repo)
    expected_edges = edges(repo)
    with plain(repo_path) as conn:
        conn.execute(tamper)
        conn.commit()
    report = api.fsck(repo)
    assert not report.ok
    assert report.problems
    assert not report.repaired
    repaired = api.fsck(repo, repair=True)
    assert repaired.repaired
    assert_fsck_clean(repo)
    assert nodes(repo) == expected
    assert edges(repo) == expected_edges
    with plain(repo_path) as conn:
        found = conn.execute(
            "SELECT nodes.id FROM nodes_fts JOIN nodes ON nodes.rowid = nodes_fts.rowid"
            " WHERE nodes_fts MATCH 'groceries'"
        ).fetchall()
    assert found == [("n1",)]


def test_fsck_finds_a_row_version_that_does_not_match_its_hash(
    repo: Repository, repo_path: Path
) -> None:
    _healthy(repo)
    with plain(repo_path) as conn:
        # Another row's bytes, so the data still decodes: only its hash can tell.
        digest, other = [row[0] for row in conn.execute("SELECT hash FROM row_versions LIMIT 2")]
        conn.execute(
            "UPDATE row_versions SET data = (SELECT data FROM row_versions WHERE hash = ?)"
            " WHERE hash = ?",
            (other, digest),
        )
        conn.commit()
    report = api.fsck(repo)
    assert not report.ok
    assert any(digest.hex()[:16] in p and "hash" in p for p in report.problems)


def test_fsck_finds_a_wrong_commit_root(repo: Repository, repo_path: Path) -> None:
    _healthy(repo)
    victim, donor = api.log(repo, first_parent=True)[1:3]
    assert victim.root != donor.root
    with plain(repo_path) as conn:
        conn.execute(
            "UPDATE commits SET root = (SELECT root FROM commits WHERE seq = ?) WHERE seq = ?",
            (donor.seq, victim.seq),
        )
        conn.commit()
    report = api.fsck(repo)
    assert not report.ok
    assert any(victim.id[:12] in p and "root" in p for p in report.problems)


def test_fsck_finds_a_ref_to_a_missing_commit(repo: Repository, repo_path: Path) -> None:
    _healthy(repo)
    with plain(repo_path) as conn:
        conn.execute("UPDATE refs SET commit_seq = 9999 WHERE name = 'feature'")
        conn.commit()
    report = api.fsck(repo)
    assert any("feature" in p for p in report.problems)


def test_deleting_a_node_deletes_the_edges_that_touch_it(repo: Repository) -> None:
    """No edge is left pointing at nothing, on main and on a branch alike."""
    commit(
        repo,
        up(id="a", name="A"),
        up(id="b", name="B"),
        up(id="c", name="C"),
        up_edge(id="ab", source_id="a", target_id="b"),
        up_edge(id="bc", source_id="b", target_id="c"),
        up_edge(id="ca", source_id="c", target_id="a"),
    )
    api.create_branch(repo, "side")
    commit(repo, up_edge(id="cb", source_id="c", target_id="b"), branch="side")
    commit(repo, delete("b"), branch="side")
    assert {e["id"] for e in api.edges(repo, at="side")} == {"ca"}
    assert {e["id"] for e in api.edges(repo)} == {"ab", "bc", "ca"}
    result = commit(repo, delete("a"))
    assert result.changes == 3  # the node and its two edges
    assert {e["id"] for e in api.edges(repo)} == {"bc"}
    assert api.fsck(repo).ok
