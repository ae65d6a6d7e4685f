"""Human output of the engine's commands: templates, operations, quarantine, lineage, metrics.

Presentation only, like ``render``: every value from the data is wrapped in ``Text``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import orjson
from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text

from isometry.cli.render import NONE, new_table, short, when
from isometry.etl.operations import counts_by_source
from isometry.model import JSON

if TYPE_CHECKING:
    from isometry.etl.operations import Operation
    from isometry.etl.templates import Template
    from isometry.sources.options import OptionSpec
    from isometry.sources.sqlitedb import TableInfo

COUNTS = ("read", "inserted", "updated", "unchanged", "quarantined", "filtered", "deleted")
STATE_STYLES = {
    "succeeded": "green",
    "partially-succeeded": "yellow",
    "failed": "bold red",
    "cancelled": "dim",
    "running": "cyan",
    "interrupted": "magenta",
}


def _fields(rows: Sequence[tuple[str, RenderableType]]) -> Table:
    """Name/value lines, names in bold, values folded when long."""
    grid = Table(box=None, show_header=False, pad_edge=False)
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column(overflow="fold")
    for name, shown in rows:
        grid.add_row(name, shown)
    return grid


def _number(data: JSON, unit: str = "") -> Text:
    if data is None:
        return NONE
    return Text(f"{data:,}{unit}" if isinstance(data, int) else f"{data}{unit}")


def state(name: str) -> Text:
    return Text(name, STATE_STYLES.get(name, ""))


def shown_path(path: str, base: Path) -> str:
    """A source file in a table: relative to the working folder when it lies inside it, else
    its name alone (``--json`` and ``ops show`` give the whole path)."""
    try:
        return Path(path).relative_to(base).as_posix()
    except ValueError:
        return Path(path).name


# -- templates ------------------------------------------------------------------------------


def templates(offered: Sequence[Template]) -> RenderableType:
    if not offered:
        return Text("No templates are offered: no importer is installed.")
    table = new_table("id", "name", "category", "complexity", "permissions", "sources")
    for template in offered:
        table.add_row(
            Text(template.id, "bold"),
            Text(template.name),
            Text(template.category),
            Text(template.complexity),
            Text(", ".join(sorted(template.permissions))),
            Text(", ".join(template.sources)),
        )
    hint = "Run one with 'isometry import TEMPLATE SOURCE... --allow PERMISSION=PATH'."
    return Group(table, Text(hint, "dim"), Text(), _options(offered))


def _options(offered: Sequence[Template]) -> RenderableType:
    """Every option once, by name, with the templates that take it: the options an importer
    declares recur in every template that reads with it."""
    specs: dict[str, OptionSpec] = {}
    taking: dict[str, list[str]] = {}
    for template in offered:
        for spec in template.options().values():
            specs.setdefault(spec.name, spec)
            taking.setdefault(spec.name, []).append(template.id)
    reading = [t.id for t in offered if t.category != "export"]
    table = new_table("option", "takes", "templates", "what it does")
    for name in sorted(specs):
        ids = taking[name]
        table.add_row(
            Text(name, "bold"),
            Text(specs[name].takes),
            Text("every one that reads sources" if ids == reading else ", ".join(ids)),
            Text(specs[name].description),
        )
    hint = "Give one with --option KEY=VALUE (true or false also as yes/no, on/off, 1/0)."
    return Group(table, Text(hint, "dim"))


# -- operations -----------------------------------------------------------------------------


def counts_line(counts: Mapping[str, int]) -> Text:
    read = counts.get("read", 0)
    shown = [*COUNTS[1:], *(["skipped"] if counts.get("skipped") else [])]
    rest = ", ".join(f"{counts.get(name, 0):,} {name}" for name in shown)
    lost = counts.get("attachments_quarantined", 0)
    if lost:
        rest += f"; {lost:,} attachment(s) quarantined"
    return Text(f"{read:,} read: {rest}")


def merge_outcome(op: Operation) -> Text:
    """What happened to the operation's branch: merged, waiting, kept or rolled back."""
    result, target = op.result, op.target
    merge = result.get("merge")
    commit = short(result.get("merge_commit"))
    if merge == "merged":
        text = f"merged into {target} ({commit})"
    elif merge == "fast-forward":
        text = f"{target} fast-forwarded to the branch ({commit})"
    elif merge == "up-to-date":
        text = f"{target} was already up to date"
    elif merge == "conflicts":
        return Text(f"stopped on {result.get('conflicts')} conflict(s) into {target}", "bold red")
    elif merge == "awaiting review":
        text = f"awaiting review before it is merged into {target}"
    elif result.get("rolled_back"):
        text = "rolled back"
    elif op.branch is None:
        return NONE
    elif op.branch == target:
        text = f"written to {target} directly"
    else:
        text = "branch kept"
    if result.get("branch_deleted"):
        text += "; the temporary branch was deleted"
    return Text(text)


