"""Every audit check, by name: an explicit dict, so what runs is visible in one place."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from corral.audit.checks import compute, corral_self, credentials, identity, privilege, services
from corral.audit.checks.base import Out
from corral.audit.config import AuditConfig

CheckFunction = Callable[[AuditConfig, Out], None]


@dataclass(frozen=True, slots=True)
class Check:
    name: str
    category: str
    run: CheckFunction
    description: str
    timeout: float | None = None  # seconds; None: the audit's per-check default


def _registry(*checks: Check) -> dict[str, Check]:
    return {check.name: check for check in checks}


CHECKS: dict[str, Check] = _registry(
    # credentials
    Check("env-secrets", "credentials", credentials.check_env_secrets, "secrets in variables"),
    Check(
        "credential-files",
        "credentials",
        credentials.check_credential_files,
        "readable credential files (cloud, kube, git, registries, browsers, dotenv)",
    ),
    Check("ssh-keys", "credentials", credentials.check_ssh_keys, "readable SSH private keys"),
    Check(
        "cloud-identity",
        "credentials",
        identity.check_cloud_identity,
        "identities granted, via read-only CLI calls (only with --cloud-identity)",
        timeout=30.0,
    ),
    # reachable services
    Check("metadata", "services", services.check_metadata, "cloud metadata endpoints"),
    Check(
        "container-sockets",
        "services",
        services.check_container_sockets,
        "docker, containerd, podman and CRI sockets",
    ),
    Check("kubernetes-api", "services", services.check_kubernetes_api, "Kubernetes API routes"),
    Check("local-databases", "services", services.check_local_databases, "databases on loopback"),
    Check("ssh-agents", "services", services.check_ssh_agents, "usable SSH agents"),
    Check(
        "egress",
        "services",
        services.check_egress,
        "default routes; TCP to --probe-egress HOST",
        timeout=15.0,
    ),
    # privilege
    Check("identity", "privilege", privilege.check_identity, "uid, gid and privileged groups"),
    Check("sudo", "privilege", privilege.check_sudo, "sudo -n -l and sudoers rules"),
    Check("setuid", "privilege", privilege.check_setuid, "setuid and file-capability programs"),
    Check("capabilities", "privilege", privilege.check_capabilities, "process capabilities"),
    Check("path-dirs", "privilege", privilege.check_path_dirs, "writable $PATH directories"),
    Check("system-files", "privilege", privilege.check_system_files, "writable system files"),
    Check("shell-startup", "privilege", privilege.check_shell_startup, "shell start-up files"),
    Check("scheduling", "privilege", privilege.check_scheduling, "cron and systemd access"),
    Check("ptrace", "privilege", privilege.check_ptrace, "tracing other processes"),
    Check("namespaces", "privilege", privilege.check_namespaces, "namespaces"),
    Check("seccomp", "privilege", privilege.check_seccomp, "seccomp and no_new_privs"),
    # compute and money (payment keys are found by env-secrets and credential-files)
    Check("gpus", "compute", compute.check_gpus, "visible GPUs and their other users"),
    Check("cgroup-limits", "compute", compute.check_cgroup_limits, "memory, CPU and pids limits"),
    # Corral itself
    Check("corral-policy", "corral", corral_self.check_policy_access, "the policy file"),
    Check("corral-state", "corral", corral_self.check_state_access, "state directory and log"),
    Check("corral-program", "corral", corral_self.check_program_files, "Corral's program files"),
)
