"""The Python client for Sandlot's REST API, used by the CLI, the tests and users."""

from sandlot.client.discovery import DEFAULT_URL, Located, locate
from sandlot.client.errors import FUNCTION_FAILURES, ApiError, ClientError, ServerUnreachable
from sandlot.client.folders import zip_folder
from sandlot.client.http import JSON, FunctionConfig, InvokeResult, SandlotClient

__all__ = [
    "DEFAULT_URL",
    "FUNCTION_FAILURES",
    "JSON",
    "ApiError",
    "ClientError",
    "FunctionConfig",
    "InvokeResult",
    "Located",
    "SandlotClient",
    "ServerUnreachable",
    "locate",
    "zip_folder",
]
