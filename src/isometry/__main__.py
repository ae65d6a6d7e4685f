"""``python -m isometry``: the same as the ``isometry`` command."""

from isometry.cli.main import run

if __name__ == "__main__":
    run()
