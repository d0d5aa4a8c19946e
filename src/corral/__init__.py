"""Corral keeps autonomous AI agents inside the bounds their owners set.

The public facade is :class:`Guard`::

    from corral import Guard
    decision = Guard("default").decide({"kind": "exec", "command": "pytest -q"})
"""

from corral.engine.guard import Explanation, Guard
from corral.model.decisions import Decision

__all__ = ["Decision", "Explanation", "Guard"]
__version__ = "0.1.0"
