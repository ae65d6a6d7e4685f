"""Plumbing: the database connection, its dialect, schema migrations and transactions."""
