"""Lambda API: PutFunctionConcurrency, GetFunctionConcurrency, DeleteFunctionConcurrency."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter()
