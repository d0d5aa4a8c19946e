"""Remove secrets from decisions and actions before anything is written down.

A :class:`Redactor` copies a JSON-like value and replaces every secret it recognises with a marker
such as ``[REDACTED:aws-access-key]``, returning the copy and the list of places (JSON paths) where
it redacted and what kind of secret it saw there. It recognises secrets two ways:

* by **name**: the value of an object field, environment variable, header or query parameter whose
  name looks secret (``password``, ``AWS_SECRET_ACCESS_KEY``, ``X-Api-Key``, ``client_secret``…);
* by **text**: inside any string (a command line, a URL, a body, a reason that quotes a command),
  one precompiled regular expression finds flags and assignments of secret-named things
  (``--password=…``, ``-p PASS`` for ``mysql``/``sshpass``, ``TOKEN=…``, ``?sig=…``), credentials
  in URLs (``https://user:pass@host``), ``Authorization`` headers, and the shapes of well-known
  keys and tokens (AWS, GitHub, GitLab, Slack, Stripe, OpenAI, Anthropic, Google, npm, Hugging
  Face, PEM private keys, JWTs).

Every string is scanned once, left to right: a cheap search finds the places where a pattern can
begin (a key prefix such as ``AKIA``, ``://``, a secret-looking word inside a name) and the one
combined, precompiled expression is tried only there. A match re-scans just its own non-secret
parts (so ``mysql --password=x -p y`` loses both). Callers can add patterns (for example from a
policy) with :class:`RedactionPattern`; they are applied first, by their own expression. Redaction
errs towards hiding too much: a false positive costs a little forensic detail, a false negative
leaks a credential into a file kept for years.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

MARKER = "[REDACTED:{kind}]"
MAX_DEPTH = 64  # objects and lists nested deeper than this are replaced whole ("too-deep")
_KIND = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")
_MARKER = re.compile(r"\[REDACTED:[a-z0-9][a-z0-9-]{0,39}\]")
# Name-based patterns match a name and its delimiter; the kind comes from secret_name_kind() and
# the value is matched separately (see _VALUES). One pseudo-kind per way of naming a value:
_NAME_FROM_GROUP = "@name"  # "name": value (JSON, dict literals)
_FLAG_FROM_GROUP = "@flag"  # --name value, --name=value
_HEADER_FROM_GROUP = "@header"  # Name: value, header-like names only (X-Api-Key:)
_ASSIGN_FROM_GROUP = "@assign"  # NAME=value
_HEADER_NAMES = re.compile(r"(?i)api-?key|token|secret|passw(?:or)?d")


@dataclass(frozen=True, slots=True)
class Redaction:
    """One place where something was redacted: a JSON path into the record and the kind."""

    path: str
    kind: str

    def to_dict(self) -> dict[str, str]:
        return {"path": self.path, "kind": self.kind}


@dataclass(frozen=True, slots=True)
class RedactionPattern:
    """An extra pattern: ``kind`` names it in markers; ``pattern`` is a regular expression.

    If the expression has a group named ``secret`` only that group is replaced (so
    ``r"--vault-pass\\s+(?P<secret>\\S+)"`` keeps the flag); otherwise the whole match is.
    Other named groups and numbered back-references are not allowed, because all patterns are
    combined into one expression.
    """

    kind: str
    pattern: str | re.Pattern[str]


# ---------------------------------------------------------------------------------------------
# Names that look secret
# ---------------------------------------------------------------------------------------------

_PASSWORD_PARTS = ("password", "passwd", "passphrase")
_PASSWORD_TOKENS = frozenset({"pass", "pwd", "pw"})
_SECRET_PARTS = (
    "secret",
    "apikey",
    "accesskey",
    "privatekey",
    "credential",
    "authtoken",
    "accesstoken",
    "refreshtoken",
    "sessiontoken",
    "bearertoken",
    "idtoken",
    "apitoken",
    "signingkey",
    "encryptionkey",
    "masterkey",
)
_SECRET_TOKENS = frozenset(
    {"token", "key", "sig", "signature", "auth", "authorization", "cookie", "otp", "creds"}
)
# A name ending in one of these describes a secret rather than holding one (SSH_AUTH_SOCK,
# POSTGRES_PASSWORD_FILE, --secret-id, AWS_ACCESS_KEY_ID: the key id's value is caught by shape).
_DESCRIPTIVE_LAST = frozenset(
    {
        "id",
        "ids",
        "name",
        "names",
        "file",
        "path",
        "dir",
        "sock",
        "socket",
        "url",
        "uri",
        "arn",
        "type",
        "count",
        "len",
        "length",
        "size",
        "ttl",
        "expiry",
        "expires",
        "expiration",
        "hint",
        "prefix",
        "header",
        "algorithm",
        "alg",
        "format",
        "version",
        "required",
        "enabled",
    }
)
_NOT_SECRET_TOKENS = frozenset({"public", "max", "min", "num"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")


@lru_cache(maxsize=8192)
def secret_name_kind(name: str) -> str | None:
    """``"password"`` or ``"secret"`` when a field called ``name`` holds a secret, else None."""
    tokens = [t for t in _SPLIT.split(_CAMEL.sub("_", name).lower()) if t]
    if not tokens or tokens[-1] in _DESCRIPTIVE_LAST or _NOT_SECRET_TOKENS.intersection(tokens):
        return None
    squashed = "".join(tokens)
    if any(p in squashed for p in _PASSWORD_PARTS) or _PASSWORD_TOKENS.intersection(tokens):
        return "password"
    if "authorization" in tokens:
        return "authorization"
    if "aws" in tokens and "secret" in squashed:
        return "aws-secret-key"
    if any(p in squashed for p in _SECRET_PARTS) or _SECRET_TOKENS.intersection(tokens):
        return "secret"
    return None


# ---------------------------------------------------------------------------------------------
# Text patterns
# ---------------------------------------------------------------------------------------------

# Patterns are written so that a failed attempt costs little: names are bounded and taken
# possessively, runs that cannot contain the next required character are possessive, and shapes
# (except AWS key ids, which are short and fixed-length) only start at a word boundary. A name's
# secrecy is decided by secret_name_kind(), not by the expression.
_NAME = r"[\w.-]{1,100}+"
_QUOTED_OR_BARE = r"\"[^\"]*+\"|'[^']*+'"
_B = r"(?<![A-Za-z0-9])"

# Known value shapes, most specific first (at one position the first alternative that matches
# wins, so ``sk-ant-`` must come before ``sk-``).
_SHAPES: tuple[tuple[str, str], ...] = (
    (
        "private-key",
        r"-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----[\s\S]*?"
        r"(?:-----END[A-Z0-9 ]{0,40}PRIVATE KEY(?: BLOCK)?-----|\Z)",
    ),
    ("jwt", r"(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,}+\.eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]*+"),
    ("aws-access-key", r"(?:AKIA|ASIA)[A-Z0-9]{16}"),
    ("github-token", _B + r"(?:gh[pousr]_[A-Za-z0-9]{30,255}|github_pat_[A-Za-z0-9_]{20,255})"),
    ("gitlab-token", _B + r"glpat-[A-Za-z0-9_-]{20,}+"),
    ("slack-token", _B + r"(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,}+"),
    ("slack-webhook", r"hooks\.slack\.com/services/(?P<secret>[A-Za-z0-9_/-]{10,}+)"),
    ("stripe-key", _B + r"(?:(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{10,}+|whsec_[A-Za-z0-9]{20,}+)"),
    ("anthropic-key", _B + r"sk-ant-[A-Za-z0-9_-]{16,}+"),
    ("openai-key", r"(?<![A-Za-z0-9-])sk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}+"),
    ("google-api-key", _B + r"AIza[0-9A-Za-z_-]{35}"),
    ("npm-token", _B + r"npm_[A-Za-z0-9]{36}"),
    ("huggingface-token", _B + r"hf_[A-Za-z]{30,}+"),
)

# Secrets recognised by their context: only the ``secret`` group is replaced. Specific patterns
# come before the generic name-based ones, which would otherwise take their positions.
_CONTEXT: tuple[tuple[str, str], ...] = (
    # scheme://user:password@host
    (
        "password",
        r"(?<![A-Za-z0-9+.-])[A-Za-z][A-Za-z0-9+.-]{0,30}://[^\s/?#@:'\"]*+:"
        r"(?P<secret>[^\s/?#@'\"]++)@",
    ),
    # Authorization: Bearer xyz (also as a JSON or header-dict key)
    (
        "authorization",
        r"(?i:(?<![\w-])(?:proxy-)?authorization[\"']?\s*+[:=]\s*+[\"']?"
        r"(?:(?:bearer|basic|token|digest|negotiate|ntlm|apikey|aws4-hmac-sha256)\s++)?)"
        r"(?P<secret>[^\s'\",;]++)",
    ),
    (
        "authorization",
        r"(?i:\bbearer\s++)(?P<secret>(?=[A-Za-z0-9._~+/=-]*\d)[A-Za-z0-9._~+/=-]{8,}+)",
    ),
    # Cookie: a=b; c=d
    ("secret", r"(?i:(?<![\w-])(?:set-)?cookie\s*+:\s*+)(?P<secret>[^\r\n'\"]++)"),
    # curl -u user:pass, --user user:pass, --proxy-user user:pass
    (
        "password",
        r"(?<![\w-])(?:-u|-U|--user|--proxy-user)(?:\s++|=)?[\"']?[^\s:'\"]*+:"
        r"(?P<secret>[^\s'\"]++)",
    ),
    # Name-based: only the name and its delimiter are in the expression; the value is matched
    # (by _VALUES) only once the name has been found secret, so a harmless name costs nothing.
    # "password": "x" and 'token': 'x' (JSON or a dict literal, possibly escaped inside a string)
    (_NAME_FROM_GROUP, r"\\?[\"'](?P<name>" + _NAME + r")\\?[\"']\s*+:\s*+"),
    # --password=x, --token x, -api-key x
    (_FLAG_FROM_GROUP, r"(?<![\w-])--?(?P<name>[\w-]{1,100}+)(?:=|\s++)"),
    # X-Api-Key: x, Private-Token: x
    (_HEADER_FROM_GROUP, r"(?<![\w-])(?P<name>[\w-]{1,100}+)\s*+:[ \t]*+"),
    # NAME=value in commands, env files, URLs (?token=x&sig=y) and form bodies
    (_ASSIGN_FROM_GROUP, r"(?<![\w.-])(?P<name>" + _NAME + r")="),
)

# The value after each kind of name.
_VALUES = {
    _NAME_FROM_GROUP: re.compile(
        r"\"(?:[^\"\\]|\\.)*+\"|\\\"(?:[^\\]|\\(?!\"))*+\\\"|'(?:[^'\\]|\\.)*+'|-?\d[\d.eE+-]*+"
    ),
    _FLAG_FROM_GROUP: re.compile(_QUOTED_OR_BARE + r"|[^\s'\"-][^\s'\"]*+"),
    _HEADER_FROM_GROUP: re.compile(r"[^\s'\",;]++"),
    _ASSIGN_FROM_GROUP: re.compile(_QUOTED_OR_BARE + r"|[^\s&'\"#;|)<>,]++"),
}

# Programs whose password flag is ``-p``/``-a``: the match spans the arguments before the flag
# (at most 24 of them), so the text around the secret is scanned again with every pattern.
_ARGS = r"(?:\s++[^\s|;&]++){0,24}?\s++"
_PROGRAMS: tuple[tuple[str, str], ...] = (
    (
        "password",
        r"(?<![\w.-])(?:sshpass|mysql|mysqldump|mysqladmin|mysqlimport|mysqlshow|mysqlcheck|mysqlsh"
        r"|mariadb|mariadb-dump)" + _ARGS + r"-p\s*+"
        r"(?P<secret>" + _QUOTED_OR_BARE + r"|[^\s|;&'\"-][^\s|;&'\"]*+)",
    ),
    (
        "password",
        r"(?<![\w.-])redis-cli" + _ARGS + r"-a\s*+"
        r"(?P<secret>" + _QUOTED_OR_BARE + r"|[^\s|;&'\"-][^\s|;&'\"]*+)",
    ),
)

_GLOBAL_FLAGS = re.compile(r"^\(\?([aiLmsux]+)\)")
_NUMERIC_BACKREF = re.compile(r"(?<!\\)(?:\\\\)*\\[1-9]")
_FLAG_LETTERS = ((re.IGNORECASE, "i"), (re.MULTILINE, "m"), (re.DOTALL, "s"), (re.VERBOSE, "x"))


@dataclass(frozen=True, slots=True)
class _Spec:
    kind: str
    source: str
    has_secret: bool
    rescan_all: bool  # the text around the secret may hold other context secrets (long prefixes)


def _spec(kind: str, source: str, *, rescan_all: bool = False) -> _Spec:
    return _Spec(kind, source, "(?P<secret>" in source, rescan_all)


def _extra_spec(extra: RedactionPattern) -> _Spec:
    if not _KIND.fullmatch(extra.kind):
        raise ValueError(f"redaction kind {extra.kind!r}: use lower-case letters, digits and '-'")
    if isinstance(extra.pattern, re.Pattern):
        source = extra.pattern.pattern
        letters = "".join(c for flag, c in _FLAG_LETTERS if extra.pattern.flags & flag)
        if extra.pattern.flags & re.ASCII:
            letters += "a"
    else:
        source, letters = extra.pattern, ""
        leading = _GLOBAL_FLAGS.match(source)
        if leading:
            letters, source = leading.group(1).replace("u", ""), source[leading.end() :]
    try:
        compiled = re.compile(source, re.ASCII if "a" in letters else 0)
    except re.error as exc:
        raise ValueError(
            f"redaction pattern {extra.kind!r} is not a valid expression: {exc}"
        ) from exc
    if set(compiled.groupindex) - {"secret"}:
        raise ValueError(
            f"redaction pattern {extra.kind!r}: the only named group allowed is 'secret'"
        )
    if _NUMERIC_BACKREF.search(source) or "(?P=" in source:
        raise ValueError(f"redaction pattern {extra.kind!r}: back-references are not supported")
    if compiled.fullmatch(""):
        raise ValueError(f"redaction pattern {extra.kind!r} matches the empty string")
    if letters:
        source = f"(?{letters}:{source})"
    return _spec(extra.kind, source)


# Where a built-in pattern can start: its literal prefix, or a secret word inside a name. Matched
# against the lower-cased text, grouped by first character so the scan stays cheap.
_TRIGGER_WORDS = (
    *("pass", "pwd", "secret", "token", "key", "auth", "credential", "sig", "cookie", "creds"),
    *("otp", "bearer", "akia", "asia", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    *("glpat-", "xox", "xapp-", "hooks."),
    *("sk_", "rk_", "whsec_", "sk-", "aiza", "npm_", "hf_", "eyj", "-----begin", "://"),
    *("sshpass", "mysql", "mariadb", "redis-cli", "-u", "--user", "--proxy-user"),
)


def _trigger_regex(words: Iterable[str]) -> re.Pattern[str]:
    groups: dict[str, list[str]] = {}
    for word in words:
        groups.setdefault(word[0], []).append(word[1:])
    parts = []
    for first, rests in groups.items():
        tails = "|".join(re.escape(r) for r in sorted(rests, key=len, reverse=True))
        parts.append(f"{re.escape(first)}(?:{tails})")
    return re.compile("|".join(parts))


_TRIGGER = _trigger_regex(_TRIGGER_WORDS)
_MAX_NAME = 100
_NAME_RUN = re.compile(r"[\w.-]*")
_SCHEME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.-")


def _lower(text: str) -> str:
    """``text`` in lower case, position for position (a few characters lengthen when lowered)."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(c.lower() if len(c.lower()) == 1 else c for c in text)


