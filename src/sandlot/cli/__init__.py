"""Sandlot's command line: a thin Typer/Rich layer over `sandlot.client`."""
