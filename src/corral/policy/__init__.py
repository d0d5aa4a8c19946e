"""Policies: what one deployment allows (egress, workspace, programs, spend, rule overrides)."""
