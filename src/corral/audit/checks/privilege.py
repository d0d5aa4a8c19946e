"""What the agent's user can do to the machine: who it is, how it could become root, and where
it could plant code that someone else runs."""

from __future__ import annotations

import ctypes
import grp
import os
import pwd
import re
import shutil
import stat
import struct
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from corral.audit.checks.base import Out, creatable, expand, read_head, writable
from corral.audit.config import AuditConfig

# ---------------------------------------------------------------------------------------------
# Identity
# ---------------------------------------------------------------------------------------------

# Groups that are root in all but name (docker, lxd, disk) or open logs and secrets.
_ROOT_EQUIVALENT_GROUPS = {"root", "sudo", "wheel", "admin", "docker", "lxd", "disk", "libvirt"}
_SENSITIVE_GROUPS = {"adm", "shadow", "kvm", "systemd-journal", "video", "podman"}


def user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_names() -> dict[int, str]:
    names = {}
    for gid in {os.getgid(), *os.getgroups()}:
        try:
            names[gid] = grp.getgrgid(gid).gr_name
        except KeyError:
            names[gid] = str(gid)
    return names


def check_identity(cfg: AuditConfig, out: Out) -> None:
    uid = os.getuid()
    if uid == 0 or os.geteuid() == 0:
        _root(cfg, uid, out)
    for gid, name in sorted(group_names().items()):
        if name == "root" and uid == 0:
            continue  # root's own group adds nothing to being root
        if name in _ROOT_EQUIVALENT_GROUPS:
            out.add(
                "CR-AUD-031",
                f"group {name} (gid {gid})",
                severity="critical",
                detail=f"membership in {name} is equivalent to root",
            )
        elif name in _SENSITIVE_GROUPS:
            out.add(
                "CR-AUD-031", f"group {name} (gid {gid})", detail=f"{name} opens logs or devices"
            )


def _root(cfg: AuditConfig, uid: int, out: Out) -> None:
    if _powerless(cfg):
        # Root in name only (as inside corral run): what is left is owning root's files where a
        # mount is writable, and being the owner kernel checks that skip capabilities look for.
        out.add(
            "CR-AUD-030",
            "uid 0 without capabilities",
            severity="low",
            detail="uid 0, but every capability set is empty and no_new_privs is set",
        )
        return
    out.add("CR-AUD-030", f"uid={uid}({user_name(uid)})", detail="the agent would be root")


def _powerless(cfg: AuditConfig) -> bool:
    """Every capability set empty (none can come back: the bounding set is empty too) and
    no_new_privs set (setuid programs and file capabilities give nothing)."""
    try:
        status = proc_status(cfg)
    except OSError:
        return False
    masks = [status.get(field) for field in ("CapEff", "CapPrm", "CapBnd", "CapAmb")]
    empty = all(mask is not None and not mask.strip("0") for mask in masks)
    return empty and status.get("NoNewPrivs") == "1"


# ---------------------------------------------------------------------------------------------
# sudo
# ---------------------------------------------------------------------------------------------


def check_sudo(cfg: AuditConfig, out: Out) -> None:
    _sudo_list(cfg, out)
    _sudoers_files(cfg, out)


