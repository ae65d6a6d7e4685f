"""Safari: ``History.db`` (visited pages), ``Bookmarks.plist`` (bookmarks and the Reading List)
and Netscape bookmark HTML, as Safari and every other browser export their bookmarks."""

from isometry.sources.safari.importer import SafariImporter

__all__ = ["SafariImporter"]
