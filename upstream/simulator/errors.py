"""The error every layer of the simulator raises; the server turns it into an error body."""

from __future__ import annotations


class ApiError(Exception):
    """An API failure: HTTP status, error_code and error_msg."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message

    def body(self) -> dict[str, str]:
        return {"error_code": self.code, "error_msg": self.message}


def bad_request(message: str) -> ApiError:
    """400 CBC.0100, the parameter error."""
    return ApiError(400, "CBC.0100", message)
