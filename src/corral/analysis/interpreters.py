"""Interpreter one-liners: what python/perl/ruby/node/php/lua/awk/tcl code would do.

Nothing is executed. Python is read with :mod:`ast` when it parses (falling back to the regex
tables when it does not, e.g. Python 2); the other languages are read with tables of compiled
regular expressions. Code of any length is scanned; every pattern is linear in the input.

The capability vocabulary of :class:`~corral.analysis.facts.CodeFinding` (``capability``):

``socket``
    creates a network socket (``socket.socket``, ``IO::Socket``, ``TCPSocket``, ``net.Socket``,
    ``fsockopen``, ``socket.tcp()``, tcl ``socket``).
``connect``
    connects out (``s.connect((h, p))``, ``TCPSocket.new(h, p)``, ``net.connect(p, h)``...).
``listen``
    binds or listens for connections (a bind shell, a server).
``dev_tcp``
    uses bash's ``/dev/tcp``/``/dev/udp`` paths or gawk's ``/inet/tcp``.
``subprocess``
    runs a program or a shell (``os.system``, ``subprocess.*``, ``exec``, ``system()``, backticks,
    ``child_process``, ``shell_exec``, ``passthru``, ``proc_open``, ``os.execute``, ``io.popen``).
``pty``
    spawns an interactive terminal (``pty.spawn``, ``/bin/sh -i``).
``dup2``
    reconnects stdin/stdout/stderr to another descriptor, typically a socket (``os.dup2``,
    ``open(STDIN, ">&S")``, ``$stdin.reopen``, ``sock.pipe(sh.stdin)``, ``<&3`` in a shell string).
``download``
    fetches over HTTP or FTP (urllib, requests, ``fetch``, LWP, open-uri, ``file_get_contents``).
``decode_exec``
    executes data decoded or fetched at run time (``exec(base64.b64decode(...))``,
    ``eval(Buffer.from(..., 'base64'))``, ``eval(decode_base64(...))``, ``exec(urlopen().read())``).
``file_write``
    writes, appends, deletes or chmods a sensitive path (absolute outside ``/tmp``, home, dotfile).
``env_dump``
    reads the whole environment at once (``dict(os.environ)``, ``JSON.stringify(process.env)``,
    ``%ENV``, ``ENV.to_h``, ``$_ENV``, ``ENVIRON``), where secrets usually live.
``crypto_mining``
    mining protocol or miner names (``stratum+tcp://``, ``mining.subscribe``, ``xmrig``).
``setuid``
    changes the process's user or group (``os.setuid(0)``, ``POSIX::setuid``, ``process.setuid``,
    ``Process::Sys.setuid``, ``posix_setuid``): the step before a root shell.

Literal network endpoints become :class:`NetTarget` (source: the language), literal paths
:class:`FileAccess`, and literal strings handed to a shell land in ``shell_commands`` for the
shell analyser to read again. Literal base64/hex payloads that are decoded and executed are
decoded here and analysed in turn.
"""

from __future__ import annotations

import ast
import base64
import binascii
import re
import shlex
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from corral.analysis import optspec
from corral.analysis.facts import CodeFinding, FileAccess, FileOp, NetTarget
from corral.analysis.optspec import words
from corral.analysis.programs import dev_net_targets, host_name, normalize, url_target

CAPABILITIES = frozenset(
    {
        "socket",
        "connect",
        "listen",
        "dev_tcp",
        "subprocess",
        "pty",
        "dup2",
        "download",
        "decode_exec",
        "file_write",
        "env_dump",
        "crypto_mining",
        "setuid",
    }
)
_MAX_AST = 64 * 1024
_MAX_DEPTH = 4
_MAX_DECODED = 64 * 1024


@dataclass(slots=True)
class CodeAnalysis:
    findings: list[CodeFinding] = field(default_factory=list)
    targets: list[NetTarget] = field(default_factory=list)
    files: list[FileAccess] = field(default_factory=list)
    shell_commands: list[str] = field(default_factory=list)


# ---- which interpreter, which code --------------------------------------------------------------

_LANGUAGES: dict[str, str] = {
    "python": "python",
    "pypy": "python",
    "perl": "perl",
    "ruby": "ruby",
    "irb": "ruby",
    "jruby": "ruby",
    "node": "node",
    "nodejs": "node",
    "bun": "node",
    "deno": "node",
    "php": "php",
    "php-cli": "php",
    "lua": "lua",
    "luajit": "lua",
    "awk": "awk",
    "gawk": "awk",
    "mawk": "awk",
    "nawk": "awk",
    "busybox awk": "awk",
    "tclsh": "tcl",
}
_VERSIONED = re.compile(r"^(python|pypy|perl|ruby|php|lua|luajit|node|tclsh)[0-9][0-9.]*$")


def interpreter_language(program: str) -> str | None:
    """``python3.11`` -> ``python``; ``nodejs`` -> ``node``; ``None`` for non-interpreters."""
    name = program.strip().lower()
    found = _LANGUAGES.get(name)
    if found is not None:
        return found
    m = _VERSIONED.match(name)
    if m:
        return _LANGUAGES[m.group(1)]
    return None


def _join(parts: Iterable[str]) -> str | None:
    items = list(parts)
    return "\n".join(items) if items else None


def _python_inline(args: list[str]) -> str | None:
    return optspec.parse("python", args).value("-c")


def _perl_inline(args: list[str]) -> str | None:
    p = optspec.parse("perl", args)
    code = p.all_values("-e", "-E")
    if not code:
        return None
    modules = [m.replace("=", " qw(", 1) + ")" if "=" in m else m for m in p.all_values("-M")]
    uses = [f"use {m.lstrip('-')};" for m in modules]
    return _join([*uses, *code])


def _ruby_inline(args: list[str]) -> str | None:
    p = optspec.parse("ruby", args)
    code = p.all_values("-e")
    if not code:
        return None
    return _join([*(f"require '{lib}'" for lib in p.all_values("-r")), *code])


def _node_inline(args: list[str]) -> str | None:
    p = optspec.parse("node", args)
    code = p.all_values("-e", "--eval", "-p", "--print")
    if code:
        return _join(code)
    if p.rest[:1] == ["eval"] and len(p.rest) > 1:  # deno eval CODE
        return p.rest[1]
    return None


def _php_inline(args: list[str]) -> str | None:
    return _join(optspec.parse("php", args).all_values("-r", "-B", "-R", "-E"))


def _lua_inline(args: list[str]) -> str | None:
    p = optspec.parse("lua", args)
    code = p.all_values("-e")
    if not code:
        return None
    return _join([*(f'require("{lib}")' for lib in p.all_values("-l")), *code])


def _awk_inline(args: list[str]) -> str | None:
    if args[:1] == ["awk"]:  # busybox awk ...
        args = args[1:]
    p = optspec.parse("awk", args)
    sources = p.all_values("-e", "--source")
    if sources:
        return _join(sources)
    if p.has("-f", "--file") or not p.rest:
        return None
    return p.rest[0]


_INLINE: dict[str, Callable[[list[str]], str | None]] = {
    "python": _python_inline,
    "perl": _perl_inline,
    "ruby": _ruby_inline,
    "node": _node_inline,
    "php": _php_inline,
    "lua": _lua_inline,
    "awk": _awk_inline,
}


def inline_code(language: str, args: list[str]) -> str | None:
    """The code an interpreter argv runs inline (``-c``/``-e``/``-r``/awk program), if any.

    ``args`` is argv[1:]. Several ``-e`` are joined with newlines; perl ``-M`` and ruby ``-r`` /
    lua ``-l`` modules are noted as ``use``/``require`` lines before the code.
    """
    reader = _INLINE.get(language)
    return reader(args) if reader is not None else None


# ---- shared regex pieces ------------------------------------------------------------------------

