"""The engine: templates, operations, the queue, the seven-phase executor, grants and limits."""
