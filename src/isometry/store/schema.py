"""The schema, one registered migration per version.

``nodes`` and ``edges`` hold the branch ``main`` at its head as ordinary tables, so the sqlite3
shell and Datasette read them as they are. Everything else (every version of every row, what each
commit changed, refs) lives in the version-control tables beside them.
"""

from __future__ import annotations

import sqlite3

from isometry.store.migrations import migration

NODE_COLUMNS = (
    "id TEXT PRIMARY KEY",
    "node_type TEXT NOT NULL",
    "name TEXT NOT NULL DEFAULT ''",
    "content TEXT",
    "summary TEXT",
    "latitude REAL",
    "longitude REAL",
    "location_name TEXT",
    "location_address TEXT",
    "created_at TEXT",
    "modified_at TEXT",
    "due_at TEXT",
    "completed_at TEXT",
    "event_start TEXT",
    "event_end TEXT",
    "folder TEXT",
    "tags TEXT NOT NULL DEFAULT '[]'",
    "status TEXT",
    "priority INTEGER",
    "importance INTEGER",
    "sort_order INTEGER",
    "source TEXT",
    "source_id TEXT",
    "source_url TEXT",
    "deleted_at TEXT",
    "properties TEXT NOT NULL DEFAULT '{}'",
)

EDGE_COLUMNS = (
    "id TEXT PRIMARY KEY",
    "edge_type TEXT NOT NULL",
    "source_id TEXT NOT NULL",
    "target_id TEXT NOT NULL",
    "label TEXT",
    "weight REAL NOT NULL DEFAULT 1.0",
    "directed INTEGER NOT NULL DEFAULT 1",
    "sequence_order INTEGER",
    "properties TEXT NOT NULL DEFAULT '{}'",
)

SCHEMA_V1 = f"""
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE nodes ({", ".join(NODE_COLUMNS)});
CREATE UNIQUE INDEX nodes_by_source ON nodes (source, source_id) WHERE source IS NOT NULL;
CREATE INDEX nodes_by_type ON nodes (node_type);
CREATE INDEX nodes_by_folder ON nodes (folder);

CREATE TABLE edges ({", ".join(EDGE_COLUMNS)});
CREATE INDEX edges_by_source ON edges (source_id);
CREATE INDEX edges_by_target ON edges (target_id);

-- Kept in step with nodes by the code that moves main, in bulk, not by per-row triggers.
CREATE VIRTUAL TABLE nodes_fts USING fts5 (
    name, content, summary, tags, content = 'nodes', content_rowid = 'rowid'
);
-- Merge small index segments 16 at a time (default 4): a one-node commit then seldom triggers
-- a rewrite of the large segments a bulk load left, which measurably bloated the file.
INSERT INTO nodes_fts (nodes_fts, rank) VALUES ('automerge', 16);
INSERT INTO nodes_fts (nodes_fts, rank) VALUES ('crisismerge', 64);

-- Every version of every row, once, by SHA-256 of its canonical encoding (data: a format
-- byte, then the encoding, deflated or not; see vcs/rows.py). Rows are appended in rowid order
-- so pages fill up; keyed by the random hash, every insert split a page (measured: 840 bytes
-- per 450-byte row).
CREATE TABLE row_versions (
    id INTEGER PRIMARY KEY,
    hash BLOB NOT NULL UNIQUE,
    kind INTEGER NOT NULL,
    data BLOB NOT NULL
);

-- parent_seq is the first parent; depth and jump_seq index the first-parent chain so that
-- "is X an ancestor of C on its first-parent chain" costs O(log depth).
-- AUTOINCREMENT: a seq is never reused after GC, so caches keyed by seq stay true.
-- id and root are SHA-256 digests kept as 32-byte blobs (hex in every interface): a one-row
-- commit must stay small.
CREATE TABLE commits (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id BLOB NOT NULL UNIQUE,
    parent_seq INTEGER,
    other_parents TEXT,
    depth INTEGER NOT NULL,
    jump_seq INTEGER,
    author TEXT NOT NULL,
    message TEXT NOT NULL,
    time TEXT NOT NULL,
    root BLOB NOT NULL,
    metadata TEXT NOT NULL DEFAULT '{{}}',
    changes INTEGER NOT NULL
);

-- What each commit changed against its first parent: O(changes) per commit.
CREATE TABLE changes (
    commit_seq INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    key TEXT NOT NULL,
    old BLOB,
    new BLOB,
    PRIMARY KEY (commit_seq, kind, key)
) WITHOUT ROWID;
CREATE INDEX changes_by_key ON changes (kind, key, commit_seq);

CREATE TABLE refs (
    name TEXT PRIMARY KEY,
    type TEXT NOT NULL CHECK (type IN ('branch', 'tag')),
    commit_seq INTEGER NOT NULL,
    created_at TEXT NOT NULL
);

-- A merge or revert waiting for conflicts to be resolved, one per target branch.
CREATE TABLE pending_merges (
    target TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    target_seq INTEGER NOT NULL,
    source_seq INTEGER NOT NULL,
    base_seq INTEGER,
    source_name TEXT NOT NULL,
    policy TEXT NOT NULL,
    author TEXT NOT NULL,
    message TEXT NOT NULL,
    metadata TEXT NOT NULL,
    started_at TEXT NOT NULL
);
-- The merged result of every row the merge changes; data NULL means the row is removed.
CREATE TABLE pending_rows (
    target TEXT NOT NULL, kind INTEGER NOT NULL, key TEXT NOT NULL, data BLOB,
    PRIMARY KEY (target, kind, key)
) WITHOUT ROWID;
-- One row per conflicting field; field '' is a whole-row conflict (delete against modify).
CREATE TABLE conflicts (
    target TEXT NOT NULL,
    kind INTEGER NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    base BLOB,
    ours BLOB,
    theirs BLOB,
    resolution BLOB,
    resolved INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (target, kind, key, field)
) WITHOUT ROWID;
-- Fields a merge wrote with conflict markers: they need a person's eye.
CREATE TABLE review_flags (
    commit_seq INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    key TEXT NOT NULL,
    field TEXT NOT NULL,
    PRIMARY KEY (commit_seq, kind, key, field)
) WITHOUT ROWID;
"""


