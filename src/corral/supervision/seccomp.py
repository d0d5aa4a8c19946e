"""The agent's seccomp filter, compiled to BPF with libseccomp (through ctypes).

Why libseccomp and not a hand-written BPF program: it is the library every container runtime
uses, it knows each architecture's syscall numbers (and the x32 trap on x86_64), and it is
installed wherever systemd is. It is loaded with ctypes so that Corral needs no compiled
extension; the supervisor compiles the filter once and hands the raw program to the stage-2
launcher, which installs it with ``prctl(PR_SET_SECCOMP)`` right before exec.

The filter is a deny list (everything else allowed): the calls an agent never needs and an
attacker uses to escape or hide — debugging other processes, mounting, loading kernel code, new
namespaces, keyrings, BPF.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os

# syscall -> why it is denied (shown in docs and in `corral run --explain-fence`)
DENIED: dict[str, str] = {
    "ptrace": "read or change another process (credential theft, injection)",
    "process_vm_readv": "read another process's memory",
    "process_vm_writev": "write another process's memory",
    "kcmp": "compare kernel objects of other processes",
    "mount": "change the filesystem view",
    "umount2": "change the filesystem view",
    "pivot_root": "change the filesystem view",
    "move_mount": "change the filesystem view",
    "open_tree": "change the filesystem view",
    "fsopen": "change the filesystem view",
    "fsmount": "change the filesystem view",
    "fsconfig": "change the filesystem view",
    "fspick": "change the filesystem view",
    "mount_setattr": "change the filesystem view",
    "unshare": "leave the fence's namespaces",
    "setns": "enter other namespaces",
    "bpf": "load kernel programs",
    "perf_event_open": "observe other processes and the kernel",
    "kexec_load": "replace the running kernel",
    "kexec_file_load": "replace the running kernel",
    "init_module": "load a kernel module",
    "finit_module": "load a kernel module",
    "delete_module": "unload a kernel module",
    "keyctl": "use kernel keyrings (credentials of other sessions)",
    "add_key": "use kernel keyrings",
    "request_key": "use kernel keyrings",
    "open_by_handle_at": "open files outside the view by handle",
    "name_to_handle_at": "open files outside the view by handle",
    "userfaultfd": "a common kernel-exploit primitive",
    "reboot": "reboot the host",
    "swapon": "change host swap",
    "swapoff": "change host swap",
    "acct": "change host process accounting",
    "quotactl": "change host disk quotas",
    "settimeofday": "change the host clock",
    "clock_settime": "change the host clock",
    "clock_adjtime": "change the host clock",
    "adjtimex": "change the host clock",
    "syslog": "read the kernel log",
    "iopl": "raw I/O port access",
    "ioperm": "raw I/O port access",
    "lookup_dcookie": "kernel profiling",
    "personality": "turn off address-space randomisation",
}

SCMP_ACT_ALLOW = 0x7FFF0000
SCMP_CMP_MASKED_EQ = 7
CLONE_NEWUSER = 0x10000000


def _errno_action(code: int) -> int:
    return 0x00050000 | (code & 0xFFFF)


class SeccompUnavailable(Exception):
    """libseccomp could not be loaded or used; the message says how to fix it."""


class _ArgCmp(ctypes.Structure):
    _fields_ = [
        ("arg", ctypes.c_uint),
        ("op", ctypes.c_int),
        ("datum_a", ctypes.c_uint64),
        ("datum_b", ctypes.c_uint64),
    ]


def _library() -> ctypes.CDLL:
    name = ctypes.util.find_library("seccomp") or "libseccomp.so.2"
    try:
        lib = ctypes.CDLL(name, use_errno=True)
    except OSError as exc:
        raise SeccompUnavailable(
            "libseccomp is not installed (needed for the syscall filter)",
        ) from exc
    lib.seccomp_init.restype = ctypes.c_void_p
    lib.seccomp_init.argtypes = [ctypes.c_uint32]
    lib.seccomp_release.argtypes = [ctypes.c_void_p]
    lib.seccomp_syscall_resolve_name.argtypes = [ctypes.c_char_p]
    lib.seccomp_rule_add_array.argtypes = [
        ctypes.c_void_p,
        ctypes.c_uint32,
        ctypes.c_int,
        ctypes.c_uint,
        ctypes.POINTER(_ArgCmp),
    ]
    lib.seccomp_export_bpf.argtypes = [ctypes.c_void_p, ctypes.c_int]
    return lib


def compile_filter() -> bytes:
    """The BPF program (``struct sock_filter`` array) for this machine's architecture."""
    lib = _library()
    ctx = lib.seccomp_init(SCMP_ACT_ALLOW)
    if not ctx:
        raise SeccompUnavailable("seccomp_init failed")
    try:
        deny = _errno_action(errno.EPERM)
        for name in DENIED:
            _add(lib, ctx, deny, name)
        # New user namespaces through clone(2): the flag is in the first argument.
        flag = (_ArgCmp * 1)(_ArgCmp(0, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER))
        _add(lib, ctx, deny, "clone", flag)
        # clone3 passes flags in memory that a filter cannot read: answer ENOSYS so that libc
        # falls back to clone(2), where the check above applies (as container runtimes do).
        _add(lib, ctx, _errno_action(errno.ENOSYS), "clone3")
        return _export(lib, ctx)
    finally:
        lib.seccomp_release(ctx)


def _add(
    lib: ctypes.CDLL, ctx: int, action: int, name: str, args: ctypes.Array[_ArgCmp] | None = None
) -> None:
    number = lib.seccomp_syscall_resolve_name(name.encode())
    if number < 0:
        return  # this architecture has no such call
    count = len(args) if args is not None else 0
    result = lib.seccomp_rule_add_array(ctx, action, number, count, args)
    if result < 0:
        raise SeccompUnavailable(f"seccomp rule for {name}: {os.strerror(-result)}")


def _export(lib: ctypes.CDLL, ctx: int) -> bytes:
    read_fd, write_fd = os.pipe()
    try:
        result = lib.seccomp_export_bpf(ctx, write_fd)
        os.close(write_fd)
        write_fd = -1
        if result < 0:
            raise SeccompUnavailable(f"seccomp_export_bpf: {os.strerror(-result)}")
        chunks = []
        while chunk := os.read(read_fd, 65536):
            chunks.append(chunk)
        program = b"".join(chunks)
    finally:
        os.close(read_fd)
        if write_fd >= 0:
            os.close(write_fd)
    if not program or len(program) % 8:
        raise SeccompUnavailable("libseccomp produced no filter program")
    return program
