"""Where the shared sample files are: ``../shared/fixtures`` beside the repository (read in
place, never copied into the project)."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
_BESIDE = REPO.parent / "shared" / "fixtures"
# A clone made somewhere else on this workplace's machines still finds them at their home.
FIXTURES = _BESIDE if _BESIDE.is_dir() else Path("/work/shared/fixtures")
