"""The layers of DESIGN.md, enforced: each layer imports only the layers below it, and nothing
below the faces reads the environment, argv or the system clock.

A new top-level module or package is one line in ``LAYERS``; one that is not placed there fails
``test_every_module_is_placed_in_a_layer`` so nobody forgets.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

import isometry

PACKAGE = "isometry"
SRC = Path(isometry.__file__).resolve().parent

ERRORS, BASE, PLUMBING, DOMAIN, ENGINE, PORCELAIN, PUBLIC, FACES = range(8)

# Top-level unit (module or subpackage of ``isometry``) -> rank, low to high.
LAYERS: dict[str, int] = {
    "errors": ERRORS,
    "clock": BASE,
    "model": BASE,
    "store": PLUMBING,
    "vcs": DOMAIN,
    "content": DOMAIN,
    "sources": DOMAIN,
    "etl": ENGINE,
    "lineage": ENGINE,
    "api": PORCELAIN,
    "__init__": PUBLIC,  # the package's public API: anything below the faces
    "cli": FACES,
    "web": FACES,
    "demo": FACES,
    "__main__": FACES,
}

# Units of one rank that may import each other, as (importer, imported). Peers of the same rank
# are otherwise kept apart (clock and model know nothing of each other, importers know nothing
# of version control). Faces may use each other freely: nothing sits above them.
PEERS: frozenset[tuple[str, str]] = frozenset(
    {
        ("etl", "lineage"),  # the executor writes lineage rows in the batch's transaction
    }
)

# Reading the clock directly is allowed here and nowhere else below the faces.
CLOCK_ALLOWED = frozenset({("isometry.clock", "SystemClock.now")})
CLOCK_CALLS = {
    "datetime": frozenset({"now", "utcnow", "today"}),
    "date": frozenset({"today"}),
    "time": frozenset({"time", "time_ns"}),
}
FORBIDDEN_NAMES = {"os": frozenset({"environ", "getenv"}), "sys": frozenset({"argv"})}


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. isometry.vcs.refs
    path: Path
    is_package: bool

    @property
    def unit(self) -> str:
        parts = self.name.split(".")
        return parts[1] if len(parts) > 1 else "__init__"


def discover(root: Path = SRC) -> list[Module]:
    found = []
    for path in sorted(root.rglob("*.py")):
        rel = path.relative_to(root).with_suffix("")
        parts = list(rel.parts)
        is_package = parts[-1] == "__init__"
        if is_package:
            parts = parts[:-1]
        found.append(Module(".".join([PACKAGE, *parts]), path, is_package))
    return found


def unit_of(dotted: str) -> str | None:
    """The layer unit a dotted import target belongs to, or None when it is not ours."""
    parts = dotted.split(".")
    if parts[0] != PACKAGE:
        return None
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def _absolute(module: Module, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports_of(module: Module, tree: ast.AST, submodules: frozenset[str]) -> Iterator[str]:
    """Every ``isometry...`` module a module imports (at any depth, TYPE_CHECKING included)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            target = _absolute(module, node)
            for alias in node.names:
                # ``from isometry import api`` imports the module isometry.api, while
                # ``from isometry import Node`` imports the package's public API.
                candidate = f"{target}.{alias.name}"
                yield candidate if candidate in submodules else target


def layer_violations(module: Module, tree: ast.AST, submodules: frozenset[str]) -> list[str]:
    mine = module.unit
    rank = LAYERS[mine]
    problems = []
    for target in imports_of(module, tree, submodules):
        other = unit_of(target)
        if other is None or other == mine:
            continue
        if other not in LAYERS:
            problems.append(f"{module.name} imports {target}, which is in no layer")
            continue
        theirs = LAYERS[other]
        if theirs > rank or (theirs == rank and rank != FACES and (mine, other) not in PEERS):
            problems.append(
                f"{module.name} ({mine}, rank {rank}) imports {target} ({other}, rank {theirs})"
            )
    return problems


