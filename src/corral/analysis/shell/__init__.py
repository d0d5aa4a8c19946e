"""Shell analysis: read a command line the way bash would and list what it would do.

Modules, from the entry point inwards:

- ``analyzer``: :func:`analyze_command_line`, :func:`analyze_argv` and :class:`ShellLimits`;
  limits and the fail-closed guard.
- ``parse``/``repair``: tree-sitter-bash, syntax errors, and rewrites of valid bash it misreads.
- ``walk``: statements, pipelines, lists, compound commands, substitutions; ``redirects``:
  redirections, here-documents and here-strings.
- ``expand``/``words``/``params``: quote removal, ``$'...'``, variables, ``${...}`` operators,
  brace expansion and field splitting.
- ``execute``: one simple command: record it, then follow shells, wrappers (``wrappers``),
  interpreters, builtins and decoders (``decode``, ``printf``).
- ``context``: the state of one analysis (budgets, variables, known text).
"""

from corral.analysis.shell.analyzer import ShellLimits, analyze_argv, analyze_command_line

__all__ = ["ShellLimits", "analyze_argv", "analyze_command_line"]
