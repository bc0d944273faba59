"""Every error Sandlot reports, under one root.

The API maps these to HTTP in one place (`sandlot.api.errors`); everything below the
API raises them and never thinks about status codes.
"""

from __future__ import annotations

from typing import Any


class SandlotError(Exception):
    """Root of every error that Sandlot reports to a caller."""

    def __init__(self, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extra = extra

    @property
    def name(self) -> str:
        return type(self).__name__

    def detail(self) -> dict[str, Any]:
        return {"message": self.message, **self.extra}


class InvalidInput(SandlotError):
    """The caller sent something malformed or out of range."""


class InvalidFunctionName(InvalidInput):
    pass


class InvalidLimit(InvalidInput):
    pass


class InvalidEvent(InvalidInput):
    pass


class EventTooLarge(InvalidInput):
    pass


class InvalidIdempotencyKey(InvalidInput):
    """An `Idempotency-Key` that is empty, longer than 256 bytes, or not printable ASCII."""


class InvalidArchive(InvalidInput):
    """A zip that is corrupt, escapes its folder, or is too big once unpacked."""


class HandlerNotFound(InvalidInput):
    pass


class HandlerSyntaxError(InvalidInput):
    pass


class PayloadTooLarge(InvalidInput):
    """An upload larger than the server accepts."""


class InvalidRequirements(InvalidInput):
    pass


class PythonVersionUnsupported(InvalidInput):
    """The function declares a `requires-python` that the server's Python does not meet."""


class NotFound(SandlotError):
    pass


class FunctionNotFound(NotFound):
    pass


class VersionNotFound(NotFound):
    pass


class InvocationNotFound(NotFound):
    pass


class ApiKeyNotFound(NotFound):
    pass


class EnvironmentNotFound(NotFound):
    pass


class Conflict(SandlotError):
    pass


class FunctionAlreadyExists(Conflict):
    pass


class VersionNotReady(Conflict):
    pass


class IdempotencyKeyRace(Conflict):
    """Two calls with one `Idempotency-Key` were accepted at once; the second's insert lost.
    Never reaches a caller: the API answers with the first call (api.async_accept)."""


class InvalidTransition(Conflict):
    pass


class LastAdminKey(Conflict):
    """Revoking this key would leave its namespace without an active admin key."""


class Unauthenticated(SandlotError):
    pass


class PermissionDenied(SandlotError):
    pass


class TooManyRequests(SandlotError):
    """The function is at its concurrency limit and the bounded queue wait ran out."""

    def __init__(self, message: str, *, retry_after_s: int, **extra: Any) -> None:
        super().__init__(message, retry_after_s=retry_after_s, **extra)
        self.retry_after_s = retry_after_s


class TooManyAuthFailures(TooManyRequests):
    """This client address presented too many wrong keys lately; it may try again later."""


class RequestTimedOut(SandlotError):
    """The client did not send its request's headers, or the next part of its body, in time."""


class ServiceUnavailable(SandlotError):
    """The platform cannot run functions right now (shutting down, sandbox missing)."""


class NoWorkerAvailable(ServiceUnavailable):
    """An API server found no live worker that admitted the call (none registered, all
    draining, full or silent); nothing ran. Carries `retry_after_s`."""

    def __init__(self, message: str, *, retry_after_s: int = 1, **extra: Any) -> None:
        super().__init__(message, retry_after_s=retry_after_s, **extra)
        self.retry_after_s = retry_after_s


class TooManyConnections(ServiceUnavailable):
    """The server holds as many connections as it is allowed to; try again shortly."""

    def __init__(self, message: str, *, retry_after_s: int, **extra: Any) -> None:
        super().__init__(message, retry_after_s=retry_after_s, **extra)
        self.retry_after_s = retry_after_s


class DataDirInUse(ServiceUnavailable):
    """Another server holds the data dir: a second one on it would break the first."""


class InsufficientStorage(SandlotError):
    """The disk that holds the data dir (or the database) is full: nothing more can be kept."""


# Accounts, namespaces, quotas and secrets (issue 10). Declared together so that the parts
# built side by side share one vocabulary.


class WeakPassword(InvalidInput):
    """A password that does not meet the stated rules."""


class InvalidRole(InvalidInput):
    """A role that does not exist."""


class InvalidSecretName(InvalidInput):
    """A secret name that is not an environment-variable name."""


class SecretTooLarge(InvalidInput):
    """A secret value over the size limit."""


class UserNotFound(NotFound):
    pass


class NamespaceNotFound(NotFound):
    pass


class MemberNotFound(NotFound):
    pass


class SecretNotFound(NotFound):
    pass


class UserAlreadyExists(Conflict):
    pass


class NamespaceAlreadyExists(Conflict):
    pass


class LastNamespaceOwner(Conflict):
    """Removing or demoting this member would leave the namespace without an owner."""


class RoleTooHigh(PermissionDenied):
    """Granting a role above the granter's own."""


class CsrfTokenInvalid(PermissionDenied):
    """A state-changing request made with a session cookie lacks a matching CSRF token."""


class TooManyLoginAttempts(TooManyRequests):
    """Too many failed sign-ins for this account or from this address lately."""


class QuotaExceeded(SandlotError):
    """A namespace went over one of its quotas; `extra` names the quota, its limit and the
    current use. A rate quota carries `retry_after_s` (429); the others are 403."""

    def __init__(self, message: str, *, retry_after_s: int | None = None, **extra: Any) -> None:
        if retry_after_s is not None:
            extra["retry_after_s"] = retry_after_s
        super().__init__(message, **extra)
        self.retry_after_s = retry_after_s


class MemberAlreadyExists(Conflict):
    """The person is already a member of the namespace: change their role instead."""


class DefaultNamespaceProtected(Conflict):
    """The `default` namespace holds the bootstrap admin key and receives offline recovery
    keys: deleting it would lock the platform admin out."""


class SecretMissing(InvalidInput):
    """A deploy names secrets that its namespace does not hold (a 400 of the deploy, not a
    404: the function is there, its configuration is what is wrong)."""


class SecretInUse(Conflict):
    """Deleting a secret that live functions name; `extra` names them."""


class SecretUndecryptable(ServiceUnavailable):
    """A stored secret that no key of this server's keyring opens (a key missing from
    SANDLOT_SECRET_KEY / SANDLOT_SECRET_PREVIOUS_KEYS, or a row that was tampered with)."""


class FunctionFailure(SandlotError):
    """The function, not the platform, failed. Subclasses name how."""


class FunctionError(FunctionFailure):
    """The handler raised an exception."""


class FunctionTimedOut(FunctionFailure):
    pass


class FunctionOutOfMemory(FunctionFailure):
    pass


class FunctionCrashed(FunctionFailure):
    """The function's process died on its own: a signal, os._exit, a segfault."""


class FunctionResourceLimit(FunctionFailure):
    """A sandbox limit other than memory or time: processes, file size, /tmp full."""


class FunctionResultInvalid(FunctionFailure):
    """The handler returned something that is not JSON or is too large."""


class InvalidTestEventName(InvalidInput):
    pass


class TestEventNotFound(NotFound):
    pass


class TestEventLimitReached(Conflict):
    """A function already holds the most saved test events it may; `extra` says how many."""


class InvalidSchedule(InvalidInput):
    """A cron expression that does not parse or never fires; `extra["reason"]` says why."""


class InvalidTimezone(InvalidInput):
    """A time zone name that is not in the IANA database."""


class ScheduleNotFound(NotFound):
    pass


# Destinations of asynchronous calls (webhooks, other functions).


class InvalidDestination(InvalidInput):
    """A destination that cannot be used: a URL that is not http(s), a function that does
    not exist in the namespace, the function itself on success; the message says which."""


class WebhookSecretTooShort(InvalidInput):
    """A function's webhook secret under 32 bytes: too easy to guess for an HMAC key."""


class DeliveryNotFound(NotFound):
    pass


class DeliveryNotRedeliverable(Conflict):
    """A delivery still pending (it is being sent), or one to a function, not a webhook."""


class InvalidAsyncConfig(InvalidInput):
    """A function's async-config out of range (max_attempts, max_event_age_s)."""


class InvocationNotCancellable(Conflict):
    """The invocation has already ended, or is a sync call (only its caller can stop it)."""


class InvalidFunctionUrl(InvalidInput):
    """A function URL's configuration that is not valid: its auth type or CORS settings."""


class FunctionUrlNotFound(NotFound):
    """No function URL at that address: no namespace, no function or no URL configured, all
    answered alike so that a caller cannot tell which."""


class FunctionUrlResponseInvalid(FunctionFailure):
    """The handler's `{statusCode, ...}` answer to a URL call is not a valid HTTP response."""


class InvocationNotDead(Conflict):
    """A redrive or discard of an invocation that is not a dead letter (it is queued, running,
    or ended some other way)."""


class InvalidAliasName(InvalidInput):
    """An alias name that is not valid, or that clashes with the built-in `latest`."""


class InvalidAliasRoutes(InvalidInput):
    """Weights that do not sum to 100, a version named twice, too many versions."""


class InvalidRoutingKey(InvalidInput):
    """An `X-Sandlot-Routing-Key` that is empty or longer than 256 bytes."""


class AliasNotFound(NotFound):
    pass


class AliasVersionNotReady(Conflict):
    """An alias (or a release) names a version that is not ready."""


class AliasChangedMeanwhile(Conflict):
    """Two requests made the same new alias at the same moment; the later one may retry."""


class AliasInUse(Conflict):
    """An alias that a schedule, a function URL or a running release still uses."""


class NothingToRollBack(Conflict):
    """A rollback with no earlier target in the alias's history."""


class InvalidReleasePlan(InvalidInput):
    """Steps not increasing or not ending at 100, an interval under the minimum, ..."""


class ReleaseNotFound(NotFound):
    pass


class ReleaseInProgress(Conflict):
    """A release already runs (or is paused) on this alias."""


class ReleaseNotActive(Conflict):
    """Pause, resume, promote or abort of a release that has ended (or a resume of one that
    runs)."""


class VersionConflict(Conflict):
    """A deploy that expected to supersede a version that is no longer the newest."""


class InvalidEgressPolicy(InvalidInput):
    """A network policy (or namespace bound) that is not in the documented text form."""


class EgressNotAllowed(PermissionDenied):
    """A policy asks for a destination beyond what its namespace's bound allows."""


class EgressUnavailable(Conflict):
    """This host cannot enforce network policies, so it refuses any but `none`."""


class ClusterSetupInvalid(InvalidInput):
    """A process of a cluster (`serve --role api`, `worker`) refuses to start on settings a
    cluster cannot run on: SQLite, or no cluster secret."""
