"""The fence's second stage: runs as ``python -I -S stage2.py SPEC_FD STATUS_FD`` (stdlib only).

The supervisor starts this file as a fresh interpreter so that nothing of the supervisor (threads,
sockets, imported libraries) leaks into the agent, and so that the steps below run in a known
order before any code of the agent does:

outer (host pid namespace)
    joins the agent's cgroups, asks for SIGKILL when the supervisor dies, unshares the mount,
    pid, network, IPC and UTS namespaces (and a user namespace when not root), forks ``init``
    and relays its exit status.
init (pid 1 of the new pid namespace)
    asks for SIGKILL when ``outer`` dies, builds the filesystem view (read-only root, writable
    workspace, private /tmp, hidden secrets), brings up loopback, forks the agent, reaps every
    orphan and exits with the agent's status. When init exits the kernel kills everything left
    in the namespace: nothing the agent started outlives it.
agent
    drops every capability, sets ``no_new_privs``, installs the seccomp filter the supervisor
    compiled, and execs the command.

Every failure before the exec is reported on STATUS_FD as ``error <text>`` and ends the run: the
agent never starts half-fenced.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import errno
import fcntl
import json
import os
import signal
import socket
import struct
import sys
from typing import Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MNT_DETACH = 2

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

AT_FDCWD = -100
AT_RECURSIVE = 0x8000
MOUNT_ATTR_RDONLY = 0x1
MOUNT_ATTR_NOSUID = 0x2
# mount_setattr(2) has the same number on every architecture (the unified syscall table).
SYS_MOUNT_SETATTR = 442

SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


class SetupError(Exception):
    """A fence step failed; the message says which and why."""


def _check(result: int, what: str) -> int:
    if result < 0:
        err = ctypes.get_errno()
        raise SetupError(f"{what}: {os.strerror(err)} (errno {errno.errorcode.get(err, err)})")
    return result


def _prctl(option: int, arg: int, what: str) -> None:
    _check(_libc.prctl(option, ctypes.c_ulong(arg), 0, 0, 0), what)


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str = "") -> None:
    enc = [None if s is None else s.encode() for s in (source, target, fstype)]
    result = _libc.mount(enc[0], enc[1], enc[2], ctypes.c_ulong(flags), data.encode() or None)
    _check(result, f"mount {source or fstype} on {target}")


class _MountAttr(ctypes.Structure):
    _fields_ = [
        ("attr_set", ctypes.c_uint64),
        ("attr_clr", ctypes.c_uint64),
        ("propagation", ctypes.c_uint64),
        ("userns_fd", ctypes.c_uint64),
    ]


# -- outer --------------------------------------------------------------------------------------


def _outer(spec: dict[str, Any], status: int) -> int:
    for procs in spec["cgroup_procs"]:
        with open(procs, "w") as handle:
            handle.write("0")
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, "PR_SET_PDEATHSIG")
    if os.getppid() != spec["supervisor_pid"]:
        raise SetupError("the supervisor exited before the fence was up")
    ns = spec["namespaces"]
    flags = 0
    for name, bit in (
        ("mount", CLONE_NEWNS),
        ("pid", CLONE_NEWPID),
        ("net", CLONE_NEWNET),
        ("ipc", CLONE_NEWIPC),
        ("uts", CLONE_NEWUTS),
        ("user", CLONE_NEWUSER),
    ):
        if ns.get(name):
            flags |= bit
    if flags:
        _check(_libc.unshare(flags), "unshare")
    if ns.get("user"):
        _map_user(spec["uid"], spec["gid"])
    init_pid = os.fork()
    if init_pid == 0:
        try:
            _init(spec, status)
        except SetupError as exc:
            _report(status, f"error {exc}")
            os._exit(125)
        except BaseException as exc:  # anything else must still end the run, never half-fenced
            _report(status, f"error init: {type(exc).__name__}: {exc}")
            os._exit(125)
    _report(status, f"init {init_pid}")
    os.close(status)
    return _wait_exit(init_pid)


def _map_user(uid: int, gid: int) -> None:
    """Without root: be root (uid 0) inside the new user namespace, ourselves outside."""
    with open("/proc/self/setgroups", "w") as handle:
        handle.write("deny")
    with open("/proc/self/uid_map", "w") as handle:
        handle.write(f"0 {uid} 1")
    with open("/proc/self/gid_map", "w") as handle:
        handle.write(f"0 {gid} 1")


def _wait_exit(pid: int) -> int:
    while True:
        try:
            _, wstatus = os.waitpid(pid, 0)
        except ChildProcessError:
            return 125
        except InterruptedError:
            continue
        if os.WIFEXITED(wstatus):
            return os.WEXITSTATUS(wstatus)
        if os.WIFSIGNALED(wstatus):
            return 128 + os.WTERMSIG(wstatus)


# -- init ---------------------------------------------------------------------------------------


def _init(spec: dict[str, Any], status: int) -> None:
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, "PR_SET_PDEATHSIG (init)")
    ns = spec["namespaces"]
    if ns.get("mount"):
        _mount(None, "/", None, MS_REC | MS_PRIVATE)
        if spec["fs"]["enabled"]:
            _build_view(spec["fs"], fresh_proc=bool(ns.get("pid")))
    if ns.get("uts"):
        socket.sethostname(spec.get("hostname", "corral-agent"))
    if ns.get("net"):
        _loopback_up()
    agent = os.fork()
    if agent == 0:
        _agent(spec, status)
    _report(status, "ready")
    os.close(status)
    os._exit(_reap_until(agent))


def _reap_until(agent: int) -> int:
    """Reap every child (pid 1 inherits orphans); return when the agent itself has exited."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, lambda signum, frame: os.kill(agent, signum))
    code = 125
    while True:
        try:
            pid, wstatus = os.waitpid(-1, 0)
        except ChildProcessError:
            return code
        except InterruptedError:
            continue
        if pid == agent:
            if os.WIFEXITED(wstatus):
                return os.WEXITSTATUS(wstatus)
            return 128 + os.WTERMSIG(wstatus)


