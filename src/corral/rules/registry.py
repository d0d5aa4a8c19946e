"""The rule library's registry: which files make up the library, loaded in this order.

An explicit dict rather than a directory scan, so adding a file is a reviewed change and a stray
file in the package cannot add or shadow rules.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

LIST_FILE = "lists.yaml"

RULE_FILES: dict[str, str] = {
    "tunnel": "tunnel.yaml",
    "reverse_shell": "reverse_shell.yaml",
    "mining": "mining.yaml",
    "resource_acquisition": "resources.yaml",
    "credential_access": "credentials.yaml",
    "persistence": "persistence.yaml",
    "privilege_escalation": "privilege.yaml",
    "defense_evasion": "evasion.yaml",
    "exfiltration": "exfiltration.yaml",
    "wallet_abuse": "wallet.yaml",
    "recon": "recon.yaml",
    "execution": "execution.yaml",
}


def library_dir() -> Path:
    return Path(str(resources.files("corral.rules") / "library"))
