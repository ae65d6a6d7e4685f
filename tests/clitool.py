"""The CLI as a test drives it: ``isometry ARGS --repo REPO`` run in-process, exit code checked."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from typer.testing import CliRunner, Result

from isometry.cli import main as cli_main

runner = CliRunner()


class CliTool:
    """Runs commands against the repository ``root/repo``, as the user ``tester``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.repo = root / "repo"

    def __call__(
        self, *args: str, code: int = 0, env: Mapping[str, str | None] | None = None
    ) -> Result:
        result = runner.invoke(
            cli_main.app,
            [*args, "--repo", str(self.repo)],
            env={"ISOMETRY_AUTHOR": "tester", "ISOMETRY_REPO": None, **(env or {})},
        )
        assert result.exit_code == code, (result.exit_code, result.stdout, result.stderr)
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self(*args, "--json", code=code).stdout)
