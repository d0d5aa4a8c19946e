"""What well-known programs touch: network targets and files, from a parsed argv.

Three entry points, called by the shell analyser for every simple command:

* :func:`options_of` splits options the way the program's getopt would (tables in
  :mod:`corral.analysis.optspec`). When an option occurs several times (``ssh -o A -o B``) its
  value is every value joined with ``"\\n"``, in order, so a rule pattern such as
  ``(?m)^\\s*RemoteForward`` matches any one of them; a flag has the value ``None``.
* :func:`targets_of` lists the network endpoints a command reaches or listens on. Hosts are
  lowercased (unless they hold a ``$variable``), IPv6 brackets are stripped, ports default from
  the scheme; DNS is never resolved.
* :func:`files_of` lists the paths a command reads, writes, appends, deletes, chmods, lists or
  executes, its redirections included. Paths are normalised (``~``, ``$HOME``, ``${HOME}`` become
  ``~``; relative paths join ``cwd``); the real filesystem is never touched.

Everything here is a pure function of the argv: no program is run, no file is opened.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from collections.abc import Callable, Iterable

from corral.analysis import optspec
from corral.analysis.facts import Command, Direction, FileAccess, FileOp, NetTarget
from corral.analysis.optspec import Parsed, canonical, parse, parse_with, words
from corral.analysis.paths import normalize_path

DEFAULT_PORTS: dict[str, int] = {
    "http": 80,
    "https": 443,
    "ws": 80,
    "wss": 443,
    "ftp": 21,
    "ftps": 990,
    "sftp": 22,
    "scp": 22,
    "ssh": 22,
    "git": 9418,
    "rsync": 873,
    "telnet": 23,
    "ldap": 389,
    "ldaps": 636,
    "smb": 445,
    "mysql": 3306,
    "postgres": 5432,
    "postgresql": 5432,
    "redis": 6379,
    "rediss": 6379,
    "mongodb": 27017,
    "gopher": 70,
    "dict": 2628,
    "tftp": 69,
    "imap": 143,
    "imaps": 993,
    "pop3": 110,
    "pop3s": 995,
    "smtp": 25,
    "smtps": 465,
    "mqtt": 1883,
    "amqp": 5672,
    "socks4": 1080,
    "socks4a": 1080,
    "socks5": 1080,
    "socks5h": 1080,
}
_UDP_SCHEMES = frozenset({"tftp"})
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1", "ip6-localhost", "ip6-loopback"})
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_AUTHORITY_END = re.compile(r"[/?#\\]")
_PORT = re.compile(r"^\s*(\d{1,5})")
_DEV_NET = re.compile(r"/dev/(tcp|udp)/([^/\s\"']+)/([^/\s\"';&|<>)]+)")
_MAX_DEPTH = 3


# ---- options ------------------------------------------------------------------------------------


def options_of(program: str, args: list[str]) -> dict[str, str | None]:
    """Options in ``args`` the way the program's getopt would split them.

    ``program`` is the basename of argv[0]; ``args`` is argv[1:]. Options after the point where
    the program stops reading its own (``sudo CMD -x``, ``python -c CODE -x``, ``ssh host cmd -x``)
    are not included: they belong to the command being run. Repeated options keep every value,
    joined with ``"\\n"``.
    """
    return parse(program, args).options


# ---- small helpers ------------------------------------------------------------------------------


_SPACE = " \t\n\r\x0b\x0c"


def host_name(raw: str) -> str:
    """A host as Corral compares it: no brackets, no trailing dot, lowercase (unless it holds a
    ``$variable``, whose spelling matters)."""
    host = raw.lstrip(_SPACE + "[").rstrip(_SPACE + "].")
    return host if "$" in host else host.lower()


def _port(raw: str | None) -> int | None:
    if not raw:
        return None
    m = _PORT.match(raw)
    if not m:
        return None
    value = int(m.group(1))
    return value if 0 < value < 65536 else None


def _split_colon(text: str) -> list[str]:
    """Split on ``:`` outside ``[...]`` (``[::1]:8080:h:22`` has four fields)."""
    parts: list[str] = []
    buf: list[str] = []
    depth = 0
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth = max(0, depth - 1)
        if ch == ":" and depth == 0:
            parts.append("".join(buf))
            buf = []
        else:
            buf.append(ch)
    parts.append("".join(buf))
    return parts


def _split_hostport(text: str) -> tuple[str, str | None]:
    text = text.strip()
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            return text[1:], None
        tail = text[end + 1 :]
        return text[1:end], tail[1:] if tail.startswith(":") else None
    if text.count(":") == 1:
        host, _, port = text.partition(":")
        return host, port
    return text, None  # a plain host, or a bare IPv6 address


def _is_loopback(host: str) -> bool:
    return host in _LOOPBACK or host.startswith("127.")


def _net(
    host: str,
    port: int | None,
    source: str,
    *,
    scheme: str | None = None,
    url: str | None = None,
    direction: Direction = "out",
    proto: str = "tcp",
) -> NetTarget | None:
    name = host_name(host)
    if not name:
        return None
    return NetTarget(
        host=name,
        port=port,
        scheme=scheme,
        url=url,
        source=source,
        direction=direction,
        proto=proto,
    )


def _hostport_target(
    text: str, source: str, default_port: int | None = None, scheme: str | None = None
) -> NetTarget | None:
    """``[user@]host[:port]`` (or ``[v6]:port``) as a target."""
    host, port = _split_hostport(text.rpartition("@")[2])
    return _net(host, _port(port) or default_port, source, scheme=scheme)


def url_target(raw: str, source: str, default_scheme: str | None = None) -> NetTarget | None:
    """A target for a URL; ``default_scheme`` reads scheme-less ``host[:port]/path`` (curl)."""
    text = raw.strip()
    m = _SCHEME.match(text)
    if m:
        scheme = m.group(1).lower()
        rest = text[m.end() :]
    elif default_scheme is not None and text and not text.startswith(("-", "/", ".", "~", "@")):
        scheme = default_scheme
        rest = text
    else:
        return None
    authority = _AUTHORITY_END.split(rest, maxsplit=1)[0]
    host, port_text = _split_hostport(authority.rpartition("@")[2])
    port = _port(port_text)
    if port is None:
        port = DEFAULT_PORTS.get(scheme, DEFAULT_PORTS.get(scheme.rpartition("+")[2]))
    proto = "udp" if scheme in _UDP_SCHEMES else "tcp"
    return _net(host, port, source, scheme=scheme, url=text, proto=proto)


def _listen(bind: str | None, port: int | None, source: str, proto: str = "tcp") -> NetTarget:
    host = host_name(bind) if bind and bind not in ("*", "") else "0.0.0.0"
    return NetTarget(
        host=host or "0.0.0.0", port=port, source=source, direction="listen", proto=proto
    )


def _values(p: Parsed, *names: str) -> list[str]:
    """Every value of the options, with values joined by newlines split again."""
    return [v for value in p.all_values(*names) for v in value.split("\n") if v]


def _env(cmd: Command, *names: str) -> list[str]:
    return [cmd.env[n] for n in names if cmd.env.get(n)]


_PROXY_ENV = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")


def _has_port(url: str) -> bool:
    m = _SCHEME.match(url)
    authority = _AUTHORITY_END.split(url[m.end() :] if m else url, maxsplit=1)[0]
    return _split_hostport(authority.rpartition("@")[2])[1] is not None


def _proxy_targets(cmd: Command, proxies: Iterable[str], source: str) -> list[NetTarget]:
    """Proxies named by options or by the proxy environment variables (port 1080 by default,
    as curl assumes)."""
    out: list[NetTarget] = []
    for proxy in [*proxies, *_env(cmd, *_PROXY_ENV)]:
        t = url_target(proxy, source, "http")
        if t is not None:
            if not _has_port(proxy):
                t.port = 1080
            out.append(t)
    return out


# ---- network: web clients -----------------------------------------------------------------------


def _curl_scheme(url: str) -> str:
    """curl guesses the protocol of a scheme-less URL from the host's first label."""
    first = url.split(".", 1)[0].lower()
    return first if first in ("ftp", "dict", "ldap", "imap", "smtp", "pop3") else "http"


