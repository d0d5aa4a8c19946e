"""The fence around one agent: cgroup, namespaces, filesystem view, capabilities, seccomp.

:class:`Fence` prepares every part in the supervisor (cgroup, seccomp program, the list of paths
to hide), then starts the stage-2 launcher (:mod:`corral.supervision.stage2`) which applies the
rest inside the new namespaces. Any part that cannot be set up stops the start with a
:class:`FenceError` naming what is missing and how to fix it, unless the person running Corral
passed ``--degraded=<part>`` for exactly that part.
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from corral.sinks.redact import secret_variable
from corral.supervision import stage2
from corral.supervision.cgroups import AgentCgroup, CgroupError, Limits, detect_layout
from corral.supervision.seccomp import SeccompUnavailable, compile_filter
from corral.util.statedir import default_state_dir

# Parts that --degraded may switch off, each with what is lost without it.
PARTS: dict[str, str] = {
    "cgroup": "no CPU/memory/process limits, no freeze, kill walks the process tree",
    "pid": "the agent sees the host's processes; daemons are caught only by the cgroup",
    "mount": "the agent sees and may write the whole filesystem, secrets included",
    "net": "the agent shares the host's network",
    "seccomp": "ptrace, mount, bpf, module loading and keyrings stay available",
    "proxy": "no egress proxy: the agent's network has loopback only, nothing leaves it",
}
# Parts the stage-2 launcher does not know about: components outside the namespaces.
OUTER_PARTS = frozenset({"proxy"})

# Paths under every home directory that hold credentials.
SECRET_HOME_PATHS = (
    ".aws",
    ".ssh",
    ".config/gcloud",
    ".kube",
    ".docker",
    ".azure",
    ".gnupg",
    ".netrc",
    ".git-credentials",
    ".pypirc",
    ".npmrc",
    ".config/gh",
    ".config/corral",
    ".corral",
    ".local/state/corral",
)
SECRET_SYSTEM_PATHS = ("/etc/shadow", "/etc/gshadow", "/etc/corral", "/var/lib/corral")
SCRATCH = ("/tmp", "/var/tmp", "/dev/shm")

# Environment variables that carry credentials, removed before the agent starts.
SECRET_ENV_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "CLOUDSDK_", "CORRAL_")
SECRET_ENV_NAMES = frozenset({"SSH_AUTH_SOCK", "KUBECONFIG", "DOCKER_AUTH_CONFIG", "GH_TOKEN"})


def scrub_env(base: dict[str, str], keep: frozenset[str]) -> dict[str, str]:
    """``base`` without the variables that carry credentials, except those named in ``keep``.

    Removed: the names and prefixes above, and every variable ``corral audit`` reports as a
    secret, by its name or by the shape of its value (one shared judgement, so the audit run
    inside the fence finds none). A git config value removed takes its key along, so git never
    sees half an entry.
    """
    removed = {
        key
        for key, value in base.items()
        if key.startswith(SECRET_ENV_PREFIXES)
        or key in SECRET_ENV_NAMES
        or secret_variable(key, value) is not None
    }
    removed |= {
        "GIT_CONFIG_KEY_" + key.removeprefix("GIT_CONFIG_VALUE_")
        for key in removed
        if key.startswith("GIT_CONFIG_VALUE_")
    }
    return {key: value for key, value in base.items() if key in keep or key not in removed}


@dataclass(frozen=True, slots=True)
class Missing:
    part: str
    what: str
    fix: str

    def describe(self) -> str:
        return (
            f"{self.part}: {self.what}\n    fix: {self.fix}\n    or accept: --degraded={self.part}"
        )


class FenceError(Exception):
    """The fence could not be set up; nothing was started."""

    def __init__(self, missing: list[Missing]) -> None:
        super().__init__("; ".join(f"{m.part}: {m.what}" for m in missing))
        self.missing = missing

    def describe(self) -> str:
        lines = ["corral: refusing to start the agent unfenced; missing:"]
        lines += ["  " + m.describe() for m in self.missing]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Bind:
    source: str
    target: str
    writable: bool = False


def runtime_binds() -> list[Bind]:
    """Corral's own interpreter, environment and code, read-only, where they live under a
    scratch directory the agent gets a private copy of (a checkout in /tmp): without them the
    agent could not run the Python it was started with, nor Corral's own tools."""
    package_root = Path(stage2.__file__).resolve().parents[2]  # src/ or site-packages/
    candidates = {
        sys.prefix,
        sys.base_prefix,
        os.path.dirname(os.path.realpath(sys.executable)),
        str(package_root),
    }
    return [
        Bind(path, path)
        for path in sorted(candidates)
        if os.path.isdir(path) and any(path == s or path.startswith(s + "/") for s in SCRATCH)
    ]


