"""Apple Notes: every note of a ``NoteStore.sqlite`` or a ``group.com.apple.notes`` container,
with folders, formatting (as Markdown), tables, hashtags, links between notes and attachments."""

from isometry.sources.applenotes.importer import AppleNotesImporter

__all__ = ["AppleNotesImporter"]
