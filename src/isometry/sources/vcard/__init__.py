"""Contacts from vCard files (2.1, 3.0 and 4.0) as ``person`` nodes.

``blocks`` splits a file into cards with their lines and byte ranges, ``contentlines`` parses a
card's properties with vobject, ``values`` decodes property values, ``person`` maps a card to a
node, and ``importer`` is the ``apple-contacts`` importer the engine calls.
"""

from isometry.sources.vcard.importer import ContactsImporter

__all__ = ["ContactsImporter"]
