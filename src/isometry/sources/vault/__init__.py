"""Markdown files and Obsidian vaults (the ``markdown`` importer, template
``markdown-import``): front matter, title, tags, ``[[wikilinks]]`` and Markdown links as
edges resolved as Obsidian resolves them, embedded files as attachments.

Modules: ``importer`` (the plugin), ``note`` (one file to one node), ``frontmatter``,
``syntax`` (what the body says), ``index`` (the vault and link resolution), ``links`` (links
to edges, attachments and rewritten content), ``files`` (reading the files links point at).
"""

from isometry.sources.vault.importer import MarkdownImporter

__all__ = ["MarkdownImporter"]
