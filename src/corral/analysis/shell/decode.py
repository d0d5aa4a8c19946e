"""The output of commands whose output is known before they run: echo, printf, cat of a
here-document, and decoders fed known input (base64, base32, xxd, openssl, rev, tr, gzip).

Every decoded result is recorded as a :class:`~corral.analysis.facts.Payload` and drawn from
the decode budget; past it the output is unknown and a problem says so.
"""

from __future__ import annotations

import base64
import binascii
import bz2
import lzma
import re
import zlib
from collections.abc import Callable

from corral.analysis.shell.context import Ctx, Known
from corral.analysis.shell.printf import echo, printf

Decoder = Callable[[Ctx, list[str], Known | None], Known | None]

_NOT_B64 = re.compile(r"[^A-Za-z0-9+/=_-]")
_NOT_B32 = re.compile(r"[^A-Za-z2-7=]")
_NOT_HEX = re.compile(r"[^0-9A-Fa-f]")
_XXD_LINE = re.compile(r"^\s*[0-9A-Fa-f]+:\s?((?:[0-9A-Fa-f]{2,4}\s?)+)", re.MULTILINE)


def _text(data: bytes) -> str:
    return data.decode("utf-8", "replace")


def _decoded(
    ctx: Ctx, encoding: str, label: str, data: bytes | None, source: Known
) -> Known | None:
    if data is None or not ctx.charge_decode(len(data)):
        return None
    text = _text(data)
    ctx.payload(encoding, text, label)
    return Known(text, (label, *source.via), source.unresolved, data)


def _operands(args: list[str]) -> list[str]:
    return [a for a in args if not a.startswith("-") or a == "-"]


def _reads_stdin(args: list[str]) -> bool:
    return all(a == "-" for a in _operands(args))


def _flag(args: list[str], short: str, *longs: str) -> bool:
    for arg in args:
        if arg in longs:
            return True
        if arg.startswith("-") and not arg.startswith("--") and short in arg[1:]:
            return True
    return False


# ---- decoders ----------------------------------------------------------------------------------


def b64decode(text: str) -> bytes | None:
    cleaned = _NOT_B64.sub("", text).rstrip("=")
    if not cleaned:
        return None
    if "-" in cleaned or "_" in cleaned:
        cleaned = cleaned.replace("-", "+").replace("_", "/")
    cleaned += "=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(cleaned)
    except binascii.Error:
        return None


