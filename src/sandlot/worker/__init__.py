"""The runtime pool: keeps and runs function instances. Knows nothing of HTTP or SQL."""
