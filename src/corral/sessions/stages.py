"""Kill-chain stages, which rule categories reach them, and which tasks make a category on-task."""

from __future__ import annotations

from enum import IntEnum


class Stage(IntEnum):
    """The stages of the chain Corral watches for, in the order an intrusion usually takes."""

    recon = 1
    credential_access = 2
    tunnel_c2 = 3
    resource_acquisition = 4
    spend_exfiltration = 5


# A rule's ``category`` decides the stage a match reaches. Persistence, privilege escalation,
# evasion and execution raise risk but are not stages of this chain.
CATEGORY_STAGE: dict[str, Stage] = {
    "recon": Stage.recon,
    "credential_access": Stage.credential_access,
    "tunnel": Stage.tunnel_c2,
    "reverse_shell": Stage.tunnel_c2,
    "mining": Stage.resource_acquisition,
    "resource_acquisition": Stage.resource_acquisition,
    "wallet_abuse": Stage.spend_exfiltration,
    "exfiltration": Stage.spend_exfiltration,
}

# Policy clauses that reach a stage: spending over the budget or in an unbudgeted currency.
CLAUSE_STAGE: dict[str, Stage] = {
    "CR-POL-006": Stage.spend_exfiltration,
    "CR-POL-009": Stage.spend_exfiltration,
}

# Behaviour topics a task has to mention for a step of that category to be on-task. A task
# "fix the failing test" mentions none of them, so mining, tunnels or payments are off-task.
TOPIC_WORDS: dict[str, tuple[str, ...]] = {
    "mining": ("mine", "mining", "miner", "crypto", "monero", "hashrate"),
    "tunnel": ("tunnel", "port forward", "port-forward", "expose", "ngrok", "vpn", "proxy", "ssh"),
    "reverse_shell": ("reverse shell", "pentest", "penetration test", "red team", "ctf"),
    "wallet_abuse": (
        "pay",
        "purchas",
        "buy",
        "spend",
        "billing",
        "subscription",
        "invoice",
        "credit",
        "wallet",
        "checkout",
    ),
    "resource_acquisition": (
        "cloud",
        "instance",
        "vm",
        "gpu",
        "cluster",
        "deploy",
        "provision",
        "infrastructure",
        "terraform",
        "scale",
        "kubernetes",
        "ec2",
        "compute",
    ),
    "exfiltration": ("upload", "backup", "publish", "transfer", "export", "share"),
}


def off_task_topics(task: str, topics: set[str]) -> list[str]:
    """The topics of a step that its task says nothing about."""
    text = task.casefold()
    return sorted(t for t in topics if not any(word in text for word in TOPIC_WORDS[t]))
