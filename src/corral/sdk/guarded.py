"""``@guarded``: judge every call of a tool function before it runs.

::

    from corral import guarded, Blocked

    @guarded(policy="default")
    def run_shell(command: str) -> str: ...

    run_shell("ssh -R 80:localhost:22 x@y")   # raises Blocked, carrying the decision

By default a call becomes a ``tool`` action named after the function with its arguments, which
the guard maps to what it really is (a ``run_shell(command=...)`` tool is judged as a shell
command, see :mod:`corral.analysis.tools`). Give ``mapper`` to build the action yourself.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any, TypeVar, cast

from corral.engine.guard import Guard
from corral.integrations.guard_factory import make_guard
from corral.model.decisions import Decision

F = TypeVar("F", bound=Callable[..., Any])
Mapper = Callable[..., dict[str, Any]]


class Blocked(Exception):
    """A call Corral did not allow (``deny``, or ``ask`` with no one to ask)."""

    def __init__(self, decision: Decision, action: Any) -> None:
        super().__init__(f"Corral {decision.decision}: {decision.reason}")
        self.decision = decision
        self.action = action


class _LazyGuard:
    """Builds the guard on first use, so decorating a function at import time costs nothing."""

    def __init__(self, guard: Guard | None, policy: str, workspace: list[str] | None) -> None:
        self._guard = guard
        self._policy = policy
        self._workspace = workspace

    def get(self) -> Guard:
        if self._guard is None:
            self._guard = make_guard(self._policy, self._workspace)
        return self._guard


def check(guard: Guard, action: dict[str, Any]) -> Decision:
    """Judge ``action``; return the decision when allowed, raise :class:`Blocked` otherwise."""
    decision = guard.decide(action)
    if decision.decision != "allow":
        raise Blocked(decision, action)
    return decision


def guarded(
    func: F | None = None,
    *,
    guard: Guard | None = None,
    policy: str = "default",
    workspace: list[str] | None = None,
    name: str | None = None,
    mapper: Mapper | None = None,
) -> Any:
    """Decorate a (sync or async) tool function so each call is judged first."""

    def decorate(target: F) -> F:
        lazy = _LazyGuard(guard, policy, workspace)
        tool_name = name or target.__name__
        signature = inspect.signature(target)

        def action_for(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
            if mapper is not None:
                return mapper(*args, **kwargs)
            bound = signature.bind(*args, **kwargs)
            bound.apply_defaults()
            return {"kind": "tool", "name": tool_name, "args": dict(bound.arguments)}

        if inspect.iscoroutinefunction(target):

            @functools.wraps(target)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                check(lazy.get(), action_for(args, kwargs))
                return await target(*args, **kwargs)

            return cast(F, async_wrapper)

        @functools.wraps(target)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            check(lazy.get(), action_for(args, kwargs))
            return target(*args, **kwargs)

        return cast(F, wrapper)

    return decorate(func) if func is not None else decorate
