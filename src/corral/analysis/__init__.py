"""Analysis: turn an action into facts (commands, targets, files, code, payloads)."""
