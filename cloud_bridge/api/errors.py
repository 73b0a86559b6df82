"""Errors of the agents' API: always ``{"error": code, "detail": text}`` (:class:`ErrorBody`)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

from cloud_bridge.acd.model import EngineError

log = logging.getLogger("lisa.bridge.api")


class ApiError(Exception):
    """Answered as ``{"error": code, "detail": detail}`` with ``status``."""

    def __init__(
        self, status: int, code: str, detail: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers


class ErrorBody(BaseModel):
    error: str = Field(description="Stable machine-readable code, e.g. `not_your_call`.")
    detail: str = Field(description="Human-readable explanation (English).")


HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid",
    429: "rate_limited",
    500: "internal",
    504: "timeout",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {code: {"model": ErrorBody} for code in codes}


def engine_error(exc: EngineError) -> ApiError:
    status = 404 if exc.code.startswith("unknown_") else 409
    return ApiError(status, exc.code, str(exc))


def unauthenticated(detail: str = "login required") -> ApiError:
    return ApiError(401, "unauthenticated", detail, {"WWW-Authenticate": "Bearer"})


def _allowed(routes: list[BaseRoute], request: Request) -> str:
    """The methods of every route of the request's path (the ``Allow`` of a 405)."""
    methods: set[str] = set()
    for route in routes:
        route_methods = getattr(route, "methods", None)
        if route_methods and route.matches(request.scope)[0] is not Match.NONE:
            methods.update(route_methods)
    return ", ".join(sorted(methods))


def install_error_handlers(app: FastAPI) -> None:
    """Every error answer of ``app`` in the one shape (also FastAPI's own 404/405/422/500)."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return JSONResponse(
            {"error": exc.code, "detail": exc.detail}, status_code=exc.status, headers=exc.headers
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = HTTP_CODES.get(exc.status_code, "error")
        headers = exc.headers
        if exc.status_code == 405:  # Starlette names the methods of one route of the path only
            headers = {**(headers or {}), "Allow": _allowed(app.router.routes, request)}
        return JSONResponse(
            {"error": code, "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=headers,
        )

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("request failed", exc_info=exc, extra={"path": request.url.path})
        return JSONResponse(
            {"error": "internal", "detail": "internal error (see the bridge log)"},
            status_code=500,
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for err in exc.errors():
            loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
            where = ".".join(loc) or "body"
            msg = "unknown field" if err.get("type") == "extra_forbidden" else err.get("msg")
            problems.append(f"{where}: {msg or 'invalid'}")
        return JSONResponse({"error": "invalid", "detail": "; ".join(problems)}, status_code=422)
