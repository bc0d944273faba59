"""Baselines measured in the same run as Sandlot: a fresh Python per call, runc per call."""
