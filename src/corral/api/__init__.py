"""The HTTP decision API (``corral serve``): the engine behind versioned JSON endpoints."""
