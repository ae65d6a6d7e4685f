"""The laws of version control, checked by random sequences against a plain in-memory model.

The model is deliberately simple and independent of the implementation: a list of commits, each
with its parents and the full dict of rows it holds, and a dict of branch -> commit. Merges are
computed here from the rules at field level (properties key by key as ``properties.NAME``):
ours == theirs take it; ours == base take theirs; theirs == base take ours; otherwise the
strategy decides. The merge base is the newest commit both sides reach.

After every step: the rows at every branch equal the model; every commit's parents are the
model's; equal data has an equal root hash and different data a different one; no merge is
left waiting; ``fsck`` finds nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import hypothesis.strategies as st
import orjson
import pytest
from hypothesis import HealthCheck, settings
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)
from merge3 import Merge3

from isometry import api
from isometry.clock import FixedStepClock
from isometry.errors import MergeInProgress, NodeNotFound
from isometry.vcs.commits import Commit
from isometry.vcs.fieldmerge import MergePolicy
from isometry.vcs.merging import MergeResult
from isometry.vcs.ops import Op, parse_op
from isometry.vcs.repository import Repository

Row = dict[str, Any]
State = dict[str, Row]

IDS = ("a", "b", "c")
NODE_TYPES = ("note", "task")
NAMES = ("alpha", "beta", "gamma")
CONTENTS = ("x", "y", "z")
# Rows are stamped in 2024; the repository's clock runs in 2030, so a deletion (which has no
# modified_at and is timed by its commit) is always the last write.
TIMES = ("2024-01-01T00:00:00Z", "2024-02-01T00:00:00Z", "2024-03-01T00:00:00Z")
STRATEGIES = ("manual", "markers", "prefer-source", "prefer-target", "last-writer-wins")
TEXT_FIELDS = frozenset({"name", "content", "summary", "location_address"})
BRANCH_NAMES = ("main", "b1", "b2", "b3")
PROPERTY = "properties."


# -- what the test generates --------------------------------------------------------------------


@dataclass(frozen=True)
class OpSpec:
    kind: str  # upsert | patch | delete
    id: str
    fields: dict[str, Any] = field(default_factory=dict)

    def op(self) -> Op:
        if self.kind == "delete":
            return parse_op({"op": "delete", "node": self.id})
        return parse_op({"op": self.kind, "node": {"id": self.id, **self.fields}})


@dataclass(frozen=True)
class Policy:
    default: str
    by_type: dict[str, str]
    by_field: dict[str, str]

    def real(self) -> MergePolicy:
        return api.policy(self.default, self.by_type, self.by_field)

    def for_row(self, node_type: str) -> str:
        return self.by_type.get(node_type, self.default)

    def for_field(self, node_type: str, name: str) -> str:
        if name in self.by_field:
            return self.by_field[name]
        if name.startswith(PROPERTY) and "properties" in self.by_field:
            return self.by_field["properties"]
        return self.for_row(node_type)


MANUAL = Policy("manual", {}, {})

properties = st.fixed_dictionaries(
    {}, optional={"p": st.sampled_from([1, 2]), "q": st.sampled_from(["u", "v"])}
)
upsert_fields = st.fixed_dictionaries(
    {
        "node_type": st.sampled_from(NODE_TYPES),
        "name": st.sampled_from(NAMES),
        "modified_at": st.sampled_from(TIMES),
    },
    optional={
        "content": st.sampled_from(CONTENTS),
        "priority": st.sampled_from([1, 2]),
        "properties": properties,
    },
)
patch_fields = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(NAMES),
        "content": st.none() | st.sampled_from(CONTENTS),
        "priority": st.none() | st.sampled_from([1, 2]),
        "modified_at": st.sampled_from(TIMES),
        "properties": properties,
    },
).filter(bool)
# Edits that always touch a text field, so the text strategies (markers) meet real clashes.
clash_fields = st.fixed_dictionaries(
    {"content": st.sampled_from(CONTENTS)},
    optional={
        "name": st.sampled_from(NAMES),
        "priority": st.none() | st.sampled_from([1, 2]),
        "modified_at": st.sampled_from(TIMES),
        "properties": properties,
    },
)
any_policy = st.builds(
    Policy,
    st.sampled_from(STRATEGIES),
    st.dictionaries(st.sampled_from(NODE_TYPES), st.sampled_from(STRATEGIES), max_size=1),
    st.dictionaries(
        st.sampled_from(["name", "content", "properties", "properties.q"]),
        st.sampled_from(STRATEGIES),
        max_size=2,
    ),
)
upserts = st.builds(OpSpec, st.just("upsert"), st.sampled_from(IDS), upsert_fields)
patches = st.builds(OpSpec, st.just("patch"), st.sampled_from(IDS), patch_fields)
deletes = st.builds(OpSpec, st.just("delete"), st.sampled_from(IDS))
op_specs = st.one_of(upserts, patches, patches, deletes)
batches = st.lists(op_specs, min_size=1, max_size=3)
policies = st.builds(
    Policy,
    st.sampled_from(STRATEGIES) | st.just("manual"),
    st.dictionaries(st.sampled_from(NODE_TYPES), st.sampled_from(STRATEGIES), max_size=1),
    st.dictionaries(
        st.sampled_from(
            ["name", "content", "priority", "modified_at", "properties", "properties.p"]
        ),
        st.sampled_from(STRATEGIES),
        max_size=2,
    ),
)


# -- the model ----------------------------------------------------------------------------------


class Refused(Exception):
    """The model's prediction that a batch of ops is refused as a whole."""