_STR = r"""(?:"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')"""
_EXPR = rf"""({_STR}|[$@]?[\w.]+(?:\s*\[\s*{_STR}\s*\]|\s*\{{\s*\w+\s*\}}|\s*\([^()]*\))?)"""
_STR_RE = re.compile(_STR)
_ESCAPE = re.compile(r"\\(.)")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0"}
_URL_LITERAL = re.compile(r"""["'`]((?:https?|ftp|wss?)://[^"'`\s]+)["'`]""")
_ENV_REF = re.compile(
    r"""(?:os\.getenv|getenv|os\.environ\.get|ENV\.fetch)\s*\(\s*["'](\w+)["']"""
    r"""|(?:os\.environ|ENV|\$_ENV|\$_SERVER)\s*\[\s*["'](\w+)["']\s*\]"""
    r"""|process\.env\.(\w+)|process\.env\[\s*["'](\w+)["']\s*\]|\$ENV\{\s*["']?(\w+)["']?\s*\}"""
)
_ASSIGN = re.compile(
    rf"""(?<![=!<>\w$@.,])((?:[$]?\w+[ \t]*,[ \t]*){{0,7}}[$]?\w+)[ \t]*(?<![=!<>])=(?!=)[ \t]*"""
    rf"""((?:(?:{_STR}|\d+)[ \t]*,[ \t]*){{0,7}}(?:{_STR}|\d+))(?=\s|[;,)}}]|$)"""
)


def _unquote(literal: str) -> str:
    body = literal[1:-1]
    return _ESCAPE.sub(lambda m: _ESCAPES.get(m.group(1), m.group(1)), body)


def _constants(code: str) -> dict[str, str]:
    """Literal assignments: ``$i="10.0.0.1";$p=1234``, ``local host, port = "h", 4444``."""
    out: dict[str, str] = {}
    for m in _ASSIGN.finditer(code):
        names = [n.strip() for n in m.group(1).split(",")]
        values = [v.strip() for v in re.findall(rf"{_STR}|\d+", m.group(2))]
        if len(names) != len(values):
            continue
        for name, value in zip(names, values, strict=True):
            out[name] = _unquote(value) if value[:1] in "\"'" else value
    return out


def _resolve(expr: str | None, consts: dict[str, str]) -> str | None:
    """The value of a literal, a known variable, an environment lookup (``$NAME``), or None."""
    if expr is None:
        return None
    text = expr.strip()
    if not text:
        return None
    if text[0] in "\"'" and text[-1] == text[0] and len(text) >= 2:
        return _unquote(text)
    if text.isdigit():
        return text
    for wrapper in ("int(", "parseInt(", "Number(", "tonumber(", "intval("):
        if text.startswith(wrapper) and text.endswith(")"):
            return _resolve(text[len(wrapper) : -1].split(",")[0], consts)
    if text.endswith((".to_i", ".to_s")):
        return _resolve(text[:-5], consts)
    env = _ENV_REF.fullmatch(text)
    if env:
        return "$" + next(g for g in env.groups() if g)
    return consts.get(text) or consts.get(text.lstrip("$@"))


# ---- the result being built ---------------------------------------------------------------------

_SAFE_WRITE_PREFIX = ("/tmp/", "/var/tmp/", "/dev/null", "/dev/std", "/dev/shm/")


class _Result:
    def __init__(self, language: str, out: CodeAnalysis, depth: int):
        self.language = language
        self.out = out
        self.depth = depth
        self.seen: set[tuple[str, ...]] = set()

    def find(self, capability: str, detail: str) -> None:
        detail = " ".join(detail.split())[:120]
        key = ("f", capability, detail)
        if key not in self.seen:
            self.seen.add(key)
            self.out.findings.append(CodeFinding(self.language, capability, detail))

    def has(self, capability: str) -> bool:
        return any(f.capability == capability for f in self.out.findings)

    def target(
        self, host: str | None, port: str | int | None, *, listen: bool = False, proto: str = "tcp"
    ) -> None:
        if host is None and not listen:
            return
        raw = (host or "0.0.0.0").strip()
        for prefix in ("tcp://", "udp://", "ssl://", "tls://"):
            if raw.lower().startswith(prefix):
                proto = "udp" if prefix == "udp://" else proto
                raw = raw[len(prefix) :]
        if port is None and raw.count(":") == 1 and raw.rsplit(":", 1)[1].isdigit():
            raw, port = raw.rsplit(":", 1)
        name = host_name(raw)
        if listen and name in ("", "*", "::"):
            name = "0.0.0.0"
        if not name:
            return
        number = int(port) if isinstance(port, str) and port.isdigit() else port
        if isinstance(number, str) or (isinstance(number, int) and not 0 < number < 65536):
            number = None
        key = ("t", name, str(number), str(listen), proto)
        if key in self.seen:
            return
        self.seen.add(key)
        self.out.targets.append(
            NetTarget(
                host=name,
                port=number,
                source=self.language,
                direction="listen" if listen else "out",
                proto=proto,
            )
        )

    def url(self, text: str) -> None:
        t = url_target(text, self.language)
        if t is not None and ("u", text) not in self.seen:
            self.seen.add(("u", text))
            self.out.targets.append(t)

    def file(self, raw: str | None, op: FileOp) -> None:
        if not raw:
            return
        path = normalize(raw, None)
        if path is None:
            return
        key = ("p", path, op)
        if key in self.seen:
            return
        self.seen.add(key)
        self.out.files.append(FileAccess(path=path, op=op, source=self.language))
        if op != "read" and _sensitive(path):
            self.find("file_write", f"{op} {path}")

    def shell(self, command: str | None) -> None:
        if command and command.strip() and command not in self.out.shell_commands:
            self.out.shell_commands.append(command)


def _sensitive(path: str) -> bool:
    if path.startswith(_SAFE_WRITE_PREFIX):
        return False
    return path.startswith(("/", "~")) or "/." in path or path.startswith(".")


# ---- language tables ----------------------------------------------------------------------------


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.MULTILINE)


Table = tuple[tuple[str, re.Pattern[str]], ...]

_SHELL_INTERACTIVE = _rx(r"\b(?:ba|z|da|k|tc|c|a|mk|fi)?sh[\"']?\s*[,\s]\s*[\"']?-[a-z]*i\b")
_COMMON: Table = (
    (
        "setuid",
        _rx(
            r"\b(?:os\.|POSIX::|posix\.|process\.|Process::Sys\.|Process::UID\.|posix_)?"
            r"set(?:e|re|res)?[ug]id\s*\(|\bProcess::UID\.change_privilege\b"
        ),
    ),
    ("dev_tcp", _rx(r"/dev/(?:tcp|udp)/[^/\s\"']+/\w+|/inet[46]?/(?:tcp|udp)/")),
    ("pty", _SHELL_INTERACTIVE),
    (
        "dup2",
        _rx(
            r"[0-2]?<&\s*(?:%d|[3-9]|\d{2,}|\$\{?\w+\}?|#\{\w+\})"
            r"|[0-2]?>&\s*(?:%d|[3-9]|\d{2,}|\$\{?\w+\}?|#\{\w+\})"
        ),
    ),
    (
        "crypto_mining",
        re.compile(
            r"stratum2?\+(?:tcp|ssl|tls)://|mining\.(?:subscribe|authorize|submit)|\bxmrig\b"
            r"|coinhive|cryptonight|\bminerd\b|\bnicehash\b|moneroocean|supportxmr|nanopool\.org"
            r"|2miners\.com|\bc3pool\b|\bhashvault\b",
            re.IGNORECASE,
        ),
    ),
)

