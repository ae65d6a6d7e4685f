"""Per-node provenance: which operation, source, record, transform and commit wrote each version."""
