"""Linux isolation for function processes. Knows nothing of functions, HTTP or SQL."""