def _run(conn: sqlite3.Connection, script: str) -> None:
    """Each statement of ``script`` (separated by ";" at a line's end), inside the migration's
    transaction: ``executescript`` would commit that transaction first."""
    for statement in script.split(";\n"):
        if statement.strip():
            conn.execute(statement)


@migration(1, "versioned node store")
def _v1(conn: sqlite3.Connection) -> None:
    _run(conn, SCHEMA_V1)


SCHEMA_V2 = """
-- Operations: an import (or export, sync, maintenance) built from a template, queued, run.
CREATE TABLE operations (
    id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL UNIQUE,
    template TEXT NOT NULL,
    state TEXT NOT NULL,
    config TEXT NOT NULL,
    sources TEXT NOT NULL,
    grants TEXT NOT NULL,
    branch TEXT,
    target TEXT NOT NULL,
    phase TEXT,
    progress TEXT NOT NULL DEFAULT '{}',
    counts TEXT NOT NULL DEFAULT '{}',
    commits TEXT NOT NULL DEFAULT '[]',
    result TEXT NOT NULL DEFAULT '{}',
    error TEXT,
    cancel_requested INTEGER NOT NULL DEFAULT 0,
    lease_owner TEXT,
    lease_until TEXT,
    peak_rss INTEGER,
    recovery_seconds REAL,
    created_at TEXT NOT NULL,
    queued_at TEXT,
    started_at TEXT,
    finished_at TEXT
);
CREATE INDEX operations_by_state ON operations (state, seq);

-- Written in the same transaction as the batch it covers: where to go on after a crash.
CREATE TABLE checkpoints (
    op_id TEXT PRIMARY KEY,
    source_index INTEGER NOT NULL,
    cursor TEXT,
    counts TEXT NOT NULL,
    branch_head INTEGER NOT NULL,
    batches INTEGER NOT NULL,
    stage TEXT NOT NULL DEFAULT 'loading',
    written_at TEXT NOT NULL
);

-- Records that could not become nodes: kept with their raw form, never dropped.
CREATE TABLE quarantine (
    id INTEGER PRIMARY KEY,
    op_id TEXT NOT NULL,
    locator TEXT NOT NULL,
    raw TEXT NOT NULL,
    reason TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE INDEX quarantine_by_op ON quarantine (op_id);

-- Keys a full import saw, so a sync can soft-delete what the source no longer has.
CREATE TABLE op_seen (
    op_id TEXT NOT NULL, kind INTEGER NOT NULL, key TEXT NOT NULL,
    PRIMARY KEY (op_id, kind, key)
) WITHOUT ROWID;

-- Where every node version an operation wrote came from.
CREATE TABLE lineage (
    id INTEGER PRIMARY KEY,
    kind INTEGER NOT NULL,
    key TEXT NOT NULL,
    commit_seq INTEGER NOT NULL,
    op_id TEXT NOT NULL,
    template TEXT NOT NULL,
    source_system TEXT NOT NULL,
    file TEXT,
    record TEXT,
    line INTEGER,
    offset INTEGER,
    length INTEGER,
    source_hash TEXT,
    transform TEXT NOT NULL,
    transform_version TEXT NOT NULL,
    change TEXT NOT NULL,
    time TEXT NOT NULL
);
CREATE INDEX lineage_by_key ON lineage (key, commit_seq);
CREATE INDEX lineage_by_op ON lineage (op_id);
CREATE INDEX lineage_by_file ON lineage (file);

-- The structured log of each operation, one JSON event a row.
CREATE TABLE op_log (
    op_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    time TEXT NOT NULL,
    level TEXT NOT NULL,
    event TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (op_id, seq)
) WITHOUT ROWID;

-- Repository settings: standing grants, limits, defaults.
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@migration(2, "etl engine: operations, checkpoints, quarantine, lineage, logs, settings")
def _v2(conn: sqlite3.Connection) -> None:
    _run(conn, SCHEMA_V2)


SCHEMA_V3 = """
-- Content-aware storage (IF NOT EXISTS: a repository re-migrated from an older version may
-- hold these tables already): one row per blob (named by the SHA-256 of its original bytes); the
-- bytes live in the blob folder. stores counts store() calls, so dedup savings are exact.
-- last_stored_at starts the GC grace period again when the same content is stored anew.
CREATE TABLE IF NOT EXISTS blobs (
    hash TEXT PRIMARY KEY,
    size INTEGER NOT NULL,
    stored_size INTEGER NOT NULL,
    compression TEXT NOT NULL,
    mime_type TEXT NOT NULL,
    created_at TEXT NOT NULL,
    last_stored_at TEXT NOT NULL,
    stores INTEGER NOT NULL DEFAULT 1,
    metadata TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS blobs_by_mime ON blobs (mime_type);

-- Every name a blob was stored under.
CREATE TABLE IF NOT EXISTS blob_names (
    hash TEXT NOT NULL, filename TEXT NOT NULL, PRIMARY KEY (hash, filename)
) WITHOUT ROWID;

-- Who points at a blob: a node (at one version, commit_seq, or at every version when NULL) or
-- an operation artifact. These rows decide reachability; no count is kept.
CREATE TABLE IF NOT EXISTS blob_refs (
    id INTEGER PRIMARY KEY,
    hash TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('node', 'artifact')),
    owner TEXT NOT NULL,
    commit_seq INTEGER,
    role TEXT NOT NULL CHECK (role IN ('attachment', 'inline-image', 'log', 'report')),
    created_at TEXT NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS blob_refs_unique
    ON blob_refs (hash, kind, owner, IFNULL(commit_seq, -1), role);
CREATE INDEX IF NOT EXISTS blob_refs_by_owner ON blob_refs (kind, owner);
"""


@migration(3, "content-aware storage: blobs, their names and references")
def _v3(conn: sqlite3.Connection) -> None:
    _run(conn, SCHEMA_V3)


SCHEMA_V4 = """
-- What the lineage rows of one operation and one source file have in common, once.
CREATE TABLE lineage_origins (
    id INTEGER PRIMARY KEY,
    op_id TEXT NOT NULL,
    file TEXT,
    template TEXT NOT NULL,
    source_system TEXT NOT NULL,
    transform TEXT NOT NULL,
    transform_version TEXT NOT NULL
);
CREATE INDEX lineage_origins_by_op ON lineage_origins (op_id, file);
CREATE INDEX lineage_origins_by_file ON lineage_origins (file);

-- One row per change an operation wrote, keyed like the change itself: a batch's rows append
-- in key order under its new commit instead of landing at random in an index by node id. A
-- node's lineage is found through its changes (changes_by_key).
CREATE TABLE lineage_v4 (
    commit_seq INTEGER NOT NULL,
    kind INTEGER NOT NULL,
    key TEXT NOT NULL,
    origin INTEGER NOT NULL,
    record TEXT,
    line INTEGER,
    offset INTEGER,
    length INTEGER,
    source_hash TEXT,
    change TEXT NOT NULL,
    time TEXT NOT NULL,
    PRIMARY KEY (commit_seq, kind, key)
) WITHOUT ROWID;

INSERT INTO lineage_origins (op_id, file, template, source_system, transform, transform_version)
    SELECT DISTINCT op_id, file, template, source_system, transform, transform_version
    FROM lineage;

-- The last row written for a (commit, kind, key) wins, as it did for every reader before.
INSERT OR REPLACE INTO lineage_v4 (commit_seq, kind, key, origin, record, line, offset, length,
        source_hash, change, time)
    SELECT l.commit_seq, l.kind, l.key, o.id, l.record, l.line, l.offset, l.length,
        l.source_hash, l.change, l.time
    FROM lineage l JOIN lineage_origins o ON o.op_id = l.op_id AND o.file IS l.file
        AND o.template = l.template AND o.source_system = l.source_system
        AND o.transform = l.transform AND o.transform_version = l.transform_version
    ORDER BY l.id;

DROP TABLE lineage;
ALTER TABLE lineage_v4 RENAME TO lineage;
CREATE INDEX lineage_by_origin ON lineage (origin);
"""


@migration(4, "lineage keyed by change, its common parts once per operation and file")
def _v4(conn: sqlite3.Connection) -> None:
    _run(conn, SCHEMA_V4)
