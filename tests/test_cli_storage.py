"""``isometry storage`` and ``isometry cat`` as a user meets them: a real repository on disk."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from clitool import CliTool


class Cli(CliTool):
    """Runs ``isometry ARGS --repo REPO`` in-process."""

    def file(self, name: str, data: bytes) -> Path:
        path = self.root / "in" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return path


@pytest.fixture
def cli(tmp_path: Path) -> Cli:
    tool = Cli(tmp_path)
    tool("init")
    return tool


TEXT = b"the same words, stored twice under two names\n" * 20
BINARY = bytes(range(256)) + b"\x00\x00\x00end\x00"


def test_put_same_bytes_twice_is_one_blob(cli: Cli) -> None:
    first = cli.file("a.txt", TEXT)
    second = cli.file("b.txt", TEXT)
    refs = cli.json("storage", "put", str(first), str(second))
    assert [r["hash"] for r in refs] == [hashlib.sha256(TEXT).hexdigest()] * 2
    assert [r["duplicate"] for r in refs] == [False, True]
    assert refs[0]["size"] == len(TEXT)
    assert {"stored_size", "mime_type", "compression"} <= refs[0].keys()

    stats = cli.json("storage", "stats")
    for key in ("blobs", "logical_bytes", "stored_bytes", "dedup_saved_bytes"):
        assert key in stats
    assert "compression_saved_bytes" in stats
    assert stats["blobs"] == 1
    assert stats["dedup_saved_bytes"] == len(TEXT)
    assert sum(part["blobs"] for part in stats["by_mime"].values()) == 1

    human = cli("storage", "stats").stdout
    assert "deduplication" in human
    assert next(iter(stats["by_mime"])) in human


def test_put_folder_and_human_output(cli: Cli) -> None:
    cli.file("dir/one.bin", BINARY)
    cli.file("dir/sub/two.txt", TEXT)
    out = cli("storage", "put", str(cli.root / "in" / "dir")).stdout
    assert hashlib.sha256(BINARY).hexdigest() in out
    assert hashlib.sha256(TEXT).hexdigest() in out
    assert "new" in out
    assert cli.json("storage", "stats")["blobs"] == 2


def test_cat_writes_the_exact_bytes(cli: Cli, tmp_path: Path) -> None:
    blob = cli.json("storage", "put", str(cli.file("data.bin", BINARY)))[0]["hash"]
    assert cli("cat", blob).stdout_bytes == BINARY
    assert cli("cat", blob[:6]).stdout_bytes == BINARY  # a unique prefix

    target = tmp_path / "copy.bin"
    cli("cat", blob, "-o", str(target))
    assert target.read_bytes() == BINARY


def test_cat_missing_blob_is_one_line(cli: Cli) -> None:
    result = cli("cat", "abcdef12", code=1)
    assert result.stdout_bytes == b""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "abcdef12" in result.stderr


def test_verify_finds_a_flipped_byte(cli: Cli) -> None:
    blob = cli.json("storage", "put", str(cli.file("data.bin", BINARY)))[0]["hash"]
    cli.json("storage", "put", str(cli.file("words.txt", TEXT)))
    report = cli.json("storage", "verify")
    assert report["ok"] is True
    assert report["checked"] == 2
    assert "OK" in cli("storage", "verify").stdout

    [stored] = [p for p in (cli.repo / "blobs").rglob(blob) if p.is_file()]
    data = bytearray(stored.read_bytes())
    data[-1] ^= 0xFF
    stored.write_bytes(bytes(data))

    report = cli.json("storage", "verify", code=1)
    assert report["ok"] is False
    assert [d["hash"] for d in report["damaged"]] == [blob]
    assert blob in cli("storage", "verify", code=1).stdout
    cli("storage", "verify", "--sample", "100", code=1)


def test_gc_removes_unreferenced_blobs_after_the_grace(cli: Cli) -> None:
    blob = cli.json("storage", "put", str(cli.file("data.bin", BINARY)))[0]["hash"]
    kept = cli.json("storage", "gc")  # default grace: 24 hours
    assert kept["removed"] == 0
    assert kept["kept_young"] == 1

    report = cli.json("storage", "gc", "--grace-hours", "0")
    assert report["removed"] == 1
    assert report["logical_bytes_freed"] == len(BINARY)
    assert cli.json("storage", "stats")["blobs"] == 0
    assert not [p for p in (cli.repo / "blobs").rglob(blob) if p.is_file()]
    cli("cat", blob, code=1)


def test_put_missing_path_stores_nothing(cli: Cli) -> None:
    present = cli.file("here.txt", TEXT)
    missing = cli.root / "in" / "not-there.txt"
    result = cli("storage", "put", str(present), str(missing), code=1)
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "not-there.txt" in result.stderr
    assert cli.json("storage", "stats")["blobs"] == 0


def test_export_then_import_the_archive_into_another_repository(cli: Cli, tmp_path: Path) -> None:
    notes = cli.file("notes.jsonl", b'{"title": "Kept"}\n{"title": "Also kept"}\n')
    cli("import", "json-import", str(notes), "--allow", f"file-system={notes.parent}")
    out = tmp_path / "out"
    report = cli.json("export", str(out))
    assert report["nodes"] == 2
    assert report["root"] == cli.json("show-commit", "main")["root"]
    assert "Exported archive" in cli("export", str(tmp_path / "again")).stdout
    assert "already exists" in cli("export", str(out), code=1).stderr
    other = Cli(tmp_path / "second")
    other("init")
    op = other.json("import", "archive-import", str(out), "--allow", f"file-system={out}")
    assert op["counts"]["inserted"] == 2
    assert other.json("show-commit", "main")["root"] == report["root"]
    vault = cli.json("export", str(tmp_path / "vault"), "--format", "markdown")
    assert vault["format"] == "markdown"
    assert (tmp_path / "vault" / "Kept.md").exists()


def test_quotas_kept_by_the_repository_hold_for_every_store(cli: Cli, tmp_path: Path) -> None:
    assert cli.json("storage", "quota") == {"max_blob_size": None, "max_total_bytes": None}
    set_ = cli.json("storage", "quota", "--max-blob-size", "1K", "--max-total", "2M")
    assert set_ == {"max_blob_size": 1024, "max_total_bytes": 2 << 20}
    assert "1,024 bytes" in cli("storage", "quota").stdout
    big = cli.file("big.bin", bytes(5000))
    refused = cli("storage", "put", str(big), code=1)
    assert "big.bin" in refused.stderr
    assert cli.json("storage", "stats")["blobs"] == 0
    # An import keeps to them too: the oversized attachment is quarantined, its node kept.
    cli.file("small.txt", b"fits\n")
    notes = cli.file("notes.jsonl", b'{"title": "A", "attachments": ["big.bin", "small.txt"]}\n')
    op = cli.json("import", "json-import", str(notes), "--allow", f"file-system={notes.parent}")
    assert op["counts"]["inserted"] == 1
    assert (op["counts"]["quarantined"], op["counts"]["attachments_quarantined"]) == (0, 1)
    (node,) = cli.json("nodes")
    assert [a["names"] for a in cli.json("show", node["id"])["attachments"]] == [["small.txt"]]
    assert cli.json("storage", "quota", "--clear") == {"max_blob_size": None,
                                                        "max_total_bytes": None}  # fmt: skip
    cli("storage", "quota", "--max-blob-size", "lots", code=2)
    cli("storage", "quota", "--max-total", "0", code=2)
