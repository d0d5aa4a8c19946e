"""The audit's checks, one module per group; the registry in :mod:`corral.audit.registry`."""
