"""Signing in and out with a browser session, and who the caller is."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request, Response

from sandlot.api.credentials import is_https
from sandlot.api.deps import CallerDep, RuntimeDep, SessionDep
from sandlot.api.identity_schemas import LoginIn, LoginOut, MembershipOut, MeOut, UserOut
from sandlot.api.schemas import ErrorOut
from sandlot.domain.errors import InvalidInput, Unauthenticated
from sandlot.services import signin
from sandlot.services.session_tokens import SESSION_COOKIE

router = APIRouter(prefix="/auth", tags=["auth"])
ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorOut} for status in (400, 401, 403, 422, 429)
}


@router.post(
    "/login",
    response_model=LoginOut,
    responses=ERRORS,
    summary="Sign in: a session cookie and its CSRF token",
)
async def login(
    body: LoginIn, request: Request, response: Response, runtime: RuntimeDep, session: SessionDep
) -> LoginOut:
    address = request.client.host if request.client else None
    try:
        signed = await signin.login(
            session=session,
            limiter=runtime.login_limiter,
            login=body.login,
            password=body.password,
            address=address,
        )
    except Unauthenticated:
        await session.commit()  # the login.failed audit event stays
        raise
    await session.commit()
    settings = runtime.settings
    max_age = timedelta(hours=settings.session_max_hours)
    response.set_cookie(
        SESSION_COOKIE,
        signed.token,
        max_age=int(max_age.total_seconds()),
        path="/",
        secure=is_https(request),
        httponly=True,
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return LoginOut(
        user=UserOut.of(signed.user),
        csrf_token=signed.csrf_token,
        expires_at=datetime.now(UTC) + max_age,
        idle_minutes=settings.session_idle_minutes,
    )


@router.post("/logout", status_code=204, responses=ERRORS, summary="Sign out: end the session")
async def logout(
    request: Request, runtime: RuntimeDep, session: SessionDep, caller: CallerDep
) -> Response:
    if caller.session is None or caller.session_token is None:
        raise InvalidInput(
            "logout ends a browser session; a key is revoked with DELETE /api/v1/keys/{id}"
        )
    await signin.logout(
        session=session,
        token=caller.session_token,
        login=caller.session.stored.login,
        address=caller.address,
    )
    await session.commit()
    runtime.authenticator.forget_session(caller.session_token)
    answer = Response(status_code=204)
    answer.delete_cookie(
        SESSION_COOKIE, path="/", secure=is_https(request), httponly=True, samesite="strict"
    )
    return answer


@router.get("/me", response_model=MeOut, responses=ERRORS, summary="Who am I")
async def me(caller: CallerDep) -> MeOut:
    if caller.session is not None:
        stored = caller.session.stored
        return MeOut(
            kind="session",
            user_id=stored.user_id,
            login=stored.login,
            display_name=stored.display_name,
            platform_admin=stored.platform_admin,
            memberships=[MembershipOut.of(m) for m in caller.session.memberships],
            csrf_token=caller.csrf_token,
        )
    assert caller.key is not None
    key = caller.key
    return MeOut(
        kind="key",
        user_id=key.user_id,
        platform_admin=key.platform_admin,
        memberships=[MembershipOut(namespace=key.namespace, role=key.role.value)],
        key_id=key.key_id,
    )