_PYTHON: Table = (
    (
        "socket",
        _rx(r"\bsocket\.socket\s*\(|\bsocket\s*\(\s*(?:socket\.)?AF_|\bcreate_connection\s*\("),
    ),
    (
        "connect",
        _rx(
            r"\.connect(?:_ex)?\s*\(\s*\(|\bcreate_connection\s*\(|\bopen_connection\s*\("
            r"|\btelnetlib\.Telnet\s*\("
        ),
    ),
    ("listen", _rx(r"\.bind\s*\(\s*\(|\bTCPServer\s*\(|\bHTTPServer\s*\(|\bstart_server\s*\(")),
    (
        "subprocess",
        _rx(
            r"\bos\.(?:system|popen[234]?|exec[lv]p?e?|spawn[lv]p?e?|posix_spawnp?)\s*\("
            r"|\bsubprocess\.\w+|\bcommands\.getoutput|\bpty\.spawn\s*\(|\bPopen\s*\("
        ),
    ),
    ("pty", _rx(r"\bpty\.(?:spawn|fork)\s*\(|\bos\.openpty\s*\(")),
    ("dup2", _rx(r"\bdup2\s*\(|\bstd(?:in|out|err)\s*=\s*\w+\.fileno\(\)")),
    (
        "download",
        _rx(
            r"\burlopen\s*\(|\burlretrieve\s*\(|\brequests\.(?:get|post|put|patch|request|Session)\b"
            r"|\bhttpx\.\w+\s*\(|\bHTTPS?Connection\s*\(|\baiohttp\.|\bwget\.download\s*\("
            r"|\bftplib\.FTP\b|\burllib3\."
        ),
    ),
    (
        "decode_exec",
        _rx(
            r"\b(?:exec|eval|compile)\s*\([^)]{0,300}?(?:b64decode|b32decode|b16decode|a85decode"
            r"|b85decode|decodebytes|decodestring|unhexlify|fromhex|decompress|marshal\.loads"
            r"|pickle\.loads|codecs\.decode|urlopen|requests\.get"
            r"|\.decode\(\s*[\"'](?:base64|hex|rot13|zlib))"
        ),
    ),
    (
        "env_dump",
        _rx(r"\bos\.environ\b(?!\s*(?:\[|\.get\b|\.setdefault\b|\.pop\b|\.update\b|\.__))"),
    ),
)
_PERL: Table = (
    ("socket", _rx(r"\bsocket\s*\(|\bIO::Socket\b|\buse\s+Socket\b")),
    (
        "connect",
        _rx(
            r"\bconnect\s*\(|\bPeerAddr\b|\bPeerHost\b"
            r"|IO::Socket::\w+\s*(?:->\s*new|\()\s*\(?\s*[\"'][^\"':]+:\d+"
        ),
    ),
    ("listen", _rx(r"\blisten\s*\(|\bbind\s*\(|\bLocalPort\b|\bListen\s*=>")),
    (
        "subprocess",
        _rx(
            r"\b(?:system|exec)\b\s*[\s(\"'$]|`[^`\n]+`|\bqx\s*[{(\[/|!'\"]"
            r"|\bopen\s*\(?[^;]{0,300}?[\"']\s*\||\bopen\s*\(?[^;]{0,300}?\|\s*[\"']"
        ),
    ),
    ("pty", _rx(r"\bIO::Pty\b")),
    (
        "dup2",
        _rx(
            r"\bopen\s*\(?\s*\*?STD(?:IN|OUT|ERR)\s*,\s*[\"']\s*[<>+]*&|\bdup2\s*\("
            r"|\bSTD(?:IN|OUT|ERR)->fdopen|\$~->fdopen|\bfdopen\s*\("
        ),
    ),
    (
        "download",
        _rx(
            r"\bLWP::|\bHTTP::Tiny\b|\bgetstore\s*\(|\bgetprint\s*\(|\bWWW::Mechanize\b"
            r"|\bNet::FTP\b"
        ),
    ),
    (
        "decode_exec",
        _rx(
            r"\beval\b[^;]{0,300}?\b(?:decode_base64|MIME::Base64|uncompress|inflate"
            r"|Compress::Zlib|unpack|pack\s*\(\s*[\"'][Hh]|get\s*\()"
        ),
    ),
    ("env_dump", _rx(r"%ENV\b(?!\s*\{)|\bkeys\s*\(?\s*%ENV|\beach\s*\(?\s*%ENV")),
)
_RUBY: Table = (
    (
        "socket",
        _rx(
            r"\bTCPSocket\b|\bUDPSocket\b|\bSocket\.(?:new|tcp|udp)\b|\bTCPServer\b"
            r"|\brequire\s*\(?\s*[\"']socket[\"']"
        ),
    ),
    ("connect", _rx(r"\bTCPSocket\.(?:new|open)\b|\bSocket\.tcp\s*\(|\.connect\s*\(")),
    (
        "listen",
        _rx(
            r"\bTCPServer\.(?:new|open)\b|\.listen\s*\(|\.bind\s*\(|\bWEBrick::HTTPServer\b"
            r"|\btcp_server_loop\b"
        ),
    ),
    (
        "subprocess",
        _rx(
            r"\b(?:system|exec|spawn)\b\s*[\s(\"']|`[^`\n]+`|%x[{(\[<!|]|\bIO\.popen\b"
            r"|\bOpen3\.|\bPTY\.spawn\b|\bProcess\.spawn\b"
        ),
    ),
    ("pty", _rx(r"\bPTY\.spawn\b|\brequire\s*\(?\s*[\"']pty[\"']")),
    (
        "dup2",
        _rx(
            r"\.reopen\s*\(|\[\s*:in\s*,\s*:out(?:\s*,\s*:err)?\s*\]\s*=>|\bIO\.for_fd\b"
            r"|:(?:in|out|err)\s*=>\s*(?!:)\w+"
        ),
    ),
    (
        "download",
        _rx(
            r"\bNet::HTTP\b|\bURI\.open\b|\bopen-uri\b|\bURI\.parse\b[^;\n]{0,300}\.read\b"
            r"|\bopen\s*\(\s*[\"']https?://|\bHTTParty\b|\bFaraday\b|\bRestClient\b"
        ),
    ),
    (
        "decode_exec",
        _rx(
            r"\b(?:eval|instance_eval|class_eval|system|exec)\b[^;\n]{0,300}?"
            r"(?:Base64\.(?:decode64|strict_decode64|urlsafe_decode64)"
            r"|\.unpack1?\s*\(\s*[\"']m|Zlib::Inflate|\.pack\s*\(\s*[\"']H)"
        ),
    ),
    (
        "env_dump",
        _rx(
            r"\bENV\.(?:to_h|to_a|to_hash|each\w*|map|inspect|keys|values|select|reject"
            r"|filter|sort|entries|to_s)\b|\b(?:p|pp|puts|print)\s*\(?\s*ENV\b(?!\s*\[)"
        ),
    ),
)
_NODE: Table = (
    (
        "socket",
        _rx(
            r"\brequire\s*\(\s*[\"'](?:node:)?(?:net|dgram|tls)[\"']\s*\)"
            r"|\bnew\s+(?:net\.)?Socket\s*\(|\bdgram\.createSocket\b"
            r"|\bfrom\s+[\"'](?:node:)?(?:net|dgram|tls)[\"']|\bDeno\.connect\b|\bBun\.connect\b"
        ),
    ),
    (
        "connect",
        _rx(
            r"\b(?:net|tls)\.(?:connect|createConnection)\s*\(|\.connect\s*\(\s*(?:\d+|\w+)\s*,"
            r"|\.connect\s*\(\s*\{[^}]{0,300}\bport\b|\bDeno\.connect\b|\bBun\.connect\b"
        ),
    ),
    ("listen", _rx(r"\.listen\s*\(|\bcreateServer\s*\(|\bDeno\.listen\b|\bBun\.serve\b")),
    (
        "subprocess",
        _rx(
            r"\bchild_process\b|(?<![.\w])(?:execSync|spawnSync|execFileSync|execFile)\s*\("
            r"|\.(?:execSync|spawn|spawnSync|execFile|execFileSync)\s*\(\s*[\"'`\w]"
            r"|\bDeno\.(?:run|Command)\b|\bBun\.spawn\b|process\.binding\s*\("
        ),
    ),
    ("pty", _rx(r"\bnode-pty\b|\bpty\.spawn\b")),
    (
        "dup2",
        _rx(
            r"(?<!\.)\b\w+\.pipe\s*\(\s*\w+\.stdin\b"
            r"|\.std(?:out|err)\.pipe\s*\(\s*(?!process\.)\w+\s*\)"
            r"|\bstdio\s*:\s*\[\s*(?![\"'])\w+\s*,"
        ),
    ),
    (
        "download",
        _rx(
            r"\bfetch\s*\(|\baxios\b|\bhttps?\.(?:get|request)\s*\(|\bgot\s*\("
            r"|\bXMLHttpRequest\b|\bundici\b|\bnode-fetch\b"
        ),
    ),
    (
        "decode_exec",
        _rx(
            r"\b(?:eval|Function|runInThisContext|runInNewContext|runInContext)\s*\("
            r"[^;]{0,300}?(?:Buffer\.from\s*\([^)]{0,200}[\"'](?:base64|hex)[\"']|\batob\s*\("
            r"|\bzlib\.|\binflateSync|\bgunzipSync)"
        ),
    ),
    (
        "env_dump",
        _rx(
            r"(?:JSON\.stringify|console\.\w+|Object\.(?:entries|keys|values|assign)"
            r"|util\.inspect|String)\s*\(\s*process\.env\s*[,)]"
            r"|\bfor\s*\([^)]{0,200}\bin\s+process\.env\s*\)"
        ),
    ),
)
_PHP: Table = (
    (
        "socket",
        _rx(r"\b(?:p?fsockopen|socket_create|stream_socket_client|stream_socket_server)\s*\("),
    ),
    ("connect", _rx(r"\b(?:p?fsockopen|stream_socket_client|socket_connect)\s*\(")),
    ("listen", _rx(r"\b(?:stream_socket_server|socket_bind|socket_listen)\s*\(")),
    (
        "subprocess",
        _rx(
            r"\b(?:exec|shell_exec|system|passthru|proc_open|popen|pcntl_exec)\s*\("
            r"|`[^`\n]+`"
        ),
    ),
    ("dup2", _rx(r"\bproc_open\s*\([^;]{0,300}?\b0\s*=>\s*\$\w+")),
    (
        "download",
        _rx(
            r"\b(?:file_get_contents|fopen|copy|file|readfile)\s*\(\s*[\"']https?://"
            r"|\bcurl_(?:init|exec)\s*\(|\bGuzzleHttp\b"
        ),
    ),
    (
        "decode_exec",
        _rx(
            r"\b(?:eval|assert|create_function|preg_replace)\s*\([^;]{0,300}?"
            r"\b(?:base64_decode|gzinflate|gzuncompress|gzdecode|str_rot13|hex2bin"
            r"|convert_uudecode|file_get_contents)\b"
        ),
    ),
    (
        "env_dump",
        _rx(
            r"\b(?:print_r|var_dump|var_export|json_encode|serialize|implode"
            r"|http_build_query)\s*\(\s*\$_(?:ENV|SERVER)\b|\bgetenv\s*\(\s*\)|\bphpinfo\s*\("
        ),
    ),
)
_LUA: Table = (
    ("socket", _rx(r"\bsocket\.(?:tcp|udp)\d?\s*\(|\brequire\s*\(?\s*[\"']socket[\"']")),
    ("connect", _rx(r"[:.]connect\s*\(")),
    ("listen", _rx(r"[:.](?:listen|bind)\s*\(")),
    ("subprocess", _rx(r"\bos\.execute\s*\(|\bio\.popen\s*\(")),
    ("download", _rx(r"\bsocket\.http\b|\bssl\.https\b|\bhttp\.request\s*\(")),
    (
        "decode_exec",
        _rx(r"\b(?:loadstring|load)\s*\([^;\n]{0,300}?(?:base64|b64|unhex|from_hex|decode)"),
    ),
)
_AWK: Table = (
    ("connect", _rx(r"/inet[46]?/(?:tcp|udp)/0/")),
    ("listen", _rx(r"/inet[46]?/(?:tcp|udp)/[1-9]\d*/0/0")),
    ("subprocess", _rx(r"\bsystem\s*\(|\|&?\s*getline\b|\bprintf?\b[^;}\n]{0,300}?\|&?\s*[\"\w]")),
    ("env_dump", _rx(r"\bin\s+ENVIRON\b")),
)
_TCL: Table = (
    ("socket", _rx(r"\bsocket\s+\S")),
    ("connect", _rx(r"\bsocket\s+(?!-server)(?:-\w+\s+\S+\s+){0,8}[\w.:$-]+\s+\S+")),
    ("listen", _rx(r"\bsocket\s+-server\b")),
    ("subprocess", _rx(r"\bexec\s+\S|\bopen\s+\"?\|")),
    ("download", _rx(r"\bhttp::geturl\b")),
)
_TABLES: dict[str, Table] = {
    "python": _PYTHON,
    "perl": _PERL,
    "ruby": _RUBY,
    "node": _NODE,
    "php": _PHP,
    "lua": _LUA,
    "awk": _AWK,
    "tcl": _TCL,
}