def _candidates(text: str, hit: int, floor: int) -> list[int]:
    """Positions (ascending, none before ``floor``) where a pattern containing ``hit`` may start:
    the opening quote(s) of a quoted name, the start of the name-like token around the hit and
    every position after a dot in it (``a.x-api-key:`` starts a header name at ``x``), the start
    of a URL scheme, the hit itself."""
    lowest = max(floor, hit - _MAX_NAME)
    found = [hit]
    start = hit
    while start > lowest and (text[start - 1].isalnum() or text[start - 1] in "_.-"):
        start -= 1
        if text[start - 1 : start] == "." and start != hit:
            found.append(start)
    found.append(start)
    if start > floor and text[start - 1] in "\"'":
        found.append(start - 1)
        if start - 1 > floor and text[start - 2] == "\\":
            found.append(start - 2)
    if text.startswith("://", hit):
        scheme = hit
        while scheme > lowest and text[scheme - 1] in _SCHEME_CHARS:
            scheme -= 1
        found.append(scheme)
    return sorted(set(found))


class _Scanner(NamedTuple):
    specs: tuple[_Spec, ...]
    regex: re.Pattern[str]
    after: tuple[_Scanner | None, ...] = ()  # per spec: the specs after it (for name patterns)


class _Found(NamedTuple):
    """A secret found in a text: the match's span, the secret's span in it, and its kind."""

    start: int
    secret_start: int
    secret_end: int
    end: int
    kind: str
    rescan_all: bool