class _AmbientReads(ast.NodeVisitor):
    """Finds reads of the environment, argv and the system clock, with where they happen."""

    def __init__(self, module: str) -> None:
        self.module = module
        self.scope: list[str] = []
        self.problems: list[str] = []

    def _report(self, node: ast.AST, what: str) -> None:
        where = ".".join(self.scope) or "<module>"
        line = getattr(node, "lineno", 0)
        self.problems.append(f"{self.module}:{line} ({where}) {what}")

    def _scoped(self, node: ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self.scope.append(node.name)
        self.generic_visit(node)
        self.scope.pop()

    visit_ClassDef = _scoped
    visit_FunctionDef = _scoped
    visit_AsyncFunctionDef = _scoped

    def visit_Attribute(self, node: ast.Attribute) -> None:
        base = node.value
        base_name = (
            base.id
            if isinstance(base, ast.Name)
            else base.attr
            if isinstance(base, ast.Attribute)
            else None
        )
        if base_name in FORBIDDEN_NAMES and node.attr in FORBIDDEN_NAMES[base_name]:
            self._report(node, f"reads {base_name}.{node.attr}")
        if (
            base_name in CLOCK_CALLS
            and node.attr in CLOCK_CALLS[base_name]
            and (self.module, ".".join(self.scope)) not in CLOCK_ALLOWED
        ):
            self._report(node, f"reads the clock with {base_name}.{node.attr}")
        self.generic_visit(node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        source = node.module or ""
        for alias in node.names:
            if source in FORBIDDEN_NAMES and alias.name in FORBIDDEN_NAMES[source]:
                self._report(node, f"imports {alias.name} from {source}")
            if source == "time" and alias.name in CLOCK_CALLS["time"]:
                self._report(node, f"imports {alias.name} from time")
        self.generic_visit(node)


def ambient_reads(module: str, tree: ast.AST) -> list[str]:
    visitor = _AmbientReads(module)
    visitor.visit(tree)
    return visitor.problems


def _parsed() -> list[tuple[Module, ast.AST]]:
    return [(m, ast.parse(m.path.read_text(), str(m.path))) for m in discover()]


def _submodules() -> frozenset[str]:
    return frozenset(m.name for m in discover())


# -- the real tree -------------------------------------------------------------------------


def test_the_scan_finds_the_package() -> None:
    names = {m.name for m in discover()}
    assert {"isometry", "isometry.model", "isometry.vcs.repository", "isometry.api"} <= names


def test_every_module_is_placed_in_a_layer() -> None:
    unplaced = sorted({m.unit for m in discover()} - set(LAYERS))
    assert not unplaced, (
        f"top-level module(s) {unplaced} are in no layer: add them to LAYERS in {__file__}"
    )


def test_no_layer_imports_a_higher_one() -> None:
    submodules = _submodules()
    problems = [
        problem
        for module, tree in _parsed()
        if module.unit in LAYERS
        for problem in layer_violations(module, tree, submodules)
    ]
    assert not problems, "layering violations:\n" + "\n".join(problems)


def test_nothing_below_the_faces_reads_environment_argv_or_clock() -> None:
    problems = [
        problem
        for module, tree in _parsed()
        if LAYERS.get(module.unit, FACES) < FACES
        for problem in ambient_reads(module.name, tree)
    ]
    assert not problems, "ambient reads below the faces:\n" + "\n".join(problems)


def test_public_api_all_is_sorted() -> None:
    names = list(isometry.__all__)
    assert names == sorted(names)
    for name in names:
        assert hasattr(isometry, name), name


# -- the checker itself: it must catch what it claims to --------------------------------------


def _module(name: str, is_package: bool = False) -> Module:
    return Module(name, Path("/nonexistent.py"), is_package)


KNOWN = frozenset({"isometry", "isometry.api", "isometry.model", "isometry.errors", "isometry.vcs"})


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("isometry.vcs.refs", "from isometry.api import merge"),
        ("isometry.vcs.refs", "import isometry.api"),
        ("isometry.vcs.refs", "from isometry import api"),
        ("isometry.vcs.refs", "from isometry import Repository"),
        ("isometry.vcs.refs", "from ...isometry import api"),
        ("isometry.store.schema", "from ..vcs import refs"),
        ("isometry.model", "from isometry.clock import Clock"),
        ("isometry.errors", "from isometry.model import Node"),
        ("isometry.sources.notes", "from isometry.vcs.repository import Repository"),
        ("isometry.api", "def f():\n    from isometry.cli import main\n"),
        ("isometry", "from isometry.cli import main"),
        ("isometry.vcs.refs", "from isometry.newthing import x"),
    ],
)
def test_checker_catches_an_upward_import(module: str, source: str) -> None:
    tree = ast.parse(source)
    assert layer_violations(_module(module), tree, KNOWN)


@pytest.mark.parametrize(
    ("module", "source"),
    [
        ("isometry.vcs.refs", "from isometry.model import Node\nfrom isometry.errors import X"),
        ("isometry.vcs.refs", "from . import graph\nfrom .rows import Key"),
        ("isometry.vcs", "from .refs import resolve"),
        ("isometry.model", "from isometry.errors import ModelError"),
        ("isometry", "from isometry import api\nfrom isometry.vcs.repository import Repository"),
        ("isometry.cli.main", "from isometry.demo import run\nimport isometry"),
        ("isometry.etl.executor", "from isometry.lineage import record"),
    ],
)
def test_checker_accepts_a_downward_import(module: str, source: str) -> None:
    tree = ast.parse(source)
    is_package = module in {"isometry", "isometry.vcs"}
    assert layer_violations(_module(module, is_package), tree, KNOWN) == []


@pytest.mark.parametrize(
    "source",
    [
        "import os\nx = os.environ['HOME']",
        "import os\nx = os.getenv('HOME')",
        "from os import environ",
        "import sys\nx = sys.argv",
        "from datetime import datetime\ndef f():\n    return datetime.now()",
        "import datetime\ndef f():\n    return datetime.datetime.utcnow()",
        "import time\ndef f():\n    return time.time()",
        "from time import time",
        "class SystemClock:\n    def other(self):\n        return datetime.now()",
    ],
)
def test_checker_catches_ambient_reads(source: str) -> None:
    assert ambient_reads("isometry.vcs.refs", ast.parse(source))


def test_checker_allows_the_system_clock_in_its_one_place() -> None:
    source = "class SystemClock:\n    def now(self):\n        return datetime.now(UTC)"
    assert ambient_reads("isometry.clock", ast.parse(source)) == []
    assert ambient_reads("isometry.model", ast.parse(source))