def notes(op: Operation, now: datetime) -> list[str]:
    """What the user should know or do next about an operation that ended."""
    found: list[str] = []
    quarantined = op.counts.get("quarantined", 0)
    if quarantined:
        found.append(
            f"{quarantined} record(s) went to quarantine: see 'isometry quarantine --op {op.id}'."
        )
    lost = op.counts.get("attachments_quarantined", 0)
    if lost:
        found.append(
            f"{lost} attachment(s) could not be stored (their nodes were kept): see "
            f"'isometry quarantine --op {op.id}'."
        )
    skipped = op.counts.get("skipped", 0)
    if skipped:
        found.append(
            f"{skipped} record(s) were left out by their importer on purpose (password-protected "
            f"notes, say): see 'isometry ops log {op.id}'."
        )
    more = op.result.get("notes")
    for note in [op.result.get("note"), *(more if isinstance(more, list) else [])]:
        if isinstance(note, str):
            found.append(note[:1].upper() + note[1:] + ("" if note.endswith(".") else "."))
    if str(op.shown_state(now)) == "interrupted":
        found.append(f"Continue it from its last checkpoint with 'isometry ops resume {op.id}'.")
    return found


def operation_result(op: Operation, now: datetime) -> RenderableType:
    """An operation that just ran (import, ops resume)."""
    shown = str(op.shown_state(now))
    rows: list[tuple[str, RenderableType]] = [("records", counts_line(op.counts))]
    by_source = counts_by_source(op.counts)
    if len(by_source) > 1:
        rows += [(f"  {source}", counts_line(counts)) for source, counts in by_source.items()]
    if op.branch is not None:
        rows.append(("branch", Text(op.branch)))
    rows.append(("merge", merge_outcome(op)))
    if op.error:
        rows.append(("error", Text(op.error, "red")))
    title = Text.assemble(f"{op.template} operation ", (op.id, "bold"), ": ", state(shown))
    lines: list[RenderableType] = [title, _fields(rows)]
    lines += [Text(f"Note: {note}", "yellow") for note in notes(op, now)]
    return Group(*lines)


def _percent(op: Operation) -> Text:
    return Text(f"{op.fraction() * 100:.0f}%")


def operations(ops: Sequence[Operation], now: datetime) -> RenderableType:
    if not ops:
        return Text("No operations.")
    table = new_table(
        "id", "template", "state", "phase", "progress", "read", "inserted", "updated",
        "quarantined", "created", compact=True,
    )  # fmt: skip
    for column in table.columns[4:9]:
        column.justify = "right"
    for op in ops:
        table.add_row(
            Text(op.id),
            Text(op.template),
            state(str(op.shown_state(now))),
            Text(op.phase or "-"),
            _percent(op),
            *(_number(op.counts.get(name, 0)) for name in ("read", "inserted", "updated")),
            _number(op.counts.get("quarantined", 0)),
            when(op.created_at),
        )
    return Group(table, Text(f"{len(ops)} operation(s)", "dim"))


