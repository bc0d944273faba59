"""Thin routes: parse, call one service, return a schema."""