def evaluate(state: State, spec: OpSpec) -> None:
    """Apply one op to ``state`` in place, the way a user reads the documentation."""
    current = state.get(spec.id)
    if spec.kind == "upsert":
        state[spec.id] = normal({"id": spec.id, **spec.fields})
    elif current is None:
        raise Refused(spec)
    elif spec.kind == "delete":
        del state[spec.id]
    else:
        state[spec.id] = normal({**current, **spec.fields})


def normal(row: Row) -> Row:
    """A stored row: NULL and empty fields left out, a name always there (empty by default)."""
    out = {k: v for k, v in row.items() if v is not None and v != {}}
    out.setdefault("name", "")
    out.setdefault("node_type", "note")
    return out


def flat(row: Row | None) -> dict[str, Any]:
    if row is None:
        return {}
    out = {k: v for k, v in row.items() if k != "properties"}
    out.update({PROPERTY + k: v for k, v in row.get("properties", {}).items()})
    return out


def unflat(values: dict[str, Any]) -> Row:
    row: Row = {}
    props: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        if name.startswith(PROPERTY):
            props[name[len(PROPERTY) :]] = value
        else:
            row[name] = value
    if props:
        row["properties"] = props
    return row


def text_merge(base: str | None, ours: str, theirs: str) -> tuple[str, bool]:
    """Line-by-line three-way merge with conflict markers (no value here ends with a newline)."""

    def lines(text: str) -> list[str]:
        return [line + "\n" for line in text.split("\n")] if text else []

    merger = Merge3(lines(base or ""), lines(ours), lines(theirs))
    clash = any(group[0] == "conflict" for group in merger.merge_groups())
    text = "".join(merger.merge_lines(name_a="target", name_b="source"))
    return text.removesuffix("\n"), clash


def later(theirs: Row, ours: Row) -> bool:
    def when(row: Row) -> datetime:
        return datetime.fromisoformat(str(row["modified_at"]).replace("Z", "+00:00"))

    return when(theirs) > when(ours)


@dataclass
class RowMerge:
    row: Row | None
    conflicts: list[tuple[str, Any, Any, Any]] = field(default_factory=list)
    flagged: list[str] = field(default_factory=list)


def merge_row(base: Row | None, ours: Row | None, theirs: Row | None, policy: Policy) -> RowMerge:
    if ours == theirs or theirs == base:
        return RowMerge(ours)
    if ours == base:
        return RowMerge(theirs)
    node_type = str((ours or theirs or {})["node_type"])
    if ours is None or theirs is None:
        strategy = policy.for_row(node_type)
        if strategy == "prefer-source":
            return RowMerge(theirs)
        if strategy == "prefer-target":
            return RowMerge(ours)
        if strategy == "last-writer-wins":
            return RowMerge(None)  # the deletion is the later write (see TIMES)
        return RowMerge(ours, [("", base, ours, theirs)])
    b, o, t = flat(base), flat(ours), flat(theirs)
    out: dict[str, Any] = {}
    result = RowMerge(None)
    for name in sorted(set(b) | set(o) | set(t)):
        bv, ov, tv = b.get(name), o.get(name), t.get(name)
        if ov == tv or tv == bv:
            out[name] = ov
        elif ov == bv:
            out[name] = tv
        else:
            strategy = policy.for_field(node_type, name)
            if strategy == "prefer-source":
                out[name] = tv
            elif strategy == "prefer-target":
                out[name] = ov
            elif strategy == "last-writer-wins":
                out[name] = tv if later(theirs, ours) else ov
            elif (
                strategy == "markers"
                and name in TEXT_FIELDS
                and isinstance(ov, str)
                and isinstance(tv, str)
                and (bv is None or isinstance(bv, str))
            ):
                out[name], clash = text_merge(bv, ov, tv)
                if clash:
                    result.flagged.append(name)
            else:
                out[name] = ov
                result.conflicts.append((name, bv, ov, tv))
    result.row = unflat(out)
    return result


