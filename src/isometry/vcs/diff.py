"""Diff between any two commits: rows added, removed and modified, with every changed field."""

from __future__ import annotations

from dataclasses import dataclass, field

from isometry.model import JSON, RowKind
from isometry.vcs.fieldmerge import flatten
from isometry.vcs.history import path_delta
from isometry.vcs.repository import Repository
from isometry.vcs.rows import fetch_rows


@dataclass
class TableDiff:
    added: list[dict[str, JSON]] = field(default_factory=list)
    removed: list[dict[str, JSON]] = field(default_factory=list)
    modified: list[dict[str, JSON]] = field(default_factory=list)

    def summary(self) -> dict[str, int]:
        return {
            "added": len(self.added),
            "removed": len(self.removed),
            "modified": len(self.modified),
        }


@dataclass
class Diff:
    source: str
    target: str
    nodes: TableDiff
    edges: TableDiff

    def summary(self) -> dict[str, dict[str, int]]:
        return {"nodes": self.nodes.summary(), "edges": self.edges.summary()}

    def to_json(self, *, stat: bool = False) -> dict[str, JSON]:
        out: dict[str, JSON] = {"from": self.source, "to": self.target, "summary": self.summary()}
        if not stat:
            out |= {
                "added": self.nodes.added,
                "removed": self.nodes.removed,
                "modified": self.nodes.modified,
                "edges": {
                    "added": self.edges.added,
                    "removed": self.edges.removed,
                    "modified": self.edges.modified,
                },
            }
        return out


def field_changes(before: dict[str, JSON], after: dict[str, JSON]) -> dict[str, dict[str, JSON]]:
    """Every field whose value differs, each property as its own ``properties.NAME`` field."""
    old, new = flatten(before), flatten(after)
    return {
        name: {"from": old.get(name), "to": new.get(name)}
        for name in sorted(set(old) | set(new))
        if old.get(name) != new.get(name)
    }


def diff(repo: Repository, source: str, target: str) -> Diff:
    """What changes ``source`` into ``target``; costs O(rows changed between them)."""
    with repo.db.snapshot() as conn:
        a, b = repo.resolve(source), repo.resolve(target)
        delta = path_delta(conn, repo.graph, a, b)
        rows = fetch_rows(conn, [h for step in delta.values() for h in (step.before, step.after)])
    tables = {RowKind.NODE: TableDiff(), RowKind.EDGE: TableDiff()}
    for (kind, key), step in sorted(delta.items()):
        table = tables[kind]
        if step.before is None and step.after is not None:
            table.added.append(rows[step.after])
        elif step.after is None and step.before is not None:
            table.removed.append(rows[step.before])
        elif step.before is not None and step.after is not None:
            table.modified.append(
                {"id": key, "fields": field_changes(rows[step.before], rows[step.after])}
            )
    return Diff(source, target, tables[RowKind.NODE], tables[RowKind.EDGE])