def _scan(result: _Result, table: Table, code: str) -> None:
    for capability, pattern in table:
        m = pattern.search(code)
        if m:
            result.find(capability, m.group(0))


# ---- targets, files and shell strings found by regex --------------------------------------------

Extractor = Callable[[_Result, str, dict[str, str]], None]
_E = _EXPR


_BARE_WORD = re.compile(r"^[\w.:-]+$")


def _pairs(pattern: str, order: str = "hp", listen: bool = False, bare: bool = False) -> Extractor:
    """Targets from a pattern whose groups are host and port (``order`` "hp") or port and host;
    ``bare`` words are literals (tcl)."""
    compiled = _rx(pattern)

    def value(expr: str | None, consts: dict[str, str]) -> str | None:
        found = _resolve(expr, consts)
        if found is None and bare and expr and _BARE_WORD.match(expr):
            return expr
        return found

    def extract(result: _Result, code: str, consts: dict[str, str]) -> None:
        for m in compiled.finditer(code):
            groups = m.groups()
            first = value(groups[0], consts)
            second = value(groups[1], consts) if len(groups) > 1 else None
            host, port = (first, second) if order == "hp" else (second, first)
            if listen or host:
                result.target(host, port, listen=listen)

    return extract


def _keyed(pattern: str, host_key: str, port_key: str, listen: bool = False) -> Extractor:
    """Targets from ``{host: "h", port: 1}`` / ``PeerAddr => "h", PeerPort => 1`` argument lists."""
    compiled = _rx(pattern)
    host_re = re.compile(rf"\b(?:{host_key})[\"']?\s*(?:=>|:|,)\s*{_E}")
    port_re = re.compile(rf"\b(?:{port_key})[\"']?\s*(?:=>|:|,)\s*{_E}")

    def extract(result: _Result, code: str, consts: dict[str, str]) -> None:
        for m in compiled.finditer(code):
            body = m.group(1)
            host_m = host_re.search(body)
            port_m = port_re.search(body)
            host = _resolve(host_m.group(1), consts) if host_m else None
            port = _resolve(port_m.group(1), consts) if port_m else None
            if host or (listen and port):
                result.target(host, port, listen=listen)

    return extract


_SHELL_EXTRACTORS: set[Extractor] = set()


def _commands(pattern: str) -> Extractor:
    """Shell strings from a pattern whose group 1 holds one or more string literals."""
    compiled = _rx(pattern)

    def extract(result: _Result, code: str, consts: dict[str, str]) -> None:
        for m in compiled.finditer(code):
            literals = [_unquote(s) for s in _STR_RE.findall(m.group(1))]
            if len(literals) == 1:
                result.shell(literals[0])
            elif literals:
                result.shell(shlex.join(literals))

    _SHELL_EXTRACTORS.add(extract)
    return extract


def _raw_commands(pattern: str) -> Extractor:
    """Shell strings from a pattern whose group 1 is the command text itself (backticks)."""
    compiled = _rx(pattern)

    def extract(result: _Result, code: str, consts: dict[str, str]) -> None:
        for m in compiled.finditer(code):
            text = next((g for g in m.groups() if g), "").strip().strip('"{}')
            if text and not text.startswith("$"):
                result.shell(text)

    _SHELL_EXTRACTORS.add(extract)
    return extract


def _file_ops(
    pattern: str, op: FileOp | None = None, *, path: int = 1, mode: int = 2, literal: bool = False
) -> Extractor:
    """Paths from a pattern: group ``path`` the path (a literal, or the text itself when
    ``literal``), group ``mode`` (when present) an open mode such as ``"w"`` or ``">>"``."""
    compiled = _rx(pattern)

    def extract(result: _Result, code: str, consts: dict[str, str]) -> None:
        for m in compiled.finditer(code):
            raw = m.group(path)
            found = raw if literal else _resolve(raw, consts)
            how = m.group(mode) if compiled.groups >= mode else None
            if how is not None and not literal and how[:1] in "\"'":
                how = _unquote(how)
            result.file(found, op or _mode_op(how))

    return extract


