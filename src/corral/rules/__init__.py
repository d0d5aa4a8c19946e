"""Rules: behaviour detections as data (YAML), compiled into fast predicates over the facts."""
