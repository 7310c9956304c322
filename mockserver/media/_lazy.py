"""A module imported on its first use: PyAV, numpy and Pillow's image modules take ~0.5 s to
import, which a server that never checks an image or renders a video need not spend."""

from __future__ import annotations

import importlib
from typing import Any


class Lazy:
    """Stands for ``module`` (or its ``member``) under ``alias`` in ``namespace`` (a module's
    ``globals()``) until first used: then it imports it and puts it there in its place, so
    later uses see the module itself."""

    def __init__(
        self, namespace: dict[str, Any], module: str, alias: str, member: str | None = None
    ) -> None:
        self._namespace = namespace
        self._module, self._alias, self._member = module, alias, member

    def __getattr__(self, attr: str) -> Any:
        found = importlib.import_module(self._module)
        if self._member is not None:
            found = getattr(found, self._member)
        self._namespace[self._alias] = found  # later uses see the module itself
        return getattr(found, attr)