def _base64(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    if stdin is None or (not _flag(args, "d", "--decode") and not _flag(args, "D")):
        return None
    if not _reads_stdin([a for a in args if not a.startswith("-w")]):
        return None
    return _decoded(ctx, "base64", "base64 -d", b64decode(stdin.text), stdin)


def _base32(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    if stdin is None or not _flag(args, "d", "--decode") or not _reads_stdin(args):
        return None
    cleaned = _NOT_B32.sub("", stdin.text.upper()).rstrip("=")
    cleaned += "=" * (-len(cleaned) % 8)
    try:
        data = base64.b32decode(cleaned) if cleaned else None
    except (binascii.Error, ValueError):
        return None
    return _decoded(ctx, "base32", "base32 -d", data, stdin)


def _basenc(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    if "--base32" in args:
        return _base32(ctx, [a for a in args if a != "--base32"], stdin)
    if "--base16" in args and stdin is not None and _flag(args, "d", "--decode"):
        return _hex_data(ctx, stdin, "basenc --base16 -d")
    if "--base64" in args or "--base64url" in args:
        return _base64(ctx, [a for a in args if not a.startswith("--base64")], stdin)
    return None


def _hex_data(ctx: Ctx, stdin: Known, label: str) -> Known | None:
    digits = _NOT_HEX.sub("", stdin.text)
    if len(digits) % 2:
        digits = digits[:-1]
    try:
        data = bytes.fromhex(digits)
    except ValueError:
        return None
    return _decoded(ctx, "hex", label, data, stdin)


def _xxd(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    if stdin is None or not (_flag(args, "r", "-revert")):
        return None
    plain = _flag(args, "p", "-plain", "-ps", "-postscript")
    if not _reads_stdin([a for a in args if a not in ("-ps", "-plain", "-revert")]):
        return None
    if plain:
        return _hex_data(ctx, stdin, "xxd -r -p")
    columns = " ".join(m.group(1) for m in _XXD_LINE.finditer(stdin.text))
    return _hex_data(ctx, Known(columns, stdin.via, stdin.unresolved), "xxd -r")


def _openssl(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    if stdin is None or not args or "-d" not in args:
        return None
    sub, rest = args[0], args[1:]
    if sub == "base64":
        allowed = {"-d", "-A"}
    elif sub == "enc" and ("-base64" in rest or "-a" in rest):
        allowed = {"-d", "-A", "-a", "-base64"}
    else:
        return None
    if any(a not in allowed for a in rest):  # a cipher, a key or an input file: not decodable
        return None
    return _decoded(ctx, "base64", "openssl base64 -d", b64decode(stdin.text), stdin)


def _rev(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    if stdin is None or not _reads_stdin(args):
        return None
    lines = stdin.text.split("\n")
    text = "\n".join(line[::-1] for line in lines)
    if not ctx.charge_decode(len(text)):
        return None
    ctx.payload("rev", text, "rev")
    return Known(text, ("rev", *stdin.via), stdin.unresolved)


def _decompress(ctx: Ctx, args: list[str], stdin: Known | None, kind: str) -> Known | None:
    if stdin is None or not _reads_stdin(args):
        return None
    budget = ctx.decode_left + 1
    data = stdin.data()
    try:
        if kind == "gzip":
            out = zlib.decompressobj(zlib.MAX_WBITS | 32).decompress(data, budget)
        elif kind == "bzip2":
            out = bz2.BZ2Decompressor().decompress(data, budget)
        else:
            out = lzma.LZMADecompressor().decompress(data, budget)
    except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError):
        return None
    return _decoded(ctx, kind, f"{kind} -d", out, stdin)


def _gzip(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    if not _flag(args, "d", "--decompress", "--uncompress"):
        return None
    return _decompress(ctx, [a for a in args if a not in ("-d", "-c", "-dc", "-cd")], stdin, "gzip")


def _gunzip(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    return _decompress(ctx, [a for a in args if a not in ("-c", "-f")], stdin, "gzip")


def _bzip2(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    if not _flag(args, "d", "--decompress"):
        return None
    return _decompress(ctx, [a for a in args if a not in ("-d", "-c", "-dc")], stdin, "bzip2")


def _xz(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    if not _flag(args, "d", "--decompress"):
        return None
    return _decompress(ctx, [a for a in args if a not in ("-d", "-c", "-dc")], stdin, "xz")


# ---- tr ----------------------------------------------------------------------------------------

_CLASSES = {
    "[:lower:]": "abcdefghijklmnopqrstuvwxyz",
    "[:upper:]": "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "[:digit:]": "0123456789",
    "[:space:]": " \t\n\r\f\v",
    "[:blank:]": " \t",
}
_CLASSES["[:alpha:]"] = _CLASSES["[:lower:]"] + _CLASSES["[:upper:]"]
_CLASSES["[:alnum:]"] = _CLASSES["[:alpha:]"] + _CLASSES["[:digit:]"]
_TR_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "\\": "\\", "f": "\f", "v": "\v", "a": "\a"}


def _tr_set(spec: str) -> str | None:
    out: list[str] = []
    i = 0
    while i < len(spec):
        for name, chars in _CLASSES.items():
            if spec.startswith(name, i):
                out.append(chars)
                i += len(name)
                break
        else:
            ch = spec[i]
            if ch == "\\" and i + 1 < len(spec):
                octal = re.match(r"[0-7]{1,3}", spec[i + 1 :])
                if octal:
                    ch = chr(int(octal.group(0), 8))
                    i += len(octal.group(0))
                else:
                    ch = _TR_ESCAPES.get(spec[i + 1], spec[i + 1])
                    i += 1
            if i + 2 < len(spec) and spec[i + 1] == "-":
                end = spec[i + 2]
                if ord(end) < ord(ch) or ord(end) - ord(ch) > 1024:
                    return None
                out.append("".join(chr(c) for c in range(ord(ch), ord(end) + 1)))
                i += 3
                continue
            out.append(ch)
            i += 1
    return "".join(out)


def _tr(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    if stdin is None:
        return None
    if len(args) == 2 and not args[0].startswith("-"):
        first, second = _tr_set(args[0]), _tr_set(args[1])
        if not first or not second:
            return None
        second = second + second[-1] * max(0, len(first) - len(second))
        text = stdin.text.translate(str.maketrans(first, second[: len(first)]))
    elif len(args) == 2 and args[0] == "-d":
        gone = _tr_set(args[1])
        if gone is None:
            return None
        text = stdin.text.translate({ord(c): None for c in gone})
    else:
        return None
    if text == stdin.text:
        return stdin
    if not ctx.charge_decode(len(text)):
        return None
    ctx.payload("tr", text, "tr")
    return Known(text, ("tr", *stdin.via), stdin.unresolved)


# ---- passthrough and producers ----------------------------------------------------------------


def _cat(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    del ctx
    return stdin if (stdin is not None and not args) or args == ["-"] else None


def _tee(ctx: Ctx, args: list[str], stdin: Known | None) -> Known | None:
    del ctx, args
    return stdin


def echo_output(ctx: Ctx, args: list[str], unresolved: bool) -> Known:
    text, decoded = echo(args)
    if decoded and ctx.charge_decode(len(text)):
        ctx.payload("printf", text, "echo -e")
        return Known(text, ("echo -e",), unresolved)
    return Known(text, (), unresolved)


def printf_output(ctx: Ctx, args: list[str], unresolved: bool) -> tuple[str | None, Known | None]:
    """(``-v`` variable name or None, what printf prints or assigns)."""
    target = None
    if len(args) >= 2 and args[0] == "-v":
        target, args = args[1], args[2:]
    if args and args[0] == "--":
        args = args[1:]
    if not args:
        return target, None
    result = printf(args[0], args[1:], ctx.limits.max_bytes)
    if result is None:
        return target, None
    text, decoded = result
    if decoded and ctx.charge_decode(len(text)):
        ctx.payload("printf", text, "printf")
        return target, Known(text, ("printf",), unresolved)
    return target, Known(text, (), unresolved)


POWERSHELLS = frozenset({"pwsh", "powershell", "pwsh.exe", "powershell.exe"})


def powershell_encoded(ctx: Ctx, args: list[str]) -> Known | None:
    """``pwsh -EncodedCommand B64`` (or any prefix such as ``-enc``, ``-e``, ``-ec``): the
    script, base64 of UTF-16LE text."""
    for index, arg in enumerate(args[:-1]):
        name = arg.lower().lstrip("-/")
        if arg[:1] in "-/" and name and ("encodedcommand".startswith(name) or name == "ec"):
            data = b64decode(args[index + 1])
            if data is None:
                return None
            text = data.decode("utf-16-le", "replace")
            if not ctx.charge_decode(len(text)):
                return None
            ctx.payload("base64", text, "pwsh -EncodedCommand")
            return Known(text, ("pwsh -EncodedCommand",))
    return None


DECODERS: dict[str, Decoder] = {
    "base64": _base64,
    "gbase64": _base64,
    "base32": _base32,
    "basenc": _basenc,
    "xxd": _xxd,
    "openssl": _openssl,
    "rev": _rev,
    "tr": _tr,
    "gzip": _gzip,
    "gunzip": _gunzip,
    "zcat": _gunzip,
    "bzip2": _bzip2,
    "bunzip2": lambda ctx, args, stdin: _decompress(ctx, args, stdin, "bzip2"),
    "xz": _xz,
    "unxz": lambda ctx, args, stdin: _decompress(ctx, args, stdin, "xz"),
    "cat": _cat,
    "tee": _tee,
}
"""Commands whose output is a function of their input, by program name."""
