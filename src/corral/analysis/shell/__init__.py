"""Shell analysis: read a command line the way bash would and list what it would do."""

from corral.analysis.shell.analyzer import ShellLimits, analyze_argv, analyze_command_line

__all__ = ["ShellLimits", "analyze_argv", "analyze_command_line"]
