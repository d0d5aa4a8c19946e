"""How well-known programs read their options: which short and long options take a value.

The tables mirror each program's own getopt (or getopt_long) strings closely enough to split an
argv the way the program would: ``ssh -fNR 8080:h:22`` is ``-f``, ``-N`` and ``-R 8080:h:22``
because ``R`` takes a value in ssh and ``f``/``N`` do not. A program that is not in the tables is
read with the generic rules of :func:`parse`: bundles of letters split into flags, anything else
is kept whole.

:func:`parse` also returns the positional arguments and, for programs that stop reading options
at a point (``sudo``, ``ssh`` after the command, ``python`` after ``-c CODE`` or a script), the
arguments that follow that point (``rest``): they belong to the command being run, not to the
program.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Spec:
    """The option syntax of one program (or of one of its subcommands)."""

    short: frozenset[str] = frozenset()
    """Short options that take a value, attached (``-p22``) or as the next argument."""
    optional: frozenset[str] = frozenset()
    """Short options whose value is only the rest of the bundle (``perl -i.bak``, ``sed -i``)."""
    numeric: frozenset[str] = frozenset()
    """Short options whose value is only the digits that follow (``perl -0777 -lne``)."""
    long: frozenset[str] = frozenset()
    """Long options (spelled with their dashes) that take the next argument as their value."""
    two: frozenset[str] = frozenset()
    """Long options that take the next two arguments (``jq --arg NAME VALUE``)."""
    single_dash: bool = False
    """``-name`` is one option, not a bundle (``openssl -connect``, ``find -name``)."""
    stop: int | None = None
    """Stop reading options once this many positionals were seen (None: GNU permutation)."""
    end: frozenset[str] = frozenset()
    """Options whose value ends option reading (``python -c CODE``, ``python -m MODULE``)."""
    sub: Mapping[str, Spec] | None = None
    """Specs of subcommands, chosen by the first positional (``git commit``, ``docker run``)."""
    old_style: bool = False
    """A first argument without a dash is a bundle of option letters (``tar xzf a.tgz``)."""


@dataclass(slots=True)
class Parsed:
    """An argv read with a :class:`Spec`."""

    options: dict[str, str | None] = field(default_factory=dict)
    values: dict[str, list[str]] = field(default_factory=dict)
    positionals: list[str] = field(default_factory=list)
    rest: list[str] = field(default_factory=list)

    def value(self, *names: str) -> str | None:
        """The last value given to any of ``names`` (``-o`` / ``--output``)."""
        found: str | None = None
        for name in names:
            vals = self.values.get(name)
            if vals:
                found = vals[-1]
        return found

    def all_values(self, *names: str) -> list[str]:
        out: list[str] = []
        for name in names:
            out.extend(self.values.get(name, ()))
        return out

    def has(self, *names: str) -> bool:
        return any(name in self.options for name in names)


def spec(
    short: str = "",
    long: str = "",
    *,
    optional: str = "",
    numeric: str = "",
    two: str = "",
    single_dash: bool = False,
    stop: int | None = None,
    end: str = "",
    sub: Mapping[str, Spec] | None = None,
    old_style: bool = False,
) -> Spec:
    """Build a :class:`Spec`: ``short`` is a string of letters, the others space-separated."""
    return Spec(
        short=frozenset(short),
        optional=frozenset(optional),
        numeric=frozenset(numeric),
        long=frozenset(long.split()),
        two=frozenset(two.split()),
        single_dash=single_dash,
        stop=stop,
        end=frozenset(end),
        sub=sub,
        old_style=old_style,
    )


def extend(base: Spec, short: str = "", long: str = "", stop: int | None = None) -> Spec:
    """``base`` with more value-taking options (a subcommand keeps the global ones)."""
    return Spec(
        short=base.short | frozenset(short),
        optional=base.optional,
        numeric=base.numeric,
        long=base.long | frozenset(long.split()),
        two=base.two,
        single_dash=base.single_dash,
        stop=stop,
    )


def words(text: str) -> frozenset[str]:
    """A set of space-separated words (the tables are easier to read as prose)."""
    return frozenset(text.split())


UNKNOWN = Spec()

# ---- the tables ---------------------------------------------------------------------------------

_SSH_LONGLESS = "BbcDEeFIiJLlmOoPpQRSWw"
SSH = spec(_SSH_LONGLESS, stop=1)
AUTOSSH = spec(_SSH_LONGLESS + "M", stop=1)
DBCLIENT = spec("pliLRJbcmKIWBoy", stop=1)
PLINK = spec(
    long="-P -l -pw -i -L -R -D -m -hostkey -proxycmd -sercfg -sshlog -sshrawlog -loghost -pwfile",
    single_dash=True,
    stop=1,
)
MOSH = spec("p", "--ssh --port --predict --server --client --family --bind-server", stop=1)
SCP = spec("cDFiJloPSX")
SFTP = spec("BbcDFiJloPRSsX")
RSYNC = spec(
    "eBfMT@",
    "--rsh --rsync-path --exclude --include --exclude-from --include-from --files-from --filter "
    "--password-file --port --address --sockopts --log-file --log-file-format --bwlimit "
    "--backup-dir --suffix --temp-dir --compare-dest --copy-dest --link-dest --chmod --chown "
    "--timeout --contimeout --partial-dir --max-size --min-size --block-size --out-format --info "
    "--debug --usermap --groupmap --iconv --remote-option --compress-level --checksum-choice "
    "--skip-compress --max-delete --modify-window --outbuf --write-batch --read-batch "
    "--only-write-batch --protocol --config --early-input --stop-after --stop-at",
)
CURL = spec(
    "AbcCdDeEFHKmoPQrTtuUwxXyYz",
    "--abstract-unix-socket --alt-svc --aws-sigv4 --cacert --capath --cert --cert-type "
    "--ciphers --config --connect-timeout --connect-to --continue-at --cookie --cookie-jar "
    "--create-file-mode --crlfile --curves --data --data-ascii --data-binary --data-raw "
    "--data-urlencode --delegation --dns-interface --dns-ipv4-addr --dns-ipv6-addr "
    "--dns-servers --doh-url --dump-header --egd-file --engine --etag-compare --etag-save "
    "--expect100-timeout --form --form-string --ftp-account --ftp-alternative-to-user "
    "--ftp-method --ftp-port --ftp-ssl-ccc-mode --happy-eyeballs-timeout-ms --haproxy-clientip "
    "--header --hostpubmd5 --hostpubsha256 --hsts --interface --ipfs-gateway --json "
    "--keepalive-time --key --key-type --krb --libcurl --limit-rate --local-port --login-options "
    "--mail-auth --mail-from --mail-rcpt --max-filesize --max-redirs --max-time --netrc-file "
    "--noproxy --oauth2-bearer --output --output-dir --parallel-max --pass --pinnedpubkey "
    "--preproxy --proto --proto-default --proto-redir --proxy --proxy-cacert --proxy-capath "
    "--proxy-cert --proxy-cert-type --proxy-ciphers --proxy-crlfile --proxy-header --proxy-key "
    "--proxy-key-type --proxy-pass --proxy-pinnedpubkey --proxy-service-name "
    "--proxy-tls13-ciphers --proxy-tlsauthtype --proxy-tlspassword --proxy-tlsuser --proxy-user "
    "--proxy1.0 --pubkey --quote --random-file --range --rate --referer --request "
    "--request-target --resolve --retry --retry-delay --retry-max-time --sasl-authzid "
    "--service-name --socks4 --socks4a --socks5 --socks5-gssapi-service --socks5-hostname "
    "--speed-limit --speed-time --stderr --telnet-option --tftp-blksize --time-cond "
    "--tls-max --tls13-ciphers --tlsauthtype --tlspassword --tlsuser --trace --trace-ascii "
    "--trace-config --unix-socket --upload-file --url --url-query --user --user-agent "
    "--variable --write-out",
)
WGET = spec(
    "aABDeiIlOoPQRtTUwX",
    "--output-document --output-file --append-output --directory-prefix --input-file --execute "
    "--tries --timeout --wait --waitretry --user-agent --header --post-data --post-file "
    "--body-data --body-file --method --user --password --http-user --http-password "
    "--ftp-user --ftp-password --proxy-user --proxy-password --load-cookies --save-cookies "
    "--ca-certificate --ca-directory --certificate --certificate-type --private-key "
    "--private-key-type --bind-address --limit-rate --level --accept --reject --domains "
    "--exclude-domains --include-directories --exclude-directories --base --referer --config "
    "--quota --dns-timeout --connect-timeout --read-timeout --restrict-file-names "
    "--cut-dirs --default-page --accept-regex --reject-regex --regex-type --local-encoding "
    "--remote-encoding --secure-protocol --ciphers --pinnedpubkey --random-file --egd-file "
    "--hsts-file --warc-file --warc-header --warc-max-size --warc-cdx --warc-dedup "
    "--warc-tempdir --report-speed --progress --post-file --use-askpass --bind-dns-address "
    "--dns-servers --retry-on-http-error --compression --max-redirect --output-file",
)
HTTPIE = spec(
    "aAopsv",
    "--auth --auth-type --output --print --style --session "
    "--session-read-only --verify --cert --cert-key --cert-key-pass --proxy "
    "--timeout --max-redirects --ssl --ciphers --default-scheme --format-options "
    "--response-charset --response-mime --boundary --raw --unsorted --chunked",
)
ARIA2C = spec(
    "dioslxjkUTMt",
    "--dir --out --input-file --split --log --max-connection-per-server "
    "--max-concurrent-downloads --min-split-size --user-agent --torrent-file "
    "--metalink-file --all-proxy --http-proxy --https-proxy --ftp-proxy --header "
    "--http-user --http-passwd --load-cookies --save-cookies --timeout --on-download-complete "
    "--on-download-start --on-download-error --on-bt-download-complete --conf-path",
)
AXEL = spec("nosHU", "--num-connections --output --max-speed --header --user-agent")
TAR = spec(
    "fCTXbKLNVgHI",
    "--file --directory --files-from --exclude-from --exclude --transform --xform "
    "--use-compress-program --to-command --checkpoint-action --owner --group --mode --format "
    "--newer --newer-mtime --after-date --label --blocking-factor --record-size --tape-length "
    "--starting-file --listed-incremental --info-script --new-volume-script --rsh-command "
    "--backup --suffix --strip-components --index-file --volno-file --mtime --sort",
    old_style=True,
)

_DOCKER_GLOBAL = spec("Hlc", "--host --log-level --context --config --tlscacert --tlscert --tlskey")
_DOCKER_RUN_LONG = (
    "--name --network --net --entrypoint --env --env-file --mount --add-host --dns "
    "--dns-search --dns-option --cap-add --cap-drop --device --label --label-file --log-driver "
    "--log-opt --platform --pull --restart --runtime --security-opt --user --workdir --volume "
    "--publish --expose --hostname --memory --memory-swap --cpus --cpuset-cpus --cpu-shares "
    "--gpus --ipc --pid --userns --uts --tmpfs --ulimit --volumes-from --link --shm-size "
    "--storage-opt --sysctl --group-add --cgroupns --cgroup-parent --cidfile --detach-keys "
    "--health-cmd --health-interval --health-retries --health-timeout --ip --ip6 --mac-address "
    "--stop-signal --stop-timeout --attach --domainname --isolation --network-alias --blkio-weight"
)
_DOCKER_RUN = extend(_DOCKER_GLOBAL, "aceEhlmpuvw", _DOCKER_RUN_LONG, stop=1)
_DOCKER_EXEC = extend(
    _DOCKER_GLOBAL, "euw", "--env --env-file --user --workdir --detach-keys", stop=1
)
_DOCKER_BUILD = extend(
    _DOCKER_GLOBAL,
    "ftom",
    "--file --tag --target --platform --network --secret --ssh --label --cache-from --cache-to "
    "--output --progress --iidfile --add-host --build-arg --build-context --memory --shm-size "
    "--cpu-shares --ulimit --builder --metadata-file",
)
_DOCKER_LOGIN = extend(_DOCKER_GLOBAL, "up", "--username --password")
_DOCKER_PULL = extend(_DOCKER_GLOBAL, "", "--platform")
_DOCKER_COMPOSE = extend(
    _DOCKER_GLOBAL, "fp", "--file --project-name --env-file --profile --project-directory"
)
DOCKER = Spec(
    short=_DOCKER_GLOBAL.short,
    long=_DOCKER_GLOBAL.long,
    sub={
        "run": _DOCKER_RUN,
        "create": _DOCKER_RUN,
        "exec": _DOCKER_EXEC,
        "build": _DOCKER_BUILD,
        "login": _DOCKER_LOGIN,
        "pull": _DOCKER_PULL,
        "push": _DOCKER_PULL,
        "compose": _DOCKER_COMPOSE,
        "container": Spec(
            short=_DOCKER_GLOBAL.short,
            long=_DOCKER_GLOBAL.long,
            sub={"run": _DOCKER_RUN, "create": _DOCKER_RUN, "exec": _DOCKER_EXEC},
        ),
        "image": Spec(
            short=_DOCKER_GLOBAL.short,
            long=_DOCKER_GLOBAL.long,
            sub={"pull": _DOCKER_PULL, "push": _DOCKER_PULL, "build": _DOCKER_BUILD},
        ),
        "buildx": Spec(
            short=_DOCKER_GLOBAL.short, long=_DOCKER_GLOBAL.long, sub={"build": _DOCKER_BUILD}
        ),
    },
)

_KUBECTL_GLOBAL = spec(
    "nslo",
    "--namespace --server --context --cluster --user --kubeconfig --selector --output "
    "--token --as --as-group --field-selector --template --certificate-authority "
    "--client-certificate --client-key --request-timeout --tls-server-name --cache-dir",
)
_KUBECTL_FILES = extend(_KUBECTL_GLOBAL, "fkp", "--filename --kustomize --patch --type")
_KUBECTL_EXEC = extend(_KUBECTL_GLOBAL, "c", "--container --pod-running-timeout")
_KUBECTL_RUN = extend(
    _KUBECTL_GLOBAL,
    "",
    "--image --port --env --labels --overrides --restart --command --image-pull-policy "
    "--serviceaccount --annotations --requests --limits",
)
_KUBECTL_PF = extend(_KUBECTL_GLOBAL, "", "--address --pod-running-timeout")
_KUBECTL_PROXY = extend(
    _KUBECTL_GLOBAL, "pPwu", "--address --port --accept-hosts --api-prefix --www --unix-socket"
)
KUBECTL = Spec(
    short=_KUBECTL_GLOBAL.short,
    long=_KUBECTL_GLOBAL.long,
    sub={
        **dict.fromkeys(
            ("apply", "create", "delete", "replace", "diff", "patch", "get", "describe", "edit"),
            _KUBECTL_FILES,
        ),
        **dict.fromkeys(("exec", "attach", "cp", "logs"), _KUBECTL_EXEC),
        "run": _KUBECTL_RUN,
        "port-forward": _KUBECTL_PF,
        "proxy": _KUBECTL_PROXY,
    },
)

SUDO = spec(
    "ugCDprtTU",
    "--user --group --close-from --chdir --prompt --role --type --command-timeout "
    "--other-user --host",
    stop=0,
)

_GIT_GLOBAL = spec(
    "Cc", "--git-dir --work-tree --namespace --config-env --super-prefix --list-cmds"
)
_GIT_SUB: dict[str, Spec] = {
    "commit": extend(
        _GIT_GLOBAL,
        "mFCct",
        "--message --file --reuse-message --reedit-message --template --author --date "
        "--fixup --squash --cleanup --trailer --pathspec-from-file",
    ),
    "clone": extend(
        _GIT_GLOBAL,
        "objuc",
        "--origin --branch --upload-pack --jobs --config --depth --reference --reference-if-able "
        "--template --separate-git-dir --filter --shallow-since --shallow-exclude --server-option "
        "--bundle-uri --ref-format",
    ),
    "checkout": extend(_GIT_GLOBAL, "bB", "--orphan --conflict --pathspec-from-file"),
    "switch": extend(_GIT_GLOBAL, "cC", "--create --force-create --orphan --conflict"),
    "log": extend(
        _GIT_GLOBAL,
        "n",
        "--max-count --author --committer --grep --since --until --after --before --skip "
        "--min-parents --max-parents",
    ),
    "push": extend(_GIT_GLOBAL, "o", "--push-option --repo --receive-pack --exec --signed"),
    "fetch": extend(
        _GIT_GLOBAL,
        "jo",
        "--jobs --depth --upload-pack --server-option --shallow-since "
        "--shallow-exclude --deepen --refmap --negotiation-tip --recurse-submodules-default",
    ),
    "pull": extend(
        _GIT_GLOBAL,
        "jsXo",
        "--jobs --depth --upload-pack --strategy --strategy-option "
        "--server-option --shallow-since --shallow-exclude --deepen",
    ),
    "remote": extend(_GIT_GLOBAL, "tm", "--track --master"),
    "tag": extend(_GIT_GLOBAL, "mFu", "--message --file --local-user --cleanup --sort"),
    "merge": extend(_GIT_GLOBAL, "mFsX", "--message --file --strategy --strategy-option"),
    "rebase": extend(_GIT_GLOBAL, "sXx", "--strategy --strategy-option --exec --onto"),
    "submodule": extend(_GIT_GLOBAL, "b", "--branch --name --reference --depth --jobs"),
    "config": extend(_GIT_GLOBAL, "f", "--file --blob --type --default --comment"),
    "stash": extend(_GIT_GLOBAL, "m", "--message --pathspec-from-file"),
    "grep": extend(_GIT_GLOBAL, "efABCm", "--max-count --max-depth --threads"),
    "worktree": extend(_GIT_GLOBAL, "bB", "--reason"),
    "blame": extend(_GIT_GLOBAL, "LS", "--contents --ignore-rev --ignore-revs-file"),
    "archive": extend(_GIT_GLOBAL, "o", "--format --prefix --output --remote --exec"),
    "ls-remote": extend(_GIT_GLOBAL, "o", "--upload-pack --sort --server-option"),
    "am": extend(_GIT_GLOBAL, "C", "--patch-format --resolvemsg"),
    "apply": extend(_GIT_GLOBAL, "pC", "--directory --exclude --include --whitespace"),
}
GIT = Spec(short=_GIT_GLOBAL.short, long=_GIT_GLOBAL.long, sub=_GIT_SUB)

PIP = spec(
    "rceiftdCb",
    "--requirement --constraint --editable --index-url --extra-index-url --find-links --target "
    "--prefix --root --src --trusted-host --proxy --cert --client-cert --cache-dir --log "
    "--timeout --retries --platform --python-version --implementation --abi --only-binary "
    "--no-binary --upgrade-strategy --progress-bar --global-option --install-option "
    "--config-settings --dest --exists-action --python --report --root-user-action "
    "--keyring-provider --use-feature --use-deprecated --build --log-file --path",
)
UV = spec(
    "rceifpPtwo",
    "--requirement --constraint --override --editable --index-url --extra-index-url --index "
    "--default-index --find-links --python --upgrade-package --target --with --with-requirements "
    "--directory --project --cache-dir --config-file --color --group --optional --extra --tag "
    "--branch --rev --package --output-file --prefix --index-strategy --keyring-provider "
    "--resolution --prerelease --exclude-newer --link-mode --python-platform --from --env-file",
)
POETRY = spec(
    "GEC",
    "--group --extras --source --directory --python --platform --only --without --with "
    "--priority --repository --username --password --build --dist-dir --output",
)
PIPX = spec("", "--index-url --pip-args --python --spec --suffix --editable --global")
NPM = spec(
    "wC",
    "--registry --prefix --cache --userconfig --globalconfig --workspace --tag --otp "
    "--loglevel --scope --access --before --omit --include --install-strategy --package "
    "--save-prefix --script-shell --auth-type --fetch-retries --fetch-timeout --proxy "
    "--https-proxy --cafile --node-options",
)
NPX = spec("pc", "--package --call --registry --cache --userconfig --prefix", stop=1)
YARN = spec(
    "",
    "--registry --cwd --modules-folder --network-timeout --mutex --cache-folder "
    "--global-folder --use-yarnrc --https-proxy --proxy --network-concurrency --cafile",
)
PNPM = spec("CwF", "--dir --filter --registry --store-dir --reporter --loglevel --workspace-dir")
BUN = spec("ep", "--eval --print --registry --cwd --config --preload --backend --cache-dir")
CONDA = spec("cnpf", "--channel --name --prefix --file --override-channels --repodata-fn")

PYTHON = spec("cmWXQ", "--check-hash-based-pycs", end="cm", stop=0)
PERL = spec("eEMmI", optional="idDxFCV", numeric="l0", stop=0)
RUBY = spec(
    "eErICX",
    "--encoding --external-encoding --internal-encoding --enable --disable "
    "--dump --backtrace-limit --crash-report",
    optional="iWKxTF",
    numeric="0",
    stop=0,
)
NODE = spec(
    "eprC",
    "--eval --print --require --import --loader --experimental-loader --input-type "
    "--conditions --title --env-file --redirect-warnings --icu-data-dir --openssl-config "
    "--tls-cipher-list --max-http-header-size --stack-trace-limit --watch-path --test-name-pattern",
    stop=0,
)
PHP = spec("rfdcBRFEtSzD", stop=0)
LUA = spec("elj", stop=0)
AWK = spec(
    "FvfeiEl",
    "--field-separator --assign --file --source --include --load --exec --dump-variables "
    "--profile --pretty-print --debug",
    stop=0,
)
SHELL = spec("oO", "--rcfile --init-file", stop=0)

NC = spec(
    "cdeGgIiMmOoPpqsTVwXx",
    "--exec --sh-exec --lua-exec --proxy --proxy-type --proxy-auth "
    "--source --source-port --wait --idle-timeout --max-conns --output --hex-output "
    "--allow --allowfile --deny --denyfile --ssl-cert --ssl-key --ssl-trustfile "
    "--ssl-ciphers --ssl-servername --ssl-alpn --append-output --delay --proxy-dns",
)
SOCAT = Spec()
TELNET = spec("beklnXS")
LFTP = spec("ucefp", "--rcfile --env-password")
OPENSSL = spec(
    long="-connect -host -port -in -out -key -cert -CAfile -CApath -pass -passin -passout -k "
    "-kfile -servername -proxy -proxy_user -proxy_pass -accept -inkey -keyform -certform "
    "-inform -outform -md -subj -days -newkey -config -extensions -extfile -set_serial "
    "-signkey -iv -K -S -iter -name -keyout -nameopt -verify_hostname -starttls -xmpphost "
    "-cipher -ciphers -sess_out -sess_in -CAkey -CA -CAserial -verify -sigopt -pkeyopt -rand "
    "-writerand -engine -provider -propquery -alpn -nextprotoneg -psk -psk_identity "
    "-keylogfile -msgfile -bind -naccept -cert_chain -dcert -dkey -url -reqout -respout "
    "-reqin -respin -issuer -signer -sigfile -prverify -verify_return_error -out_trusted "
    "-certfile -macopt -digest -kdfopt -salt -pbkdf2 -md5 -a -base64 -A",
    single_dash=True,
)
NMAP = spec(
    long="-p -e -S -D -g -iL -iR -oN -oX -oS -oG -oA -b --source-port --exclude --excludefile "
    "--script --script-args --script-args-file -sI --dns-servers --data-length --max-rate "
    "--min-rate --host-timeout --scan-delay --max-scan-delay --ttl --spoof-mac --proxies "
    "--top-ports --max-retries --min-parallelism --max-parallelism --datadir --resume "
    "--stylesheet --max-rtt-timeout --min-rtt-timeout --initial-rtt-timeout --port-ratio "
    "--version-intensity --mtu --data --data-string --ip-options --min-hostgroup "
    "--max-hostgroup --scanflags --servicedb --versiondb --release-memory -PS -PA -PU -PY",
    single_dash=True,
)
MASSCAN = spec(
    long="-p --ports --rate --max-rate -oX -oL -oJ -oG -oB -oD -c --conf --adapter "
    "--adapter-ip --adapter-port --adapter-mac --source-ip --source-port --exclude "
    "--excludefile -iL --includefile --router-mac --router-ip --range --shard --seed "
    "--ttl --wait --retries --banners-file --output-filename --output-format --http-user-agent",
    single_dash=True,
)
PING = spec("cFiIlmMpQsStTwW")
TRACEROUTE = spec("fgimNpqstwzMOP")
MTR = spec(
    "aBcfimPsQZuG",
    "--address --first-ttl --max-ttl --port --localport --psize "
    "--interval --gracetime --timeout --report-cycles --tos --mark --filename",
)
HPING = spec(
    "cidpstwhHomMaCKgLrTEW",
    "--count --interval --destport --baseport --ttl --data --file --spoof --sign --win --tos --id",
)
DIG = spec("bcfkpqtxyr")
HOST = spec("cmNRtW")
NSLOOKUP = spec(single_dash=True)

CRONTAB = spec("un")
CHMOD = spec("", "--reference")
CHOWN = spec("", "--reference --from")
CHATTR = spec("vp")
SETFACL = spec("mMxX", "--modify --modify-file --remove --remove-file --set --set-file")
GREP = spec(
    "efmABCdD",
    "--regexp --file --max-count --after-context --before-context --context --directories "
    "--devices --label --include --exclude --exclude-dir --exclude-from --binary-files "
    "--group-separator",
)
RG = spec(
    "efgtTABCmMjrEd",
    "--regexp --file --glob --iglob --type --type-not --type-add --type-clear --replace "
    "--max-count --max-columns --threads --encoding --engine --pre --pre-glob --ignore-file "
    "--max-depth --sort --sortr --colors --context-separator --field-match-separator "
    "--path-separator --dfa-size-limit --regex-size-limit --max-filesize --after-context "
    "--before-context --context",
)
AG = spec(
    "ABCGgmp",
    "--ignore --file-search-regex --max-count --path-to-ignore --depth --after --before --context",
)
SED = spec("efl", "--expression --file --line-length", optional="i")
HEAD = spec("nc", "--lines --bytes")
TAIL = spec("ncs", "--lines --bytes --sleep-interval --pid --max-unchanged-stats")
CUT = spec("bcdf", "--bytes --characters --delimiter --fields --output-delimiter")
SORT = spec(
    "kotST",
    "--key --field-separator --output --buffer-size --temporary-directory "
    "--files0-from --parallel --batch-size --compress-program --random-source",
)
CP = spec("tS", "--target-directory --suffix")
INSTALL = spec("mogtS", "--mode --owner --group --target-directory --suffix --strip-program")
MKDIR = spec("m", "--mode")
TOUCH = spec("dtr", "--date --reference --time")
TRUNCATE = spec("sr", "--size --reference")
BASE64 = spec("w", "--wrap")
XXD = spec("cglsonR", "--cols --groupsize --len --seek --name")
STRINGS = spec("nteT", "--bytes --radix --encoding --target")
OD = spec("AjNtw", "--address-radix --skip-bytes --read-bytes --format --width")
JQ = spec("fL", "--from-file --indent", two="--arg --argjson --slurpfile --rawfile")
LESS = spec("bhjkoOpPtTxyz#", "--log-file --LOG-FILE --pattern --prompt --tag --tag-file")
FIND = spec(
    long="-name -iname -path -ipath -regex -iregex -type -xtype -user -group -perm -size "
    "-mtime -mmin -atime -amin -ctime -cmin -newer -anewer -cnewer -maxdepth -mindepth "
    "-fprint -fprint0 -fls -printf -samefile -links -inum -uid -gid -wholename -iwholename "
    "-lname -ilname -fstype -context -used -regextype -files0-from",
    two="-fprintf",
    single_dash=True,
)
LS = spec("IwT", "--ignore --hide --width --tabsize --block-size --time-style --format --sort")
TREE = spec("LPIo", "--filelimit --timefmt --charset")
DU = spec("dBtX", "--max-depth --block-size --threshold --exclude-from --exclude --time-style")
UNZIP = spec("dxP")
ZIP = spec("PbntxiOs")
GZIP = spec("S", "--suffix")
SHRED = spec("ns", "--iterations --size --random-source")
SSH_KEYGEN = spec("abCDEfFGImMnNOPrRsSTVwYZz")
MINER = spec(
    "aocpuOtxrRlwPdiC",
    "--url --user --pass --algo --coin --threads --config --log-file --donate-level "
    "--cpu-priority --cpu-affinity --rig-id --proxy --retries --retry-pause --api-worker-id "
    "--http-host --http-port --http-access-token --max-cpu-usage --cpu-max-threads-hint "
    "--randomx-mode --pool --userpass --worker --currency --api-port --apiport --devices "
    "--intensity --tls-fingerprint --url-file --farm",
)
GCLOUD = spec(
    "",
    "--project --zone --region --machine-type --accelerator --image --image-family "
    "--image-project --format --filter --account --configuration --impersonate-service-account "
    "--verbosity --boot-disk-size --boot-disk-type --metadata --metadata-from-file --scopes "
    "--service-account --tags --network --subnet --flags-file --billing-project --limit "
    "--source --destination --member --role --key-file --location --cluster --num-nodes",
)
AWS = spec(
    "",
    "--profile --region --output --query --endpoint-url --cli-input-json --cli-input-yaml "
    "--ca-bundle --cli-read-timeout --cli-connect-timeout --color --bucket --key --body "
    "--instance-type --image-id --count --key-name --security-group-ids --subnet-id "
    "--user-data --instance-ids --function-name --zip-file --role-name --policy-arn "
    "--policy-document --user-name --group-name --secret-id --name --value --type --cluster "
    "--storage-class --acl --expires-in --include --exclude --sse --grants --content-type "
    "--source --payload --filters --max-items --page-size --starting-token --role-arn "
    "--role-session-name --duration-seconds --serial-number --token-code --secret-string",
)
AZ = spec(
    "gnlo",
    "--resource-group --name --location --output --image --size --admin-username "
    "--subscription --query --vnet-name --ssh-key-values --custom-data --public-ip-address "
    "--admin-password --vault-name --account-name --container-name --file --source --tags",
)
MYSQL = spec("hPuDSeEpo", "--host --port --user --database --socket --execute --password")
PSQL = spec(
    "hpUdcfoLTFRPv",
    "--host --port --username --dbname --command --file --output --log-file --set --variable",
)
REDIS = spec("hpsauniru", "--user --pass --tls --cacert --cert --key")
ENV = spec("uCS", "--unset --chdir --split-string", stop=0)
TIMEOUT = spec("sk", "--signal --kill-after", stop=1)
XARGS = spec(
    "aEIdLnPs",
    "--arg-file --delimiter --max-args --max-procs --max-chars --process-slot-var",
    optional="eil",
    stop=0,
)

# Program names that share one table.
TABLE: dict[str, Spec] = {
    "ssh": SSH,
    "autossh": AUTOSSH,
    "dbclient": DBCLIENT,
    "plink": PLINK,
    "mosh": MOSH,
    "scp": SCP,
    "sftp": SFTP,
    "rsync": RSYNC,
    "curl": CURL,
    "wget": WGET,
    "wget2": WGET,
    "http": HTTPIE,
    "https": HTTPIE,
    "httpie": HTTPIE,
    "xh": HTTPIE,
    "xhs": HTTPIE,
    "aria2c": ARIA2C,
    "axel": AXEL,
    "tar": TAR,
    "bsdtar": TAR,
    "gtar": TAR,
    "docker": DOCKER,
    "podman": DOCKER,
    "nerdctl": DOCKER,
    "kubectl": KUBECTL,
    "oc": KUBECTL,
    "sudo": SUDO,
    "doas": spec("uC", stop=0),
    "su": spec("cgGsw", "--command --shell --group --supp-group --whitelist-environment"),
    "runuser": spec("ugGcs", "--user --group --supp-group --command --shell"),
    "env": ENV,
    "nohup": spec(stop=0),
    "setsid": spec(stop=0),
    "timeout": TIMEOUT,
    "nice": spec("n", "--adjustment", stop=0),
    "ionice": spec("cnp", "--class --classdata --pid", stop=0),
    "stdbuf": spec("ioe", "--input --output --error", stop=0),
    "xargs": XARGS,
    "time": spec("fo", "--format --output", stop=0),
    "watch": spec("nd", "--interval", stop=0),
    "strace": spec("oepsuEIabXP", stop=0),
    "ltrace": spec("oepsuEnaA", stop=0),
    "chroot": spec("", "--userspec --groups", stop=1),
    "flock": spec("wEc", "--timeout --conflict-exit-code --command", stop=1),
    "script": spec("cTIOBE", "--command --log-timing --log-in --log-out --log-io --echo"),
    "proxychains": spec("f", stop=0),
    "proxychains4": spec("f", stop=0),
    "torsocks": spec("uapP", stop=0),
    "git": GIT,
    "pip": PIP,
    "uv": UV,
    "uvx": UV,
    "poetry": POETRY,
    "pipx": PIPX,
    "npm": NPM,
    "npx": NPX,
    "yarn": YARN,
    "pnpm": PNPM,
    "pnpx": NPX,
    "bun": BUN,
    "bunx": NPX,
    "conda": CONDA,
    "mamba": CONDA,
    "micromamba": CONDA,
    "python": PYTHON,
    "perl": PERL,
    "ruby": RUBY,
    "node": NODE,
    "deno": spec(
        "",
        "--allow-net --allow-read --allow-write --allow-env --config --import-map "
        "--lock --cert --location --seed --v8-flags --reload",
    ),
    "php": PHP,
    "lua": LUA,
    "awk": AWK,
    "tclsh": spec(stop=0),
    "sh": SHELL,
    "nc": NC,
    "socat": SOCAT,
    "telnet": TELNET,
    "lftp": LFTP,
    "openssl": OPENSSL,
    "nmap": NMAP,
    "masscan": MASSCAN,
    "ping": PING,
    "fping": spec("bBcCiIpOQrStH"),
    "hping3": HPING,
    "arping": spec("cfiIswT"),
    "traceroute": TRACEROUTE,
    "tcptraceroute": spec("iflmnpqtw"),
    "tracepath": spec("lmp"),
    "mtr": MTR,
    "dig": DIG,
    "kdig": DIG,
    "drill": spec("ck"),
    "host": HOST,
    "nslookup": NSLOOKUP,
    "crontab": CRONTAB,
    "chmod": CHMOD,
    "chown": CHOWN,
    "chgrp": CHOWN,
    "chattr": CHATTR,
    "setfacl": SETFACL,
    "grep": GREP,
    "rg": RG,
    "ag": AG,
    "ack": spec("ABCm", "--type --ignore-dir --ignore-file --match --output"),
    "sed": SED,
    "head": HEAD,
    "tail": TAIL,
    "cut": CUT,
    "sort": SORT,
    "cp": CP,
    "mv": CP,
    "ln": CP,
    "install": INSTALL,
    "mkdir": MKDIR,
    "touch": TOUCH,
    "truncate": TRUNCATE,
    "base64": BASE64,
    "base32": BASE64,
    "xxd": XXD,
    "strings": STRINGS,
    "od": OD,
    "jq": JQ,
    "less": LESS,
    "find": FIND,
    "ls": LS,
    "tree": TREE,
    "du": DU,
    "unzip": UNZIP,
    "zip": ZIP,
    "gzip": GZIP,
    "shred": SHRED,
    "ssh-keygen": SSH_KEYGEN,
    "gcloud": GCLOUD,
    "aws": AWS,
    "az": AZ,
    "mysql": MYSQL,
    "mariadb": MYSQL,
    "psql": PSQL,
    "redis-cli": REDIS,
    "mongosh": spec("upf", "--host --port --username --password --file --eval"),
    "mongo": spec("upf", "--host --port --username --password --file --eval"),
    "miner": MINER,
}

# Spellings of one program: the table and the analysers look names up through this map.
ALIASES: dict[str, str] = {
    "ncat": "nc",
    "netcat": "nc",
    "nc.traditional": "nc",
    "nc.openbsd": "nc",
    "pip3": "pip",
    "pip2": "pip",
    "python2": "python",
    "python3": "python",
    "pypy": "python",
    "pypy3": "python",
    "nodejs": "node",
    "luajit": "lua",
    "gawk": "awk",
    "mawk": "awk",
    "nawk": "awk",
    "bash": "sh",
    "dash": "sh",
    "zsh": "sh",
    "ksh": "sh",
    "mksh": "sh",
    "ash": "sh",
    "egrep": "grep",
    "fgrep": "grep",
    "zgrep": "grep",
    "gunzip": "gzip",
    "bzip2": "gzip",
    "bunzip2": "gzip",
    "xz": "gzip",
    "unxz": "gzip",
    "zstd": "gzip",
    "ping6": "ping",
    "traceroute6": "traceroute",
    "tclsh8.6": "tclsh",
    "irb": "ruby",
    "ssh-copy-id": "ssh",
}
MINERS = words(
    "xmrig xmrig-notls xmr-stak xmr-stak-rx xmr-stak-cpu t-rex trex lolminer nbminer gminer "
    "phoenixminer ethminer cpuminer cpuminer-opt cpuminer-multi minerd srbminer srbminer-multi "
    "teamredminer nanominer bminer claymore ccminer cgminer bfgminer wildrig wildrig-multi "
    "xmrig-cuda kawpowminer nheqminer z-enemy cryptodredge rigel onezerominer bzminer hellminer "
    "verus-solver ttminer excavator sgminer randomx-miner xmrig-proxy xmrigdaemon"
)
_VERSIONED = re.compile(r"^(python|pip|perl|ruby|php|lua|pypy|node|tclsh)[0-9][0-9.]*$")


def canonical(program: str) -> str:
    """The table name of ``program``: ``python3.11`` and ``pypy3`` are ``python``, ``ncat`` is
    ``nc``, every miner binary is ``miner``."""
    name = program.lower()
    if name in TABLE:
        return name
    alias = ALIASES.get(name)
    if alias is not None:
        return alias
    if name in MINERS:
        return "miner"
    m = _VERSIONED.match(name)
    if m:
        base = m.group(1)
        return "python" if base == "pypy" else base
    return name


def spec_for(program: str) -> Spec:
    return TABLE.get(canonical(program), UNKNOWN)


def parse(program: str, args: list[str]) -> Parsed:
    """Read ``args`` (argv without argv[0]) the way ``program`` would."""
    return parse_with(spec_for(program), args)


def _old_style(sp: Spec, args: list[str]) -> list[str]:
    """``tar xzf a.tgz -C d`` is ``tar -x -z -f a.tgz -C d``: value letters take args in order."""
    first = args[0]
    if first.startswith("-") or not first.isalpha():
        return args
    out: list[str] = []
    follow = 1
    for ch in first:
        out.append("-" + ch)
        if ch in sp.short and follow < len(args):
            out.append(args[follow])
            follow += 1
    return out + args[follow:]


def parse_with(sp: Spec, args: list[str]) -> Parsed:
    if sp.old_style and args:
        args = _old_style(sp, args)
    return _Reader(sp, args).read()


class _Reader:
    """One pass over an argv; ``done`` is set when option reading stops for good."""

    def __init__(self, sp: Spec, args: list[str]):
        self.sp = sp
        self.args = args
        self.i = 0
        self.out = Parsed()
        self.count = 0  # positionals seen since the current spec became active
        self.done = False

    def add(self, name: str, value: str | None) -> None:
        options = self.out.options
        if value is None:
            options.setdefault(name, None)
            return
        self.out.values.setdefault(name, []).append(value)
        joined = options.get(name)
        options[name] = value if joined is None else joined + "\n" + value

    def take(self, count: int = 1) -> str | None:
        """The next ``count`` arguments as one value, or None when they run out."""
        if self.i + count > len(self.args):
            return None
        value = " ".join(self.args[self.i : self.i + count])
        self.i += count
        return value

    def finish(self) -> None:
        self.out.rest = self.args[self.i :]
        self.done = True

    def read(self) -> Parsed:
        ended = False
        while self.i < len(self.args) and not self.done:
            arg = self.args[self.i]
            self.i += 1
            if ended or arg == "-" or not arg.startswith("-"):
                self.positional(arg, ended)
            elif arg == "--":
                ended = True
            elif arg.startswith("--"):
                self.long(arg)
            elif self.sp.single_dash:
                self.word(arg)
            else:
                self.bundle(arg)
        return self.out

    def long(self, arg: str) -> None:
        name, eq, value = arg.partition("=")
        if eq:
            self.add(name, value)
        elif name in self.sp.long:
            self.add(name, self.take())
        elif name in self.sp.two:
            self.add(name, self.take(2))
        else:
            self.add(name, None)

    def word(self, arg: str) -> None:
        if arg in self.sp.long:
            self.add(arg, self.take())
        elif arg in self.sp.two:
            self.add(arg, self.take(2))
        else:
            self.add(arg, None)

    def bundle(self, arg: str) -> None:
        sp = self.sp
        body = arg[1:]
        if sp is UNKNOWN and not body.isalpha():
            self.add(arg, None)  # an unknown program's -R8080:h:22 stays whole
            return
        if len(body) > 1 and body.isdigit() and body[0] not in sp.short | sp.numeric:
            self.add(arg, None)  # head -20, kill -9: a number, not a bundle of digit flags
            return
        j = 0
        while j < len(body):
            ch = body[j]
            name = "-" + ch
            j += 1
            if ch in sp.short:
                self.add(name, body[j:] if j < len(body) else self.take())
                if ch in sp.end:
                    self.finish()
                return
            if ch in sp.optional:
                self.add(name, body[j:] or None)
                return
            if ch in sp.numeric:
                k = j
                while k < len(body) and body[k].isdigit():
                    k += 1
                self.add(name, body[j:k] or None)
                j = k
                continue
            self.add(name, None)

    def positional(self, arg: str, ended: bool) -> None:
        sp = self.sp
        if sp.sub is not None and self.count == 0 and not ended:
            chosen = sp.sub.get(arg.lower())
            if chosen is not None:
                self.out.positionals.append(arg)
                self.sp = chosen
                return
        if sp.stop is not None and self.count >= sp.stop:
            self.i -= 1
            self.finish()
            return
        self.out.positionals.append(arg)
        self.count += 1
