"""Sandlot: a self-hosted serverless platform for Python functions."""

__version__ = "0.1.0"
