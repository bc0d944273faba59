"""Lambda API: Invoke (RequestResponse, Event, DryRun)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
