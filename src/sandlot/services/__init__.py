"""Use cases. Each takes a session and its collaborators; flushes, never commits."""