def _found(match: re.Match[str], index: int, spec: _Spec, kind: str) -> _Found:
    start, end = match.span()
    s_start, s_end = match.span(f"s{index}") if spec.has_secret else (start, end)
    return _Found(start, s_start, s_end, end, kind, spec.rescan_all)


def _found_in(match: re.Match[str], scanner: _Scanner) -> _Found:
    index = int((match.lastgroup or "a0")[1:])
    spec = scanner.specs[index]
    return _found(match, index, spec, spec.kind)


def _scanner(specs: Sequence[_Spec]) -> _Scanner:
    """The combined expression, plus for each name-based spec one over the specs after it: when
    a name turns out not to be secret, the next alternatives still get their chance there."""
    after = tuple(
        _scanner(specs[index + 1 :]) if spec.kind in _VALUES and index + 1 < len(specs) else None
        for index, spec in enumerate(specs)
    )
    return _Scanner(tuple(specs), _combine(specs), after)


def _combine(specs: Sequence[_Spec]) -> re.Pattern[str]:
    parts = []
    for index, spec in enumerate(specs):
        source = spec.source.replace("(?P<secret>", f"(?P<s{index}>")
        source = source.replace("(?P<name>", f"(?P<n{index}>")
        parts.append(f"(?P<a{index}>{source})")
    return re.compile("|".join(parts))


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CACHE_MAX_ENTRIES = 4096
_CACHE_MAX_LEN = 256


