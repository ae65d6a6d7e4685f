"""Which files an operation reads, and what each importer is told about where they came from."""

from __future__ import annotations

from pathlib import Path

from isometry.etl.access import Accessor, Grants
from isometry.etl.config import OperationConfig
from isometry.etl.sources import expand, recheck
from isometry.sources.base import Options
from isometry.sources.jsonrecords import JsonImporter


def test_files_found_in_a_folder_know_that_folder_and_keep_it_on_resume(tmp_path: Path) -> None:
    vault = tmp_path / "vault"
    (vault / "sub").mkdir(parents=True)
    (vault / "sub" / "a.jsonl").write_text('{"title": "a"}\n')
    (vault / ".hidden.jsonl").write_text('{"title": "hidden"}\n')
    alone = tmp_path / "alone.jsonl"
    alone.write_text('{"title": "alone"}\n')
    accessor = Accessor(
        Grants.parse([f"file-system={tmp_path}"], tmp_path), frozenset({"file-system"})
    )
    files = expand(
        [str(vault), str(alone)], OperationConfig(), [JsonImporter()], accessor, Options()
    )
    assert [(f.path.name, f.root) for f in files] == [
        ("a.jsonl", vault.resolve()),
        ("alone.jsonl", None),
    ]
    assert files[0].options(Options({"dayfirst": True})) == Options(
        {"dayfirst": True}, root=vault.resolve()
    )
    again = recheck([f.to_json() for f in files], accessor)
    assert [f.root for f in again] == [vault.resolve(), None]
