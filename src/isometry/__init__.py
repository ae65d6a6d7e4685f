"""Isometry ETL: bring a person's knowledge into one versioned node database, safely."""

from isometry import api
from isometry.errors import IsometryError
from isometry.model import Edge, Node, edge_id_for, node_id_for
from isometry.vcs.fieldmerge import MergePolicy
from isometry.vcs.repository import Repository

__all__ = [
    "Edge",
    "IsometryError",
    "MergePolicy",
    "Node",
    "Repository",
    "api",
    "edge_id_for",
    "node_id_for",
]
__version__ = "0.1.0"
