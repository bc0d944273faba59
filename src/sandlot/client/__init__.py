"""The Python client for Sandlot's REST API, used by the CLI, the tests and users."""

from sandlot.client.folders import zip_folder
from sandlot.client.http import (
    DEFAULT_URL,
    FUNCTION_FAILURES,
    JSON,
    ApiError,
    ClientError,
    ClientSettings,
    FunctionConfig,
    InvokeResult,
    SandlotClient,
    ServerUnreachable,
)

__all__ = [
    "DEFAULT_URL",
    "FUNCTION_FAILURES",
    "JSON",
    "ApiError",
    "ClientError",
    "ClientSettings",
    "FunctionConfig",
    "InvokeResult",
    "SandlotClient",
    "ServerUnreachable",
    "zip_folder",
]
