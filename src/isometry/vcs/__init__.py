"""Version control of nodes and edges: branches, commits, diff, three-way merge, history."""
