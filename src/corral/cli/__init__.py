"""The command line: thin commands over the engine; no judging logic lives here."""
