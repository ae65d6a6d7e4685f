"""What a note needs from the other files of its vault: the SHA-256 of a file it embeds (the
node's content points at it) and the id a note it links to gives itself in its front matter
(the edge must point at that note's node).

Both are read through the ``Opener``, so the grants decide. A vault links to the same few files
from many notes, so each answer is remembered for the opener it was read through (one per
operation: what one operation's grants allowed is never handed to another) and the file's
version (path, size, modification time, inode): a later look-up through the same opener only
``stat``s the file. A file that is replaced by a link to somewhere else has another version and
is opened again, through the opener. (A file rewritten during the operation at the same size
within one tick of a coarse file-system clock keeps its version: its old answer is kept until
the next operation.)
"""

from __future__ import annotations

import os
import threading
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO, TypeVar
from weakref import WeakKeyDictionary

from isometry.sources.base import Opener
from isometry.sources.records import digest_stream
from isometry.sources.vault.frontmatter import note_id_in

_REMEMBERED = 65_536

T = TypeVar("T")
_Key = tuple[str, int, int, int]


class _Memo:
    """A bounded map of file versions to what was read from them, safe across threads."""

    def __init__(self) -> None:
        self._values: OrderedDict[_Key, object] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: _Key | None) -> object | None:
        if key is None:
            return None
        with self._lock:
            value = self._values.get(key)
            if value is not None:
                self._values.move_to_end(key)
            return value

    def put(self, key: _Key | None, value: object) -> None:
        if key is None:
            return
        with self._lock:
            self._values[key] = value
            while len(self._values) > _REMEMBERED:
                self._values.popitem(last=False)


_memos: WeakKeyDictionary[Opener, tuple[_Memo, _Memo]] = WeakKeyDictionary()
_memos_lock = threading.Lock()
_NO_ID = object()  # remembered for notes that give themselves no id


def _memos_of(opener: Opener) -> tuple[_Memo, _Memo] | None:
    """The (digests, note ids) remembered for ``opener``; None for one that cannot be
    referred to weakly (then nothing is remembered)."""
    with _memos_lock:
        try:
            found = _memos.get(opener)
            if found is None:
                found = _memos[opener] = (_Memo(), _Memo())
        except TypeError:
            return None
        return found


def file_digest(path: Path, opener: Opener) -> str:
    """SHA-256 (hex) of the file's bytes. Raises what the opener raises (``OSError`` and its
    subclasses ``SourceUnreadable`` and ``PermissionRefused``)."""

    def digest(stream: BinaryIO) -> str:
        return digest_stream(stream)[0]

    memos = _memos_of(opener)
    value = _remembered(path, opener, None if memos is None else memos[0], digest)
    assert isinstance(value, str)
    return value


def note_id(path: Path, opener: Opener) -> str | None:
    """The id the note at ``path`` gives itself in its front matter; None when it gives none
    or cannot be read (then no node of it can carry another id)."""

    def read_id(stream: BinaryIO) -> object:
        try:
            text = stream.read().decode("utf-8-sig")
        except UnicodeDecodeError:
            return _NO_ID
        found = note_id_in(text)
        return _NO_ID if found is None else found

    try:
        memos = _memos_of(opener)
        value = _remembered(path, opener, None if memos is None else memos[1], read_id)
    except OSError:
        return None
    return value if isinstance(value, str) else None


def _remembered(
    path: Path, opener: Opener, memo: _Memo | None, compute: Callable[[BinaryIO], T]
) -> T | object:
    key = _version(path) if memo is not None else None
    known = None if memo is None else memo.get(key)
    if known is not None:
        return known
    with opener.open_binary(path) as stream:
        value = compute(stream)
    if memo is not None and key is not None and _version(path) == key:
        memo.put(key, value)  # unchanged while it was read
    return value


def _version(path: Path) -> _Key | None:
    """The file's version as a key, None when it cannot be looked at."""
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