@dataclass(slots=True)
class SandboxAdditions:
    """What another component adds to the agent's sandbox (the egress proxy, for one)."""

    binds: list[Bind] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    # Called with the pid of the fence's init once it runs: /proc/<pid>/ns/net is the agent's
    # network namespace, where a proxy can place its listener or a veth end.
    on_started: Callable[[int], None] | None = None
    note: str = ""  # one phrase for the fence line ("egress only through the proxy at ...")


@dataclass(frozen=True, slots=True)
class FenceContext:
    workspace: tuple[str, ...]
    run_id: str


SandboxExtension = Callable[[FenceContext], SandboxAdditions]
# Explicit registry: a component registers its extension by name (no import magic).
EXTENSIONS: dict[str, SandboxExtension] = {}


def register_extension(name: str, extension: SandboxExtension) -> None:
    EXTENSIONS[name] = extension


@dataclass(slots=True)
class FenceOptions:
    workspace: tuple[str, ...]
    limits: Limits
    degraded: frozenset[str] = frozenset()
    homes: tuple[str, ...] = ()  # extra home directories whose secrets are hidden
    hide: tuple[str, ...] = ()  # extra paths to hide (policy file, protected paths)
    pass_env: frozenset[str] = frozenset()
    env: dict[str, str] | None = None  # base environment (default: os.environ)
    cwd: str | None = None
    binds: tuple[Bind, ...] = ()  # extra paths shown to the agent (read-only unless writable)
    # This run's own sandbox extensions (the egress bridge), after the registered ones.
    extensions: tuple[SandboxExtension, ...] = ()


@dataclass(slots=True)
class Started:
    process: subprocess.Popen[bytes]
    init_pid: int


