"""Lambda API: CreateFunction, GetFunction, ListFunctions, UpdateFunctionCode,
UpdateFunctionConfiguration, DeleteFunction."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
