"""The Python SDK: guard tool functions and subprocesses in-process."""
