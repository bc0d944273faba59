"""Lambda API: PublishVersion, ListVersionsByFunction."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
