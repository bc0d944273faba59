"""Code that runs inside a function's process. Standard library only, nothing else here.

This folder is visible to every function instance (it holds the bootstrap it is started
with), so it must never contain anything but stdlib-only modules.
"""
