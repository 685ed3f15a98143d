"""Where the workplace's shared data is (``shared/realworld`` recordings, ``shared/contract``).

It lives beside the repository, never inside it. A clean clone may sit anywhere, so it is
looked for in ``$KYLECODE_SHARED_DIR``, then beside the repository and its parents, then at the
workplace's fixed place; tests that need it skip, saying where they looked, when it is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[1]


def _candidates() -> list[Path]:
    found = [Path(os.environ["KYLECODE_SHARED_DIR"])] if os.environ.get("KYLECODE_SHARED_DIR") else []
    found += [parent / "shared" for parent in _ROOT.parents]
    found.append(Path("/work/shared"))
    return found


def shared_dir() -> Path:
    """The shared directory (one holding DESIGN.md), or the first place looked at when none exists."""
    candidates = _candidates()
    return next((c for c in candidates if (c / "DESIGN.md").is_file()), candidates[0])


SHARED = shared_dir()
REALWORLD = SHARED / "realworld"
