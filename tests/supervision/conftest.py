"""Fixtures for the supervisor tests; the helpers behind them live in supervision_support
(imported by the tests under that unique name, so several test folders can be run together)."""

from supervision_support import supervised

__all__ = ["supervised"]