_Path = str | tuple[Any, Any]  # "$" or (parent, key): spelled out by _spell() only when needed
_UNKNOWN: Any = object()
_PLAIN_SCALARS = (int, float, bool)


def _spell(path: _Path) -> str:
    keys: list[Any] = []
    while isinstance(path, tuple):
        path, key = path
        keys.append(key)
    for key in reversed(keys):
        path = child_path(path, key if isinstance(key, str | int) else str(key))
    return path


def child_path(path: str, key: str | int) -> str:
    """``$.a.b``, ``$.a[0]``, ``$.env['X-Y']``: a JSON path that can be read back unambiguously."""
    if isinstance(key, int):
        return f"{path}[{key}]"
    if _IDENT.fullmatch(key):
        return f"{path}.{key}"
    escaped = key.replace("\\", "\\\\").replace("'", "\\'")
    return f"{path}['{escaped}']"


class Redactor:
    """Copies values with secrets replaced by ``[REDACTED:kind]`` markers.

    ``extra_patterns`` add text patterns (checked before the built-in ones at the same position);
    ``extra_names`` add field names (compared case-insensitively) whose values are always secret.
    Instances are immutable and safe to share between threads.
    """

    def __init__(
        self,
        extra_patterns: Iterable[RedactionPattern] = (),
        extra_names: Iterable[str] = (),
    ) -> None:
        extras = [_extra_spec(p) for p in extra_patterns]
        values = extras + [_spec(kind, source) for kind, source in _SHAPES]
        builtin = [_spec(kind, source) for kind, source in _SHAPES + _CONTEXT]
        builtin += [_spec(kind, source, rescan_all=True) for kind, source in _PROGRAMS]
        self._extras = _Scanner(tuple(extras), _combine(extras)) if extras else None
        self._values = _Scanner(tuple(values), _combine(values))
        self._all = _scanner(builtin)
        self._extra_names = frozenset(n.lower() for n in extra_names)
        self._cache: dict[str, tuple[str, tuple[str, ...]]] = {}
        self._keys: dict[str, tuple[str | None, str, tuple[str, ...]]] = {}

    # -- structured values --------------------------------------------------------------------

    def redact(self, value: Any, path: str = "$") -> tuple[Any, list[Redaction]]:
        """A redacted copy of ``value`` (JSON-like) and where it was redacted."""
        found: list[Redaction] = []
        copy = self._walk(value, path, found)
        return copy, _dedupe(found)

    # Paths are built lazily as (parent, key) pairs and spelled out only where something was
    # redacted: most fields of most records hold no secret.

    def _walk(self, value: Any, path: _Path, found: list[Redaction], depth: int = 0) -> Any:
        if type(value) is str:
            text, kinds = self._text(value)
            if kinds:
                where = _spell(path)
                found.extend(Redaction(where, kind) for kind in kinds)
            return text
        if depth >= MAX_DEPTH and isinstance(value, Mapping | list | tuple):
            # Deeper than any real action: dropped whole, so that writing and reading it back
            # can never run out of stack.
            found.append(Redaction(_spell(path), "too-deep"))
            return MARKER.format(kind="too-deep")
        if isinstance(value, Mapping):
            out: dict[Any, Any] = {}
            keys = self._keys
            for key, item in value.items():
                if type(key) is str:
                    info = keys.get(key)
                    if info is None:
                        info = self._key_info(key)
                    kind, name, kinds = info
                    if kinds:  # a secret in a field name is as much a leak as one in a value
                        where = _spell((path, name))
                        found.extend(Redaction(where, k) for k in kinds)
                else:
                    kind, name = None, key
                if kind is None:
                    plain = item is None or type(item) in _PLAIN_SCALARS
                    out[name] = item if plain else self._walk(item, (path, name), found, depth + 1)
                else:
                    out[name] = self._hide(item, kind, (path, name), found, depth + 1)
            return out
        if isinstance(value, str):
            return self._walk(str(value), path, found)
        if isinstance(value, list | tuple):
            return [self._walk(item, (path, i), found, depth + 1) for i, item in enumerate(value)]
        return value

    def _key_info(self, key: str) -> tuple[str | None, str, tuple[str, ...]]:
        """For a field name: the kind of secret it holds, and the name itself redacted."""
        if len(self._keys) >= _CACHE_MAX_ENTRIES:
            self._keys.clear()
        name, kinds = self.redact_text(key)
        info = self._keys[key] = (self.name_kind(key), name, kinds)
        return info

    def _text(self, text: str) -> tuple[str, tuple[str, ...]]:
        if len(text) <= _CACHE_MAX_LEN:
            hit = self._cache.get(text)
            if hit is not None:
                return hit
        return self.redact_text(text)

    def name_kind(self, name: str) -> str | None:
        """The kind of secret a field called ``name`` holds, or None if it looks harmless."""
        if self._extra_names and name.lower() in self._extra_names:
            return "secret"
        return secret_name_kind(name)

    def _hide(
        self, value: Any, kind: str, path: _Path, found: list[Redaction], depth: int = 0
    ) -> Any:
        """Everything under a secret-named field: scalars become markers, structure stays."""
        if value is None or isinstance(value, bool) or value == "":
            return value
        if depth >= MAX_DEPTH and isinstance(value, Mapping | list | tuple):
            found.append(Redaction(_spell(path), kind))
            return MARKER.format(kind=kind)
        if isinstance(value, str | int | float):
            if isinstance(value, str):
                if _MARKER.fullmatch(value):
                    return value
                kind = self._value_kind(value) or kind
            found.append(Redaction(_spell(path), kind))
            return MARKER.format(kind=kind)
        if isinstance(value, Mapping):
            return {
                self._text(k)[0] if type(k) is str else k: self._hide(
                    v, kind, (path, k), found, depth + 1
                )
                for k, v in value.items()
            }
        if isinstance(value, list | tuple):
            return [self._hide(v, kind, (path, i), found, depth + 1) for i, v in enumerate(value)]
        return self._walk(value, path, found, depth)

    # -- text ---------------------------------------------------------------------------------

    def redact_text(self, text: str) -> tuple[str, tuple[str, ...]]:
        """``text`` with every recognised secret replaced, and the kinds replaced (in order)."""
        short = len(text) <= _CACHE_MAX_LEN
        if short:
            hit = self._cache.get(text)
            if hit is not None:
                return hit
        kinds: list[str] = []
        redacted = text
        if self._extras is not None:
            redacted = self._sub(redacted, kinds, self._extras)
        redacted = self._scan(redacted, kinds)
        result = (redacted, tuple(kinds))
        if short:
            if len(self._cache) >= _CACHE_MAX_ENTRIES:
                self._cache.clear()
            self._cache[text] = result
        return result

    def _scan(self, text: str, kinds: list[str], *, everywhere: bool = False) -> str:
        """One left-to-right pass of the built-in patterns, tried only where a trigger occurs.

        Every built-in pattern starts at a trigger (``AKIA``, ``://``, ``mysql``...) or at the
        start of a name-like token that contains one (``DB_PASSWORD=``, ``"api_key":``), so the
        combined expression is matched, anchored, at those few candidate positions instead of
        at every position of the string (``everywhere=True`` does the latter, as a reference).
        Each position is tried at most once, which keeps the pass linear in practice.
        """
        pieces: list[str] = []
        pos = 0
        if everywhere:
            at = 0
            while at < len(text):
                found = self._match_at(text, at)
                if found is None:
                    at += 1
                    continue
                pieces += (text[pos:at], self._replace(found, text, kinds))
                pos = at = found.end
            pieces.append(text[pos:])
            return "".join(pieces)
        low = _lower(text)
        search = _TRIGGER.search
        hit = search(low)
        if hit is None:
            return text
        token_end = -1  # end of the name-like token of the last hit
        tried: set[int] = set()  # positions already tried without a match
        last = -1
        while hit is not None:
            at = hit.start()
            if at < token_end:  # in a token already tried up to the last hit: look from there on
                candidates = _candidates(text, at, max(pos, last + 1))
            else:
                candidates = _candidates(text, at, pos)
                token_end = _NAME_RUN.match(text, at).end()  # type: ignore[union-attr]
            last = at
            found = None
            for candidate in candidates:
                if candidate not in tried:
                    found = self._match_at(text, candidate)
                    if found is not None:
                        break
                    tried.add(candidate)
            if found is None:
                hit = search(low, at + 1)
                continue
            pieces += (text[pos : found.start], self._replace(found, text, kinds))
            pos = found.end
            hit = search(low, pos)
        pieces.append(text[pos:])
        return "".join(pieces)

    def _match_at(self, text: str, at: int) -> _Found | None:
        """The first built-in alternative that matches at ``at``; a name-based one only counts
        if the name is secret and a value follows (otherwise the alternatives after it get
        their chance at the same position)."""
        scanner: _Scanner | None = self._all
        while scanner is not None:
            match = scanner.regex.match(text, at)
            if match is None:
                return None
            index = int((match.lastgroup or "a0")[1:])
            spec = scanner.specs[index]
            value_pattern = _VALUES.get(spec.kind)
            if value_pattern is None:
                return _found(match, index, spec, spec.kind)
            name = match.group(f"n{index}")
            kind = None
            if spec.kind != _HEADER_FROM_GROUP or _HEADER_NAMES.search(name):
                kind = self.name_kind(name)
            if kind is not None:
                value = value_pattern.match(text, match.end())
                if value is not None:
                    return _Found(at, value.start(), value.end(), value.end(), kind, False)
            scanner = scanner.after[index]
        return None

    def _sub(self, text: str, kinds: list[str], scanner: _Scanner) -> str:
        if scanner is self._all:
            return self._scan(text, kinds)
        return scanner.regex.sub(lambda m: self._replace(_found_in(m, scanner), text, kinds), text)

    def _replace(self, found: _Found, text: str, kinds: list[str]) -> str:
        start, s_start, s_end, end, kind, rescan_all = found
        # The text around the secret is scanned again (it is shorter than the match), so a
        # secret there is not shielded by the match that covered it. Only value shapes are
        # looked for, since a cut-off context (``Authorization: Bearer ``) reads differently.
        around = self._all if rescan_all else self._values
        prefix = self._sub(text[start:s_start], kinds, around) if s_start > start else ""
        secret = text[s_start:s_end]
        opening, core, closing = _unquote(secret)
        if _MARKER.fullmatch(core):  # already redacted (by an extra pattern)
            middle = secret
        else:
            kind = self._value_kind(core) or kind
            kinds.append(kind)
            middle = opening + MARKER.format(kind=kind) + closing
        suffix = self._sub(text[s_end:end], kinds, around) if end > s_end else ""
        return prefix + middle + suffix

    def _value_kind(self, value: str) -> str | None:
        """The kind of a value that is, as a whole, a known key or token shape."""
        match = self._values.regex.fullmatch(value)
        if match is None or match.lastgroup is None:
            return None
        return self._values.specs[int(match.lastgroup[1:])].kind


