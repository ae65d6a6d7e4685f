"""Evernote .enex exports: notes as Markdown with tags, checklists, tables, tasks and files.

``importer`` reads a file record by record, ``stream`` finds the notes in it, ``note`` makes a
note's drafts, ``enml`` writes its text as Markdown and ``resources`` its files.
"""

from isometry.sources.evernote.importer import EvernoteImporter

__all__ = ["EvernoteImporter"]