def _mode_op(mode: str | None) -> FileOp:
    if not mode:
        return "read"
    if "a" in mode or mode.startswith(">>"):
        return "append"
    if any(c in mode for c in "wx+") or mode.startswith(">"):
        return "write"
    return "read"


def _decoded_commands(pattern: str) -> Extractor:
    """``system(base64_decode("..."))``: group 1 is a base64 literal whose text goes to a shell."""
    compiled = _rx(pattern)

    def extract(result: _Result, code: str, consts: dict[str, str]) -> None:
        for m in compiled.finditer(code):
            result.find("decode_exec", m.group(0)[:60])
            literal = next(g for g in m.groups() if g)
            plain = _decode_payload("b64decode", _unquote(literal))
            if plain:
                result.shell(plain)

    return extract


_LIT = rf"({_STR})"
_LIST = rf"((?:{_STR}\s*,\s*){{0,63}}{_STR})"
_EXTRACTORS: dict[str, tuple[Extractor, ...]] = {
    "python": (
        _decoded_commands(rf"\bos\.(?:system|popen)\s*\(\s*(?:base64\.)?b64decode\s*\(\s*b?{_LIT}"),
        _pairs(rf"\.connect(?:_ex)?\s*\(\s*\(\s*{_E}\s*,\s*{_E}\s*\)"),
        _pairs(rf"\bcreate_connection\s*\(\s*\(\s*{_E}\s*,\s*{_E}"),
        _pairs(rf"\bopen_connection\s*\(\s*{_E}\s*,\s*{_E}"),
        _pairs(rf"\.bind\s*\(\s*\(\s*{_E}\s*,\s*{_E}\s*\)", listen=True),
        _commands(rf"\bos\.(?:system|popen)\s*\(\s*{_LIT}"),
        _commands(rf"\bsubprocess\.\w+\s*\(\s*{_LIT}"),
        _commands(rf"\bsubprocess\.\w+\s*\(\s*\[\s*{_LIST}\s*\]"),
        _commands(rf"\bpty\.spawn\s*\(\s*\[?\s*{_LIST}"),
        _file_ops(rf"\bopen\s*\(\s*{_LIT}(?:\s*,\s*{_LIT})?"),
    ),
    "perl": (
        _decoded_commands(rf"\b(?:system|exec)\b\s*\(?\s*decode_base64\s*\(\s*{_LIT}"),
        _keyed(
            r"IO::Socket::\w+\s*(?:->\s*new)?\s*\(([^;]{0,500}?)\)", "PeerAddr|PeerHost", "PeerPort"
        ),
        _keyed(
            r"IO::Socket::\w+\s*(?:->\s*new)?\s*\(([^;]{0,500}?)\)",
            "LocalAddr",
            "LocalPort",
            listen=True,
        ),
        _pairs(rf"IO::Socket::\w+\s*(?:->\s*new)?\s*\(\s*{_E}\s*\)"),
        _pairs(rf"\bsockaddr_in\s*\(\s*{_E}\s*,\s*inet_aton\s*\(\s*{_E}\s*\)", order="ph"),
        _commands(rf"\b(?:system|exec)\b\s*\(?\s*{_LIST}"),
        _raw_commands(r"`([^`\n]+)`"),
        _raw_commands(
            r"\bqx\s*(?:\{([^}]{0,2000})\}|\(([^)]{0,2000})\)|\[([^\]]{0,2000})\]|/([^/]{0,2000})/|\|([^|]{0,2000})\|)"
        ),
        _commands(rf"\bopen\s*\(?\s*[^,;]{{1,200}},\s*[\"'](?:-\||\|-)[\"']\s*,\s*{_LIST}"),
        _raw_commands(r"\bopen\s*\(?\s*[^,;]{1,200},\s*[\"']\s*\|\s*([^\"'|]+?)\s*[\"']"),
        _raw_commands(r"\bopen\s*\(?\s*[^,;]{1,200},\s*[\"']([^\"'|<>]+?)\s*\|\s*[\"']"),
        _file_ops(
            rf"\bopen\s*\(?\s*[^,;]{{1,200}},\s*[\"']\s*(>>|>|<|\+<)\s*[\"']\s*,\s*{_E}",
            path=2,
            mode=1,
        ),
        _file_ops(
            r"\bopen\s*\(?\s*[^,;]{1,200},\s*[\"'](>>|>|<|\+<)?\s*([^\"'|&\s<>+][^\"'|&]{0,500}?)[\"']",
            path=2,
            mode=1,
            literal=True,
        ),
    ),
    "ruby": (
        _decoded_commands(
            rf"\b(?:system|exec|spawn|IO\.popen)\b\s*\(?\s*Base64\.(?:strict_|urlsafe_)?"
            rf"decode64\s*\(?\s*{_LIT}"
        ),
        _pairs(rf"\b(?:TCPSocket|Socket)\.(?:new|open|tcp)\s*\(?\s*{_E}\s*,\s*{_E}"),
        _pairs(rf"\bsockaddr_in\s*\(\s*{_E}\s*,\s*{_E}", order="ph"),
        _pairs(rf"\bTCPServer\.(?:new|open)\s*\(?\s*{_E}\s*,\s*{_E}", listen=True),
        _pairs(
            rf"\bTCPServer\.(?:new|open)\s*\(?\s*{_E}\s*\)?\s*(?:[;\n]|$)", order="ph", listen=True
        ),
        _commands(
            rf"\b(?:system|exec|spawn|IO\.popen|Open3\.\w+|PTY\.spawn)\b\s*\(?\s*"
            rf"(?:sprintf\s*\(\s*)?{_LIST}"
        ),
        _raw_commands(r"`([^`\n]+)`"),
        _raw_commands(
            r"%x(?:\{([^}]{0,2000})\}|\(([^)]{0,2000})\)|\[([^\]]{0,2000})\]|<([^>]{0,2000})>|!([^!]{0,2000})!)"
        ),
        _file_ops(rf"\bFile\.(?:open|new)\s*\(\s*{_E}(?:\s*,\s*{_LIT})?"),
        _file_ops(rf"\b(?:File|IO)\.write\s*\(\s*{_E}", "write"),
        _file_ops(rf"\b(?:File|IO)\.(?:read|readlines|foreach)\s*\(\s*{_E}", "read"),
        _file_ops(rf"\b(?:File\.(?:delete|unlink)|FileUtils\.rm(?:_rf|_f)?)\s*\(\s*{_E}", "delete"),
    ),
    "node": (
        _decoded_commands(
            rf"\b(?:exec|execSync|spawn|spawnSync)\s*\(\s*(?:Buffer\.from\s*\(\s*{_LIT}\s*,"
            rf"\s*[\"']base64[\"']|atob\s*\(\s*{_LIT})"
        ),
        _pairs(rf"\.(?:connect|createConnection)\s*\(\s*{_E}\s*,\s*{_E}", order="ph"),
        _keyed(r"\.(?:connect|createConnection)\s*\(\s*\{([^}]{0,500})\}", "host|hostname", "port"),
        _keyed(r"\bDeno\.connect\s*\(\s*\{([^}]{0,500})\}", "hostname|host", "port"),
        _pairs(rf"\.listen\s*\(\s*{_E}(?:\s*,\s*{_E})?", order="ph", listen=True),
        _commands(
            rf"(?:(?<![.\w])|\b(?:cp|child_process|childProcess|child|proc)\.|\)\.)"
            rf"(?:exec|execSync|spawn|spawnSync|execFile|execFileSync)\s*\(\s*{_LIT}(?!\s*,\s*\[)"
        ),
        _commands(
            rf"\b(?:spawn|spawnSync|execFile|execFileSync)\s*\(\s*"
            rf"({_STR}\s*,\s*\[\s*(?:{_STR}\s*,?\s*){{0,63}})\]"
        ),
        _file_ops(rf"\.(?:readFileSync|readFile|createReadStream)\s*\(\s*{_E}", "read"),
        _file_ops(rf"\.(?:writeFileSync|writeFile|createWriteStream)\s*\(\s*{_E}", "write"),
        _file_ops(rf"\.(?:appendFileSync|appendFile)\s*\(\s*{_E}", "append"),
        _file_ops(
            rf"(?:\bfs|\bpromises|\))\.(?:unlinkSync|unlink|rmSync|rm|rmdirSync)\s*\(\s*{_E}",
            "delete",
        ),
        _file_ops(rf"(?:\bfs|\bpromises|\))\.(?:chmodSync|chmod)\s*\(\s*{_E}", "chmod"),
    ),
    "php": (
        _decoded_commands(
            rf"\b(?:exec|shell_exec|system|passthru|popen|proc_open)\s*\(\s*base64_decode\s*"
            rf"\(\s*{_LIT}"
        ),
        _pairs(rf"\bp?fsockopen\s*\(\s*{_E}\s*,\s*{_E}"),
        _pairs(rf"\bstream_socket_client\s*\(\s*{_E}"),
        _pairs(rf"\bsocket_connect\s*\(\s*\$\w+\s*,\s*{_E}\s*,\s*{_E}"),
        _pairs(rf"\bstream_socket_server\s*\(\s*{_E}", listen=True),
        _pairs(rf"\bsocket_bind\s*\(\s*\$\w+\s*,\s*{_E}\s*,\s*{_E}", listen=True),
        _commands(
            rf"\b(?:exec|shell_exec|system|passthru|popen|proc_open|pcntl_exec)\s*\(\s*{_LIT}"
        ),
        _raw_commands(r"`([^`\n]+)`"),
        _file_ops(rf"\bfopen\s*\(\s*{_E}\s*,\s*{_LIT}"),
        _file_ops(rf"\bfile_put_contents\s*\(\s*{_E}", "write"),
        _file_ops(rf"\b(?:file_get_contents|readfile|file)\s*\(\s*{_E}", "read"),
        _file_ops(rf"\bunlink\s*\(\s*{_E}", "delete"),
        _file_ops(rf"\bchmod\s*\(\s*{_E}", "chmod"),
    ),
    "lua": (
        _pairs(rf"[:.]connect\s*\(\s*{_E}\s*,\s*{_E}"),
        _pairs(rf"[:.]bind\s*\(\s*{_E}\s*,\s*{_E}", listen=True),
        _commands(rf"\b(?:os\.execute|io\.popen)\s*\(?\s*{_LIT}"),
        _raw_commands(r"\b(?:os\.execute|io\.popen)\s*\(?\s*\[\[(.{0,2000}?)\]\]"),
        _file_ops(rf"\bio\.open\s*\(\s*{_E}(?:\s*,\s*{_LIT})?"),
        _file_ops(rf"\bos\.remove\s*\(\s*{_E}", "delete"),
    ),
    "awk": (
        _commands(rf"\bsystem\s*\(\s*{_LIT}"),
        _commands(rf"{_LIT}\s*\|&?\s*getline\b"),
        _commands(rf"\|\s*{_LIT}"),
        _file_ops(
            r"\bprintf?\b(?:[^;}|\n\"]|\"[^\"\n]*\"){0,100}?(>>?)\s*(\"[^\"\n]+\")", path=2, mode=1
        ),
        _file_ops(r"\bgetline\b[^;}\n]{0,300}?<\s*(\"[^\"]+\")", "read"),
    ),
    "tcl": (
        _pairs(r"\bsocket\s+(?!-server)(?:-\w+\s+\S+\s+){0,8}([\w.:$-]+)\s+([\w$]+)", bare=True),
        _pairs(
            r"\bsocket\s+-server\s+\S+\s+(?:-myaddr\s+\S+\s+)?(\d+)",
            order="ph",
            listen=True,
            bare=True,
        ),
        _raw_commands(r"\bexec\s+([^\]\n;\"}]+)"),
    ),
}

