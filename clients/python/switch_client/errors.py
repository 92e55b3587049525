"""The errors the client raises: one base class carrying the HTTP status and the switch's stable error code."""
from __future__ import annotations

import json


class SwitchError(Exception):
    """A request failed. ``status`` is the HTTP status (None for a failure of the client's own) and ``code`` the
    error's stable code: the switch's (``queue_not_found``, ``session_not_found``, ...) or the client's
    (``unavailable``, ``timeout``, ``remote_error``)."""

    def __init__(self, message: str, *, code: str, status: int | None = None, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.status = status
        self.field = field

    @classmethod
    def from_response(cls, status: int, body: bytes) -> SwitchError:
        """The error the switch answered, from its JSON body ``{"error": {"code", "message", "field"}}``."""
        try:
            error = json.loads(body)["error"]
            return cls(f"{status} {error['code']}: {error['message']}", code=error["code"], status=status,
                       field=error.get("field"))
        except (ValueError, KeyError, TypeError):
            return cls(f"{status}: {body[:200].decode('utf-8', 'replace')}", code="internal", status=status)


class SwitchUnavailable(SwitchError):
    """The switch could not be reached (refused, reset, shutting down) for the whole retry window."""

    def __init__(self, url: str, retry_for: float, cause: BaseException) -> None:
        super().__init__(f"the switch at {url} is unavailable (kept trying for {retry_for:g} s): {cause}",
                         code="unavailable")


class RpcTimeout(SwitchError):
    """No reply came within the rpc's timeout."""

    def __init__(self, queue: str, timeout: float) -> None:
        super().__init__(f"no reply from queue {queue!r} within {timeout:g} s", code="timeout")
        self.queue = queue
        self.timeout = timeout


class RemoteError(SwitchError):
    """The service answered with an error reply; ``payload`` is what it said."""

    def __init__(self, queue: str, payload: bytes) -> None:
        text = payload.decode("utf-8", "replace")
        super().__init__(f"queue {queue!r} replied with an error: {text}", code="remote_error")
        self.queue = queue
        self.payload = payload
