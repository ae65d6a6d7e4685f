"""Rows of any SQLite database as nodes: mapping, keys, links, BLOBs, resume and direct sync."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from isometry import api
from isometry.cli import main as cli_main
from isometry.errors import IsometryError
from isometry.etl.operations import Operation
from isometry.etl.states import State
from isometry.model import JSON, node_id_for
from isometry.sources.base import Draft, Options
from isometry.sources.sqlitedb import SqliteImporter
from isometry.vcs.repository import Repository
from openers import DirectOpener
from paths import FIXTURES as SHARED_FIXTURES

AUTHOR = "alice"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def make_database(path: Path) -> Path:
    with sqlite3.connect(path) as db:
        db.executescript(
            """
            CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT NOT NULL);
            CREATE TABLE tasks (
                id INTEGER PRIMARY KEY, title TEXT, body TEXT, due TEXT, labels TEXT,
                estimate REAL, project_id INTEGER REFERENCES projects (id)
            );
            CREATE TABLE codes (code TEXT PRIMARY KEY, label TEXT) WITHOUT ROWID;
            CREATE TABLE pictures (caption TEXT, image BLOB);
            CREATE VIRTUAL TABLE search USING fts5 (body);
            INSERT INTO projects VALUES (1, 'Garden'), (2, 'House');
            INSERT INTO tasks VALUES
                (10, 'Plant tomatoes', 'In the *south* bed', '2025-04-01', 'garden,spring', 1.5, 1),
                (11, 'Fix the gate', NULL, NULL, NULL, NULL, 2),
                (12, 'Call the plumber', 'Leak', '2025-04-03T09:30:00+02:00', 'house', 0.25, NULL);
            INSERT INTO codes VALUES ('b', 'Bravo'), ('a', 'Alpha');
            INSERT INTO search VALUES ('not a table of records');
            """
        )
        db.execute("INSERT INTO pictures VALUES (?, ?)", ("A picture", PNG))
        db.execute("INSERT INTO pictures VALUES (?, CAST(? AS TEXT))", ("latin-1", b"caf\xe9"))
    return path


def by_name(repo: Repository) -> dict[str, dict[str, JSON]]:
    return {str(n["name"]): n for n in api.nodes(repo)}


def import_(repo: Repository, template: str, path: Path, **options: JSON) -> Operation:
    grants = [f"file-system={path.parent}"]
    return api.import_(repo, template, [path], author=AUTHOR, base=path.parent, grants=grants,
                       config={"options": options})  # fmt: skip


def test_every_table_becomes_nodes_with_keys_links_and_attachments(
    repo: Repository, tmp_path: Path
) -> None:
    path = make_database(tmp_path / "app.db")
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    op = import_(repo, "sqlite-database-import", path)
    assert op.state is State.SUCCEEDED
    assert op.counts["inserted"] == 2 + 3 + 2 + 2  # the FTS table and its shadows are skipped
    nodes = by_name(repo)
    tomatoes = nodes["Plant tomatoes"]
    assert tomatoes["source_id"] == f"{path}#tasks:10"
    assert tomatoes["content"] == "In the *south* bed"
    assert tomatoes["due_at"] == "2025-04-01T00:00:00Z"
    assert tomatoes["tags"] == ["garden", "spring"]
    assert tomatoes["properties"] == {"id": 10, "estimate": 1.5, "project_id": 1, "table": "tasks"}
    assert nodes["Call the plumber"]["due_at"] == "2025-04-03T07:30:00Z"
    alpha = nodes["codes a"]  # no column names it: the table and key do
    assert alpha["source_id"] == f"{path}#codes:a"  # WITHOUT ROWID: its primary key
    assert alpha["properties"] == {"code": "a", "label": "Alpha", "table": "codes"}
    edges = {(e["source_id"], e["target_id"], e["label"]) for e in api.edges(repo)}
    assert edges == {
        (str(tomatoes["id"]), str(node_id_for("sqlite", f"{path}#projects:1")), "project_id"),
        (str(nodes["Fix the gate"]["id"]), str(node_id_for("sqlite", f"{path}#projects:2")),
         "project_id"),
    }  # fmt: skip
    picture = nodes["pictures 1"]
    link = str(dict(picture["properties"])["image"])
    assert link == "attachment:" + hashlib.sha256(PNG).hexdigest()
    (stored,) = api.attachments(repo, str(picture["id"]))
    out = io.BytesIO()
    api.read_blob(repo, str(stored["hash"]), out)
    assert out.getvalue() == PNG
    latin = nodes["pictures 2"]
    (kept,) = api.attachments(repo, str(latin["id"]))  # text that is not UTF-8, kept as bytes
    assert kept["hash"] == hashlib.sha256(b"caf\xe9").hexdigest()
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before  # never touched
    again = import_(repo, "sqlite-database-import", path)
    assert again.counts["unchanged"] == 9
    assert again.counts["inserted"] == again.counts["updated"] == 0


def test_a_toml_mapping_chooses_tables_and_fields(repo: Repository, tmp_path: Path) -> None:
    path = make_database(tmp_path / "app.db")
    (tmp_path / "map.toml").write_text(
        """
        [tables.tasks]
        node_type = "task"
        [tables.tasks.columns]
        title = "name"
        body = "summary"
        due = "event_start"
        """
    )
    op = import_(repo, "sqlite-database-import", path, mapping="map.toml")
    assert op.state is State.SUCCEEDED
    nodes = by_name(repo)
    assert sorted(nodes) == ["Call the plumber", "Fix the gate", "Plant tomatoes"]
    tomatoes = nodes["Plant tomatoes"]
    assert tomatoes["node_type"] == "task"
    assert tomatoes["summary"] == "In the *south* bed"
    assert tomatoes["event_start"] == "2025-04-01T00:00:00Z"
    assert "content" not in tomatoes or tomatoes["content"] is None
    assert dict(tomatoes["properties"])["labels"] == "garden,spring"
    # A changed mapping changes the nodes: nothing is skipped as unchanged.
    (tmp_path / "map.toml").write_text('[tables.tasks.columns]\ntitle = "name"\n')
    again = import_(repo, "sqlite-database-import", path, mapping="map.toml")
    assert again.counts["updated"] == 3


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ('[tables.tasks.columns]\ntitle = "headline"\n', "headline is not a node field"),
        ("[tables.chores]\n", "no table 'chores'"),
        ('[tables.tasks]\nkey = "nope"\n', "has no column 'nope'"),
        ("[tables.tasks\n", "not a valid TOML mapping"),
        ('[tables.tasks]\nnode_type = "spaceship"\n', "node_type 'spaceship'"),
    ],
)
def test_a_wrong_mapping_is_one_clear_error(tmp_path: Path, mapping: str, message: str) -> None:
    path = make_database(tmp_path / "app.db")
    (tmp_path / "map.toml").write_text(mapping)
    with pytest.raises(IsometryError, match=message):
        SqliteImporter().scan(path, DirectOpener(), Options({"mapping": "map.toml"}))


def test_reading_resumes_exactly_from_every_cursor(tmp_path: Path) -> None:
    path = make_database(tmp_path / "app.db")
    importer = SqliteImporter()
    whole = list(importer.read(path, DirectOpener(), Options(), None))
    assert len(whole) == importer.scan(path, DirectOpener(), Options()).records == 9
    for index, (_, cursor) in enumerate(whole):
        rest = list(importer.read(path, DirectOpener(), Options(), cursor))
        assert rest == whole[index + 1 :]


def test_direct_sync_applies_only_what_changed(repo: Repository, tmp_path: Path) -> None:
    path = make_database(tmp_path / "app.db")
    first = import_(repo, "sqlite-direct-sync", path, tables=["tasks"])
    assert first.counts["inserted"] == 3
    with sqlite3.connect(path) as db:
        db.execute("UPDATE tasks SET title = 'Fix the gate hinge' WHERE id = 11")
        db.execute("DELETE FROM tasks WHERE id = 12")
        db.execute("INSERT INTO tasks (id, title) VALUES (13, 'Paint the fence')")
    op = import_(repo, "sqlite-direct-sync", path, tables=["tasks"])
    assert op.state is State.SUCCEEDED
    counts = {k: op.counts[k] for k in ("inserted", "updated", "unchanged", "deleted")}
    assert counts == {"inserted": 1, "updated": 1, "unchanged": 1, "deleted": 1}
    live = {n["name"] for n in api.nodes(repo) if n.get("deleted_at") is None}
    assert live == {"Plant tomatoes", "Fix the gate hinge", "Paint the fence"}


def test_dayfirst_reads_dates_day_first_in_mapped_and_unmapped_tables(
    repo: Repository, tmp_path: Path
) -> None:
    path = tmp_path / "app.db"
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE tasks (id INTEGER PRIMARY KEY, title TEXT, due TEXT)")
        db.execute("CREATE TABLE chores (id INTEGER PRIMARY KEY, what TEXT, due TEXT)")
        db.execute("INSERT INTO tasks VALUES (1, 'Pay rent', '01/05/2024')")
        db.execute("INSERT INTO chores VALUES (1, 'Water plants', '02/05/2024')")
    db.close()
    mapped = {"tasks": {}, "chores": {"columns": {"what": "name", "due": "due_at"}}}
    import_(repo, "sqlite-database-import", path, dayfirst=True, tables=mapped)
    due = {n["name"]: n["due_at"] for n in api.nodes(repo)}
    assert due == {"Pay rent": "2024-05-01T00:00:00Z", "Water plants": "2024-05-02T00:00:00Z"}


def test_a_file_that_is_not_a_database_is_not_taken(tmp_path: Path) -> None:
    text = tmp_path / "notes.db"
    text.write_text("just text")
    assert not SqliteImporter().accepts(text)
    assert SqliteImporter().accepts(make_database(tmp_path / "app.db"))


def test_drafts_name_their_table_and_key(tmp_path: Path) -> None:
    path = make_database(tmp_path / "app.db")
    drafts = [d for d, _ in SqliteImporter().read(path, DirectOpener(), Options(), None)]
    assert all(isinstance(d, Draft) for d in drafts)
    records = [d.locator.record for d in drafts if isinstance(d, Draft)]
    assert records[:2] == ["codes:a", "codes:b"]
    assert "tasks:12" in records


def test_tables_lists_what_a_mapping_can_name(tmp_path: Path) -> None:
    path = make_database(tmp_path / "app.db")
    found = {t.name: t for t in api.sqlite_tables(path)}
    assert sorted(found) == ["codes", "pictures", "projects", "tasks"]
    assert found["tasks"].rows == 3
    assert found["tasks"].key == ("id",)
    assert found["pictures"].key == ("rowid",)
    assert found["tasks"].columns[:3] == ("id", "title", "body")
    assert found["tasks"].to_json()["links"] == [{"columns": ["project_id"], "table": "projects"}]
    with pytest.raises(IsometryError, match=r"missing\.db"):
        api.sqlite_tables(tmp_path / "missing.db")


def test_the_tables_command_lists_them_and_names_a_bad_file(tmp_path: Path) -> None:
    path = make_database(tmp_path / "app.db")
    runner = CliRunner()
    shown = runner.invoke(cli_main.app, ["tables", str(path), "--json"])
    assert shown.exit_code == 0, shown.stderr
    assert [t["table"] for t in json.loads(shown.stdout)] == [
        "codes",
        "pictures",
        "projects",
        "tasks",
    ]
    human = runner.invoke(cli_main.app, ["tables", str(path)])
    assert "project_id -> projects" in human.stdout
    (tmp_path / "notes.txt").write_text("plain words")
    bad = runner.invoke(cli_main.app, ["tables", str(tmp_path / "notes.txt")])
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: ")
    assert "notes.txt" in bad.stderr
    assert bad.stderr.count("\n") == 1


FIXTURES = SHARED_FIXTURES


def test_known_apple_stores_go_to_their_own_importers(repo: Repository, tmp_path: Path) -> None:
    folder = tmp_path / "databases"
    folder.mkdir()
    shutil.copy(FIXTURES / "apple-notes" / "rhettbull" / "NoteStore-macOS-14-Sonoma.sqlite",
                folder / "NoteStore.sqlite")  # fmt: skip
    shutil.copy(FIXTURES / "safari" / "History.db", folder / "History.db")
    make_database(folder / "app.db")
    op = import_(repo, "sqlite-database-import", folder)
    assert op.state is State.SUCCEEDED, op.error
    sources = {str(n["source"]) for n in api.nodes(repo)}
    assert sources == {"apple-notes", "safari", "sqlite"}
    assert set(op.to_json(repo.clock.now())["counts_by_source"]) == sources
