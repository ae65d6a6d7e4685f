"""The commit graph, cached in memory: commits are immutable, so the cache only grows.

Every commit knows its first parent, its depth on the first-parent chain and a skew-binary jump
pointer (Myers 1983): an ancestor at any depth is found in O(log depth) steps, which makes
"which version of this row does commit C see" and first-parent lowest common ancestors cheap.
"""

from __future__ import annotations

import heapq
import sqlite3
from dataclasses import dataclass

from isometry.errors import RefNotFound


@dataclass(frozen=True, slots=True)
class CommitInfo:
    seq: int
    id: str
    parent: int | None
    others: tuple[int, ...]
    depth: int
    jump: int
    time: str

    @property
    def parents(self) -> tuple[int, ...]:
        return (self.parent, *self.others) if self.parent is not None else self.others


def jump_for(parent: CommitInfo | None, graph: CommitGraph) -> tuple[int, int | None]:
    """Depth and jump target of a new commit whose first parent is ``parent``."""
    if parent is None:
        return 0, None
    up = graph.get(parent.jump)
    upper = graph.get(up.jump)
    if parent.depth - up.depth == up.depth - upper.depth:
        return parent.depth + 1, upper.seq
    return parent.depth + 1, parent.seq


class CommitGraph:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._by_seq: dict[int, CommitInfo] = {}
        self._by_id: dict[str, int] = {}
        self._loaded = 0

    def refresh(self) -> None:
        rows = self._conn.execute(
            "SELECT seq, id, parent_seq, other_parents, depth, jump_seq, time FROM commits"
            " WHERE seq > ? ORDER BY seq",
            (self._loaded,),
        ).fetchall()
        for seq, raw_id, parent, others, depth, jump, time in rows:
            other = tuple(int(x) for x in others.split(",")) if others else ()
            cid = bytes(raw_id).hex()
            self._by_seq[seq] = CommitInfo(
                seq, cid, parent, other, depth, seq if jump is None else jump, time
            )
            self._by_id[cid] = seq
            self._loaded = seq

    def forget(self) -> None:
        """Drop the cache (after GC removed commits)."""
        self._by_seq.clear()
        self._by_id.clear()
        self._loaded = 0

    def get(self, seq: int) -> CommitInfo:
        info = self._by_seq.get(seq)
        if info is None:
            self.refresh()
            info = self._by_seq.get(seq)
            if info is None:
                raise RefNotFound(f"commit #{seq} does not exist")
        return info

    def seq_of(self, commit_id: str) -> int | None:
        if commit_id not in self._by_id:
            self.refresh()
        return self._by_id.get(commit_id)

    def ids_with_prefix(self, prefix: str) -> list[str]:
        self.refresh()
        return [cid for cid in self._by_id if cid.startswith(prefix)]

    def level_ancestor(self, seq: int, depth: int) -> int:
        node = self.get(seq)
        while node.depth > depth:
            jump = self.get(node.jump)
            node = jump if jump.depth >= depth else self.get(node.parent)  # type: ignore[arg-type]
        return node.seq

    def is_fp_ancestor(self, ancestor: int, seq: int) -> bool:
        """Is ``ancestor`` on the first-parent chain of ``seq`` (or ``seq`` itself)?"""
        depth = self.get(ancestor).depth
        return (
            ancestor <= seq
            and self.get(seq).depth >= depth
            and (self.level_ancestor(seq, depth) == ancestor)
        )

    def fp_lca(self, a: int, b: int) -> int:
        """Lowest common ancestor of two commits in the first-parent tree."""
        da, db = self.get(a).depth, self.get(b).depth
        a = self.level_ancestor(a, min(da, db))
        b = self.level_ancestor(b, min(da, db))
        while a != b:
            na, nb = self.get(a), self.get(b)
            if na.jump != nb.jump:
                a, b = na.jump, nb.jump
            elif na.parent is None or nb.parent is None:
                raise RefNotFound(f"commits #{a} and #{b} share no history")
            else:
                a, b = na.parent, nb.parent
        return a

    def fp_chain(self, seq: int, stop: int) -> list[int]:
        """Commits from ``seq`` up its first-parent chain to ``stop``, ``stop`` excluded."""
        chain: list[int] = []
        while seq != stop:
            chain.append(seq)
            parent = self.get(seq).parent
            if parent is None:
                break
            seq = parent
        return chain

    def ancestors(self, heads: list[int]) -> list[int]:
        """Every commit reachable from ``heads``, newest first."""
        seen: set[int] = set()
        stack = list(heads)
        while stack:
            seq = stack.pop()
            if seq in seen:
                continue
            seen.add(seq)
            stack.extend(self.get(seq).parents)
        return sorted(seen, reverse=True)

    def is_ancestor(self, ancestor: int, seq: int) -> bool:
        """Is ``ancestor`` reachable from ``seq`` through any parents?"""
        if ancestor == seq or self.is_fp_ancestor(ancestor, seq):
            return True
        seen: set[int] = set()
        stack = [seq]
        while stack:
            current = stack.pop()
            if current == ancestor:
                return True
            if current in seen or current < ancestor:
                continue
            seen.add(current)
            stack.extend(self.get(current).parents)
        return False

    def merge_base(self, a: int, b: int) -> int | None:
        """The newest common ancestor of two commits, by a paint walk in descending seq.

        A commit's seq is larger than its parents', so when a commit is popped every child that
        could paint it has been popped already: the first one painted from both sides is a best
        common ancestor (no other common ancestor descends from it).
        """
        if a == b:
            return a
        left, right = 1, 2
        flags: dict[int, int] = {a: left, b: right}
        queue = [-a, -b]
        heapq.heapify(queue)
        while queue:
            seq = -heapq.heappop(queue)
            flag = flags[seq]
            if flag == left | right:
                return seq
            for parent in self.get(seq).parents:
                old = flags.get(parent, 0)
                if old | flag != old:
                    if not old:
                        heapq.heappush(queue, -parent)
                    flags[parent] = old | flag
        return None