def _sudo_list(cfg: AuditConfig, out: Out) -> None:
    sudo = shutil.which("sudo", path=cfg.env.get("PATH", ""))
    if sudo is None:
        return
    try:
        done = subprocess.run(
            [sudo, "-n", "-l"],
            capture_output=True,
            timeout=3,
            check=False,
            stdin=subprocess.DEVNULL,
            env={"LC_ALL": "C", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        out.could_not("sudo -n -l", exc)
        return
    if done.returncode != 0:
        return  # a password is required, or the user may not use sudo at all
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        if "NOPASSWD" in line:
            out.add("CR-AUD-032", f"sudo -n -l: {line.strip()}", detail="listed by sudo itself")


_SUDOERS_DEFAULTS = re.compile(r"^\s*(Defaults|User_Alias|Runas_Alias|Host_Alias|Cmnd_Alias)\b")


def _sudoers_files(cfg: AuditConfig, out: Out) -> None:
    main = cfg.sys_path("/etc/sudoers")
    files = [main] if os.path.lexists(main) else []
    files += expand(cfg.sys_path("/etc/sudoers.d"), "*", out)
    folder = cfg.sys_path("/etc/sudoers.d")
    if os.path.isdir(folder) and writable(folder):
        out.add("CR-AUD-033", str(folder), detail="the agent can add a sudoers drop-in")
    principals = _principals()
    for path in files:
        if writable(path):
            out.add("CR-AUD-033", str(path), detail="the agent can grant itself sudo")
        try:
            text = read_head(path).text
        except (FileNotFoundError, PermissionError):
            continue
        except OSError as exc:
            out.could_not(str(path), exc)
            continue
        for number, rule in sudoers_rules(text):
            if "NOPASSWD" in rule and rule_applies(rule, principals):
                out.add(
                    "CR-AUD-032",
                    f"{path}:{number}",
                    detail=f"rule: {rule[:160]}",
                )


def sudoers_rules(text: str) -> list[tuple[int, str]]:
    """(line number, rule) for each user specification, continuations joined."""
    rules: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw if raw.lstrip().startswith(("#include", "@include")) else raw.split("#", 1)[0]
        if not pending:
            start = number
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        if full and "=" in full and not _SUDOERS_DEFAULTS.match(full) and "include" not in full:
            rules.append((start, " ".join(full.split())))
    return rules


def _principals() -> set[str]:
    uid = os.getuid()
    names = {"ALL", user_name(uid), f"#{uid}"}
    for gid, group in group_names().items():
        names.update({f"%{group}", f"%#{gid}"})
    return names


def rule_applies(rule: str, principals: set[str]) -> bool:
    users = rule.split(None, 1)[0]
    return any(u.strip() in principals for u in users.split(","))


# ---------------------------------------------------------------------------------------------
# Setuid binaries and file capabilities
# ---------------------------------------------------------------------------------------------

BINARY_DIRS = ("usr/bin", "usr/sbin", "bin", "sbin", "usr/local/bin", "usr/local/sbin")
# Programs that give a shell, read or write any file, or run code when they hold privilege.
_SHELL_CAPABLE = re.compile(
    r"^(?:ba|da|z|k|c|tc|fi)?sh$|^busybox$|^python[0-9.]*$|^perl[0-9.]*$|^ruby[0-9.]*$|"
    r"^php[0-9.]*$|^node(js)?$|^lua[0-9.]*$|^[gmn]?awk$|^find$|^vim?(\.basic|\.tiny)?$|"
    r"^nano$|^less$|^more$|^env$|^cp$|^mv$|^tar$|^zip$|^rsync$|^nmap$|^docker$|^systemctl$|"
    r"^strace$|^gdb$|^chmod$|^chown$|^dd$|^tee$|^openssl$|^wget$|^curl$|^git$|^socat$|"
    r"^nc(at)?$|^expect$|^script$|^xargs$|^taskset$|^nice$|^timeout$|^stdbuf$|^ed$|^sed$|"
    r"^install$|^ln$|^base64$|^xxd$|^jq$"
)
# Capability bit numbers that let a binary become root or bypass file permissions.
_DANGEROUS_FILE_CAPS = {
    0: "cap_chown",
    1: "cap_dac_override",
    2: "cap_dac_read_search",
    3: "cap_fowner",
    6: "cap_setgid",
    7: "cap_setuid",
    16: "cap_sys_module",
    19: "cap_sys_ptrace",
    21: "cap_sys_admin",
}


@dataclass(frozen=True, slots=True)
class Privileged:
    path: Path
    setuid: bool
    setgid: bool
    caps: tuple[str, ...]


def check_setuid(cfg: AuditConfig, out: Out) -> None:
    found = privileged_binaries(cfg, out)
    ordinary = []
    for item in found:
        shell = bool(_SHELL_CAPABLE.match(item.path.name))
        if item.caps:
            out.add(
                "CR-AUD-034",
                str(item.path),
                detail=f"file capabilities: {', '.join(item.caps)}",
            )
        elif shell and item.setuid:
            out.add("CR-AUD-034", str(item.path), severity="critical", detail="setuid")
        elif shell:
            out.add("CR-AUD-034", str(item.path), severity="medium", detail="setgid")
        else:
            ordinary.append(item.path.name)
    if ordinary:
        names = ", ".join(sorted(set(ordinary))[:20])
        out.add(
            "CR-AUD-035",
            *sorted({str(p.parent) for p in (i.path for i in found) if p.name in ordinary}),
            detail=f"{len(ordinary)} setuid/setgid programs: {names}",
        )


def privileged_binaries(cfg: AuditConfig, out: Out) -> list[Privileged]:
    seen_dirs: set[tuple[int, int]] = set()
    found: list[Privileged] = []
    for relative in BINARY_DIRS:
        folder = cfg.root / relative
        try:
            info = folder.stat()
        except FileNotFoundError:
            continue
        except OSError as exc:
            out.could_not(str(folder), exc)
            continue
        if (info.st_dev, info.st_ino) in seen_dirs:
            continue  # /bin -> /usr/bin on merged-/usr systems
        seen_dirs.add((info.st_dev, info.st_ino))
        found.extend(_scan_binaries(folder, out))
    return found


def _scan_binaries(folder: Path, out: Out) -> list[Privileged]:
    found = []
    try:
        entries = list(os.scandir(folder))
    except OSError as exc:
        out.could_not(str(folder), exc)
        return []
    for entry in entries:
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        setuid = bool(info.st_mode & stat.S_ISUID)
        setgid = bool(info.st_mode & stat.S_ISGID)
        caps = file_capabilities(entry.path)
        if setuid or setgid or caps:
            found.append(Privileged(Path(entry.path), setuid, setgid, caps))
    return found


def file_capabilities(path: str) -> tuple[str, ...]:
    """Dangerous capabilities in a file's ``security.capability`` attribute."""
    try:
        raw = os.getxattr(path, "security.capability", follow_symlinks=False)
    except OSError:
        return ()
    if len(raw) < 12:
        return ()
    permitted = struct.unpack_from("<I", raw, 4)[0]
    if len(raw) >= 20:
        permitted |= struct.unpack_from("<I", raw, 12)[0] << 32
    return tuple(name for bit, name in sorted(_DANGEROUS_FILE_CAPS.items()) if permitted >> bit & 1)


# ---------------------------------------------------------------------------------------------
# Process capabilities, seccomp, no_new_privs
# ---------------------------------------------------------------------------------------------

CAPABILITY_NAMES: tuple[str, ...] = (
    "chown",
    "dac_override",
    "dac_read_search",
    "fowner",
    "fsetid",
    "kill",
    "setgid",
    "setuid",
    "setpcap",
    "linux_immutable",
    "net_bind_service",
    "net_broadcast",
    "net_admin",
    "net_raw",
    "ipc_lock",
    "ipc_owner",
    "sys_module",
    "sys_rawio",
    "sys_chroot",
    "sys_ptrace",
    "sys_pacct",
    "sys_admin",
    "sys_boot",
    "sys_nice",
    "sys_resource",
    "sys_time",
    "sys_tty_config",
    "mknod",
    "lease",
    "audit_write",
    "audit_control",
    "setfcap",
    "mac_override",
    "mac_admin",
    "syslog",
    "wake_alarm",
    "block_suspend",
    "audit_read",
    "perfmon",
    "bpf",
    "checkpoint_restore",
)
_DANGEROUS = {
    "sys_admin",
    "sys_ptrace",
    "sys_module",
    "dac_override",
    "dac_read_search",
    "setuid",
    "setgid",
    "net_admin",
    "sys_rawio",
    "bpf",
    "fowner",
    "chown",
}


def proc_status(cfg: AuditConfig) -> dict[str, str]:
    text = read_head(cfg.proc / "self" / "status").text
    fields = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        fields[key.strip()] = value.strip()
    return fields


def capability_names(mask: int) -> list[str]:
    return [
        name if bit < len(CAPABILITY_NAMES) else f"cap_{bit}"
        for bit, name in enumerate([*CAPABILITY_NAMES, *([""] * 24)])
        if mask >> bit & 1
    ]


def check_capabilities(cfg: AuditConfig, out: Out) -> None:
    status = proc_status(cfg)
    for field in ("CapEff", "CapAmb"):
        value = status.get(field)
        if value is None:
            continue
        mask = int(value, 16)
        if not mask:
            continue
        names = capability_names(mask)
        dangerous = sorted(_DANGEROUS.intersection(names))
        out.add(
            "CR-AUD-036",
            f"{field}={value}",
            severity="high" if dangerous else "low",
            detail=f"{len(names)} capabilities"
            + (f", including {', '.join('cap_' + n for n in dangerous)}" if dangerous else ""),
        )


def check_seccomp(cfg: AuditConfig, out: Out) -> None:
    status = proc_status(cfg)
    mode = status.get("Seccomp")
    if mode is None:
        out.could_not("seccomp status", f"no Seccomp field in {cfg.proc / 'self' / 'status'}")
    elif mode == "0":
        out.add("CR-AUD-044", "Seccomp: 0", detail="every system call is available")
    if status.get("NoNewPrivs") == "0":
        out.add("CR-AUD-045", "NoNewPrivs: 0", detail="setuid programs can raise privilege")


# ---------------------------------------------------------------------------------------------
# Writable places that others execute
# ---------------------------------------------------------------------------------------------


def check_path_dirs(cfg: AuditConfig, out: Out) -> None:
    seen: set[str] = set()
    for entry in dict.fromkeys(cfg.env.get("PATH", "").split(":")):
        real = os.path.realpath(entry) if entry else entry
        if real in seen:
            continue  # /bin and /usr/bin on merged-/usr systems
        seen.add(real)
        if not entry or not os.path.isabs(entry):
            out.add(
                "CR-AUD-037",
                f"PATH entry {entry or '(empty)'!r}",
                detail="a relative entry runs programs from whatever directory is current",
            )
            continue
        path = Path(entry)
        if os.path.isdir(path) and writable(path):
            out.add("CR-AUD-037", str(path), detail="the agent can plant programs here")
        elif not os.path.exists(path) and creatable(path):
            out.add(
                "CR-AUD-037",
                str(path),
                severity="medium",
                detail="missing, and the agent can create it",
            )


SYSTEM_FILES = (
    "etc",
    "etc/passwd",
    "etc/shadow",
    "etc/group",
    "etc/sudoers",
    "etc/ld.so.preload",
    "etc/ld.so.conf",
    "etc/ld.so.conf.d",
    "etc/profile",
    "etc/profile.d",
    "etc/bash.bashrc",
    "etc/zsh/zshrc",
    "etc/environment",
    "etc/hosts",
    "etc/resolv.conf",
    "etc/pam.d",
    "etc/security/limits.conf",
    "etc/ssh/sshd_config",
    "etc/init.d",
    "etc/rc.local",
    "etc/modprobe.d",
    "etc/apt/sources.list.d",
    "usr/local/lib",
)


def check_system_files(cfg: AuditConfig, out: Out) -> None:
    for relative in SYSTEM_FILES:
        path = cfg.root / relative
        if os.path.lexists(path) and writable(path):
            out.add("CR-AUD-038", str(path), detail="writable by the agent")


SHELL_STARTUP = (
    ".bashrc",
    ".bash_profile",
    ".bash_login",
    ".bash_logout",
    ".profile",
    ".zshrc",
    ".zshenv",
    ".zprofile",
    ".config/fish/config.fish",
)


def check_shell_startup(cfg: AuditConfig, out: Out) -> None:
    home = cfg.home_dir
    absent = []
    for relative in SHELL_STARTUP:
        path = home / relative
        if os.path.lexists(path):
            if writable(path):
                out.add("CR-AUD-039", str(path), detail="writable: runs in every new shell")
        elif creatable(path):
            absent.append(str(path))
    if absent:
        out.add(
            "CR-AUD-039",
            *absent,
            severity="low",
            detail="absent, and the agent can create them",
        )


# ---------------------------------------------------------------------------------------------
# Scheduled jobs
# ---------------------------------------------------------------------------------------------

SCHEDULER_DIRS = (
    "etc/crontab",
    "etc/cron.d",
    "etc/cron.hourly",
    "etc/cron.daily",
    "etc/cron.weekly",
    "etc/cron.monthly",
    "var/spool/cron",
    "var/spool/cron/crontabs",
    "etc/systemd/system",
    "etc/systemd/user",
    "lib/systemd/system",
    "usr/lib/systemd/system",
)


def check_scheduling(cfg: AuditConfig, out: Out) -> None:
    for relative in SCHEDULER_DIRS:
        path = cfg.root / relative
        if os.path.lexists(path) and writable(path):
            out.add("CR-AUD-040", str(path), severity="critical", detail="writable by the agent")
    _user_crontab(cfg, out)
    _user_systemd(cfg, out)


def _user_crontab(cfg: AuditConfig, out: Out) -> None:
    crontab = shutil.which("crontab", path=cfg.env.get("PATH", ""))
    if crontab is None:
        return
    name = user_name(os.getuid())
    allow, deny = cfg.sys_path("/etc/cron.allow"), cfg.sys_path("/etc/cron.deny")
    if os.path.exists(allow):
        if name not in _listed_users(allow, out):
            return
    elif os.path.exists(deny) and name in _listed_users(deny, out):
        return
    running = any(comm in ("cron", "crond", "cronie") for _, _, comm in processes(cfg))
    out.add(
        "CR-AUD-040",
        crontab,
        severity="high" if running else "low",
        detail="user crontab allowed; a cron daemon is "
        + ("running" if running else "not running"),
    )


def _listed_users(path: Path, out: Out) -> set[str]:
    try:
        return {line.strip() for line in read_head(path).text.splitlines()}
    except OSError as exc:
        out.could_not(str(path), exc)
        return set()


def _user_systemd(cfg: AuditConfig, out: Out) -> None:
    units = cfg.home_dir / ".config" / "systemd" / "user"
    runtime = cfg.env.get("XDG_RUNTIME_DIR") or f"/run/user/{os.getuid()}"
    manager = Path(runtime) / "systemd"
    if not os.path.isdir(manager):
        return
    if (os.path.isdir(units) and writable(units)) or creatable(units):
        out.add(
            "CR-AUD-040",
            str(units),
            detail="a systemd user manager runs and the agent can add units",
        )


# ---------------------------------------------------------------------------------------------
# ptrace and namespaces
# ---------------------------------------------------------------------------------------------


def processes(cfg: AuditConfig) -> list[tuple[int, int, str]]:
    """(pid, real uid, command name) of every process this user can see."""
    found = []
    try:
        names = os.listdir(cfg.proc)
    except OSError:
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            text = read_head(cfg.proc / name / "status", 4096).text
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in text.splitlines() if ":" in line)
        try:
            uid = int(fields.get("Uid", "-1").split()[0])
        except (ValueError, IndexError):
            continue
        found.append((int(name), uid, fields.get("Name", "").strip()))
    return found


def check_ptrace(cfg: AuditConfig, out: Out) -> None:
    path = cfg.proc / "sys" / "kernel" / "yama" / "ptrace_scope"
    try:
        scope = int(read_head(path, 16).text.strip())
        evidence = f"kernel.yama.ptrace_scope={scope}"
    except FileNotFoundError:
        scope, evidence = 0, "Yama not loaded (classic ptrace rules)"
    except (OSError, ValueError) as exc:
        out.could_not(str(path), exc if isinstance(exc, OSError) else "not a number")
        return
    if not syscall_allowed(_traceme):
        return  # ptrace itself is refused (a seccomp filter): nothing can be traced
    uid, me = os.getuid(), os.getpid()
    privileged = uid == 0 or "sys_ptrace" in capability_names(
        int(proc_status(cfg).get("CapEff", "0"), 16)
    )
    if privileged and scope < 3:
        targets = [p for p in processes(cfg) if p[0] != me]
        detail = f"privileged: can trace all {len(targets)} visible processes"
    elif scope == 0:
        targets = [p for p in processes(cfg) if p[1] == uid and p[0] != me]
        detail = f"can trace {len(targets)} other processes of uid {uid}"
    else:
        return
    out.add("CR-AUD-041", evidence, severity="high" if targets else "low", detail=detail)


# Inode numbers of the kernel's initial namespaces (include/linux/proc_ns.h): fixed, so they can
# be recognised without reading /proc/1, which an unprivileged user may not.
_INIT_NAMESPACES = {
    "ipc": 0xEFFFFFFF,
    "uts": 0xEFFFFFFE,
    "user": 0xEFFFFFFD,
    "pid": 0xEFFFFFFC,
    "cgroup": 0xEFFFFFFB,
}


def check_namespaces(cfg: AuditConfig, out: Out) -> None:
    shared = []
    for name, inode in _INIT_NAMESPACES.items():
        try:
            link = os.readlink(cfg.proc / "self" / "ns" / name)
        except OSError:
            continue
        if link == f"{name}:[{inode}]":
            shared.append(name)
    net = _same_as_init(cfg, "net")
    if net:
        shared.append("net")
    if shared:
        out.add(
            "CR-AUD-043",
            *(f"ns:{n}" for n in shared),
            detail="the agent runs in the host's initial namespaces: " + ", ".join(shared),
        )
    _user_namespaces(cfg, out)


def _same_as_init(cfg: AuditConfig, name: str) -> bool:
    try:
        return os.readlink(cfg.proc / "self" / "ns" / name) == os.readlink(
            cfg.proc / "1" / "ns" / name
        )
    except OSError:
        return False


def _user_namespaces(cfg: AuditConfig, out: Out) -> None:
    limit = _sysctl(cfg, "sys/user/max_user_namespaces")
    if limit is None or limit == 0:
        return
    clone = _sysctl(cfg, "sys/kernel/unprivileged_userns_clone")
    restricted = _sysctl(cfg, "sys/kernel/apparmor_restrict_unprivileged_userns")
    if clone == 0 or restricted == 1:
        return
    if not syscall_allowed(_new_user_namespace):
        return  # the sysctls allow it, but this process may not (a seccomp filter, a chroot)
    out.add(
        "CR-AUD-042",
        f"user.max_user_namespaces={limit}",
        detail="unprivileged user namespaces are enabled",
    )


def _sysctl(cfg: AuditConfig, relative: str) -> int | None:
    try:
        return int(read_head(cfg.proc / relative, 32).text.strip())
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# Probes: what the kernel lets this process do, tried for real in a throw-away child
# ---------------------------------------------------------------------------------------------

_PTRACE_TRACEME = 0
_CLONE_NEWUSER = 0x10000000
_libc = ctypes.CDLL(None, use_errno=True)


def _traceme() -> int:
    return int(_libc.ptrace(_PTRACE_TRACEME, 0, None, None))


def _new_user_namespace() -> int:
    return int(_libc.unshare(_CLONE_NEWUSER))


def syscall_allowed(call: Callable[[], int]) -> bool:
    """Whether ``call`` (a libc call returning 0 on success) succeeds in a forked child.

    Settings (sysctls, Yama) say what the kernel allows in general; a seccomp filter, a chroot or
    a missing capability can still refuse this process, and only trying tells. The child does
    nothing but the call and ``_exit``, so forking from a thread is safe; what the call changes
    (a new namespace, being traced by this process) ends with the child.
    """
    pid = os.fork()
    if pid == 0:  # the child
        code = 1
        try:
            code = 0 if call() == 0 else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0
