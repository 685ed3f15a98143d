"""The runtime's version, in a module of its own: the wire client (``user-agent``) and the runner
(run info) need it, and the package ``__init__`` re-exports everything above them."""

from __future__ import annotations

from typing import Final

__version__: Final = "0.1.0"
