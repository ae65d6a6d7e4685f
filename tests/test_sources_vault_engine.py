"""The ``markdown-import`` template end to end: the real engine imports Obsidian vaults (the
fixtures' and ones written here), stores embedded files, quarantines broken notes, and writes
nothing when nothing changed."""

from __future__ import annotations

import hashlib
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from isometry import api
from isometry.etl.executor import Progress
from isometry.etl.operations import Operation
from isometry.etl.states import State
from isometry.model import node_id_for
from isometry.vcs.repository import Repository
from paths import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "obsidian-vault" / "zoni-obsidian-export"
AUTHOR = "alice"
TEMPLATE = "markdown-import"


def run(repo: Repository, vault: Path, base: Path, **config: object) -> Operation:
    grants = [f"file-system={vault}"]
    return api.import_(
        repo, TEMPLATE, [vault], author=AUTHOR, grants=grants, base=base, config=config or None
    )


def nid(source_id: str) -> str:
    return node_id_for("markdown", source_id)


def edges_from(repo: Repository, source_id: str) -> set[tuple[str, str | None]]:
    return {
        (str(e["target_id"]), e.get("label"))
        for e in api.edges(repo)
        if e["source_id"] == nid(source_id)
    }


def test_the_fixture_vault_imports_with_its_links_and_files(
    repo: Repository, tmp_path: Path
) -> None:
    vault = FIXTURES / "main-samples"
    op = run(repo, vault, tmp_path)
    assert op.state is State.SUCCEEDED
    assert (op.counts["read"], op.counts["inserted"], op.counts["quarantined"]) == (20, 20, 0)
    nodes = {str(n["source_id"]): n for n in api.nodes(repo)}
    assert len(nodes) == 20
    assert nodes["note-with-headings.md"]["name"] == "Title"
    assert nodes["subdir/note-in-subdir.md"]["folder"] == "subdir"
    assert len(api.edges(repo)) == 21
    assert edges_from(repo, "section-ref-b.md") == {
        (nid("section-ref-a.md"), "#This is a header"),
        (nid("section-ref-a.md"), "#^dda637"),
    }
    assert edges_from(repo, "embeds.md") == {
        (nid("note-with-frontmatter.md"), "embed"),
        (nid("non-existing note"), "embed"),  # dangling, and reported on the node
    }
    assert nodes["embeds.md"]["properties"]["unresolved_links"] == ["non-existing note"]
    stored = api.attachments(repo, str(nodes["embeds.md"]["id"]))
    expected = {
        hashlib.sha256((vault / name).read_bytes()).hexdigest(): (name, role, mime)
        for name, role, mime in (
            ("white.png", "inline-image", "image/png"),
            ("bulb.svg", "inline-image", "image/svg+xml"),
            ("note.pdf", "attachment", "application/pdf"),
        )
    }
    assert {str(a["hash"]): (a["names"][0], a["role"], a["mime_type"]) for a in stored} == expected
    for digest in expected:
        assert f"(attachment:{digest})" in str(nodes["embeds.md"]["content"])
    lineage = api.lineage(repo, node=str(nodes["foo.md"]["id"]))
    assert lineage[0]["locator"] == {
        "file": str((vault / "foo.md").resolve()),
        "record": "foo.md",
        "line": 1,
    }
    again = run(repo, vault, tmp_path)
    assert again.state is State.SUCCEEDED
    assert (again.counts["unchanged"], again.counts["inserted"], again.counts["updated"]) == (
        20,
        0,
        0,
    )
    assert len(api.attachments(repo, str(nodes["embeds.md"]["id"]))) == 3