@dataclass
class Merged:
    state: State
    conflicts: list[tuple[str, str, Any, Any, Any]]  # id, field, base, ours, theirs
    flagged: list[tuple[str, str]]  # id, field


def merge_states(
    base: State, ours: State, theirs: State, policy: Policy, keys: set[str] | None = None
) -> Merged:
    state = dict(ours)
    conflicts: list[tuple[str, str, Any, Any, Any]] = []
    flagged: list[tuple[str, str]] = []
    for key in sorted(keys if keys is not None else set(base) | set(ours) | set(theirs)):
        outcome = merge_row(base.get(key), ours.get(key), theirs.get(key), policy)
        if outcome.row is None:
            state.pop(key, None)
        else:
            state[key] = outcome.row
        conflicts += [(key, *c) for c in outcome.conflicts]
        flagged += [(key, f) for f in outcome.flagged]
    return Merged(state, conflicts, sorted(flagged))


def resolved(merged: Merged, choices: dict[tuple[str, str], str]) -> State:
    """The state once every conflict is settled with ours or theirs."""
    state = dict(merged.state)
    for key, name, _, ours, theirs in merged.conflicts:
        chosen = ours if choices[(key, name)] == "ours" else theirs
        if name == "":
            if chosen is None:
                state.pop(key, None)
            else:
                state[key] = chosen
            continue
        values = flat(state.get(key))
        values[name] = chosen
        state[key] = unflat(values)
    return state


@dataclass(frozen=True)
class MCommit:
    parents: tuple[int, ...]
    state: State
    id: str  # the real commit's id, to speak to the repository
    root: str


def state_key(state: State) -> bytes:
    return orjson.dumps(state, option=orjson.OPT_SORT_KEYS)


# -- the machine --------------------------------------------------------------------------------