_AWK_INET = re.compile(r"/inet[46]?/(tcp|udp)/(\d+)/([^/\"\s]+)/(\d+)")


def _awk_fixups(result: _Result, code: str) -> None:
    """gawk special files: ``/inet/tcp/LPORT/RHOST/RPORT`` (RHOST 0 and LPORT set: listen)."""
    for m in _AWK_INET.finditer(code):
        proto, lport, rhost, rport = m.groups()
        if rhost == "0" and lport != "0":
            result.target(None, lport, listen=True, proto=proto)
        else:
            result.target(rhost, rport, proto=proto)
    result.out.findings = [
        f for f in result.out.findings if not (f.capability == "file_write" and "/inet" in f.detail)
    ]
    result.out.files = [f for f in result.out.files if not f.path.startswith("/inet")]


# ---- python, read with ast ----------------------------------------------------------------------

_PY_SUBPROCESS = re.compile(
    r"^(?:os\.(?:system|popen[234]?|exec[lv]p?e?|spawn[lv]p?e?|posix_spawnp?)"
    r"|subprocess\.\w+|commands\.\w+|pty\.spawn|platform\.popen|popen2\.\w+)$"
)
_PY_DOWNLOAD = re.compile(
    r"^(?:urllib\d?(?:\.request)?\.(?:urlopen|urlretrieve|Request|build_opener)"
    r"|requests(?:\.\w+)?|httpx(?:\.\w+)?|http\.client\.HTTPS?Connection|aiohttp\.\w+"
    r"|wget\.download|urllib3\.\w+|ftplib\.FTP(?:_TLS)?|pycurl\.\w+"
    r"|[\w.]*(?:HTTP|Http|Websocket|WebSocket)\w*(?:Provider|Client|Connection|Session))$"
)
_PY_DECODERS = words(
    "b64decode b32decode b16decode a85decode b85decode decodebytes decodestring standard_b64decode "
    "urlsafe_b64decode unhexlify a2b_base64 a2b_hex fromhex decompress loads"
)
_PY_SOCKET = frozenset(
    {"socket.socket", "socket.create_connection", "socket.fromfd", "socket.socketpair"}
)
_PY_SERVERS = re.compile(r"^(?:socketserver|SocketServer|http\.server|BaseHTTPServer)\.\w+Server$")
_KEY_CALLS = frozenset({"sorted", "list", "set", "tuple", "frozenset", "len", "any", "all"})
_ENV_WHOLE = frozenset(
    {"os.environ", "os.environ.items", "os.environ.keys", "os.environ.values", "os.environ.copy"}
)


