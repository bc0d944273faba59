"""Sandlot's benchmarks: every target of the "Fast starts" issue, as a ratio against a baseline
measured in the same run. Run with `python -m bench` (`make bench`); `--smoke` checks that the
harness works in a few seconds and asserts no target.
"""
