"""The store: decisions, sessions and alerts, kept where Corral keeps its state.

:class:`Store` is the interface; :class:`SQLiteStore` the embedded default (one WAL-mode SQLite
file, ``corral.db``, in the state directory). The layer sits beside the sinks: it may use the
model, the sinks' redactor and the utilities, never the CLI.
"""

from corral.store.base import (
    SEVERITIES,
    AlertRow,
    ChainCheck,
    DecisionRow,
    SessionEvent,
    SessionRow,
    SessionTxn,
    Store,
    StoreError,
)
from corral.store.sqlite import DB_NAME, SQLiteStore

__all__ = [
    "DB_NAME",
    "SEVERITIES",
    "AlertRow",
    "ChainCheck",
    "DecisionRow",
    "SQLiteStore",
    "SessionEvent",
    "SessionRow",
    "SessionTxn",
    "Store",
    "StoreError",
]
