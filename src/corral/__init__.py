"""Corral keeps autonomous AI agents inside the bounds their owners set.

The public facade is :class:`Guard`::

    from corral import Guard
    decision = Guard("default").decide({"kind": "exec", "command": "pytest -q"})

Also here: :func:`guarded` (a decorator that judges a tool function's calls), :class:`Blocked`
(what it raises) and ``corral.subprocess`` (``from corral import subprocess``: ``run``, ``Popen``
and friends that judge the command first).

Names are loaded on first use, so a program that needs one small part of Corral (a coding-agent
hook asking a running server) does not pay for loading the engine.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from corral.engine.guard import Explanation, Guard
    from corral.model.decisions import Decision
    from corral.sdk import subprocess
    from corral.sdk.guarded import Blocked, guarded

__all__ = ["Blocked", "Decision", "Explanation", "Guard", "guarded", "subprocess"]
__version__ = "0.1.0"

_EXPORTS: dict[str, tuple[str, str | None]] = {
    "Guard": ("corral.engine.guard", "Guard"),
    "Explanation": ("corral.engine.guard", "Explanation"),
    "Decision": ("corral.model.decisions", "Decision"),
    "Blocked": ("corral.sdk.guarded", "Blocked"),
    "guarded": ("corral.sdk.guarded", "guarded"),
    "subprocess": ("corral.sdk.subprocess", None),
}


def __getattr__(name: str) -> Any:
    try:
        module_name, attribute = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'corral' has no attribute {name!r}") from None
    module = importlib.import_module(module_name)
    value = module if attribute is None else getattr(module, attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
