"""Small helpers shared by every layer (no Corral logic lives here)."""
