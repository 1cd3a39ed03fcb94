"""Old import paths that keep working after a name moved, with a warning when used.

A module whose names moved (figure functions to `r21d_edu.viz`, say) sets
``__getattr__ = moved_names(__name__, {"old_name": "r21d_edu.viz.module"})``: the old
path still gives the object, imports its new module only when it is used, and
warns then — never on import, since a warning on stderr fails strict nbval.
"""

from __future__ import annotations

import importlib
import warnings
from collections.abc import Callable, Mapping


def moved_names(module: str, moved: Mapping[str, str],
                new_home: str = "r21d_edu.viz") -> Callable[[str], object]:
    """A module-level ``__getattr__`` resolving `moved` names (name -> module holding it now).

    The warning names the public path, ``new_home.name``.
    """

    def __getattr__(name: str) -> object:
        if name in moved:
            warnings.warn(f"{module}.{name} moved to {new_home}.{name}",
                          DeprecationWarning, stacklevel=2)
            return getattr(importlib.import_module(moved[name]), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
