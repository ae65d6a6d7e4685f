"""Importers: one module or package per source format, registered as plugins.

An importer knows nothing of storage: it reads a source through an ``Opener`` (which enforces
the operation's grants) and yields drafts with a locator and a resumable cursor. The engine
owns transactions, lineage rows and checkpoints.
"""
