"""Lambda API: CreateAlias, GetAlias, ListAliases, UpdateAlias, DeleteAlias."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