class _PyReader(ast.NodeVisitor):
    def __init__(self, result: _Result, tree: ast.AST):
        self.r = result
        self.aliases: dict[str, str] = {}
        self.consts: dict[str, str | tuple[str | None, ...]] = {}
        self.parents: dict[ast.AST, ast.AST] = {}
        for node in ast.walk(tree):
            for child in ast.iter_child_nodes(node):
                self.parents[child] = node
            if isinstance(node, ast.Import | ast.ImportFrom):
                self.imports(node)
            elif isinstance(node, ast.Assign):
                self.assign(node)

    # -- names and values --

    def imports(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            if isinstance(node, ast.Import):
                self.aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
            elif alias.name != "*":
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
            elif node.module:
                self.aliases[f"*{node.module}"] = node.module

    def assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            if isinstance(target, ast.Name):
                value = self.value(node.value)
                if value is not None:
                    self.consts[target.id] = value
                elif isinstance(node.value, ast.Tuple):
                    self.consts[target.id] = tuple(self.value(e) for e in node.value.elts)
            elif isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                for name, val in zip(target.elts, node.value.elts, strict=False):
                    v = self.value(val)
                    if isinstance(name, ast.Name) and v is not None:
                        self.consts[name.id] = v

    def qualname(self, node: ast.AST) -> str:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            return f"{self.qualname(node.value)}.{node.attr}"
        if isinstance(node, ast.Call):
            inner = self.qualname(node.func)
            if inner in ("__import__", "importlib.import_module") and node.args:
                return self.value(node.args[0]) or "?"
            return inner + "()"
        return "?"

    def value(self, node: ast.AST) -> str | None:
        """A literal string or number, a known constant, or ``$NAME`` for an env lookup."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str | int | bytes):
            if isinstance(node.value, bytes):
                return node.value.decode("latin-1")
            return None if isinstance(node.value, bool) else str(node.value)
        if isinstance(node, ast.Name):
            found = self.consts.get(node.id)
            return found if isinstance(found, str) else None
        if isinstance(node, ast.Call):
            name = self.qualname(node.func)
            if name in ("int", "str") and node.args:
                return self.value(node.args[0])
            if name in ("os.getenv", "os.environ.get") and node.args:
                env = self.value(node.args[0])
                return f"${env}" if env else None
            if name in ("os.path.expanduser", "os.path.expandvars") and node.args:
                return self.value(node.args[0])
            return self.decoded(node)
        if isinstance(node, ast.Subscript) and self.qualname(node.value) == "os.environ":
            env = self.value(node.slice)
            return f"${env}" if env else None
        return None

    def decoded(self, node: ast.Call) -> str | None:
        """``b64decode("...")`` (and ``.decode()`` of it) over a literal: the decoded text."""
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "decode" and not node.args:
            inner = func.value
            return self.decoded(inner) if isinstance(inner, ast.Call) else None
        leaf = self.qualname(func).rsplit(".", 1)[-1]
        if leaf not in _PY_DECODERS or leaf == "loads" or not node.args:
            return None
        payload = self.value(node.args[0])
        return _decode_payload(leaf, payload) if payload else None

    def pair(self, node: ast.AST) -> tuple[str | None, str | None] | None:
        if isinstance(node, ast.Tuple) and len(node.elts) >= 2:
            return self.value(node.elts[0]), self.value(node.elts[1])
        if isinstance(node, ast.Name):
            found = self.consts.get(node.id)
            if isinstance(found, tuple) and len(found) >= 2:
                return found[0], found[1]
        return None

    def words(self, node: ast.AST) -> str | None:
        """A command from a string or a list of strings (unknown items become ``"$name"``)."""
        text = self.value(node)
        if text is not None:
            return text
        if isinstance(node, ast.List | ast.Tuple):
            parts: list[str] = []
            for elt in node.elts:
                item = self.value(elt)
                if item is None:
                    label = elt.id if isinstance(elt, ast.Name) else "ARG"
                    parts.append(f'"${label}"')
                else:
                    parts.append(shlex.quote(item))
            return " ".join(parts) if parts else None
        return None

    # -- the walk --

    def visit_Call(self, node: ast.Call) -> None:
        name = self.qualname(node.func)
        attr = node.func.attr if isinstance(node.func, ast.Attribute) else name
        self.network(node, name, attr)
        self.process(node, name, attr)
        self.paths(node, name, attr)
        self.generic_visit(node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        if self.qualname(node) == "os.environ":
            self.environ(node)
        self.generic_visit(node)

    def network(self, node: ast.Call, name: str, attr: str) -> None:
        r = self.r
        args = node.args
        if name in _PY_SOCKET or (name == "socket" and "*socket" in self.aliases):
            r.find("socket", name)
        pair = self.pair(args[0]) if args else None
        if attr in ("connect", "connect_ex") and pair is not None:
            r.find("connect", f"{name}()")
            r.target(*pair)
        elif name in ("socket.create_connection", "asyncio.open_connection") and args:
            r.find("connect", name)
            pair = self.pair(args[0])
            if pair is None:
                pair = (self.value(args[0]), self.value(args[1]) if len(args) > 1 else None)
            r.target(*pair)
        elif name in ("telnetlib.Telnet", "pwn.remote", "remote", "smtplib.SMTP") and args:
            r.find("connect", name)
            r.target(self.value(args[0]), self.value(args[1]) if len(args) > 1 else None)
        elif attr == "connect" and self.ssh_client(node):
            host = self.value(args[0]) if args else None
            keywords = {k.arg: k.value for k in node.keywords if k.arg}
            if host is None and "hostname" in keywords:
                host = self.value(keywords["hostname"])
            port = self.value(keywords["port"]) if "port" in keywords else "22"
            r.find("connect", f"{name}(ssh)")
            r.target(host, port)
        if attr in ("request_port_forward", "open_forward_agent_channel") and args:
            r.find("listen", f"{name}() remote port forward")
            port = self.value(args[1]) if len(args) > 1 else None
            r.target(self.value(args[0]) or "0.0.0.0", port, listen=True)
        bound = self.pair(args[0]) if args else None
        if attr == "bind" and bound is not None:
            r.find("listen", f"{name}()")
            r.target(*bound, listen=True)
        elif (attr == "listen" and r.has("socket")) or _PY_SERVERS.match(name):
            r.find("listen", name)
            if bound is not None:
                r.target(*bound, listen=True)
        elif name == "asyncio.start_server":
            r.find("listen", name)
        if _PY_DOWNLOAD.match(name):
            r.find("download", name)
            for arg in [*args[:1], *(k.value for k in node.keywords if k.arg == "url")]:
                url = self.value(arg)
                if url and "://" in url:
                    r.url(url)
                elif url and name.startswith("http.client"):
                    r.target(url, 443 if "HTTPS" in name else 80)

    def ssh_client(self, node: ast.Call) -> bool:
        """``client.connect("host", username=...)``: paramiko/fabric style, not sqlite3.connect."""
        keys = {k.arg for k in node.keywords}
        return bool(keys & {"username", "password", "pkey", "key_filename", "look_for_keys"})

    def process(self, node: ast.Call, name: str, attr: str) -> None:
        r = self.r
        args = node.args
        if _PY_SUBPROCESS.match(name):
            r.find("subprocess", name)
            if name in ("pty.spawn", "os.openpty", "pty.fork"):
                r.find("pty", name)
            command: str | None = None
            if name.startswith("os.exec") and len(args) >= 2:
                command = (
                    self.words(args[1])
                    if name[7:8] == "v"
                    else " ".join(filter(None, (self.value(a) for a in [args[0], *args[2:]])))
                )
            elif name.startswith("os.spawn") and len(args) >= 3:
                command = (
                    self.words(args[2])
                    if "v" in name[8:]
                    else " ".join(filter(None, (self.value(a) for a in [args[1], *args[3:]])))
                )
            elif args:
                command = self.words(args[0])
            if args and self.decodes(args[0]):
                r.find("decode_exec", f"{name} of decoded data")
            r.shell(command)
            for kw in node.keywords:
                if kw.arg in ("stdin", "stdout", "stderr") and "fileno" in ast.dump(kw.value):
                    r.find("dup2", f"{name}({kw.arg}=socket)")
        elif name in ("pty.fork", "os.openpty"):
            r.find("pty", name)
        if name in ("os.dup2", "dup2", "posix.dup2"):
            r.find("dup2", name)
        if name in ("exec", "eval", "compile", "builtins.exec", "builtins.eval") and args:
            self.executed(args[0], name)

    def decodes(self, arg: ast.AST) -> bool:
        return any(
            isinstance(sub, ast.Call)
            and self.qualname(sub.func).rsplit(".", 1)[-1] in _PY_DECODERS - {"loads"}
            for sub in ast.walk(arg)
        )

    def executed(self, arg: ast.AST, name: str) -> None:
        """exec/eval of code: literal code is read again; decoded or fetched code is flagged."""
        literal = self.value(arg) if isinstance(arg, ast.Constant | ast.Name) else None
        if literal is not None:
            _analyze_into(self.r, literal)
            return
        decoded = False
        for sub in ast.walk(arg):
            if not isinstance(sub, ast.Call):
                continue
            inner = self.qualname(sub.func)
            leaf = inner.rsplit(".", 1)[-1].rstrip("()")
            codec = self.value(sub.args[1]) if len(sub.args) > 1 else None
            if leaf in _PY_DECODERS or (
                leaf in ("decode", "encode")
                and codec in ("base64", "hex", "rot13", "rot_13", "zlib", "bz2")
            ):
                decoded = True
                self.r.find("decode_exec", f"{name}({inner}(...))")
                payload = self.value(sub.args[0]) if sub.args else None
                if payload:
                    plain = _decode_payload(leaf, payload, codec)
                    if plain:
                        _analyze_into(self.r, plain)
            elif _PY_DOWNLOAD.match(inner.replace("()", "").rsplit(".", 1)[0]) or any(
                word in inner for word in ("urlopen", "requests.", "httpx.", "urllib")
            ):
                decoded = True
                self.r.find("decode_exec", f"{name} of fetched data ({inner})")
        if not decoded and isinstance(arg, ast.Attribute) and arg.attr in ("text", "content"):
            self.r.find("decode_exec", f"{name} of fetched data")

    def environ(self, node: ast.Attribute) -> None:
        """``os.environ`` used whole: printed, serialised, iterated, sent."""
        whole: ast.AST = node
        parent = self.parents.get(whole)
        if isinstance(parent, ast.Attribute) and f"os.environ.{parent.attr}" in _ENV_WHOLE:
            call = self.parents.get(parent)
            if not isinstance(call, ast.Call):
                return
            whole, parent = call, self.parents.get(call)
        elif isinstance(parent, ast.Attribute | ast.Subscript):
            return  # os.environ.get(...), os.environ["X"]
        if isinstance(parent, ast.Call) and self.qualname(parent.func) == "dict":
            whole, parent = parent, self.parents.get(parent)
        names_only = whole is node or (
            isinstance(whole, ast.Call) and self.qualname(whole.func) == "os.environ.keys"
        )
        if names_only and self._names_only(parent, whole):
            return  # sorted(os.environ), "X" in os.environ: variable names, not values
        if isinstance(parent, ast.keyword):
            if parent.arg != "env":
                self.r.find("env_dump", f"os.environ passed as {parent.arg}=")
        elif isinstance(parent, ast.Call) and whole in parent.args:
            self.r.find("env_dump", f"{self.qualname(parent.func)}(os.environ)")
        elif isinstance(parent, ast.For | ast.comprehension | ast.FormattedValue | ast.JoinedStr):
            self.r.find("env_dump", "os.environ iterated or formatted")

    def _names_only(self, parent: ast.AST | None, whole: ast.AST) -> bool:
        """A use of the environment's keys that cannot reach the values."""
        if isinstance(parent, ast.Compare):
            return True
        if isinstance(parent, ast.Call) and self.qualname(parent.func) in _KEY_CALLS:
            return True
        if isinstance(parent, ast.For | ast.comprehension):
            scope = self.parents.get(parent) if isinstance(parent, ast.comprehension) else parent
            return scope is not None and not any(
                isinstance(sub, ast.Subscript | ast.Attribute)
                and self.qualname(sub.value) == "os.environ"
                and sub is not whole
                for sub in ast.walk(scope)
            )
        return False

    def paths(self, node: ast.Call, name: str, attr: str) -> None:
        r = self.r
        args = node.args
        first = self.value(args[0]) if args else None
        if name in ("open", "io.open", "codecs.open", "builtins.open") and first:
            mode = self.value(args[1]) if len(args) > 1 else None
            for kw in node.keywords:
                if kw.arg == "mode":
                    mode = self.value(kw.value)
            r.file(first, _mode_op(mode))
        elif name in ("os.remove", "os.unlink", "os.rmdir", "shutil.rmtree") and first:
            r.file(first, "delete")
        elif name == "os.chmod" and first:
            r.file(first, "chmod")
        elif name.startswith("shutil.copy") or name in (
            "shutil.move",
            "os.rename",
            "os.replace",
            "os.symlink",
            "os.link",
        ):
            dest = self.value(args[1]) if len(args) > 1 else None
            r.file(
                first, "delete" if name in ("shutil.move", "os.rename", "os.replace") else "read"
            )
            r.file(dest, "write")
        elif attr in (
            "write_text",
            "write_bytes",
            "read_text",
            "read_bytes",
            "touch",
            "unlink",
            "chmod",
        ) and isinstance(node.func, ast.Attribute):
            base = node.func.value
            if (
                isinstance(base, ast.Call)
                and self.qualname(base.func).endswith("Path")
                and base.args
            ):
                path = self.value(base.args[0])
                op: FileOp = (
                    "read"
                    if attr.startswith("read")
                    else "delete"
                    if attr == "unlink"
                    else "chmod"
                    if attr == "chmod"
                    else "write"
                )
                r.file(path, op)


def _python(result: _Result, code: str) -> bool:
    """Read python with ast; False when it does not parse (the regex tables take over)."""
    if len(code) > _MAX_AST:
        return False
    try:
        tree = ast.parse(code)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return False
    try:
        _PyReader(result, tree).visit(tree)
    except RecursionError:
        return False
    for url in _URL_LITERAL.findall(code) if result.has("download") else ():
        result.url(url)
    return True


# ---- decoding literal payloads ------------------------------------------------------------------


def _decode_payload(decoder: str, payload: str, codec: str | None = None) -> str | None:
    """Decode a literal payload handed to a decoder, when it is base64/hex/zlib text."""
    data: bytes | None = None
    raw = payload.encode("latin-1", "replace")
    try:
        if (
            "64" in decoder
            or decoder in ("decodebytes", "decodestring", "a2b_base64")
            or (codec == "base64")
        ):
            data = base64.b64decode(raw + b"=" * (-len(raw) % 4), validate=False)
        elif decoder in ("b32decode",):
            data = base64.b32decode(raw)
        elif decoder in ("unhexlify", "a2b_hex", "fromhex", "b16decode") or codec == "hex":
            data = binascii.unhexlify(re.sub(rb"\s", b"", raw))
        elif decoder == "decompress":
            data = zlib.decompressobj().decompress(raw, _MAX_DECODED)
    except (ValueError, binascii.Error, zlib.error):
        return None
    if data is None:
        return None
    if data[:2] in (b"x\x9c", b"x\x01", b"x\xda"):
        try:
            data = zlib.decompressobj().decompress(data, _MAX_DECODED)
        except zlib.error:
            return None
    text = data[:_MAX_DECODED].decode("utf-8", "replace")
    printable = sum(ch.isprintable() or ch in "\n\r\t" for ch in text)
    return text if text and printable >= 0.9 * len(text) else None


_B64_LITERAL = re.compile(r"""["']([A-Za-z0-9+/]{16,}={0,2})["']""")


def _decode_literals(result: _Result, code: str) -> None:
    """When code decodes and executes data, decode its base64 literals and read them too."""
    for m in _B64_LITERAL.finditer(code):
        plain = _decode_payload("b64decode", m.group(1))
        if plain:
            _analyze_into(result, plain)


# ---- entry point --------------------------------------------------------------------------------


def _analyze_into(result: _Result, code: str) -> None:
    """Read ``code`` (nested: exec'd literals, decoded payloads) into ``result``."""
    if result.depth >= _MAX_DEPTH:
        return
    result.depth += 1
    try:
        _read(result, code)
    finally:
        result.depth -= 1


def _read(result: _Result, code: str) -> None:
    language = result.language
    _scan(result, _COMMON, code)
    parsed = language == "python" and _python(result, code)
    if not parsed:
        _scan(result, _TABLES.get(language, ()), code)
        consts = _constants(code)
        shells = result.has("subprocess")
        for extractor in _EXTRACTORS.get(language, ()):
            if shells or extractor not in _SHELL_EXTRACTORS:
                extractor(result, code, consts)
        if result.has("download") or result.has("connect"):
            for url in _URL_LITERAL.findall(code):
                result.url(url)
    if language == "awk":
        _awk_fixups(result, code)
    if "/dev/" in code:
        for t in dev_net_targets(code):
            result.target(t.host, t.port, proto=t.proto)
    for command in result.out.shell_commands:
        if _SHELL_INTERACTIVE.search(command):
            result.find("pty", command)
    if not parsed and result.has("decode_exec"):
        _decode_literals(result, code)


def analyze_code(language: str, code: str) -> CodeAnalysis:
    """Capabilities of ``code``; ``shell_commands`` are strings it hands to a shell (os.system...).

    ``language`` is what :func:`interpreter_language` returns. Unknown languages get the
    language-independent checks only (``/dev/tcp``, ``sh -i``, descriptor redirections, mining).
    """
    out = CodeAnalysis()
    result = _Result(language, out, 0)
    _analyze_into(result, code)
    return out
