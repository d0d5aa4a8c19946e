"""The decision API's error answers: a stable machine code, a message, and where it applies.

Codes follow the style of Open Policy Agent's REST API so clients can switch on them:

=====================  ======  ======================================================
code                   status  meaning
=====================  ======  ======================================================
``invalid_parameter``  400     the body is not JSON, not the expected shape, or not a
                               valid action (the answer also carries the ``deny``
                               decision the action would get)
``unauthorized``       401     a bearer token is required and was missing or wrong
``resource_not_found`` 404     no such endpoint, session or approval
``method_not_allowed`` 405     the endpoint exists but not with this method
``resource_conflict``  409     the change does not apply to the resource as it is now
                               (releasing a session that is not quarantined, deciding
                               an approval that is no longer pending)
``request_too_large``  413     the body is over the server's size limit
``rate_limited``       429     this client sent more requests than its rate allows
``unavailable``        503     the session store or the ledger cannot be read or
                               written (decisions still fail closed: ``deny``)
=====================  ======  ======================================================
"""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

STATUS: dict[str, int] = {
    "invalid_parameter": 400,
    "unauthorized": 401,
    "resource_not_found": 404,
    "method_not_allowed": 405,
    "resource_conflict": 409,
    "request_too_large": 413,
    "rate_limited": 429,
    "unavailable": 503,
}


class ApiError(Exception):
    """An answer with a 4xx status; raised inside a handler and turned into JSON."""

    def __init__(self, code: str, message: str, **extra: Any) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.extra = extra

    def response(self) -> JSONResponse:
        body: dict[str, Any] = {"code": self.code, "message": self.message, **self.extra}
        headers = {"WWW-Authenticate": "Bearer"} if self.code == "unauthorized" else None
        return JSONResponse(body, status_code=STATUS[self.code], headers=headers)
