"""The service's one error type: an HTTP status, a stable code for clients, and a message for people."""

from __future__ import annotations


class RequestError(Exception):
    """A request the service refuses: answered as JSON {"error": {"code", "message"}} with `status`."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.headers = status, code, message, headers or {}

    def body(self) -> dict:
        return {"error": {"code": self.code, "message": self.message}}