class Fence:
    """Prepare with :meth:`prepare` (may raise FenceError), then :meth:`launch` once."""

    def __init__(self, options: FenceOptions) -> None:
        self.options = options
        self.run_id = uuid.uuid4().hex[:12]
        self.cgroup: AgentCgroup | None = None
        self.seccomp: bytes | None = None
        self.additions = SandboxAdditions()
        self.notes: list[str] = []
        self.layout_text = ""

    @property
    def active(self) -> frozenset[str]:
        return frozenset(PARTS) - self.options.degraded

    def prepare(self) -> None:
        missing: list[Missing] = []
        if "cgroup" in self.active:
            missing += self._prepare_cgroup()
        if "seccomp" in self.active:
            try:
                self.seccomp = compile_filter()
            except SeccompUnavailable as exc:
                missing.append(
                    Missing("seccomp", str(exc), "install libseccomp (apt-get install libseccomp2)")
                )
        if os.geteuid() != 0 and self.active & {"pid", "mount", "net"}:
            missing += _userns_problems()
        if missing:
            self.close()
            raise FenceError(missing)
        context = FenceContext(self.options.workspace, self.run_id)
        try:
            for extension in [*EXTENSIONS.values(), *self.options.extensions]:
                self._add(extension(context))
        except FenceError:
            self.close()
            raise

    def _add(self, extra: SandboxAdditions) -> None:
        self.additions.binds += extra.binds
        self.additions.env = merge_env(self.additions.env, extra.env)
        if extra.on_started is not None:
            self.additions.on_started = _chain(self.additions.on_started, extra.on_started)
        if extra.note:
            self.notes.append(extra.note)

    def _prepare_cgroup(self) -> list[Missing]:
        try:
            layout = detect_layout()
            self.layout_text = layout.describe()
            self.cgroup = AgentCgroup.create(layout, f"corral-{self.run_id}", self.options.limits)
        except CgroupError as exc:
            return [Missing("cgroup", str(exc), exc.fix or "run corral as root")]
        return []

    def spec(self, argv: list[str]) -> dict[str, object]:
        active = self.active
        uses_userns = os.geteuid() != 0 and bool(active & {"pid", "mount", "net"})
        cwd = self.options.cwd or (self.options.workspace[0] if self.options.workspace else "/")
        return {
            "supervisor_pid": os.getpid(),
            "cgroup_procs": self.cgroup.procs_files() if self.cgroup else [],
            "namespaces": {
                "mount": "mount" in active,
                "pid": "pid" in active,
                "net": "net" in active,
                "ipc": "pid" in active,
                "uts": "pid" in active,
                "user": uses_userns,
            },
            "uid": os.getuid(),
            "gid": os.getgid(),
            "hostname": "corral-agent",
            "fs": {
                "enabled": "mount" in active,
                "stage": "/tmp",
                "writable": list(self.options.workspace),
                "tmpfs": list(SCRATCH),
                "binds": [
                    {"src": b.source, "dst": b.target, "rw": b.writable}
                    for b in [*self.options.binds, *self.additions.binds, *runtime_binds()]
                ],
                "hide": self.hidden_paths(),
            },
            "drop_caps": True,
            "seccomp_bpf": self.seccomp.hex() if self.seccomp else None,
            "argv": argv,
            "env": self.agent_env(),
            "cwd": cwd,
        }

    def hidden_paths(self) -> list[str]:
        homes = {str(Path.home()), *self.options.homes}
        sudo_user = os.environ.get("SUDO_USER")
        if sudo_user:
            with contextlib.suppress(KeyError):
                homes.add(pwd.getpwnam(sudo_user).pw_dir)
        paths = [os.path.join(home, rel) for home in sorted(homes) for rel in SECRET_HOME_PATHS]
        paths += [*SECRET_SYSTEM_PATHS, str(default_state_dir())]
        for entry in self.options.hide:
            if entry.startswith("~/"):
                paths += [os.path.join(home, entry[2:]) for home in sorted(homes)]
            elif entry.startswith("/"):
                paths.append(entry)
        paths += [str(p) for p in Path("/etc/ssh").glob("ssh_host_*_key")]
        return [p for p in dict.fromkeys(paths) if os.path.lexists(p) and p != "/"]

    def agent_env(self) -> dict[str, str]:
        base = dict(self.options.env if self.options.env is not None else os.environ)
        # Scrubbed before the fence's own settings (proxy, git proxy) go in: those always stay.
        env = merge_env(scrub_env(base, self.options.pass_env), self.additions.env)
        env["CORRAL_SUPERVISED"] = self.run_id
        return env

    def launch(self, argv: list[str]) -> Started:
        """Start stage 2 and wait until the agent's init is running (or the start failed)."""
        spec_read, spec_write = os.pipe()
        status_read, status_write = os.pipe()
        # With an on_started step, the agent waits at this gate until the step is done: the
        # egress forwarder is listening before the agent's first connection.
        gate_read, gate_write = os.pipe() if self.additions.on_started else (-1, -1)
        spec = self.spec(argv)
        if gate_read >= 0:
            spec["gate_fd"] = gate_read
        command = [sys.executable, "-I", "-S", stage2.__file__, str(spec_read), str(status_write)]
        inherited = (spec_read, status_write, *([gate_read] if gate_read >= 0 else []))
        try:
            process = subprocess.Popen(command, pass_fds=inherited)
        finally:
            for fd in inherited:
                os.close(fd)
        with os.fdopen(spec_write, "wb") as handle:
            handle.write(json.dumps(spec).encode())
        try:
            init_pid, error = _read_status(status_read)
            if error is not None or init_pid is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                process.wait()
                raise FenceError([_diagnose(error or "the launcher exited without a word")])
            if self.additions.on_started is not None:
                self.additions.on_started(init_pid)
                os.write(gate_write, b"g")
        finally:
            if gate_write >= 0:
                os.close(gate_write)  # unopened: the agent is called off and exits 125
        return Started(process, init_pid)

    def close(self) -> None:
        if self.cgroup is not None:
            self.cgroup.destroy()