def _build_view(fs: dict[str, Any], *, fresh_proc: bool) -> None:
    """Read-only copy of the host tree, writable workspace, private scratch, hidden secrets."""
    # Open every bind source first: the staging tmpfs may cover it (it sits on /tmp).
    sources = {
        path: _open_path(path) for path in [*(b["src"] for b in fs["binds"]), *fs["writable"]]
    }
    stage = fs["stage"]
    _mount("tmpfs", stage, "tmpfs", MS_NOSUID | MS_NODEV, "mode=0700,size=1m")
    new_root = os.path.join(stage, "root")
    os.mkdir(new_root)
    _mount("/", new_root, None, MS_BIND | MS_REC)
    _read_only_tree(new_root)

    def inside(path: str) -> str:
        return os.path.join(new_root, path.lstrip("/"))

    if fresh_proc:
        _libc.umount2(inside("/proc").encode(), MNT_DETACH)
        _mount("proc", inside("/proc"), "proc", MS_NOSUID | MS_NODEV)
    for path in fs["tmpfs"]:
        if os.path.isdir(inside(path)):
            _mount("tmpfs", inside(path), "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777")
    for bind in fs["binds"]:
        _bind(sources[bind["src"]], inside(bind["dst"]), writable=bind["rw"])
    for path in fs["writable"]:
        _bind(sources[path], inside(path), writable=True)
    for fd in set(sources.values()):
        os.close(fd)
    for path in fs["hide"]:
        _hide(inside(path))
    os.chdir(new_root)
    _check(_libc.pivot_root(b".", b"."), "pivot_root")
    _check(_libc.umount2(b".", MNT_DETACH), "detach the old root")
    os.chdir("/")


def _read_only_tree(root: str) -> None:
    attr = _MountAttr(MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID, 0, 0, 0)
    result = _libc.syscall(
        SYS_MOUNT_SETATTR,
        AT_FDCWD,
        root.encode(),
        AT_RECURSIVE,
        ctypes.byref(attr),
        ctypes.sizeof(attr),
    )
    if result == 0:
        return
    if ctypes.get_errno() not in (errno.ENOSYS, errno.EINVAL):
        _check(result, "make the root read-only (mount_setattr)")
    # Kernels before 5.12: remount every mount under the new root read-only, one by one.
    for target in _mounts_under(root):
        flags = MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | _kept_flags(target)
        _mount(None, target, None, flags)


def _mounts_under(root: str) -> list[str]:
    targets = []
    with open("/proc/self/mountinfo") as handle:
        for line in handle:
            target = line.split()[4].encode().decode("unicode_escape")
            if target == root or target.startswith(root + "/"):
                targets.append(target)
    return targets


def _kept_flags(target: str) -> int:
    stat = os.statvfs(target)
    return MS_NODEV if stat.f_flag & os.ST_NODEV else 0


