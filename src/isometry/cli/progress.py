"""Live progress of running operations: one bar per operation on stderr, fed by the engine.

The executor reports through a ``ProgressSink`` callback (from worker threads when the queue
runs several operations at once); each report moves that operation's bar. Shown only to a person
watching a terminal: never with ``--json``, never when stderr is piped. The sink also remembers
which operations ran, so an interrupted command can say which one to resume.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)

if TYPE_CHECKING:
    from isometry.cli.session import Session
    from isometry.etl.executor import Progress as Report
    from isometry.etl.executor import ProgressSink


class LiveProgress:
    """A ``ProgressSink`` that draws each operation's phase and records done out of total."""

    def __init__(self, console: Console) -> None:
        self.display = Progress(
            SpinnerColumn(),
            TextColumn("[bold]{task.fields[op]}[/]"),
            TextColumn("{task.fields[phase]:<12}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        )
        self._tasks: dict[str, TaskID] = {}
        self._lock = threading.Lock()

    def __call__(self, report: Report) -> None:
        with self._lock:
            task = self._tasks.get(report.op_id)
            if task is None:
                task = self.display.add_task("", total=None, op=report.op_id, phase="")
                self._tasks[report.op_id] = task
        # No total before scanning has counted the records: the bar pulses until then.
        self.display.update(
            task, completed=report.done, total=report.total or None, phase=report.phase
        )

    def __enter__(self) -> LiveProgress:
        self.display.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.display.stop()


class Watch:
    """The sink handed to the engine: remembers which operations reported, and forwards each
    report to the display when there is one."""

    def __init__(self, display: LiveProgress | None) -> None:
        self.display = display
        self.seen: dict[str, None] = {}  # in order; setdefault is atomic across worker threads

    def __call__(self, report: Report) -> None:
        self.seen.setdefault(report.op_id)
        if self.display is not None:
            self.display(report)


@contextmanager
def live_progress(run: Session) -> Iterator[ProgressSink]:
    """A progress sink for the engine, drawing on stderr for a person at a terminal.

    Interrupted (Ctrl-C), the operation keeps its last checkpoint: say how to resume it, as the
    one error line.
    """
    watch = Watch(None if run.as_json or not sys.stderr.isatty() else LiveProgress(run.err))
    try:
        if watch.display is None:
            yield watch
        else:
            with watch.display:
                yield watch
    except KeyboardInterrupt:
        resume = " and ".join(f"'isometry ops resume {op_id}'" for op_id in watch.seen)
        run.fail("interrupted" + (f"; continue with {resume}" if resume else ""))