GIT_CONFIG_COUNT = "GIT_CONFIG_COUNT"


def git_config_entries(env: dict[str, str]) -> list[tuple[str, str]]:
    """git's ``GIT_CONFIG_COUNT``/``GIT_CONFIG_KEY_n``/``GIT_CONFIG_VALUE_n`` list in ``env``
    (git ignores a count that is not a number; so does this)."""
    try:
        count = int(env.get(GIT_CONFIG_COUNT, "0"))
    except ValueError:
        return []
    entries = []
    for n in range(max(0, min(count, 1000))):
        key = env.get(f"GIT_CONFIG_KEY_{n}")
        if key is not None:
            entries.append((key, env.get(f"GIT_CONFIG_VALUE_{n}", "")))
    return entries


def merge_env(base: dict[str, str], extra: dict[str, str]) -> dict[str, str]:
    """``base`` updated with ``extra``, except git's numbered config lists, which are joined
    (``extra``'s entries last, so that they win) rather than overwriting each other's slots."""
    entries = git_config_entries(base) + git_config_entries(extra)
    numbered = ("GIT_CONFIG_KEY_", "GIT_CONFIG_VALUE_")
    merged = {
        key: value
        for key, value in {**base, **extra}.items()
        if key != GIT_CONFIG_COUNT and not key.startswith(numbered)
    }
    if entries:
        merged[GIT_CONFIG_COUNT] = str(len(entries))
        for n, (key, value) in enumerate(entries):
            merged[f"GIT_CONFIG_KEY_{n}"] = key
            merged[f"GIT_CONFIG_VALUE_{n}"] = value
    return merged


def _read_status(fd: int) -> tuple[int | None, str | None]:
    init_pid: int | None = None
    with os.fdopen(fd, "rb") as handle:
        for raw in handle:
            line = raw.decode(errors="replace").strip()
            if line.startswith("init "):
                init_pid = int(line.split()[1])
            elif line.startswith("error "):
                return init_pid, line[6:]
            elif line == "ready":
                return init_pid, None
    return init_pid, None if init_pid is not None else "the launcher exited before the agent"


def _diagnose(error: str) -> Missing:
    text = error.lower()
    if "unshare" in text:
        return Missing("pid", f"cannot create namespaces ({error})", _USERNS_FIX)
    if "seccomp" in text:
        return Missing("seccomp", error, "use a kernel built with CONFIG_SECCOMP_FILTER")
    if "mount" in text or "pivot_root" in text or "bind" in text:
        return Missing("mount", f"cannot build the filesystem view ({error})", _USERNS_FIX)
    if "cgroup" in text:
        return Missing("cgroup", error, "run corral as root or in a delegated cgroup")
    return Missing("launch", error, "see the message above; the agent was not started")


_USERNS_FIX = (
    "run corral as root, or enable unprivileged user namespaces "
    "(sysctl kernel.unprivileged_userns_clone=1; on Ubuntu also "
    "sysctl kernel.apparmor_restrict_unprivileged_userns=0)"
)


def _userns_problems() -> list[Missing]:
    checks = {
        "/proc/sys/user/max_user_namespaces": "0",
        "/proc/sys/kernel/unprivileged_userns_clone": "0",
        "/proc/sys/kernel/apparmor_restrict_unprivileged_userns": "1",
    }
    for path, bad in checks.items():
        with contextlib.suppress(OSError):
            if Path(path).read_text().strip() == bad:
                return [
                    Missing("pid", f"user namespaces are disabled ({path} = {bad})", _USERNS_FIX)
                ]
    return []


def _chain(
    first: Callable[[int], None] | None, second: Callable[[int], None]
) -> Callable[[int], None]:
    def both(pid: int) -> None:
        if first is not None:
            first(pid)
        second(pid)

    return both


__all__ = [
    "EXTENSIONS",
    "PARTS",
    "Bind",
    "Fence",
    "FenceContext",
    "FenceError",
    "FenceOptions",
    "Missing",
    "SandboxAdditions",
    "SandboxExtension",
    "Started",
    "merge_env",
    "register_extension",
    "stage2",
]