class VersionedStore(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.dir = Path(tempfile.mkdtemp(prefix="isometry-props-"))
        self.clock = FixedStepClock(datetime(2030, 1, 1, tzinfo=UTC), timedelta(seconds=1))
        self.repo: Repository = api.init(self.dir / "repo", clock=self.clock, author="prop")
        initial = api.show_commit(self.repo, "main")
        self.commits: list[MCommit] = [MCommit((), {}, initial.id, initial.root)]
        self.branches: dict[str, int] = {"main": 0}
        self.roots: dict[bytes, str] = {state_key({}): initial.root}
        self.states: dict[str, bytes] = {initial.root: state_key({})}
        self._ancestors: dict[int, frozenset[int]] = {}
        self.fresh = 0

    def teardown(self) -> None:
        self.repo.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- model helpers ------------------------------------------------------------------------

    def ancestors(self, idx: int) -> frozenset[int]:
        if idx not in self._ancestors:
            found = {idx}
            for parent in self.commits[idx].parents:
                found |= self.ancestors(parent)
            self._ancestors[idx] = frozenset(found)
        return self._ancestors[idx]

    def merge_base(self, a: int, b: int) -> int:
        # Model commits are numbered in creation order, as the newest common ancestor wants.
        return max(self.ancestors(a) & self.ancestors(b))

    def state(self, branch: str) -> State:
        return self.commits[self.branches[branch]].state

    def record(self, real: Commit | None, parents: tuple[int, ...], state: State) -> int:
        """Add the commit the repository just made to the model, checking what it says."""
        assert real is not None
        assert real.parents == tuple(self.commits[p].id for p in parents)
        key = state_key(state)
        assert self.roots.setdefault(key, real.root) == real.root, "equal data, other root"
        assert self.states.setdefault(real.root, key) == key, "other data, equal root"
        self.commits.append(
            MCommit(parents, {k: dict(v) for k, v in state.items()}, real.id, real.root)
        )
        return len(self.commits) - 1

    def pick(self, data: st.DataObject, options: list[str] | tuple[str, ...]) -> str:
        return data.draw(st.sampled_from(sorted(options)))

    # -- actions, each checked against the model ---------------------------------------------------

    def do_apply(self, branch: str, specs: list[OpSpec]) -> int | None:
        """Apply ``specs`` to ``branch``; the new commit's index, or None when none was made."""
        head = self.branches[branch]
        expected = dict(self.state(branch))
        try:
            for spec in specs:
                evaluate(expected, spec)
        except Refused:
            try:
                api.apply(
                    self.repo, [s.op() for s in specs], branch=branch, message="m", author="p"
                )
            except NodeNotFound:
                return None
            raise AssertionError("an op on a missing node was not refused") from None
        result = api.apply(
            self.repo, [s.op() for s in specs], branch=branch, message="apply", author="prop"
        )
        if expected == self.state(branch):
            assert result.changes == 0
            assert result.commit.id == self.commits[head].id
            return None
        self.branches[branch] = self.record(result.commit, (head,), expected)
        return self.branches[branch]

    def settle(
        self,
        data: st.DataObject,
        into: str,
        result: MergeResult,
        merged: Merged,
        parents: tuple[int, ...],
    ) -> None:
        """Check a merge or revert against ``merged``: commit it, or resolve/abort its conflicts."""
        expected_flags = [{"kind": "node", "id": k, "field": f} for k, f in merged.flagged]
        if not merged.conflicts:
            assert result.status == "merged", result
            assert result.flagged == expected_flags
            self.branches[into] = self.record(result.commit, parents, merged.state)
            return
        assert result.status == "conflicts", result
        assert result.commit is None
        got = [(c.id, c.field, c.base, c.ours, c.theirs) for c in result.conflicts]
        assert got == merged.conflicts
        with pytest.raises(MergeInProgress):
            api.apply(self.repo, [OpSpec("delete", "a").op()], branch=into, message="m", author="p")
        if data.draw(st.booleans(), label="abort"):
            assert api.merge_abort(self.repo, into) == into
            return
        choices = {
            (key, name): data.draw(st.sampled_from(["ours", "theirs"]), label="choice")
            for key, name, *_ in merged.conflicts
        }
        for (key, name), choice in choices.items():
            api.resolve(self.repo, key, choice=choice, field=name, into=into)
        done = api.merge_continue(self.repo, into)
        assert done.status == "merged"
        assert done.flagged == expected_flags
        self.branches[into] = self.record(done.commit, parents, resolved(merged, choices))

    def do_merge(
        self, data: st.DataObject, source: str, into: str, policy: Policy, fast_forward: bool
    ) -> str:
        ours, theirs = self.branches[into], self.branches[source]
        result = api.merge(
            self.repo,
            source,
            into,
            author="prop",
            strategy=policy.real(),
            fast_forward=fast_forward,
        )
        if theirs in self.ancestors(ours):
            assert result.status == "up-to-date"
            return result.status
        if fast_forward and ours in self.ancestors(theirs):
            assert result.status == "fast-forward"
            self.branches[into] = theirs
            return result.status
        base = self.commits[self.merge_base(ours, theirs)].state
        merged = merge_states(base, self.state(into), self.state(source), policy)
        self.settle(data, into, result, merged, (ours, theirs))
        return result.status

    def do_revert(self, data: st.DataObject, branch: str, target: int) -> None:
        undone = self.commits[target]
        before = self.commits[undone.parents[0]].state
        changed = {
            k for k in set(before) | set(undone.state) if before.get(k) != undone.state.get(k)
        }
        merged = merge_states(undone.state, self.state(branch), before, MANUAL, changed)
        result = api.revert(self.repo, undone.id, branch=branch, author="prop")
        self.settle(data, branch, result, merged, (self.branches[branch],))

    # -- rules ----------------------------------------------------------------------------------

    @initialize(specs=st.lists(upserts, min_size=1, max_size=len(IDS)))
    def some_rows_on_main(self, specs: list[OpSpec]) -> None:
        self.do_apply("main", specs)

    @rule(data=st.data(), specs=batches)
    def apply(self, data: st.DataObject, specs: list[OpSpec]) -> None:
        self.do_apply(self.pick(data, list(self.branches)), specs)

    @precondition(lambda self: len(self.branches) < len(BRANCH_NAMES))
    @rule(data=st.data())
    def create_branch(self, data: st.DataObject) -> None:
        name = self.pick(data, [b for b in BRANCH_NAMES if b not in self.branches])
        if data.draw(st.booleans(), label="from a commit"):
            start = data.draw(st.integers(0, len(self.commits) - 1))
            made = api.create_branch(self.repo, name, self.commits[start].id)
        else:
            other = self.pick(data, list(self.branches))
            start = self.branches[other]
            made = api.create_branch(self.repo, name, other)
        assert made.id == self.commits[start].id
        self.branches[name] = start

    @precondition(lambda self: len(self.branches) > 1)
    @rule(data=st.data())
    def delete_branch(self, data: st.DataObject) -> None:
        name = self.pick(data, [b for b in self.branches if b != "main"])
        api.delete_branch(self.repo, name)
        del self.branches[name]

    @rule(data=st.data(), policy=policies, fast_forward=st.booleans())
    def merge(self, data: st.DataObject, policy: Policy, fast_forward: bool) -> None:
        source = self.pick(data, list(self.branches))
        into = self.pick(data, [b for b in self.branches if b != source] or [source])
        self.do_merge(data, source, into, policy, fast_forward)

    @rule(data=st.data(), ours=batches, theirs=batches, policy=policies)
    def diverge_then_merge(
        self, data: st.DataObject, ours: list[OpSpec], theirs: list[OpSpec], policy: Policy
    ) -> None:
        """Both sides of a merge change rows, so the three-way rules and strategies get work."""
        into = self.pick(data, list(self.branches))
        spare = [b for b in BRANCH_NAMES if b not in self.branches]
        fresh: bool = data.draw(st.booleans(), label="new branch")
        if spare and fresh:
            source = spare[0]
            api.create_branch(self.repo, source, into)
            self.branches[source] = self.branches[into]
        else:
            source = self.pick(data, [b for b in self.branches if b != into] or [into])
        self.do_apply(into, ours)
        self.do_apply(source, theirs)
        self.do_merge(data, source, into, policy, fast_forward=True)

    @precondition(lambda self: len(self.branches) < len(BRANCH_NAMES))
    @rule(data=st.data(), ours=clash_fields, theirs=clash_fields, policy=any_policy)
    def both_sides_edit_one_row(
        self, data: st.DataObject, ours: dict[str, Any], theirs: dict[str, Any], policy: Policy
    ) -> None:
        """Two edits of the same row on a fresh branch and its origin: field-level clashes."""
        into = self.pick(data, list(self.branches))
        present = sorted(self.state(into))
        if not present:
            return
        key = self.pick(data, present)
        source = next(b for b in BRANCH_NAMES if b not in self.branches)
        api.create_branch(self.repo, source, into)
        self.branches[source] = self.branches[into]
        self.do_apply(into, [OpSpec("patch", key, ours)])
        self.do_apply(source, [OpSpec("patch", key, theirs)])
        self.do_merge(data, source, into, policy, fast_forward=data.draw(st.booleans()))

    @rule(data=st.data())
    def revert(self, data: st.DataObject) -> None:
        branch = self.pick(data, list(self.branches))
        candidates = sorted(i for i in self.ancestors(self.branches[branch]) if i != 0)
        if not candidates:
            return
        self.do_revert(data, branch, data.draw(st.sampled_from(candidates), label="undo"))

    @rule(data=st.data())
    def reset(self, data: st.DataObject) -> None:
        branch = self.pick(data, list(self.branches))
        target = data.draw(st.integers(0, len(self.commits) - 1), label="reset to")
        assert api.reset(self.repo, branch, self.commits[target].id).id == self.commits[target].id
        self.branches[branch] = target

    # -- the laws, as rules of their own ----------------------------------------------------------

    @precondition(lambda self: len(self.branches) < len(BRANCH_NAMES))
    @rule(data=st.data(), specs=batches, policy=policies)
    def merge_of_identical_changes_changes_nothing(
        self, data: st.DataObject, specs: list[OpSpec], policy: Policy
    ) -> None:
        """merge(b, x, x) = x: the same change made on two branches merges to that change."""
        branch = self.pick(data, list(self.branches))
        twin = next(b for b in BRANCH_NAMES if b not in self.branches)
        api.create_branch(self.repo, twin, branch)
        self.branches[twin] = self.branches[branch]
        self.do_apply(branch, specs)
        self.do_apply(twin, specs)
        expected = self.state(branch)
        root = api.show_commit(self.repo, branch).root
        status = self.do_merge(data, twin, branch, policy, fast_forward=True)
        assert status in ("up-to-date", "merged")
        assert self.nodes(branch) == expected
        assert api.show_commit(self.repo, branch).root == root
        if status == "merged":
            assert api.show_commit(self.repo, branch).changes == 0
        api.delete_branch(self.repo, twin)
        del self.branches[twin]

    @rule(data=st.data(), specs=batches)
    def revert_of_a_revert_restores_the_original(
        self, data: st.DataObject, specs: list[OpSpec]
    ) -> None:
        branch = self.pick(data, list(self.branches))
        before = dict(self.state(branch))
        made = self.do_apply(branch, specs)
        if made is None:
            return
        after = dict(self.state(branch))
        self.do_revert(data, branch, made)
        assert self.nodes(branch) == before
        parent = self.commits[self.commits[made].parents[0]]
        assert api.show_commit(self.repo, branch).root == parent.root
        self.do_revert(data, branch, self.branches[branch])
        assert self.nodes(branch) == after
        assert api.show_commit(self.repo, branch).root == self.commits[made].root

    @rule(data=st.data())
    def diff_applied_to_its_source_gives_its_target(self, data: st.DataObject) -> None:
        source = self.pick(data, list(self.branches))
        target = self.pick(data, list(self.branches))
        d = api.diff(self.repo, source, target)
        source_rows = self.nodes(source)
        ops: list[Op] = [parse_op({"op": "upsert", "node": row}) for row in d.nodes.added]
        ops += [parse_op({"op": "delete", "node": row["id"]}) for row in d.nodes.removed]
        for entry in d.nodes.modified:
            key = entry["id"]
            changes = {n: c["to"] for n, c in entry["fields"].items() if not n.startswith(PROPERTY)}
            props = {n: c["to"] for n, c in entry["fields"].items() if n.startswith(PROPERTY)}
            if props:
                merged = dict(source_rows[key].get("properties", {}))
                for name, value in props.items():
                    merged[name[len(PROPERTY) :]] = value
                changes["properties"] = {k: v for k, v in merged.items() if v is not None}
            ops.append(parse_op({"op": "patch", "node": {"id": key, **changes}}))
        scratch = next(b for b in ("diff-check", "diff-check-2") if b not in self.branches)
        api.create_branch(self.repo, scratch, source)
        api.apply(self.repo, ops, branch=scratch, message="diff", author="prop")
        assert self.nodes(scratch) == self.state(target)
        api.delete_branch(self.repo, scratch)

    @rule(data=st.data())
    def a_fresh_repository_with_the_same_rows_has_the_same_root(self, data: st.DataObject) -> None:
        branch = self.pick(data, list(self.branches))
        self.fresh += 1
        clock = FixedStepClock(datetime(2040, 1, 1, tzinfo=UTC))
        with api.init(self.dir / f"fresh-{self.fresh}", clock=clock, author="other") as fresh:
            rows = [parse_op({"op": "upsert", "node": r}) for r in self.state(branch).values()]
            api.apply(fresh, rows, branch="main", message="all at once", author="other")
            assert api.show_commit(fresh, "main").root == api.show_commit(self.repo, branch).root

    # -- after every step -------------------------------------------------------------------------

    def nodes(self, branch: str) -> State:
        return {str(row["id"]): row for row in api.nodes(self.repo, at=branch)}

    @invariant()
    def every_branch_matches_the_model(self) -> None:
        assert sorted(b.name for b in api.branches(self.repo)) == sorted(self.branches)
        for branch, idx in self.branches.items():
            assert api.show_commit(self.repo, branch).id == self.commits[idx].id, branch
            assert self.nodes(branch) == self.commits[idx].state, branch

    @invariant()
    def nothing_is_left_waiting(self) -> None:
        assert api.conflicts(self.repo) == []
        assert not any(b.pending_merge for b in api.branches(self.repo))

    @invariant()
    def fsck_finds_nothing(self) -> None:
        assert api.fsck(self.repo).problems == []


VersionedStore.TestCase.settings = settings(
    max_examples=60,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestVersionedStore = VersionedStore.TestCase
