"""The HTTP door: the only package that imports FastAPI."""