def _open_path(path: str) -> int:
    try:
        return os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError as exc:
        raise SetupError(f"bind {path}: {exc.strerror}") from exc


def _bind(source_fd: int, target: str, *, writable: bool) -> None:
    if not os.path.exists(target):
        _make_place(source_fd, target)
    _mount(f"/proc/self/fd/{source_fd}", target, None, MS_BIND | MS_REC)
    flags = MS_REMOUNT | MS_BIND | MS_NOSUID | (0 if writable else MS_RDONLY)
    _mount(None, target, None, flags | _kept_flags(target))


def _make_place(source_fd: int, target: str) -> None:
    """A mount point for a bind whose place is missing (possible in the scratch tmpfs only)."""
    try:
        if os.path.isdir(f"/proc/self/fd/{source_fd}"):
            os.makedirs(target, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            os.close(os.open(target, os.O_CREAT | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise SetupError(
            f"bind: no place for {target} in the read-only view: {exc.strerror}"
        ) from exc


def _hide(target: str) -> None:
    if os.path.isdir(target) and not os.path.islink(target):
        _mount("tmpfs", target, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV, "mode=0555,size=4k")
    elif os.path.lexists(target) and not os.path.islink(target):
        _mount("/dev/null", target, None, MS_BIND)
        _mount(None, target, None, MS_REMOUNT | MS_BIND | MS_RDONLY)


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        ifreq = struct.pack("16sH14x", b"lo", 0)
        flags = struct.unpack("16sH14x", fcntl.ioctl(sock, SIOCGIFFLAGS, ifreq))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH14x", b"lo", flags | IFF_UP))


# -- agent --------------------------------------------------------------------------------------


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [
        ("effective", ctypes.c_uint32),
        ("permitted", ctypes.c_uint32),
        ("inheritable", ctypes.c_uint32),
    ]


def _agent(spec: dict[str, Any], status: int) -> None:
    try:
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL, "PR_SET_PDEATHSIG (agent)")
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
            signal.signal(sig, signal.SIG_DFL)
        os.chdir(spec["cwd"])
        if spec["drop_caps"]:
            _drop_capabilities()
        _prctl(PR_SET_NO_NEW_PRIVS, 1, "PR_SET_NO_NEW_PRIVS")
        if spec["seccomp_bpf"]:
            _install_seccomp(bytes.fromhex(spec["seccomp_bpf"]))
    except (SetupError, OSError) as exc:
        _report(status, f"error agent: {exc}")
        os._exit(125)
    os.close(status)
    gate = spec.get("gate_fd")
    if gate is not None and not _wait_gate(int(gate)):
        os._exit(125)  # the supervisor could not finish the fence (the egress bridge): no start
    argv = spec["argv"]
    try:
        os.execvpe(argv[0], argv, spec["env"])
    except OSError as exc:
        sys.stderr.write(f"corral: cannot run {argv[0]}: {exc.strerror}\n")
        os._exit(127 if exc.errno == errno.ENOENT else 126)


def _wait_gate(fd: int) -> bool:
    """Wait until the supervisor has set up what needs the agent's namespaces (the egress
    forwarder): one byte means go, end of file means the start was called off."""
    while True:
        try:
            go = os.read(fd, 1)
            break
        except InterruptedError:
            continue
    os.close(fd)
    return go == b"g"


def _drop_capabilities() -> None:
    with open("/proc/sys/kernel/cap_last_cap") as handle:
        last = int(handle.read())
    for cap in range(last + 1):
        _prctl(PR_CAPBSET_DROP, cap, f"drop capability {cap} from the bounding set")
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = _CapHeader(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")


def _install_seccomp(program: bytes) -> None:
    buffer = ctypes.create_string_buffer(program, len(program))
    prog = _SockFprog(len(program) // 8, ctypes.cast(buffer, ctypes.c_void_p))
    result = _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0)
    _check(result, "install the seccomp filter")


# -- main ---------------------------------------------------------------------------------------


def _report(fd: int, line: str) -> None:
    with contextlib.suppress(OSError):
        os.write(fd, (line.replace("\n", " ") + "\n").encode())


def main() -> int:
    spec_fd, status = int(sys.argv[1]), int(sys.argv[2])
    with os.fdopen(spec_fd, "rb") as handle:
        spec = json.loads(handle.read())
    try:
        return _outer(spec, status)
    except (SetupError, OSError) as exc:
        _report(status, f"error {exc}")
        return 125


if __name__ == "__main__":
    sys.exit(main())
