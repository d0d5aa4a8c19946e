"""Every kind of finding the audit can report, under a stable id.

Ids never change meaning: dashboards, SARIF consumers and suppressions key on them. A check picks
the kind and supplies evidence; the title, ATT&CK techniques and default fix live here, once.
"""

from __future__ import annotations

from dataclasses import dataclass

from corral.audit.model import COULD_NOT_CHECK, Severity


@dataclass(frozen=True, slots=True)
class Kind:
    id: str
    category: str
    severity: Severity
    title: str
    attack: tuple[str, ...]
    fix: str


def _kinds(*kinds: Kind) -> dict[str, Kind]:
    return {k.id: k for k in kinds}


_CRED = "credentials"
_SVC = "services"
_PRIV = "privilege"
_COMP = "compute"
_SELF = "corral"

KINDS: dict[str, Kind] = _kinds(
    # -- credentials ----------------------------------------------------------------------------
    Kind(
        "CR-AUD-001",
        _CRED,
        "high",
        "Secret in an environment variable (by name)",
        ("T1552.001",),
        "Start the agent with a clean environment (env -i, or pass only the variables it needs); "
        "give it short-lived, narrowly scoped tokens.",
    ),
    Kind(
        "CR-AUD-002",
        _CRED,
        "high",
        "Secret-shaped value in an environment variable",
        ("T1552.001",),
        "Remove the variable from the agent's environment; rotate the key if it was ever logged.",
    ),
    Kind(
        "CR-AUD-003",
        _CRED,
        "high",
        "Cloud CLI credentials readable",
        ("T1552.001", "T1078.004"),
        "Run the agent as a user without cloud credentials, or hide the directory from it "
        "(corral run fences it off); use workload identity with a minimal role instead.",
    ),
    Kind(
        "CR-AUD-004",
        _CRED,
        "high",
        "Kubernetes config readable",
        ("T1552.001", "T1078.004"),
        "Do not mount a kubeconfig into the agent's home; give it a namespace-scoped service "
        "account if it needs the cluster at all.",
    ),
    Kind(
        "CR-AUD-005",
        _CRED,
        "high",
        "Kubernetes service-account token readable",
        ("T1528", "T1552.007"),
        "Set automountServiceAccountToken: false on the pod, or bind the account to no roles.",
    ),
    Kind(
        "CR-AUD-006",
        _CRED,
        "high",
        "SSH private key readable",
        ("T1552.004",),
        "Move keys out of the agent's home; use a deploy key with a passphrase or an agent that "
        "confirms each use.",
    ),
    Kind(
        "CR-AUD-007",
        _CRED,
        "high",
        "Git or netrc credentials readable",
        ("T1552.001",),
        "Remove ~/.netrc and ~/.git-credentials from the agent's home; use a credential helper "
        "with short-lived tokens.",
    ),
    Kind(
        "CR-AUD-008",
        _CRED,
        "high",
        "Container registry credentials readable",
        ("T1552.001",),
        "Log out of registries in the agent's account (docker logout) or use a credential helper "
        "it cannot call.",
    ),
    Kind(
        "CR-AUD-009",
        _CRED,
        "high",
        "Package registry token readable",
        ("T1552.001", "T1195.002"),
        "Remove publish tokens from .npmrc/.pypirc/cargo/gem configs the agent can read; publish "
        "from CI with trusted publishing instead.",
    ),
    Kind(
        "CR-AUD-010",
        _CRED,
        "high",
        "Browser or keyring store readable",
        ("T1555.003", "T1555"),
        "Never run an agent as a desktop user; give it its own account without browser profiles "
        "or keyrings.",
    ),
    Kind(
        "CR-AUD-011",
        _CRED,
        "high",
        "Cloud identity granted by the credentials found",
        ("T1078.004", "T1087.004"),
        "Replace the identity with one that has only the permissions the task needs.",
    ),
    Kind(
        "CR-AUD-012",
        _CRED,
        "high",
        "Local password hashes readable",
        ("T1003.008",),
        "Restore /etc/shadow to mode 0640 root:shadow and keep the agent out of the shadow group.",
    ),
    Kind(
        "CR-AUD-013",
        _CRED,
        "medium",
        "Credential-like file readable",
        ("T1552.001",),
        "Move the file out of the agent's reach or make it unreadable to the agent's user.",
    ),
    # -- reachable services ---------------------------------------------------------------------
    Kind(
        "CR-AUD-020",
        _SVC,
        "critical",
        "Cloud metadata service reachable",
        ("T1552.005",),
        "Block link-local addresses for the agent (iptables/nftables owner match, or run it in a "
        "network namespace); on AWS require IMDSv2 with hop limit 1.",
    ),
    Kind(
        "CR-AUD-021",
        _SVC,
        "critical",
        "Container runtime socket usable",
        ("T1611", "T1610"),
        "Do not mount the runtime socket into the agent's environment; remove the agent's user "
        "from the docker group.",
    ),
    Kind(
        "CR-AUD-022",
        _SVC,
        "high",
        "Kubernetes API route configured",
        ("T1613", "T1609"),
        "Give the agent no cluster credentials and block the API address in its egress fence.",
    ),
    Kind(
        "CR-AUD-023",
        _SVC,
        "medium",
        "Local database reachable on loopback",
        ("T1213", "T1005"),
        "Require authentication on the database, or run the agent in a network namespace without "
        "access to the host's loopback.",
    ),
    Kind(
        "CR-AUD-024",
        _SVC,
        "high",
        "SSH agent usable",
        ("T1563.001", "T1021.004"),
        "Unset SSH_AUTH_SOCK for the agent, or use an agent that asks before each signature "
        "(ssh-add -c).",
    ),
    Kind(
        "CR-AUD-025",
        _SVC,
        "medium",
        "Outbound route to arbitrary hosts",
        ("T1041", "T1071"),
        "Route the agent's traffic through Corral's egress proxy only (network namespace without "
        "a default route, or an nftables owner rule).",
    ),
    Kind(
        "CR-AUD-026",
        _SVC,
        "high",
        "Egress to a chosen host succeeded",
        ("T1041", "T1071"),
        "Fence egress so only the proxy is reachable; allow named hosts in the policy.",
    ),
    Kind(
        "CR-AUD-027",
        _SVC,
        "info",
        "Container runtime socket present but not usable",
        ("T1610",),
        "Nothing to do for this user; keep the socket's group membership tight.",
    ),
    # -- privilege ------------------------------------------------------------------------------
    Kind(
        "CR-AUD-030",
        _PRIV,
        "critical",
        "Runs as root",
        ("T1078.003", "T1548"),
        "Run the agent as an unprivileged user of its own (corral audit --as-user U to check it).",
    ),
    Kind(
        "CR-AUD-031",
        _PRIV,
        "high",
        "Member of a privileged group",
        ("T1078.003", "T1548"),
        "Remove the agent's user from groups that grant root-equivalent access.",
    ),
    Kind(
        "CR-AUD-032",
        _PRIV,
        "critical",
        "sudo without a password",
        ("T1548.003",),
        "Remove NOPASSWD rules for the agent's user and groups (visudo -f FILE).",
    ),
    Kind(
        "CR-AUD-033",
        _PRIV,
        "critical",
        "sudoers file writable",
        ("T1548.003",),
        "chown root:root and chmod 0440 every file under /etc/sudoers.d.",
    ),
    Kind(
        "CR-AUD-034",
        _PRIV,
        "high",
        "Setuid or capability binary that can spawn a shell",
        ("T1548.001",),
        "Remove the setuid bit (chmod u-s) or file capability (setcap -r) from the binary.",
    ),
    Kind(
        "CR-AUD-035",
        _PRIV,
        "info",
        "Setuid binaries present",
        ("T1548.001",),
        "Expected on most systems; start the agent with no_new_privs (corral run does) to "
        "disarm them.",
    ),
    Kind(
        "CR-AUD-036",
        _PRIV,
        "high",
        "Effective Linux capabilities",
        ("T1548", "T1611"),
        "Drop all capabilities for the agent (capsh --drop, or the container runtime's cap_drop).",
    ),
    Kind(
        "CR-AUD-037",
        _PRIV,
        "high",
        "Writable directory on $PATH",
        ("T1574.007",),
        "Remove the directory from the PATH other users and services use, or make it unwritable.",
    ),
    Kind(
        "CR-AUD-038",
        _PRIV,
        "critical",
        "Writable system file",
        ("T1546", "T1543", "T1098"),
        "Restore ownership root:root and mode 0644 (0640 for secrets) on the file.",
    ),
    Kind(
        "CR-AUD-039",
        _PRIV,
        "medium",
        "Writable shell start-up file",
        ("T1546.004",),
        "Make the agent's start-up files read-only to it, or start it with a fresh home.",
    ),
    Kind(
        "CR-AUD-040",
        _PRIV,
        "high",
        "Can schedule jobs (cron or systemd)",
        ("T1053.003", "T1053.006", "T1543.002"),
        "Deny the agent's user in /etc/cron.deny, and make the systemd unit directories "
        "unwritable to it.",
    ),
    Kind(
        "CR-AUD-041",
        _PRIV,
        "high",
        "Can trace other processes",
        ("T1055.008",),
        "Set kernel.yama.ptrace_scope=1 (or 2), and run the agent as a user that owns no other "
        "processes.",
    ),
    Kind(
        "CR-AUD-042",
        _PRIV,
        "medium",
        "Can create user namespaces",
        ("T1611", "T1068"),
        "Set user.max_user_namespaces=0 (or kernel.unprivileged_userns_clone=0) for hosts that "
        "run agents, or filter unshare/clone with seccomp.",
    ),
    Kind(
        "CR-AUD-043",
        _PRIV,
        "info",
        "Shares namespaces with the host init",
        ("T1611",),
        "Run the agent in its own mount, PID and network namespaces (corral run does).",
    ),
    Kind(
        "CR-AUD-044",
        _PRIV,
        "medium",
        "No seccomp filter",
        ("T1068",),
        "Run the agent under a seccomp filter (corral run, or the container runtime's default).",
    ),
    Kind(
        "CR-AUD-045",
        _PRIV,
        "low",
        "no_new_privs not set",
        ("T1548.001",),
        "Start the agent with no_new_privs (setpriv --no-new-privs, or corral run).",
    ),
    # -- compute and money ----------------------------------------------------------------------
    Kind(
        "CR-AUD-050",
        _COMP,
        "medium",
        "GPU visible",
        ("T1496",),
        "Hide GPUs the task does not need (CUDA_VISIBLE_DEVICES is advisory: remove the device "
        "nodes from the agent's namespace).",
    ),
    Kind(
        "CR-AUD-051",
        _COMP,
        "high",
        "GPU shared with other workloads",
        ("T1496", "T1005"),
        "Give the agent a dedicated GPU or MIG slice.",
    ),
    Kind(
        "CR-AUD-052",
        _COMP,
        "medium",
        "No resource limit",
        ("T1496", "T1499"),
        "Run the agent in a cgroup with memory.max, cpu.max and pids.max set (corral run, "
        "systemd-run -p MemoryMax=... or the container runtime's limits).",
    ),
    Kind(
        "CR-AUD-053",
        _COMP,
        "critical",
        "Payment or billing credential present",
        ("T1552.001", "T1657"),
        "Remove payment keys from the agent's reach; use restricted keys with spend limits and "
        "route every spend through Corral's ledger.",
    ),
    # -- Corral itself --------------------------------------------------------------------------
    Kind(
        "CR-AUD-060",
        _SELF,
        "critical",
        "Corral policy writable",
        ("T1562.001",),
        "Make the policy file and its directory owned by root (or the operator) and unwritable "
        "to the agent.",
    ),
    Kind(
        "CR-AUD-061",
        _SELF,
        "low",
        "Corral policy readable",
        ("T1518.001",),
        "Acceptable; hide it (chmod 0600) if the policy itself is sensitive.",
    ),
    Kind(
        "CR-AUD-062",
        _SELF,
        "critical",
        "Corral state or log writable",
        ("T1562.001", "T1070"),
        "chmod 0700 the state directory and run Corral as a different user than the agent.",
    ),
    Kind(
        "CR-AUD-063",
        _SELF,
        "medium",
        "Corral state or log readable",
        ("T1005",),
        "chmod 0700 the state directory and run Corral as a different user than the agent.",
    ),
    Kind(
        "CR-AUD-064",
        _SELF,
        "critical",
        "Corral program files writable",
        ("T1562.001", "T1554"),
        "Install Corral into a root-owned location the agent cannot write.",
    ),
    Kind(
        "CR-AUD-065",
        _SELF,
        "medium",
        "Corral state directory can be created by the agent",
        ("T1562.001",),
        "Create the state directory (mode 0700) as the operator before starting the agent.",
    ),
    # -- the audit itself -----------------------------------------------------------------------
    Kind(
        COULD_NOT_CHECK,
        "audit",
        "info",
        "Could not check",
        (),
        "Run the audit with enough permissions to look, or check this item by hand.",
    ),
)