def _curl(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    src = cmd.program
    out: list[NetTarget] = []
    for url in [*p.positionals, *_values(p, "--url")]:
        t = url_target(url, src, _curl_scheme(url))
        if t is not None:
            out.append(t)
    proxies = _values(p, "-x", "--proxy", "--preproxy")
    proxies += [
        "socks5://" + v
        for v in _values(p, "--socks4", "--socks4a", "--socks5", "--socks5-hostname")
    ]
    out += _proxy_targets(cmd, proxies, f"{src} proxy")
    for spec in _values(p, "--resolve"):
        fields = _split_colon(spec.lstrip("+-"))
        if len(fields) >= 3:
            for addr in fields[2].split(","):
                t = _net(addr, _port(fields[1]), f"{src} --resolve")
                if t is not None:
                    out.append(t)
    for spec in _values(p, "--connect-to"):
        fields = _split_colon(spec)
        if len(fields) == 4 and fields[2]:
            t = _net(fields[2], _port(fields[3]), f"{src} --connect-to")
            if t is not None:
                out.append(t)
    for url in _values(p, "--doh-url"):
        t = url_target(url, f"{src} --doh-url")
        if t is not None:
            out.append(t)
    return out


_WGET_PROXY = re.compile(r"^\s*(?:https?|ftp)_proxy\s*=\s*(\S+)", re.IGNORECASE)


def _wget(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    src = cmd.program
    out = [t for u in p.positionals if (t := url_target(u, src, "http")) is not None]
    proxies = [m.group(1) for v in _values(p, "-e", "--execute") if (m := _WGET_PROXY.match(v))]
    return out + _proxy_targets(cmd, proxies, f"{src} proxy")


_HTTP_METHOD = re.compile(r"^[A-Z]{3,10}$")


def _httpie(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    src = cmd.program
    pos = p.positionals
    if pos and _HTTP_METHOD.match(pos[0]) and len(pos) > 1:
        pos = pos[1:]
    out: list[NetTarget] = []
    if pos:
        url = pos[0]
        scheme = "https" if canonical(cmd.program) in ("https", "xhs") else "http"
        if url.startswith(":"):
            url = "localhost" + url
        t = url_target(url, src, scheme)
        if t is not None:
            out.append(t)
    proxies = [v.partition(":")[2] for v in _values(p, "--proxy")]
    return out + _proxy_targets(cmd, proxies, f"{src} proxy")


def _downloader(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    """aria2c, axel, lynx, w3m...: every URL operand; proxies."""
    src = cmd.program
    out: list[NetTarget] = []
    for arg in p.positionals:
        if arg.startswith("magnet:") or arg.endswith((".torrent", ".metalink", ".meta4")):
            continue
        t = url_target(arg, src, "http")
        if t is not None:
            out.append(t)
    proxies = _values(p, "--all-proxy", "--http-proxy", "--https-proxy", "--ftp-proxy")
    return out + _proxy_targets(cmd, proxies, f"{src} proxy")


# ---- network: ssh and friends -------------------------------------------------------------------

_SSH_OPTION = re.compile(r"^\s*([A-Za-z]+)\s*(?:=\s*|\s+)(.*)$", re.DOTALL)
_TRUE = frozenset({"yes", "true", "1", "on"})


def _ssh_options(p: Parsed) -> dict[str, list[str]]:
    """``-o Key=Value`` / ``-o "Key Value"`` options, keys lowercased."""
    out: dict[str, list[str]] = {}
    for raw in _values(p, "-o"):
        m = _SSH_OPTION.match(raw)
        if m:
            value = m.group(2).strip().strip("\"'").strip()
            out.setdefault(m.group(1).lower(), []).append(value)
    return out


def _ssh_dest(dest: str, source: str, port: int | None) -> NetTarget | None:
    if _SCHEME.match(dest):
        t = url_target(dest, source)
        if t is not None and port is not None and not _has_port(dest):
            t.port = port
        return t
    host = dest.rpartition("@")[2]
    if "/" in host and not host.startswith("["):  # dropbear's host/port
        host, _, port_text = host.partition("/")
        port = _port(port_text) or port
    return _net(host, port or 22, source, scheme="ssh")


def _jumps(spec: str, source: str) -> list[NetTarget]:
    out: list[NetTarget] = []
    for raw in spec.split(","):
        hop = raw.strip()
        if not hop or hop.lower() == "none":
            continue
        if _SCHEME.match(hop):
            t = url_target(hop, source)
        else:
            t = _hostport_target(hop, source, 22, scheme="ssh")
        if t is not None:
            out.append(t)
    return out


def _forward(spec: str, kind: str, gateway: bool, source: str) -> list[NetTarget]:
    """``-L``/``-R``/``-D`` specs: a listen target when bound beyond loopback, and the forward's
    destination (reached from the other end of the tunnel)."""
    text = re.sub(r"\s+", ":", spec.strip(), count=1)
    fields = _split_colon(text)
    if len(fields) == 1 and "/" in text and not text.startswith("/"):
        fields = text.split("/")  # the old IPv6-friendly spelling 8080/host/22
    bind: str | None = None
    explicit = False
    dest: list[str] = []
    dynamic = kind == "D" or (
        kind == "R" and (len(fields) == 1 or fields[-1].isdigit()) and len(fields) <= 2
    )
    if dynamic:
        if len(fields) == 2:
            bind, lport, explicit = fields[0], fields[1], True
        else:
            lport = fields[0]
    elif len(fields) >= 4:
        bind, lport, dest, explicit = fields[0], fields[1], fields[2:4], True
    elif len(fields) in (2, 3):
        lport, dest = fields[0], fields[1:]
    else:
        return []
    out: list[NetTarget] = []
    port = _port(lport) if lport.strip().isdigit() else None
    if port is not None:
        wide = (explicit and not _is_loopback(host_name(bind or ""))) or (
            not explicit and gateway and kind != "R"
        )
        if wide:
            out.append(_listen(bind, port, source))
    if len(dest) == 2 and not dest[0].startswith("/"):
        t = _net(dest[0], _port(dest[1]), source)
        if t is not None:
            out.append(t)
    return out


def _proxy_command(command: str, host: str, port: int | None, depth: int) -> list[NetTarget]:
    if command.strip().lower() == "none" or depth >= _MAX_DEPTH:
        return []
    text = command.replace("%%", "\0").replace("%h", host).replace("%p", str(port or 22))
    text = text.replace("%r", "user").replace("\0", "%")
    try:
        argv = shlex.split(text)
    except ValueError:
        return []
    if argv and argv[0] == "exec":
        argv = argv[1:]
    if not argv:
        return []
    program = posixpath.basename(argv[0])
    inner = Command(argv=argv, program=program, path=argv[0], options=options_of(program, argv[1:]))
    return _targets(inner, depth + 1)


def _ssh_port(p: Parsed, port_opt: str) -> int:
    ports = _ssh_options(p).get("port") or [""]
    return _port(p.value(port_opt)) or _port(ports[-1]) or 22


def _ssh_like(cmd: Command, p: Parsed, depth: int, port: int, host: str | None) -> list[NetTarget]:
    """Jumps, proxy commands and forwards shared by ssh, scp, sftp and rsync -e."""
    src = cmd.program
    opts = _ssh_options(p)
    out: list[NetTarget] = []
    for spec in [*_values(p, "-J"), *opts.get("proxyjump", [])]:
        out += _jumps(spec, f"{src} jump")
    for proxy in opts.get("proxycommand", []):
        found = _proxy_command(proxy, host or "%h", port, depth)
        out += [t for t in found if "%h" not in t.host]
    gateway = p.has("-g") or any(v.lower() in _TRUE for v in opts.get("gatewayports", []))
    for kind, key in (("L", "localforward"), ("R", "remoteforward"), ("D", "dynamicforward")):
        for spec in [*_values(p, "-" + kind), *opts.get(key, [])]:
            out += _forward(spec, kind, gateway, f"{src} -{kind}")
    for spec in _values(p, "-W"):
        t = _hostport_target(spec, f"{src} -W")
        if t is not None:
            out.append(t)
    return out


def _ssh(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    port = _ssh_port(p, "-P" if canonical(cmd.program) == "plink" else "-p")
    dest = _ssh_dest(p.positionals[0], cmd.program, port) if p.positionals else None
    if dest is not None:
        hostname = _ssh_options(p).get("hostname")
        if hostname:
            dest.host = host_name(hostname[-1].replace("%h", dest.host))
    out = _ssh_like(cmd, p, depth, dest.port or port if dest else port, dest.host if dest else None)
    return [dest, *out] if dest is not None else out


def _mosh(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    if not p.positionals:
        return []
    port = 22
    for ssh in _values(p, "--ssh"):
        try:
            argv = shlex.split(ssh)
        except ValueError:
            continue
        port = _port(parse("ssh", argv[1:]).value("-p")) or port
    out: list[NetTarget] = []
    dest = _ssh_dest(p.positionals[0], cmd.program, port)
    if dest is not None:
        out.append(dest)
        udp = _port(p.value("-p", "--port"))
        if udp is not None:
            out.append(NetTarget(host=dest.host, port=udp, source=cmd.program, proto="udp"))
    return out


_REMOTE_OPERAND = re.compile(r"^(?:[^@/:\[\]]+@)?(\[[^\]]*\]|[^:/\[\]]+):")


def _remote_operand(arg: str) -> tuple[str, bool] | None:
    """``(host, is_daemon)`` for ``[user@]host:path`` / ``host::module``; None for local paths."""
    if arg.startswith(("/", "./", "../", "~")):
        return None
    m = _REMOTE_OPERAND.match(arg)
    if not m:
        return None
    return m.group(1), arg[m.end() :].startswith(":")


def _copy_remote(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    """scp, sftp and rsync operands."""
    name = canonical(cmd.program)
    src = cmd.program
    remotes = [r[0] for a in p.positionals if (r := _remote_operand(a)) is not None]
    first_host = host_name(remotes[0]) if remotes else None
    out: list[NetTarget] = []
    if name == "rsync":
        port = 22
        for rsh in _values(p, "-e", "--rsh"):
            try:
                argv = shlex.split(rsh)
            except ValueError:
                continue
            if argv:
                inner = parse(posixpath.basename(argv[0]), argv[1:])
                port = _ssh_port(inner, "-p")
                out += _ssh_like(cmd, inner, depth, port, first_host)
        daemon_port = _port(p.value("--port")) or 873
    else:
        port = _ssh_port(p, "-P")
        out += _ssh_like(cmd, p, depth, port, first_host)
        daemon_port = 873
    for index, arg in enumerate(p.positionals):
        if _SCHEME.match(arg):
            t = url_target(arg, src)
            if t is not None:
                out.append(t)
            continue
        remote = _remote_operand(arg)
        if remote is None and name == "sftp" and index == 0:
            remote = (arg.rpartition("@")[2], False)
        if remote is None:
            continue
        host, daemon = remote
        if daemon:
            t = _net(host, daemon_port, src, scheme="rsync")
        else:
            t = _net(host, port, src, scheme="ssh")
        if t is not None:
            out.append(t)
    return out


# ---- network: git and package managers ----------------------------------------------------------

_SCP_LIKE = re.compile(r"^(?:[^@/:]+@)?(\[[^\]]+\]|[^:/]+):(?!//)")


def repo_target(url: str, source: str) -> NetTarget | None:
    """A git repository URL: ``https://``, ``ssh://``, ``git://`` or scp-like ``git@host:org/r``."""
    url = url.strip()
    if url.startswith(("git+", "hg+", "svn+", "bzr+")) and "://" in url:
        url = url.split("+", 1)[1]
    if _SCHEME.match(url):
        scheme = url.split("://", 1)[0].lower()
        if scheme == "file":
            return None
        return url_target(url, source)
    if url.startswith(("/", "./", "../", "~", "ext::", "fd::")) or "::" in url:
        return None
    m = _SCP_LIKE.match(url)
    if not m:
        return None
    return _net(m.group(1), 22, source, scheme="ssh", url=url)


def _git(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    pos = p.positionals
    if not pos:
        return []
    sub = pos[0].lower()
    candidates: list[str] = []
    if sub in ("clone", "fetch", "pull", "push", "ls-remote") and len(pos) > 1:
        candidates.append(pos[1])
    elif sub == "remote" and len(pos) > 3 and pos[1].lower() in ("add", "set-url"):
        candidates.append(pos[3])
    elif sub == "submodule" and len(pos) > 2 and pos[1].lower() == "add":
        candidates.append(pos[2])
    candidates += _values(p, "--remote")
    return [t for c in candidates if (t := repo_target(c, cmd.program)) is not None]


_VCS_URL = re.compile(r"(?:(?:git|hg|svn|bzr)\+)?[A-Za-z][A-Za-z0-9+.-]{0,30}://\S+")


def _requirement_targets(args: Iterable[str], source: str) -> list[NetTarget]:
    """Requirements that are URLs: ``https://.../x.whl``, ``git+https://...``, ``pkg @ URL``."""
    out: list[NetTarget] = []
    for arg in args:
        m = _VCS_URL.search(arg)
        if m is None:
            continue
        t = repo_target(m.group(0), source)
        if t is not None:
            out.append(t)
    return out


def _pypi(source: str) -> list[NetTarget]:
    return [
        NetTarget(host="pypi.org", port=443, scheme="https", source=source),
        NetTarget(host="files.pythonhosted.org", port=443, scheme="https", source=source),
    ]


_PIP_NET = frozenset({"install", "download", "wheel", "index"})


def _pip_args(cmd: Command, args: list[str], source: str) -> list[NetTarget]:
    p = parse_with(optspec.PIP, args)
    if not p.positionals or p.positionals[0].lower() not in _PIP_NET:
        return []
    return _index_targets(cmd, p, source, "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL")


def _index_targets(cmd: Command, p: Parsed, source: str, *env_names: str) -> list[NetTarget]:
    out: list[NetTarget] = []
    index = _values(p, "-i", "--index-url", "--default-index") or _env(cmd, env_names[0])
    extra = _values(p, "--extra-index-url", "--index") + _env(cmd, *env_names[1:])
    for url in [*index, *extra]:
        t = url_target(url.partition("=")[2] if "=" in url.split("://")[0] else url, source)
        if t is not None:
            out.append(t)
    for link in _values(p, "-f", "--find-links"):
        t = url_target(link, source)
        if t is not None:
            out.append(t)
    out += _proxy_targets(cmd, _values(p, "--proxy"), f"{source} proxy")
    out += _requirement_targets(p.positionals[1:], source)
    if not index and not p.has("--no-index", "--offline"):
        out += _pypi(source)
    return out


def _pip(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    return _pip_args(cmd, cmd.args, "pip")


_UV_NET = frozenset({"add", "sync", "lock", "run", "tool", "export", "tree"})
_UV_PIP_NET = frozenset({"install", "compile", "sync", "download"})


def _uv(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    pos = [a.lower() for a in p.positionals]
    if canonical(cmd.program) != "uvx":
        if not pos:
            return []
        if pos[0] == "pip":
            if len(pos) < 2 or pos[1] not in _UV_PIP_NET:
                return []
        elif pos[0] not in _UV_NET:
            return []
    return _index_targets(
        cmd, p, "uv", "UV_INDEX_URL", "UV_EXTRA_INDEX_URL", "UV_DEFAULT_INDEX", "UV_INDEX"
    )


_POETRY_NET = frozenset({"add", "install", "update", "lock", "sync", "self", "search", "show"})


def _poetry(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    pos = p.positionals
    if not pos:
        return []
    sub = pos[0].lower()
    if sub == "source" and len(pos) > 3 and pos[1].lower() == "add":
        t = url_target(pos[3], "poetry")
        return [t] if t is not None else []
    if sub == "publish":
        return [NetTarget(host="upload.pypi.org", port=443, scheme="https", source="poetry")]
    if sub not in _POETRY_NET:
        return []
    return _requirement_targets(pos[1:], "poetry") + _pypi("poetry")


def _pipx(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    pos = p.positionals
    if not pos or pos[0].lower() not in ("install", "run", "inject", "upgrade", "reinstall"):
        return []
    return _index_targets(cmd, p, "pipx", "PIP_INDEX_URL")


def _conda(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    return [t for c in _values(p, "-c", "--channel") if (t := url_target(c, cmd.program))]


_NPM_NET = words(
    "install i in ins inst insta instal isnt isnta isntal isntall add ci clean-install ic "
    "install-clean isntall-clean it cit install-test install-ci-test update up upgrade udpate "
    "exec x create publish unpublish view v info show search s se find audit outdated login "
    "adduser add-user whoami owner dist-tag deprecate access token ping doctor"
)
_YARN_NET = words(
    "install add upgrade up upgrade-interactive dlx create info npm global outdated audit "
    "publish login set"
)
_PNPM_NET = words(
    "install i add update up upgrade dlx create fetch outdated audit publish info view"
)
_BUN_NET = words("install i add a update x create outdated publish")
_GIT_HOSTS = {
    "github": "github.com",
    "gitlab": "gitlab.com",
    "bitbucket": "bitbucket.org",
    "gist": "gist.github.com",
}
_GH_SHORTHAND = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+(?:#\S*)?$")


def _npm_dep_targets(deps: Iterable[str], source: str) -> list[NetTarget]:
    """Dependencies fetched from elsewhere than the registry: URLs, git remotes, and the
    ``github:user/repo`` / ``user/repo`` shorthands (an alias ``name@github:u/r`` too)."""
    out: list[NetTarget] = []
    for dep in deps:
        spec = dep.split("@", 1)[1] if "@" in dep[1:] and "://" not in dep else dep
        t: NetTarget | None = None
        url = _VCS_URL.search(dep)
        if url is not None:
            t = repo_target(url.group(0), source)
        elif dep.startswith("git@"):
            t = repo_target(dep, source)
        elif spec.split(":", 1)[0] in _GIT_HOSTS and ":" in spec:
            host = _GIT_HOSTS[spec.split(":", 1)[0]]
            t = NetTarget(host=host, port=443, scheme="https", source=source, url=dep)
        elif _GH_SHORTHAND.match(dep) and not dep.endswith((".tgz", ".tar.gz")):
            t = NetTarget(host="github.com", port=443, scheme="https", source=source, url=dep)
        if t is not None:
            out.append(t)
    return out


def _npm(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    name = canonical(cmd.program)
    pos = p.positionals
    src = cmd.program
    sub = pos[0].lower() if pos else None
    if name in ("npx", "pnpx", "bunx"):
        deps = [*_values(p, "-p", "--package"), *pos[:1]]
    elif name == "npm":
        if sub not in _NPM_NET and not (sub == "init" and len(pos) > 1):
            return []
        deps = pos[1:] if sub not in ("exec", "x") else _values(p, "--package")
    elif name == "yarn":
        if sub is not None and sub not in _YARN_NET:
            return []
        deps = pos[1:] if sub != "global" else pos[2:]
    elif name == "pnpm":
        if sub not in _PNPM_NET:
            return []
        deps = pos[1:]
    else:  # bun
        if sub not in _BUN_NET:
            return []
        deps = pos[1:]
    registry = _values(p, "--registry") or _env(
        cmd, "npm_config_registry", "NPM_CONFIG_REGISTRY", "YARN_REGISTRY"
    )
    out: list[NetTarget] = []
    for url in registry:
        t = url_target(url, src)
        if t is not None:
            out.append(t)
    if not registry:
        host = "registry.yarnpkg.com" if name == "yarn" else "registry.npmjs.org"
        out.append(NetTarget(host=host, port=443, scheme="https", source=name))
    out += _proxy_targets(cmd, _values(p, "--proxy", "--https-proxy"), f"{src} proxy")
    return out + _npm_dep_targets(deps, src)


# ---- network: interpreters that fetch or serve --------------------------------------------------


def _python(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    module = p.value("-m")
    if module in ("pip", "pip3"):
        return _pip_args(cmd, p.rest, "pip")
    if module in ("http.server", "SimpleHTTPServer"):
        inner = parse_with(optspec.spec("bd", "--bind --directory --protocol"), p.rest)
        port = _port(inner.positionals[0]) if inner.positionals else 8000
        return [_listen(inner.value("-b", "--bind"), port, f"{cmd.program} -m {module}")]
    if module in ("uv", "poetry", "pipx"):
        sub = Command(argv=[module, *p.rest], program=module, path=module)
        return _targets(sub, depth + 1)
    return []


def _php(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    out: list[NetTarget] = []
    for addr in _values(p, "-S"):
        host, port = _split_hostport(addr)
        out.append(_listen(host, _port(port), f"{cmd.program} -S"))
    return out


def _deno(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    pos = p.positionals
    if len(pos) < 2 or pos[0] not in ("run", "install", "cache", "compile", "eval", "test"):
        return []
    return [t for a in pos[1:2] if "://" in a and (t := url_target(a, cmd.program))]


# ---- network: raw sockets -----------------------------------------------------------------------


def _nc(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    if p.has("-U", "--unixsock"):
        return []
    src = cmd.program
    proto = "udp" if p.has("-u", "--udp") else "tcp"
    pos = p.positionals
    out: list[NetTarget] = []
    if p.has("-l", "--listen"):
        numbers = [a for a in pos if _port(a) is not None and a.split("-")[0].isdigit()]
        hosts = [a for a in pos if a not in numbers]
        port = _port(numbers[-1]) if numbers else _port(p.value("-p", "--source-port"))
        bind = hosts[0] if hosts else p.value("-s", "--source")
        out.append(_listen(bind, port, src, proto))
    elif pos:
        t = _net(pos[0], _port(pos[1]) if len(pos) > 1 else None, src, proto=proto)
        if t is not None:
            out.append(t)
    for proxy in _values(p, "-x", "--proxy"):
        default = 3128 if (p.value("-X") or "").lower() == "connect" else 1080
        t = _hostport_target(proxy, f"{src} proxy", default)
        if t is not None:
            out.append(t)
    return out


_SOCAT_CONNECT = re.compile(
    r"^(?:(?:TCP|UDP|SCTP|DCCP|UDPLITE)[46]?(?:-CONNECT|-SENDTO|-DATAGRAM)?"
    r"|(?:OPENSSL|SSL)(?:-CONNECT|-DTLS-CLIENT)?)$"
)
_SOCAT_LISTEN = re.compile(
    r"^(?:(?:TCP|UDP|SCTP|DCCP|UDPLITE)[46]?-(?:LISTEN|L|RECV|RECVFROM)"
    r"|(?:OPENSSL|SSL)(?:-LISTEN|-L|-DTLS-SERVER))$"
)


def _socat_address(addr: str, src: str) -> list[NetTarget]:
    kind, _, rest = addr.partition(":")
    kind = kind.strip().upper()
    params = rest.split(",")
    main = params[0]
    opts = {k.strip().lower(): v for k, _, v in (x.partition("=") for x in params[1:])}
    proto = "udp" if kind.startswith("UDP") or "DTLS" in kind else "tcp"
    out: list[NetTarget] = []
    if _SOCAT_CONNECT.match(kind):
        fields = _split_colon(main)
        if len(fields) >= 2:
            t = _net(":".join(fields[:-1]), _port(fields[-1]), src, proto=proto)
            if t is not None:
                out.append(t)
    elif _SOCAT_LISTEN.match(kind):
        out.append(_listen(opts.get("bind"), _port(main), src, proto))
    elif kind in (
        "SOCKS",
        "SOCKS4",
        "SOCKS4A",
        "SOCKS5",
        "SOCKS5-CONNECT",
        "PROXY",
        "PROXY-CONNECT",
    ):
        fields = _split_colon(main)
        is_proxy = kind.startswith("PROXY")
        default = 8080 if is_proxy else 1080
        if kind.startswith("SOCKS5") and len(fields) == 4:
            server, sport, host, port = fields
        elif len(fields) >= 3:
            server, sport, host, port = fields[0], "", fields[1], fields[2]
        else:
            return out
        proxy_port = _port(sport) or _port(opts.get("proxyport") or opts.get("socksport"))
        for t in (
            _net(server, proxy_port or default, f"{src} proxy"),
            _net(host, _port(port), src),
        ):
            if t is not None:
                out.append(t)
    return out


def _socat(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    out: list[NetTarget] = []
    for arg in p.positionals:
        for part in arg.split("!!"):
            out += _socat_address(part, cmd.program)
    return out


def _host_port_program(default_port: int, proto: str = "tcp") -> Handler:
    """``telnet host [port]``, ``ftp host [port]``, ``tftp host [port]``; URLs too."""

    def handler(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
        pos = p.positionals
        if not pos:
            return []
        if _SCHEME.match(pos[0]):
            t = url_target(pos[0], cmd.program)
        else:
            port = _port(pos[1]) if len(pos) > 1 else _port(p.value("-p"))
            t = _net(pos[0].rpartition("@")[2], port or default_port, cmd.program, proto=proto)
        return [t] if t is not None else []

    return handler


def _openssl(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    pos = p.positionals
    sub = pos[0].lower() if pos else ""
    src = f"{cmd.program} {sub}".strip()
    out: list[NetTarget] = []
    if sub in ("s_client", "s_time"):
        connect = p.value("-connect") or (pos[1] if len(pos) > 1 else None)
        if connect:
            t = _hostport_target(connect, src, 443)
        elif p.value("-host"):
            t = _net(p.value("-host") or "", _port(p.value("-port")) or 443, src)
        else:
            t = None
        if t is not None:
            out.append(t)
        for proxy in _values(p, "-proxy"):
            t = _hostport_target(proxy, f"{src} proxy", 8080)
            if t is not None:
                out.append(t)
    elif sub == "s_server":
        accept = p.value("-accept", "-port") or "4433"
        host, port = _split_hostport(accept) if ":" in accept else (None, accept)
        out.append(_listen(host, _port(port), src))
    for url in _values(p, "-url"):
        t = url_target(url, src)
        if t is not None:
            out.append(t)
    return out


_IP_RANGE = re.compile(r"^(\d{1,3}(?:[-,]\d{1,3})*)(?:\.(\d{1,3}(?:[-,]\d{1,3})*)){3}$")


def _scan_host(spec: str) -> str:
    """``10.0.0.0/24`` -> ``10.0.0.0``; ``10.0.0.1-50`` -> ``10.0.0.1`` (the first address)."""
    base = spec.split("/", 1)[0]
    if _IP_RANGE.match(base):
        base = ".".join(re.split(r"[-,]", octet)[0] for octet in base.split("."))
    return base


def _scanner(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    src = cmd.program
    port_spec = p.value("-p", "--ports")
    if port_spec is None:
        attached = [k[2:] for k in p.options if k.startswith("-p") and k[2:3].isdigit()]
        port_spec = attached[-1] if attached else None
    port = _port((port_spec or "").lstrip("TU:"))
    proto = "udp" if any(k.startswith("-sU") for k in p.options) else "tcp"
    hosts = [*p.positionals, *_values(p, "--range")]
    return [t for h in hosts if (t := _net(_scan_host(h), port, src, proto=proto)) is not None]


def _icmp(proto: str) -> Handler:
    def handler(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
        name = canonical(cmd.program)
        hosts = p.positionals if name == "fping" else p.positionals[:1]
        kind = proto
        port = _port(p.value("-p", "-P", "--port", "--destport"))
        if name in ("traceroute", "tcptraceroute", "mtr", "hping3"):
            if p.has("-T", "--tcp") or name == "tcptraceroute":
                kind = "tcp"
            elif p.has("-I", "--icmp", "-1"):
                kind = "icmp"
            elif p.has("-u", "--udp", "-2", "-U"):
                kind = "udp"
            if name == "tcptraceroute" and len(p.positionals) > 1:
                port = _port(p.positionals[1])
        out: list[NetTarget] = []
        for spec in hosts:
            host, _, tail = spec.partition("/") if name == "tracepath" else (spec, "", "")
            t = _net(host, _port(tail) or port, cmd.program, proto=kind)
            if t is not None:
                out.append(t)
        return out

    return handler


_DNS_WORDS = words(
    "a aaaa mx txt ns cname soa ptr srv any caa ds dnskey axfr ixfr hinfo naptr tlsa spf "
    "https svcb ch in hs rrsig nsec nsec3 cds cdnskey sshfp loc uri"
)


def _dns(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    src = cmd.program
    name = canonical(cmd.program)
    server_port = _port(p.value("-p")) or 53
    out: list[NetTarget] = []
    pos = p.positionals
    names: list[str] = []
    servers: list[str] = []
    if name in ("host", "nslookup"):
        names, servers = pos[:1], pos[1:2]
    else:
        for arg in pos:
            if arg.startswith("@"):
                servers.append(arg[1:])
            elif not arg.startswith("+") and arg.lower() not in _DNS_WORDS:
                names.append(arg)
        names += _values(p, "-q")
    for server in servers:
        t = _net(server, server_port, f"{src} server", proto="udp")
        if t is not None:
            out.append(t)
    for query in names:
        t = _net(query, 53, src, proto="udp")
        if t is not None:
            out.append(t)
    return out


# ---- network: containers and clusters -----------------------------------------------------------


def image_registry(image: str) -> str | None:
    """The registry host of an image reference, when it names one (``ghcr.io/x/y:1``)."""
    if "/" not in image:
        return None
    first = image.split("/", 1)[0]
    if "." in first or ":" in first or first == "localhost":
        return first
    return None


def _registry_target(image: str, source: str) -> NetTarget | None:
    registry = image_registry(image)
    if registry is None:
        return None
    t = _hostport_target(registry, source, 443, scheme="https")
    return t


def _docker(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    src = cmd.program
    out: list[NetTarget] = []
    for daemon in [*_values(p, "-H", "--host"), *_env(cmd, "DOCKER_HOST")]:
        if daemon.startswith(("unix://", "npipe://", "fd://")):
            continue
        tls = p.has("--tlsverify", "--tls")
        t = url_target(daemon if "://" in daemon else "tcp://" + daemon, f"{src} daemon")
        if t is not None:
            t.port = t.port or (2376 if tls else 2375)
            out.append(t)
    pos = list(p.positionals)
    words = [a.lower() for a in pos]
    if words[:1] in (["container"], ["image"]):
        pos, words = pos[1:], words[1:]
    if not words:
        return out
    sub = words[0]
    if sub in ("pull", "push", "run", "create") and len(pos) > 1:
        t = _registry_target(pos[1], src)
        if t is not None:
            out.append(t)
    elif sub == "login" and len(pos) > 1:
        t = _hostport_target(pos[1], src, 443, scheme="https")
        if t is not None:
            out.append(t)
    if sub in ("run", "create"):
        for spec in _values(p, "-p", "--publish"):
            out += _publish(spec, f"{src} -p")
    return out


def _publish(spec: str, source: str) -> list[NetTarget]:
    body, _, proto = spec.partition("/")
    fields = _split_colon(body)
    if len(fields) == 3:
        bind, hport = fields[0], fields[1]
    elif len(fields) == 2:
        bind, hport = "", fields[0]
    else:
        return []
    return [_listen(bind or None, _port(hport), source, proto or "tcp")]


def _kubectl(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    src = cmd.program
    out = [t for s in _values(p, "-s", "--server") if (t := url_target(s, src, "https"))]
    pos = p.positionals
    sub = pos[0].lower() if pos else ""
    if sub == "port-forward":
        addresses = [a for v in _values(p, "--address") for a in v.split(",")] or ["localhost"]
        for bind in addresses:
            if _is_loopback(host_name(bind)):
                continue
            for spec in pos[2:]:
                out.append(_listen(bind, _port(spec.split(":")[0]), f"{src} port-forward"))
    elif sub == "proxy":
        bind = p.value("--address") or "127.0.0.1"
        if not _is_loopback(host_name(bind)):
            out.append(_listen(bind, _port(p.value("-p", "--port")) or 8001, f"{src} proxy"))
    elif sub == "run":
        for image in _values(p, "--image"):
            t = _registry_target(image, src)
            if t is not None:
                out.append(t)
    return out


# ---- network: databases, miners -----------------------------------------------------------------


def _db_client(default_port: int, url_schemes: tuple[str, ...]) -> Handler:
    def handler(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
        out: list[NetTarget] = []
        for arg in [*p.positionals, *_values(p, "-u", "--uri")]:
            if arg.lower().startswith(url_schemes):
                t = url_target(arg, cmd.program)
                if t is not None:
                    t.port = t.port or default_port
                    out.append(t)
        hosts = _values(p, "-h", "--host") or _env(cmd, "PGHOST", "MYSQL_HOST", "REDISCLI_HOST")
        for host in hosts:
            port = _port(p.value("-P" if canonical(cmd.program) in ("mysql", "mariadb") else "-p"))
            port = port or _port(p.value("--port")) or default_port
            t = _hostport_target(host, cmd.program, port)
            if t is not None:
                out.append(t)
        return out

    return handler


def _miner(cmd: Command, p: Parsed, depth: int) -> list[NetTarget]:
    pools = _values(p, "-o", "--url", "--pool", "-P")
    out: list[NetTarget] = []
    for pool in pools:
        for item in pool.split(","):
            t = url_target(item, cmd.program, "stratum+tcp")
            if t is not None:
                out.append(t)
    return out + _proxy_targets(cmd, _values(p, "-x", "--proxy"), f"{cmd.program} proxy")


Handler = Callable[[Command, Parsed, int], list[NetTarget]]

_TARGETS: dict[str, Handler] = {
    "curl": _curl,
    "wget": _wget,
    "wget2": _wget,
    "http": _httpie,
    "https": _httpie,
    "xh": _httpie,
    "xhs": _httpie,
    "aria2c": _downloader,
    "axel": _downloader,
    "lynx": _downloader,
    "w3m": _downloader,
    "links": _downloader,
    "elinks": _downloader,
    "ssh": _ssh,
    "autossh": _ssh,
    "dbclient": _ssh,
    "plink": _ssh,
    "mosh": _mosh,
    "scp": _copy_remote,
    "sftp": _copy_remote,
    "rsync": _copy_remote,
    "git": _git,
    "pip": _pip,
    "uv": _uv,
    "uvx": _uv,
    "poetry": _poetry,
    "pipx": _pipx,
    "conda": _conda,
    "mamba": _conda,
    "micromamba": _conda,
    "npm": _npm,
    "npx": _npm,
    "yarn": _npm,
    "pnpm": _npm,
    "pnpx": _npm,
    "bun": _npm,
    "bunx": _npm,
    "python": _python,
    "php": _php,
    "deno": _deno,
    "nc": _nc,
    "socat": _socat,
    "telnet": _host_port_program(23),
    "ftp": _host_port_program(21),
    "lftp": _host_port_program(21),
    "tftp": _host_port_program(69, "udp"),
    "openssl": _openssl,
    "nmap": _scanner,
    "masscan": _scanner,
    "ping": _icmp("icmp"),
    "fping": _icmp("icmp"),
    "arping": _icmp("arp"),
    "hping3": _icmp("tcp"),
    "traceroute": _icmp("udp"),
    "tcptraceroute": _icmp("tcp"),
    "tracepath": _icmp("udp"),
    "mtr": _icmp("icmp"),
    "dig": _dns,
    "kdig": _dns,
    "drill": _dns,
    "host": _dns,
    "nslookup": _dns,
    "docker": _docker,
    "podman": _docker,
    "nerdctl": _docker,
    "kubectl": _kubectl,
    "oc": _kubectl,
    "mysql": _db_client(3306, ("mysql://",)),
    "mariadb": _db_client(3306, ("mysql://", "mariadb://")),
    "psql": _db_client(5432, ("postgres://", "postgresql://")),
    "redis-cli": _db_client(6379, ("redis://", "rediss://")),
    "mongosh": _db_client(27017, ("mongodb://", "mongodb+srv://")),
    "mongo": _db_client(27017, ("mongodb://", "mongodb+srv://")),
    "miner": _miner,
}


def dev_net_targets(text: str, source_prefix: str = "") -> list[NetTarget]:
    """``/dev/tcp/HOST/PORT`` and ``/dev/udp/HOST/PORT`` anywhere in ``text``."""
    out: list[NetTarget] = []
    for m in _DEV_NET.finditer(text):
        proto = m.group(1)
        t = _net(m.group(2), _port(m.group(3)), source_prefix + f"/dev/{proto}", proto=proto)
        if t is not None:
            out.append(t)
    return out


# Programs whose arguments are only data: a /dev/tcp path there is text, not a connection (bash
# opens /dev/tcp only in a redirection; ``bash -c`` strings are read again by the shell analyser).
_DATA_ONLY = words(
    "echo printf grep rg ag ack sed jq git test [ [[ basename dirname export declare local "
    "typeset readonly alias"
)


def _targets(cmd: Command, depth: int) -> list[NetTarget]:
    handler = _TARGETS.get(canonical(cmd.program))
    out: list[NetTarget] = []
    if handler is not None:
        out += handler(cmd, parse(cmd.program, cmd.args), depth)
    words = [] if canonical(cmd.program) in _DATA_ONLY else cmd.argv
    for text in [*words, *(r.target for r in cmd.redirects)]:
        if "/dev/" in text:
            out += dev_net_targets(text)
    return out


def targets_of(cmd: Command) -> list[NetTarget]:
    """Network endpoints ``cmd`` would reach or listen on (curl URL, ssh host, nc host port...).

    ``direction`` is ``listen`` for a port the command opens for others (``nc -l``, ``socat
    TCP-LISTEN``, ``ssh -L 0.0.0.0:...``, ``docker run -p``); ``out`` otherwise. ``source`` names
    what the target came from: the program, ``pip`` for the default package index,
    ``ssh -R``/``ssh -L`` for forwards, ``/dev/tcp`` for bash's network paths.
    """
    seen: set[tuple[object, ...]] = set()
    out: list[NetTarget] = []
    for t in _targets(cmd, 0):
        key = (t.host, t.port, t.direction, t.proto, t.source, t.url)
        if key not in seen:
            seen.add(key)
            out.append(t)
    return out


# ---- files --------------------------------------------------------------------------------------

_PSEUDO = frozenset({"/dev/null", "/dev/stdout", "/dev/stderr", "/dev/stdin", "/dev/tty", "-"})
_PSEUDO_PREFIX = ("/dev/fd/", "/proc/self/fd/", "/dev/tcp/", "/dev/udp/")
_HOME_VAR = re.compile(r"^\$(?:HOME|\{HOME\})(?:/|$)")
_OTHER_USER = re.compile(r"^~([A-Za-z0-9_][A-Za-z0-9_.-]*)(/.*)?$")


def normalize(raw: str, cwd: str | None) -> str | None:
    """The normalised spelling of a path operand, or None when it is not a file."""
    text = raw.strip()
    if not text or text in _PSEUDO or text.startswith(_PSEUDO_PREFIX) or "://" in text:
        return None
    m = _OTHER_USER.match(text)
    if m:
        home = "/root" if m.group(1) == "root" else f"/home/{m.group(1)}"
        return normalize_path(home + (m.group(2) or ""))
    if text.startswith("$") and not _HOME_VAR.match(text):
        return posixpath.normpath(text)  # an unknown variable: never pretend it is under cwd
    return normalize_path(text, cwd)


class _Files:
    def __init__(self, cmd: Command, cwd: str | None):
        self.cmd = cmd
        self.cwd = cwd
        self.out: list[FileAccess] = []
        self.seen: set[tuple[str, str, str]] = set()
        self.used: set[str] = set()

    def add(
        self, raw: str | None, op: FileOp, source: str | None = None, content: str | None = None
    ) -> None:
        if raw is None:
            return
        self.used.add(raw)
        path = normalize(raw, self.cwd)
        if path is None:
            return
        src = source or self.cmd.program
        key = (path, op, src)
        if key in self.seen:
            return
        self.seen.add(key)
        self.out.append(FileAccess(path=path, op=op, source=src, content=content))

    def add_all(self, raws: Iterable[str], op: FileOp, source: str | None = None) -> None:
        for raw in raws:
            self.add(raw, op, source)

    def into(self, directory: str, sources: list[str], op: FileOp = "write") -> None:
        """A copy into ``directory``: the directory and each ``directory/basename(source)``."""
        self.add(directory, op)
        for src in sources:
            name = posixpath.basename(src.rstrip("/"))
            if name and name not in (".", ".."):
                self.add(posixpath.join(directory, name), op)


_REDIRECT_OPS: dict[str, FileOp] = {
    ">": "write",
    ">|": "write",
    "&>": "write",
    ">&": "write",
    "<>": "write",
    ">>": "append",
    "&>>": "append",
    "<": "read",
}


def _redirects(f: _Files) -> None:
    for r in f.cmd.redirects:
        op = _REDIRECT_OPS.get(r.op)
        target = r.target
        if op is None or not target or target.startswith("&") or target.isdigit():
            continue
        if r.op == ">&" and target.rstrip("-").isdigit():
            continue
        f.add(target, op, "redirect")


FileHandler = Callable[[_Files, Parsed], None]


def _operands(p: Parsed) -> list[str]:
    """Positionals without the ``+CMD`` arguments of pagers and editors (``less +G f``)."""
    return [a for a in p.positionals if not (a.startswith("+") and len(a) > 1)]


def _read_all(f: _Files, p: Parsed) -> None:
    f.add_all(_operands(p), "read")


def _pattern_first(f: _Files, p: Parsed) -> None:
    """grep-like: the first operand is the pattern unless -e/-f gave one."""
    f.add_all(_values(p, "-f", "--file"), "read")
    given = p.has("-e", "--regexp", "-f", "--file")
    f.used.update(_values(p, "-e", "--regexp") + ([] if given else p.positionals[:1]))
    f.add_all(p.positionals if given else p.positionals[1:], "read")


def _sed(f: _Files, p: Parsed) -> None:
    f.add_all(_values(p, "-f", "--file"), "read")
    given = p.has("-e", "--expression", "-f", "--file")
    f.used.update(_values(p, "-e", "--expression") + ([] if given else p.positionals[:1]))
    files = p.positionals if given else p.positionals[1:]
    in_place = p.has("-i", "--in-place")
    f.add_all(files, "write" if in_place else "read", "sed -i" if in_place else "sed")


def _awk(f: _Files, p: Parsed) -> None:
    f.add_all(_values(p, "-f", "--file", "-E", "--exec", "-i", "--include"), "read")
    given = p.has("-f", "--file", "-E", "--exec", "-e", "--source")
    f.used.update(_values(p, "-e", "--source") + ([] if given else p.rest[:1]))
    operands = p.rest if given else p.rest[1:]
    f.add_all([a for a in operands if not re.match(r"^[A-Za-z_]\w*=", a)], "read")


def _jq(f: _Files, p: Parsed) -> None:
    f.add_all(_values(p, "-f", "--from-file"), "read")
    f.add_all([v.split(" ", 1)[-1] for v in _values(p, "--slurpfile", "--rawfile")], "read")
    if not p.has("-f", "--from-file"):
        f.used.update(p.positionals[:1])
    if p.has("--args", "--jsonargs"):
        return
    f.add_all(p.positionals if p.has("-f", "--from-file") else p.positionals[1:], "read")


def _copy_like(op_src: FileOp | None) -> FileHandler:
    """cp (sources read), mv (sources deleted), ln (targets read), install."""

    def handler(f: _Files, p: Parsed) -> None:
        if canonical(f.cmd.program) == "install" and p.has("-d", "--directory"):
            f.add_all(p.positionals, "write")
            return
        target_dir = p.value("-t", "--target-directory")
        pos = p.positionals
        if target_dir is not None:
            sources, dest = pos, None
        elif canonical(f.cmd.program) == "ln" and len(pos) == 1:
            sources, dest = pos, None
            target_dir = "."
        elif len(pos) >= 2:
            sources, dest = pos[:-1], pos[-1]
        else:
            f.add_all(pos, "read")
            return
        if op_src is not None:
            f.add_all(sources, op_src)
        if canonical(f.cmd.program) == "mv":
            f.add_all(sources, "delete")
        if target_dir is not None:
            f.into(target_dir, sources)
        elif dest is not None:
            multi = len(sources) > 1 or dest.endswith("/") or dest in (".", "..", "~")
            if multi and not p.has("-T", "--no-target-directory"):
                f.into(dest, sources)
            else:
                f.add(dest, "write")

    return handler


def _op_all(op: FileOp) -> FileHandler:
    def handler(f: _Files, p: Parsed) -> None:
        f.add_all(_operands(p), op)

    return handler


def _mknod(f: _Files, p: Parsed) -> None:
    """``mknod NAME TYPE [MAJOR MINOR]``: only the name is a path."""
    f.add(p.positionals[0] if p.positionals else None, "write")
    f.used.update(p.positionals[1:])


def _shred(f: _Files, p: Parsed) -> None:
    f.add_all(p.positionals, "write")
    if p.has("-u", "--remove", "--zero"):
        f.add_all(p.positionals, "delete")


def _tee(f: _Files, p: Parsed) -> None:
    f.add_all(p.positionals, "append" if p.has("-a", "--append") else "write")


def _touch(f: _Files, p: Parsed) -> None:
    f.add_all(_values(p, "-r", "--reference"), "read")
    f.add_all(p.positionals, "write")


def _dd(f: _Files, p: Parsed) -> None:
    for arg in f.cmd.args:
        key, eq, value = arg.partition("=")
        if eq and key == "if":
            f.add(value, "read")
        elif eq and key == "of":
            f.add(value, "write")


_CHMOD_MODE = re.compile(r"^-[rwxXst]+$")


def _chmod(f: _Files, p: Parsed) -> None:
    pos = list(p.positionals)
    mode: str | None = None
    for arg in f.cmd.args:
        if _CHMOD_MODE.match(arg):
            mode = arg
    if p.value("--reference") is not None:
        f.add(p.value("--reference"), "read")
    elif mode is None and pos:
        mode = pos.pop(0)
    for path in pos:
        f.add(path, "chmod", content=mode)


def _chown(f: _Files, p: Parsed) -> None:
    pos = list(p.positionals)
    owner = None if p.value("--reference") is not None else (pos.pop(0) if pos else None)
    for path in pos:
        f.add(path, "chmod", content=owner)


def _chattr(f: _Files, p: Parsed) -> None:
    attrs = [
        a
        for a in f.cmd.args
        if a[:1] in "+-=" and len(a) > 1 and a[1:].isalpha() and a not in ("-R", "-V", "-f")
    ]
    for path in p.positionals:
        if path not in attrs:
            f.add(path, "chmod", content=" ".join(attrs) or None)


def _setfacl(f: _Files, p: Parsed) -> None:
    acl = p.value("-m", "--modify", "--set", "-x", "--remove")
    for path in p.positionals:
        f.add(path, "chmod", content=acl)


def _source(f: _Files, p: Parsed) -> None:
    operands = f.cmd.args
    if operands:
        f.add(operands[0], "read")
        f.add(operands[0], "exec")
        f.used.update(operands)


_CRON_SPOOL = "/var/spool/cron/crontabs/"


def _crontab(f: _Files, p: Parsed) -> None:
    user = p.value("-u") or "$USER"
    spool = _CRON_SPOOL + user
    if p.has("-T"):  # cronie: only check the file's syntax
        f.add_all(p.positionals, "read")
    elif p.has("-l"):
        f.add(spool, "read", "crontab")
    elif p.has("-r"):
        f.add(spool, "delete", "crontab")
    else:
        f.add_all(p.positionals, "read")
        f.add(spool, "write", "crontab")


def _tar(f: _Files, p: Parsed) -> None:
    archive = p.value("-f", "--file")
    directory = p.value("-C", "--directory")
    members = p.positionals
    f.add_all(_values(p, "-T", "--files-from", "-X", "--exclude-from"), "read")
    if p.has("-x", "--extract", "--get"):
        f.add(archive, "read")
        base = directory or "."
        f.add(base, "write")
        for member in members:
            f.add(posixpath.join(base, member), "write")
    elif p.has("-c", "--create"):
        f.add(archive, "write")
        f.add_all([posixpath.join(directory, m) if directory else m for m in members], "read")
    elif p.has("-r", "--append", "-u", "--update", "-A", "--catenate", "--concatenate"):
        f.add(archive, "append")
        f.add_all(members, "read")
    elif p.has("--delete"):
        f.add(archive, "write")
    else:
        f.add(archive, "read")


def _unzip(f: _Files, p: Parsed) -> None:
    pos = p.positionals
    if pos:
        f.add(pos[0], "read")
    if not p.has("-l", "-p", "-t", "-v", "-Z"):
        f.add(p.value("-d") or ".", "write")


def _zip(f: _Files, p: Parsed) -> None:
    pos = p.positionals
    if pos:
        f.add(pos[0], "write")
        f.add_all(pos[1:], "read")


def _compress(f: _Files, p: Parsed) -> None:
    op: FileOp = "read" if p.has("-c", "--stdout", "-l", "--list", "-t", "--test") else "write"
    f.add_all(p.positionals, op)


def _nc_files(f: _Files, p: Parsed) -> None:
    """``nc -e /bin/sh``: the program nc hands the connection to."""
    for value in _values(p, "-e", "--exec"):
        f.add(value.split()[0] if value.split() else value, "exec", f"{f.cmd.program} -e")
    f.used.update(_values(p, "-c", "--sh-exec", "--lua-exec"))
    f.add_all(_values(p, "-o", "--output", "--append-output", "--hex-output"), "write")


def _ssh_files(f: _Files, p: Parsed) -> None:
    f.add_all(_values(p, "-i", "-F"), "read")
    f.add_all(_values(p, "-E"), "append")
    for value in _values(p, "-o"):
        m = _SSH_OPTION.match(value)
        if m and m.group(1).lower() in ("identityfile", "certificatefile", "userknownhostsfile"):
            f.add(m.group(2).strip().strip("\"'"), "read")


def _copy_remote_files(f: _Files, p: Parsed) -> None:
    """scp/rsync/sftp: keys and config read; local sources read, a local destination written."""
    _ssh_files(f, p)
    f.add_all(
        _values(p, "-b", "--password-file", "--files-from", "--exclude-from", "--include-from"),
        "read",
    )
    f.add_all(_values(p, "--log-file"), "append")
    pos = p.positionals
    if canonical(f.cmd.program) == "sftp" or len(pos) < 2:
        f.used.update(pos)
        return
    *sources, dest = pos

    def local(arg: str) -> bool:
        return _remote_operand(arg) is None and not _SCHEME.match(arg)

    f.used.update(a for a in pos if not local(a))
    for src in sources:
        if local(src):
            f.add(src, "read")
    if local(dest):
        if dest.endswith("/") or len(sources) > 1 or dest in (".", ".."):
            f.into(dest, [s.rpartition(":")[2] for s in sources])
        else:
            f.add(dest, "write")


def _url_basename(url: str) -> str:
    path = url.split("://", 1)[-1].split("?", 1)[0].split("#", 1)[0]
    _, _, rest = path.partition("/")
    return posixpath.basename(rest) or "index.html"


def _file_urls(f: _Files, urls: Iterable[str]) -> None:
    for url in urls:
        if url.lower().startswith("file://"):
            f.add(
                "/" + url[7:].split("/", 1)[-1] if not url[7:].startswith("/") else url[7:], "read"
            )


_CURL_CLAIMED = (
    "-d",
    "--data",
    "--data-binary",
    "--data-ascii",
    "--json",
    "--data-urlencode",
    "-F",
    "--form",
    "-T",
    "--upload-file",
    "-w",
    "--write-out",
    "-b",
    "--cookie",
    "--output-dir",
    "--data-raw",
    "--form-string",
    "-H",
    "--header",
)


def _curl_files(f: _Files, p: Parsed) -> None:
    out_dir = p.value("--output-dir")
    f.used.update(_values(p, *_CURL_CLAIMED))

    def in_dir(name: str) -> str:
        return posixpath.join(out_dir, name) if out_dir and not name.startswith("/") else name

    f.add_all([in_dir(o) for o in _values(p, "-o", "--output")], "write")
    urls = [*p.positionals, *_values(p, "--url")]
    if p.has("-O", "--remote-name", "--remote-name-all"):
        f.add_all([in_dir(_url_basename(u)) for u in urls if "://" in u or "." in u], "write")
    for value in _values(p, "-d", "--data", "--data-binary", "--data-ascii", "--json"):
        if value.startswith("@"):
            f.add(value[1:], "read")
    for value in _values(p, "--data-urlencode"):
        name, at, path = value.partition("@")
        if at and "=" not in name:
            f.add(path, "read")
    for value in _values(p, "-F", "--form"):
        _, eq, rhs = value.partition("=")
        if eq and rhs[:1] in ("@", "<"):
            f.add(rhs[1:].split(";", 1)[0], "read")
    for value in _values(p, "-T", "--upload-file"):
        if value not in (".", "-"):
            f.add(value, "read")
    f.add_all(
        _values(
            p,
            "-K",
            "--config",
            "--cacert",
            "--cert",
            "-E",
            "--key",
            "--netrc-file",
            "--proxy-cacert",
            "--proxy-cert",
            "--proxy-key",
        ),
        "read",
    )
    f.add_all([v[1:] for v in _values(p, "-w", "--write-out") if v.startswith("@")], "read")
    f.add_all([v for v in _values(p, "-b", "--cookie") if "=" not in v], "read")
    f.add_all(
        _values(
            p,
            "-c",
            "--cookie-jar",
            "-D",
            "--dump-header",
            "--trace",
            "--trace-ascii",
            "--stderr",
            "--libcurl",
            "--etag-save",
        ),
        "write",
    )
    if p.has("-n", "--netrc", "--netrc-optional"):
        f.add("~/.netrc", "read")
    _file_urls(f, urls)


def _wget_files(f: _Files, p: Parsed) -> None:
    document = p.value("-O", "--output-document")
    prefix = p.value("-P", "--directory-prefix")
    if document is not None:
        f.add(document, "write")
    elif not p.has("--spider"):
        base = prefix or "."
        names = [_url_basename(u) for u in p.positionals if not u.startswith("file:")]
        if prefix is not None:
            f.add(prefix, "write")
        f.add_all([posixpath.join(base, n) for n in names], "write")
    f.add_all(_values(p, "-o", "--output-file", "--save-cookies"), "write")
    f.add_all(_values(p, "-a", "--append-output"), "append")
    f.add_all(
        _values(
            p,
            "-i",
            "--input-file",
            "--post-file",
            "--body-file",
            "--load-cookies",
            "--ca-certificate",
            "--certificate",
            "--private-key",
            "--config",
        ),
        "read",
    )
    _file_urls(f, p.positionals)


def _xxd(f: _Files, p: Parsed) -> None:
    pos = p.positionals
    if pos:
        f.add(pos[0], "read")
    if len(pos) > 1:
        f.add(pos[1], "write")


def _sort(f: _Files, p: Parsed) -> None:
    f.add_all(p.positionals, "read")
    f.add_all(_values(p, "-o", "--output"), "write")
    f.add_all(_values(p, "--files0-from"), "read")


def _uniq(f: _Files, p: Parsed) -> None:
    _xxd(f, p)


_OPENSSL_READ = (
    "-in",
    "-CAfile",
    "-key",
    "-inkey",
    "-cert",
    "-kfile",
    "-signkey",
    "-CA",
    "-CAkey",
    "-certfile",
    "-extfile",
    "-config",
    "-msgfile",
    "-sigfile",
    "-reqin",
    "-respin",
    "-issuer",
    "-signer",
    "-dcert",
    "-dkey",
    "-cert_chain",
    "-sess_in",
)
_OPENSSL_WRITE = ("-out", "-keyout", "-sess_out", "-keylogfile", "-reqout", "-respout")


def _openssl_files(f: _Files, p: Parsed) -> None:
    f.add_all(_values(p, *_OPENSSL_READ), "read")
    f.add_all(_values(p, *_OPENSSL_WRITE), "write")
    for value in _values(p, "-pass", "-passin", "-passout", "-k"):
        if value.startswith("file:"):
            f.add(value[5:], "read")


def _find(f: _Files, p: Parsed) -> None:
    starts: list[str] = []
    for arg in f.cmd.args:
        if arg.startswith("-") or arg in ("(", "!", ")", ","):
            break
        starts.append(arg)
    f.add_all(starts or ["."], "delete" if p.has("-delete") else "list")
    f.add_all(_values(p, "-fprint", "-fprint0", "-fls"), "write")
    f.add_all([v.split(" ", 1)[0] for v in _values(p, "-fprintf")], "write")
    f.add_all(_values(p, "-files0-from"), "read")


def _list(f: _Files, p: Parsed) -> None:
    f.add_all(p.positionals, "list")
    f.add_all(_values(p, "-o"), "write")  # tree -o


def _git_files(f: _Files, p: Parsed) -> None:
    f.used.update(_values(p, "-C", "-c", "-m", "--message"))
    pos = p.positionals
    if not pos or pos[0].lower() != "config":
        return
    f.used.update(pos)
    if p.has("--global"):
        target = "~/.gitconfig"
    elif p.has("--system"):
        target = "/etc/gitconfig"
    else:
        target = p.value("-f", "--file") or ".git/config"
    reading = p.has("--get", "--get-all", "--get-regexp", "--list", "-l", "--get-urlmatch")
    writing = len(pos) >= 3 or p.has(
        "--unset",
        "--unset-all",
        "--add",
        "--replace-all",
        "--rename-section",
        "--remove-section",
        "-e",
        "--edit",
    )
    if writing and not reading:
        f.add(target, "write", "git config")
    else:
        f.add(target, "read", "git config")


def _ssh_keygen(f: _Files, p: Parsed) -> None:
    reading = p.has("-l", "-y", "-e", "-i", "-F", "-B", "-L", "-Q")
    for path in _values(p, "-f"):
        f.add(path, "read" if reading else "write")


def _docker_files(f: _Files, p: Parsed) -> None:
    src = f.cmd.program
    for vol in _values(p, "-v", "--volume"):
        host = vol.split(":", 1)[0]
        if host.startswith(("/", ".", "~", "$")):
            f.add(host, "read", f"{src} -v")
        f.used.add(vol)
    for mount in _values(p, "--mount"):
        fields = dict(x.partition("=")[::2] for x in mount.split(","))
        source = fields.get("source") or fields.get("src")
        if source and source.startswith(("/", ".", "~", "$")):
            f.add(source, "read", f"{src} --mount")
        f.used.add(mount)
    f.add_all(_values(p, "--env-file", "-f", "--file"), "read")
    pos = p.positionals
    if len(pos) >= 3 and pos[0].lower() == "cp":
        copies: tuple[tuple[str, FileOp], ...] = ((pos[1], "read"), (pos[2], "write"))
        for path, op in copies:
            if not re.match(r"^[\w.-]+:", path):  # container:path is inside the container
                f.add(path, op)


def _script_exec(code_options: tuple[str, ...]) -> FileHandler:
    """An interpreter running a script file: the file is executed. With inline code and
    ``-n``/``-p``/``-i`` (perl, ruby), the operands are files read (or edited in place)."""

    def handler(f: _Files, p: Parsed) -> None:
        f.used.update(_values(p, *code_options))
        if p.has(*code_options):
            if p.has("-n", "-p", "-i"):
                f.add_all(p.rest, "write" if p.has("-i") else "read")
            return
        if not p.rest:
            return
        script = p.rest[0]
        if script != "-":
            f.add(script, "exec")

    return handler


_TEXT_TOOLS = words(
    "cat tac less more head tail nl wc cut file md5sum sha1sum sha224sum sha256sum sha384sum "
    "sha512sum b2sum cksum sum cmp diff diff3 comm paste join od hexdump hd base64 base32 "
    "strings fold fmt column bat batcat view zcat zless zmore bzcat xzcat zstdcat expand "
    "unexpand rev look tr iconv stat readlink"
)
_EDITORS = words("vi vim nvim nano emacs ed ex pico micro joe mcedit kak helix hx")

_FILES: dict[str, FileHandler] = {
    **dict.fromkeys(_TEXT_TOOLS, _read_all),
    **dict.fromkeys(_EDITORS, _op_all("write")),
    "grep": _pattern_first,
    "rg": _pattern_first,
    "ag": _pattern_first,
    "ack": _pattern_first,
    "sed": _sed,
    "awk": _awk,
    "jq": _jq,
    "cp": _copy_like("read"),
    "mv": _copy_like(None),
    "ln": _copy_like("read"),
    "install": _copy_like("read"),
    "rm": _op_all("delete"),
    "unlink": _op_all("delete"),
    "rmdir": _op_all("delete"),
    "shred": _shred,
    "tee": _tee,
    "touch": _touch,
    "mkdir": _op_all("write"),
    "mkfifo": _op_all("write"),
    "mknod": _mknod,
    "truncate": _touch,
    "dd": _dd,
    "chmod": _chmod,
    "chown": _chown,
    "chgrp": _chown,
    "chattr": _chattr,
    "setfacl": _setfacl,
    "source": _source,
    ".": _source,
    "crontab": _crontab,
    "tar": _tar,
    "bsdtar": _tar,
    "gtar": _tar,
    "unzip": _unzip,
    "zip": _zip,
    "gzip": _compress,
    "ssh": _ssh_files,
    "autossh": _ssh_files,
    "ssh-copy-id": _ssh_files,
    "scp": _copy_remote_files,
    "sftp": _copy_remote_files,
    "rsync": _copy_remote_files,
    "curl": _curl_files,
    "wget": _wget_files,
    "wget2": _wget_files,
    "xxd": _xxd,
    "nc": _nc_files,
    "uniq": _uniq,
    "sort": _sort,
    "openssl": _openssl_files,
    "find": _find,
    "ls": _list,
    "tree": _list,
    "du": _list,
    "git": _git_files,
    "ssh-keygen": _ssh_keygen,
    "docker": _docker_files,
    "podman": _docker_files,
    "nerdctl": _docker_files,
    "python": _script_exec(("-c", "-m")),
    "perl": _script_exec(("-e", "-E")),
    "ruby": _script_exec(("-e",)),
    "node": _script_exec(("-e", "--eval", "-p", "--print")),
    "php": _script_exec(("-r", "-B", "-R", "-E", "-S")),
    "lua": _script_exec(("-e",)),
    "sh": _script_exec(("-c", "-s")),
    "tclsh": _script_exec(()),
}

# Programs whose operands are never opened as files (``echo ~/.ssh/id_rsa`` reads nothing).
_NO_FALLBACK = words(
    "echo printf basename dirname which type command hash export unset alias declare typeset "
    "local readonly true false test [ [[ realpath cd pushd popd set shopt read exit return "
    "kill pkill pgrep sleep date id whoami hostname uname env"
)
# Programs whose positionals name things elsewhere (a remote host, a container, an image).
_OPTIONS_ONLY = words("ssh autossh mosh dbclient plink docker podman nerdctl kubectl oc sudo doas")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][\w.-]*=")


def looks_like_path(text: str) -> bool:
    """Worth reporting as a path: absolute, home-relative, ``./x``, dotted (``a/.ssh``)."""
    if not text or "\n" in text or len(text) > 4096 or "://" in text:
        return False
    if text.startswith(("/", "~", "./", "../", "$HOME", "${HOME}")):
        return True
    if "/." in text:
        return True
    return text.startswith(".") and len(text) > 1 and (text[1].isalnum() or text[1] == "_")


def _fallback(f: _Files, p: Parsed) -> None:
    name = canonical(f.cmd.program)
    if name in _NO_FALLBACK:
        return
    if name in _OPTIONS_ONLY:
        candidates = [v for vals in p.values.values() for v in vals]
    else:
        candidates = list(f.cmd.args)
    for arg in candidates:
        if arg in f.used:
            continue
        value = arg
        if arg.startswith("-"):
            _, eq, value = arg.partition("=")
            if not eq:
                continue
        elif _ASSIGNMENT.match(arg):
            value = arg.partition("=")[2]
        if value not in f.used and looks_like_path(value) and not value.startswith("/dev/tcp/"):
            f.add(value, "read")


def files_of(cmd: Command, cwd: str | None) -> list[FileAccess]:
    """Paths ``cmd`` reads, writes, deletes or chmods, including its redirections.

    Redirections have source ``redirect``; everything else the program's name (or a more precise
    origin such as ``sed -i``, ``docker -v``, ``git config``). ``chmod`` accesses carry the mode
    (or owner, ACL, attributes) in ``content``. An argument of any program that looks like a
    path and that no handler claimed is reported as ``read``.
    """
    f = _Files(cmd, cwd)
    _redirects(f)
    p = parse(cmd.program, cmd.args)
    handler = _FILES.get(canonical(cmd.program)) or _FILES.get(cmd.program)
    if handler is not None:
        handler(f, p)
    _fallback(f, p)
    return f.out