def test_a_note_with_broken_front_matter_is_quarantined_and_the_rest_imported(
    repo: Repository, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    (vault / ".obsidian").mkdir(parents=True)
    (vault / "good.md").write_text("---\ntags: [ok]\n---\nLinks to [[broken]].\n")
    (vault / "broken.md").write_text("---\ntitle: [oops\n---\nbody\n")
    op = run(repo, vault, tmp_path, max_error_rate=1.0)
    assert op.state is State.PARTIALLY_SUCCEEDED
    assert (op.counts["read"], op.counts["inserted"], op.counts["quarantined"]) == (2, 1, 1)
    [entry] = api.quarantine(repo, op.id)
    assert str(entry["reason"]).startswith("broken.md, line 3: front matter is not valid YAML")
    assert entry["raw"] == "---\ntitle: [oops\n---\nbody\n"
    # The link still points where the note will be once its front matter is fixed.
    assert edges_from(repo, "good.md") == {(nid("broken.md"), None)}
    (vault / "broken.md").write_text("---\ntitle: Fixed\n---\nbody\n")
    fixed = run(repo, vault, tmp_path)
    assert (fixed.counts["inserted"], fixed.counts["unchanged"]) == (1, 1)
    assert {n["name"] for n in api.nodes(repo)} == {"good", "Fixed"}


def test_reimport_writes_what_changed_and_follows_new_targets(
    repo: Repository, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    shutil.copytree(FIXTURES / "single-file", vault)
    (vault / "later.md").write_text("Waiting for [[not yet]].\n")
    (vault / "kept.md").write_text("---\nid: kept-note\n---\nI keep my id.\n")
    first = run(repo, vault, tmp_path)
    assert first.counts["inserted"] == 4
    assert edges_from(repo, "later.md") == {(nid("not yet"), None)}

    (vault / "not yet.md").write_text("Here now.\n")
    (vault / "kept.md").rename(vault / "renamed.md")
    (vault / "other-note.md").rename(vault / "moved-note.md")
    second = run(repo, vault, tmp_path)
    assert second.state is State.SUCCEEDED
    # New: "not yet.md" and "moved-note.md" (a rename without an id is a new note);
    # updated: later.md (its link now resolves), note.md (its links now dangle), the note
    # with an id (same node, new path).
    assert (second.counts["inserted"], second.counts["updated"]) == (2, 3)
    assert (nid("not yet.md"), None) in edges_from(repo, "later.md")
    kept = next(n for n in api.nodes(repo) if n["source_id"] == "kept-note")
    assert kept["properties"]["path"] == "renamed.md"


class Interrupt(Exception):
    """Raised from a progress callback: the process 'dies' there, its operation left running."""


def interrupt_after_first_batch(progress: Progress) -> None:
    if progress.phase == "loading" and progress.done:
        raise Interrupt("stopped after the first batch")


def dead_owner() -> str:
    """A lease owner naming a process that has exited."""
    child = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                           capture_output=True, text=True, check=True)  # fmt: skip
    return f"{socket.gethostname()}:{int(child.stdout)}:gone"


def test_an_interrupted_import_resumes_to_what_an_uninterrupted_one_gives(
    repo: Repository, tmp_path: Path
) -> None:
    vault = tmp_path / "vault"
    (vault / ".obsidian").mkdir(parents=True)
    (vault / "pic.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(64)))
    for i in range(130):
        folder = vault / f"f{i % 3}"
        folder.mkdir(exist_ok=True)
        (folder / f"n{i}.md").write_text(
            f"---\ntags: [t{i % 4}]\n---\n# Note {i}\n[[n{(i + 1) % 130}]] [[n{i}#Note {i}]] "
            + ("![[pic.png]]" if i % 10 == 0 else "")
        )
    config = {"batch_size": 50}
    grants = [f"file-system={vault}"]
    op = api.create_operation(repo, TEMPLATE, [vault], grants=grants, config=config, base=tmp_path)
    with pytest.raises(Interrupt):
        api.run_operation(repo, op.id, author=AUTHOR, on_progress=interrupt_after_first_batch)
    assert api.operation(repo, op.id).counts["read"] == 50
    with repo.db.transaction() as conn:
        conn.execute("UPDATE operations SET lease_owner = ? WHERE id = ?", (dead_owner(), op.id))
    done = api.run_operation(repo, op.id, author=AUTHOR)
    assert done.state is State.SUCCEEDED, done.error
    assert (done.counts["read"], done.counts["inserted"]) == (130, 130)

    reference = api.init(tmp_path / "reference", clock=repo.clock, author=AUTHOR)
    with reference:
        again = api.import_(reference, TEMPLATE, [vault], author=AUTHOR, grants=grants,
                            base=tmp_path, config=config)  # fmt: skip
        assert again.counts == done.counts
        assert api.show_commit(reference, "main").root == api.show_commit(repo, "main").root
        assert api.nodes(reference) == api.nodes(repo)
        assert len(api.edges(repo)) == 260