def operation(op: Operation, now: datetime) -> RenderableType:
    """Every detail of one operation (ops show)."""
    config = op.config
    done, total = op.progress.get("done", 0), op.progress.get("total", 0)
    rows: list[tuple[str, RenderableType]] = [
        ("template", Text(op.template)),
        ("state", state(str(op.shown_state(now)))),
        ("phase", Text(op.phase or "-")),
        ("progress", Text(f"{op.fraction() * 100:.0f}% ({done:,} of {total:,} records)")),
        ("sources", Text("\n".join(op.sources))),
        ("records", counts_line(op.counts)),
        ("branch", Text(f"{op.branch or '-'} (strategy {config.branch_strategy})")),
        ("target", Text(op.target)),
        ("merge", merge_outcome(op)),
        (
            "config",
            Text(
                f"post-execution {config.post_execution}, merge strategy "
                f"{config.merge_strategy}, batch size {config.batch_size}, deduplicate "
                f"{'yes' if config.deduplicate else 'no'}, max error rate {config.max_error_rate}"
            ),
        ),
        ("commits", Text(str(len(op.commits)))),
        ("created", when(op.created_at)),
        ("started", when(op.started_at) if op.started_at else NONE),
        ("finished", when(op.finished_at) if op.finished_at else NONE),
    ]
    if op.peak_rss:
        rows.append(("peak memory", Text(f"{op.peak_rss / 2**20:.1f} MB")))
    if op.recovery_seconds is not None:
        rows.append(("recovery", Text(f"{op.recovery_seconds:.3f} s")))
    if op.error:
        rows.append(("error", Text(op.error, "red")))
    lines: list[RenderableType] = [
        Text.assemble(("operation ", "bold"), (op.id, "bold")),
        _fields(rows),
    ]
    lines += [Text(f"Note: {note}", "yellow") for note in notes(op, now)]
    return Group(*lines)


def queued(op: Operation) -> RenderableType:
    return Text.assemble(
        "Queued ", (op.id, "bold"), f" ({op.template}); run the queue with 'isometry ops run'."
    )


def cancelled(op: Operation, now: datetime) -> RenderableType:
    if op.cancel_requested and str(op.shown_state(now)) == "running":
        return Text(f"Asked operation {op.id} to stop; it ends at its next batch.")
    shown = Text.assemble("Operation ", (op.id, "bold"), " is ", state(str(op.shown_state(now))))
    if op.result.get("rolled_back"):
        shown.append("; what it wrote was rolled back")
    return shown


def queue_results(ops: Sequence[Operation], now: datetime) -> RenderableType:
    if not ops:
        return Text("No operations were queued.")
    lines: list[RenderableType] = []
    for number, op in enumerate(ops):
        lines += [Text("")] if number else []
        lines.append(operation_result(op, now))
    return Group(*lines)


def log_lines(entries: Sequence[Mapping[str, JSON]]) -> list[str]:
    """The structured log as JSON Lines, one event a line."""
    return [orjson.dumps(entry).decode() for entry in entries]


# -- quarantine and lineage -----------------------------------------------------------------


def _where(locator: Mapping[str, JSON]) -> Text:
    record, line = locator.get("record"), locator.get("line")
    return Text(f"{record}" + (f" (line {line})" if line is not None else ""))


def quarantine(rows: Sequence[Mapping[str, JSON]], base: Path) -> RenderableType:
    if not rows:
        return Text("Nothing in quarantine.")
    table = new_table("id", "op", "file", "record", "reason")
    for row in rows:
        locator = row["locator"] if isinstance(row["locator"], Mapping) else {}
        table.add_row(
            Text(str(row["id"])),
            Text(str(row["operation"])),
            Text(shown_path(str(locator.get("file") or ""), base)),
            _where(locator),
            Text(str(row["reason"])),
        )
    return Group(table, Text(f"{len(rows)} record(s) in quarantine", "dim"))


