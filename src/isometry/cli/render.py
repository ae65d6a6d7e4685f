"""Human output: results turned into Rich renderables. No decisions here, only presentation.

Every value that comes from the data is wrapped in ``Text`` so brackets in a note's name are
printed, not read as Rich markup.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING

import orjson
from rich import box
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from isometry.model import JSON

if TYPE_CHECKING:
    from isometry.content import BlobGcReport
    from isometry.vcs.blame import BlameLine
    from isometry.vcs.commits import Commit
    from isometry.vcs.diff import Diff, TableDiff
    from isometry.vcs.maintenance import FsckReport, GcReport
    from isometry.vcs.merging import Conflict, MergeResult
    from isometry.vcs.repository import BranchInfo

SHORT = 12
NONE = Text("-", style="dim")


def short(commit_id: str | None) -> str:
    return (commit_id or "")[:SHORT]


def when(time: str | None) -> Text:
    """An ISO time as ``YYYY-MM-DD HH:MM:SS`` (UTC), easier to scan in a table."""
    return Text((time or "")[:19].replace("T", " "))


def value(data: JSON, width: int = 60) -> Text:
    """A field value in one line: text as is, anything else as JSON."""
    if data is None:
        return NONE
    text = data if isinstance(data, str) else orjson.dumps(data).decode()
    return Text(clip(" ".join(text.splitlines()), width))


def as_json(data: JSON, width: int = 60) -> Text:
    """A value exactly as ``resolve --value`` takes it back: JSON, clipped."""
    return Text(clip(orjson.dumps(data).decode(), width))


def clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


# Columns that must stay whole on one line: the rest wrap to make room for them.
_WHOLE = frozenset(
    {"id", "commit", "head", "time", "modified", "branch", "tag", "type"}
    | {"created", "op", "operation", "state", "template", "change", "record"}
)


def new_table(*columns: str, compact: bool = False) -> Table:
    """A table with a rule under its header; ``compact``: one space between columns, not three."""
    table = Table(
        box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, padding=(0, 0 if compact else 1)
    )
    for name in columns:
        table.add_column(name, no_wrap=name in _WHOLE)
    return table


def commit_ref(commit: Commit) -> Text:
    return Text.assemble((short(commit.id), "yellow"), " ", commit.message)


# -- history ------------------------------------------------------------------------------


def log(commits: Sequence[Commit]) -> RenderableType:
    table = new_table("commit", "time", "author", "changes", "message")
    table.columns[3].justify = "right"
    for commit in commits:
        marker = " (merge)" if len(commit.parents) > 1 else ""
        table.add_row(
            Text(short(commit.id), "yellow"),
            when(commit.time),
            Text(commit.author),
            str(commit.changes),
            Text(commit.message + marker),
        )
    return table


def commit(commit: Commit) -> RenderableType:
    lines = [
        Text.assemble(("commit ", "bold"), (commit.id, "yellow")),
        Text(f"parents {' '.join(short(p) for p in commit.parents) or '(none)'}"),
        Text(f"author  {commit.author}"),
        Text(f"time    {commit.time}"),
        Text(f"root    {commit.root}"),
        Text(f"changes {commit.changes}"),
    ]
    if commit.metadata:
        lines.append(Text(f"meta    {orjson.dumps(commit.metadata).decode()}"))
    lines += [Text(""), Text("    " + commit.message)]
    return Group(*lines)


def branches(infos: Sequence[BranchInfo]) -> RenderableType:
    table = new_table("branch", "head", "time", "message", "")
    for info in infos:
        table.add_row(
            Text(info.name, "bold" if info.name == "main" else ""),
            Text(short(info.head.id), "yellow"),
            when(info.head.time),
            Text(info.head.message),
            Text("merge waiting", "red") if info.pending_merge else "",
        )
    return table


def tags(named: Sequence[tuple[str, Commit]]) -> RenderableType:
    if not named:
        return Text("No tags.")
    table = new_table("tag", "commit", "time", "message")
    for name, target in named:
        table.add_row(
            Text(name), Text(short(target.id), "yellow"), when(target.time), Text(target.message)
        )
    return table


def _row_label(row: Mapping[str, JSON]) -> Text:
    if "edge_type" in row:
        label = f" {row['label']!s}" if row.get("label") else ""
        return Text(f"{row['edge_type']} {row['source_id']} -> {row['target_id']}{label}")
    kind = row.get("node_type", "note")
    return Text.assemble(str(row.get("name") or ""), (f"  ({kind})", "dim"))


def _table_diff(title: str, part: TableDiff) -> list[RenderableType]:
    lines: list[RenderableType] = []
    for row in part.added:
        lines.append(
            Text.assemble(("  + ", "green"), (str(row["id"]), "green"), "  ", _row_label(row))
        )
    for row in part.removed:
        lines.append(Text.assemble(("  - ", "red"), (str(row["id"]), "red"), "  ", _row_label(row)))
    for change in part.modified:
        lines.append(Text.assemble(("  ~ ", "yellow"), (str(change["id"]), "yellow")))
        for name, step in change["fields"].items():
            lines += _field_change(name, step["from"], step["to"])
    return [Text(title, "bold"), *lines] if lines else []


def _field_change(name: str, before: JSON, after: JSON) -> list[RenderableType]:
    """One changed field: ``old -> new``, or the changed lines of a multi-line text."""
    if isinstance(before, str) and isinstance(after, str) and "\n" in before + after:
        changed = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=0)
        body = [line for line in changed if not line.startswith(("---", "+++", "@@"))]
        lines: list[RenderableType] = [Text(f"      {name}:")]
        lines += [Text(f"        {line}", "green" if line[:1] == "+" else "red") for line in body]
        return lines
    return [
        Text.assemble(
            f"      {name}: ",
            (value(before, 60).plain, "red"),
            " -> ",
            (value(after, 60).plain, "green"),
        )
    ]


def _counts(summary: Mapping[str, int]) -> str:
    return f"{summary['added']} added, {summary['removed']} removed, {summary['modified']} modified"


def diff_summary(found: Diff) -> Text:
    summary = found.summary()
    return Text(
        f"nodes: {_counts(summary['nodes'])}; edges: {_counts(summary['edges'])}", style="bold"
    )


def diff(found: Diff, *, stat: bool) -> RenderableType:
    if stat:
        return diff_summary(found)
    body = _table_diff("Nodes", found.nodes) + _table_diff("Edges", found.edges)
    if not body:
        body = [Text(f"No differences between {found.source} and {found.target}.")]
    return Group(*body, Text(""), diff_summary(found))


# -- merging ------------------------------------------------------------------------------


def conflicts(found: Sequence[Conflict]) -> RenderableType:
    """Each conflict with its three values as JSON, the form ``resolve --value`` takes."""
    if not found:
        return Text("No conflicts.")
    lines: list[RenderableType] = []
    for c in found:
        state = Text("resolved", "green") if c.resolved else Text("open", "bold red")
        lines.append(
            Text.assemble(
                (c.id, "bold"),
                f"  field {c.field or '(whole row)'}  ",
                state,
                (f"  merge into {c.target}", "dim"),
            )
        )
        lines += [
            Text.assemble("    base    ", as_json(c.base, 200)),
            Text.assemble(("    ours    ", "red"), as_json(c.ours, 200), (" (target)", "dim")),
            Text.assemble(("    theirs  ", "green"), as_json(c.theirs, 200), (" (source)", "dim")),
        ]
        if c.resolved:
            lines.append(Text.assemble(("    chosen  ", "bold"), as_json(c.resolution, 200)))
    return Group(*lines)


def _flagged(flagged: Iterable[Mapping[str, JSON]]) -> list[RenderableType]:
    items = [f"{f['id']}.{f['field']}" for f in flagged]
    if not items:
        return []
    return [Text(f"Flagged for review (conflict markers in text): {', '.join(items)}", "yellow")]


def merge_result(result: MergeResult, *, into: str | None, revert: bool = False) -> RenderableType:
    target = (" on " if revert else " into ") + into if into else ""
    what = "Revert" if revert else "Merge"
    if result.status == "up-to-date":
        return Text(f"Already up to date{target}: nothing to merge.")
    if result.status == "fast-forward" and result.commit is not None:
        return Text.assemble(f"Fast-forward{target} to ", commit_ref(result.commit))
    if result.status == "conflicts":
        return Group(
            Text(f"{what}{target} stopped on {len(result.conflicts)} conflict(s):", "bold red"),
            conflicts(result.conflicts),
            Text(
                "Resolve each with 'isometry resolve NODE [--field F] --ours|--theirs|--value "
                "JSON', then run 'isometry merge --continue' (or 'isometry merge --abort')."
            ),
        )
    lines: list[RenderableType] = []
    if result.commit is not None:
        lines.append(
            Text.assemble(
                f"{'Reverted' if revert else 'Merged'}{target}: ",
                commit_ref(result.commit),
                f" ({result.commit.changes} changes)",
            )
        )
    return Group(*lines, *_flagged(result.flagged))


def resolved(node: str, remaining: Sequence[Conflict]) -> RenderableType:
    still = [c for c in remaining if not c.resolved]
    if not still:
        return Text(f"Resolved {node}. No conflicts left: run 'isometry merge --continue'.")
    return Group(Text(f"Resolved {node}. {len(still)} conflict(s) still open:"), conflicts(still))


# -- reading ------------------------------------------------------------------------------


def nodes(rows: Sequence[Mapping[str, JSON]]) -> RenderableType:
    if not rows:
        return Text("No nodes.")
    table = new_table("id", "type", "name", "folder", "modified")
    for row in rows:
        table.add_row(
            Text(str(row["id"])),
            Text(str(row.get("node_type", "note"))),
            Text(str(row.get("name") or "")),
            Text(str(row.get("folder") or "")),
            when(row.get("modified_at")),
        )
    return Group(table, Text(f"{len(rows)} node(s)", "dim"))


def edges(rows: Sequence[Mapping[str, JSON]]) -> RenderableType:
    if not rows:
        return Text("No edges.")
    table = new_table("id", "type", "source", "target", "label")
    for row in rows:
        table.add_row(
            Text(str(row["id"])),
            Text(str(row["edge_type"])),
            Text(str(row["source_id"])),
            Text(str(row["target_id"])),
            Text(str(row.get("label") or "")),
        )
    return Group(table, Text(f"{len(rows)} edge(s)", "dim"))


def flat_fields(row: Mapping[str, JSON]) -> list[tuple[str, JSON]]:
    """Fields in stored order, each property as its own ``properties.NAME`` line."""
    out: list[tuple[str, JSON]] = []
    for name, data in row.items():
        if name == "properties" and isinstance(data, Mapping):
            out += [(f"properties.{key}", item) for key, item in data.items()]
        else:
            out.append((name, data))
    return out


def show(
    kind: str, row: Mapping[str, JSON], files: Sequence[Mapping[str, JSON]] = ()
) -> RenderableType:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for name, data in flat_fields(row):
        if name == "tags" and isinstance(data, list):
            text = ", ".join(str(tag) for tag in data)
        else:
            text = data if isinstance(data, str) else orjson.dumps(data).decode()
        table.add_row(Text(name), Text(text))
    parts: list[RenderableType] = [Text(f"{kind} {row.get('id')}", "bold"), table]
    if files:
        listed = new_table("attachment", "role", "type", "size", "link")
        for item in files:
            names = item.get("names") or []
            listed.add_row(
                Text(", ".join(str(n) for n in names) if isinstance(names, list) else ""),
                Text(str(item["role"])),
                Text(str(item["mime_type"])),
                Text(f"{item['size']} B"),
                Text(str(item["link"])[:24] + "…", "yellow"),
            )
        parts.append(listed)
    return Group(*parts)


def blame(lines: Sequence[BlameLine]) -> RenderableType:
    table = new_table("field", "value", "commit", "time", "author")
    for line in lines:
        table.add_row(
            Text(line.field),
            value(line.value, 40),
            Text(short(line.commit.id), "yellow"),
            when(line.commit.time),
            Text(line.commit.author),
        )
    return table


# -- maintenance --------------------------------------------------------------------------


def gc(report: GcReport, blobs: BlobGcReport) -> RenderableType:
    return Text(
        f"Removed {report.commits_removed} commit(s) and {report.row_versions_removed} row "
        f"version(s); database {report.bytes_before:,} -> {report.bytes_after:,} bytes. "
        f"Removed {blobs.removed} stored file(s) ({blobs.bytes_freed:,} bytes)."
    )


def fsck(report: FsckReport) -> RenderableType:
    checked = ", ".join(
        f"{count} {name.replace('_', ' ')}" for name, count in report.checked.items()
    )
    if report.ok:
        return Text(f"OK: checked {checked}.", "green")
    lines: list[RenderableType] = [Text(f"{len(report.problems)} problem(s) found:", "bold red")]
    lines += [Text(f"  {problem}") for problem in report.problems]
    if report.repaired:
        lines.append(Text("main's tables and the full-text index were rebuilt from history."))
    lines.append(Text(f"Checked {checked}.", "dim"))
    return Group(*lines)
