"""Report formats: terminal table, JSON, SARIF 2.1.0, a self-contained HTML page, and the
suggested policy."""

from __future__ import annotations

import unicodedata


def printable(text: str) -> str:
    """``text`` with control and format characters spelled as escapes.

    Evidence comes from the machine being audited (file names, variable names): a name holding
    terminal escape sequences or bidirectional overrides must not repaint the reader's screen.
    """
    if text.isprintable():
        return text
    return "".join(
        ch if ch.isprintable() and unicodedata.category(ch) != "Cf" else ascii(ch)[1:-1]
        for ch in text
    )
