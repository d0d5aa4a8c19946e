"""Fixtures for the audit tests; the helpers behind them live in audit_support (imported by
the tests under that unique name, so several test folders can be run together)."""

from audit_support import docker_socket, listener, metadata_server, planted, ssh_agent

__all__ = ["docker_socket", "listener", "metadata_server", "planted", "ssh_agent"]
