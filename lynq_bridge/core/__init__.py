"""The pure core: rows -> rendered objects -> desired file tree -> change set (no I/O)."""