def _unquote(secret: str) -> tuple[str, str, str]:
    """Split surrounding quotes off a secret, so the marker can keep them."""
    for quote in ('\\"', '"', "'"):
        if len(secret) >= 2 * len(quote) and secret.startswith(quote) and secret.endswith(quote):
            return quote, secret[len(quote) : -len(quote)], quote
    return "", secret, ""


def _dedupe(found: list[Redaction]) -> list[Redaction]:
    if len(found) < 2:
        return found
    return list(dict.fromkeys(found))


_DEFAULT: Redactor | None = None


def default_redactor() -> Redactor:
    """The built-in redactor (shared; patterns compiled once per process)."""
    global _DEFAULT  # noqa: PLW0603
    if _DEFAULT is None:
        _DEFAULT = Redactor()
    return _DEFAULT


# ---------------------------------------------------------------------------------------------
# Environment variables
# ---------------------------------------------------------------------------------------------

# Shorter values under secret names are flags ("true", "1"), not secrets.
MIN_NAMED_SECRET = 6
# git's GIT_CONFIG_KEY_n / GIT_CONFIG_VALUE_n pairs: the KEY names a config key (http.proxy), so
# its name says nothing; a VALUE can hold anything, so only its shape counts.
_GIT_CONFIG_KEY = re.compile(r"GIT_CONFIG_KEY_\d+")
_GIT_CONFIG_VALUE = re.compile(r"GIT_CONFIG_VALUE_\d+")


class SecretVariable(NamedTuple):
    """Why an environment variable holds a credential: the key shapes its value has, and the
    kind of secret its name marks (None when only the value gave it away)."""

    shapes: tuple[str, ...]
    named: str | None


def secret_variable(name: str, value: str) -> SecretVariable | None:
    """Whether ``name=value`` in an environment carries a credential, by name or value shape.

    The one judgement shared by ``corral audit`` (which reports such variables) and the fence
    of ``corral run`` (which removes them before the agent starts), so that what the audit calls
    a secret is exactly what the fence keeps from the agent.
    """
    if not value or _GIT_CONFIG_KEY.fullmatch(name):
        return None
    shapes = tuple(sorted(set(default_redactor().redact_text(value)[1])))
    named = None if _GIT_CONFIG_VALUE.fullmatch(name) else secret_name_kind(name)
    looks_like_path = value.startswith(("/", "~", "./"))
    if named is not None and (len(value) < MIN_NAMED_SECRET or looks_like_path) and not shapes:
        named = None
    if not shapes and named is None:
        return None
    return SecretVariable(shapes, named)