def lineage(rows: Sequence[Mapping[str, JSON]], base: Path, *, one_node: bool) -> RenderableType:
    """Versions of one node, or (with an id column, without the template: the operation
    names it) of every node an operation or a file produced."""
    if not rows:
        return Text("No lineage recorded.")
    columns = ["change", "time", "commit", "operation", "template", "file", "record", "line"]
    if not one_node:
        columns = ["id", *columns[:4], *columns[5:]]
    table = new_table(*columns, compact=not one_node)
    for row in rows:
        locator = row["locator"] if isinstance(row["locator"], Mapping) else {}
        cells: list[RenderableType] = [
            Text(str(row["change"])),
            when(str(row["time"])),
            Text(short(str(row["commit"] or "")), "yellow"),
            Text(str(row["operation"] or "")),
            Text(str(row["template"] or "")),
            Text(shown_path(str(locator.get("file") or ""), base)),
            Text(str(locator.get("record") or "")),
            _number(locator.get("line")),
        ]
        if not one_node:
            kind = "" if row["kind"] == "node" else f" ({row['kind']})"
            cells = [Text.assemble(str(row["id"]), (kind, "dim")), *cells[:4], *cells[5:]]
        table.add_row(*cells)
    return Group(table, Text(f"{len(rows)} version(s)", "dim"))


# -- metrics and grants ---------------------------------------------------------------------


def metrics(data: Mapping[str, JSON]) -> RenderableType:
    by_state = data.get("by_state")
    states = (
        ", ".join(f"{count} {name}" for name, count in by_state.items())
        if isinstance(by_state, Mapping)
        else ""
    )
    overall = _fields(
        [
            ("operations", Text(f"{data.get('operations')}" + (f" ({states})" if states else ""))),
            ("items", _number(data.get("items"))),
            ("throughput", _number(data.get("items_per_second"), " items/s")),
            ("average time", _number(data.get("average_seconds"), " s")),
            ("operations/hour", _number(data.get("operations_per_hour"))),
            ("peak memory", _number(data.get("peak_rss_mb"), " MB")),
            ("error rate", _rate(data.get("error_rate"))),  # none before a record is read
            ("attachments quarantined", _number(data.get("attachments_quarantined"))),
            ("average recovery", _number(data.get("average_recovery_seconds"), " s")),
        ]
    )
    history = data.get("history")
    if not isinstance(history, list) or not history:
        return Group(overall, Text("No finished operations yet.", "dim"))
    table = new_table(
        "id", "template", "state", "seconds", "items", "items/s", "error rate", "peak MB",
        "recovery s",
    )  # fmt: skip
    for column in table.columns[3:]:
        column.justify = "right"
    for entry in history:
        if not isinstance(entry, Mapping):
            continue
        table.add_row(
            Text(str(entry.get("id"))),
            Text(str(entry.get("template"))),
            state(str(entry.get("state"))),
            _seconds(entry.get("seconds")),
            _number(entry.get("items")),
            _number(entry.get("items_per_second")),
            _rate(entry.get("error_rate")),
            _number(entry.get("peak_rss_mb")),
            _number(entry.get("recovery_seconds")),
        )
    return Group(overall, Text(""), Text("History", "bold"), table)


def _rate(data: JSON) -> Text:
    return Text(f"{data:.1%}") if isinstance(data, int | float) else NONE


def _seconds(data: JSON) -> Text:
    return Text(f"{data:.3f}") if isinstance(data, int | float) else NONE


def grants(current: Mapping[str, Sequence[str]]) -> RenderableType:
    if not current:
        return Text("No standing grants: give one with 'isometry grant PERMISSION=PATH'.")
    rows: list[tuple[str, RenderableType]] = [
        (permission, Text("\n".join(paths))) for permission, paths in current.items()
    ]
    return Group(Text("Standing grants (every operation may read inside these):"), _fields(rows))


def tables(found: Sequence[TableInfo]) -> RenderableType:
    if not found:
        return Text("No tables.")
    table = new_table("table", "rows", "key", "columns", "links")
    table.columns[1].justify = "right"
    for info in found:
        links = ", ".join(f"{','.join(k.columns)} -> {k.table}" for k in info.links)
        table.add_row(Text(info.name), Text(f"{info.rows:,}"), Text(", ".join(info.key)),
                      Text(", ".join(info.columns)), Text(links or "-"))  # fmt: skip
    return table
