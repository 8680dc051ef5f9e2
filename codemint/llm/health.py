"""Fail fast before a run: is the LLM server up, and does it serve the configured model?

vLLM answers `GET /v1/models` with the models it serves and `GET /health` (at the server
root, outside /v1) with 200 once the engine is ready. Errors are one line, naming the URL
and what to do, so a CLI can print them as they are.
"""

from __future__ import annotations

from dataclasses import dataclass

import httpx

from codemint.settings import LLMSettings

HEALTH_TIMEOUT_S = 10.0


class ServerCheckError(RuntimeError):
    """The server cannot be used; str(exc) is a one-line message for the user."""


@dataclass(frozen=True)
class ServerInfo:
    base_url: str
    models: list[str]
    # HTTP status of GET {root}/health; None when the server has no such endpoint.
    health_status: int | None


def server_root(base_url: str) -> str:
    """`http://host:8000/v1` -> `http://host:8000` (where vLLM serves /health)."""
    root = base_url.rstrip("/")
    return root[: -len("/v1")] if root.endswith("/v1") else root


def check_server(settings: LLMSettings, *, timeout_s: float | None = None) -> ServerInfo:
    """Raise ServerCheckError unless the server is reachable, healthy and serves settings.model."""
    base = settings.base_url.rstrip("/")
    timeout = min(settings.timeout_s, HEALTH_TIMEOUT_S) if timeout_s is None else timeout_s
    headers = {"Authorization": f"Bearer {settings.api_key}"}
    with httpx.Client(timeout=timeout, headers=headers) as http:
        try:
            resp = http.get(f"{base}/models")
        except httpx.TimeoutException:
            raise ServerCheckError(
                f"LLM server at {base} did not answer within {timeout:g}s "
                "(still loading the model? check its logs)"
            ) from None
        except httpx.TransportError as exc:
            raise ServerCheckError(
                f"LLM server at {base} is unreachable ({type(exc).__name__}: {exc}); "
                "start it (deployments/vllm/launch.sh) or set CODEMINT_LLM__BASE_URL"
            ) from None
        if resp.status_code in (401, 403):
            raise ServerCheckError(
                f"LLM server at {base} rejected the API key (HTTP {resp.status_code}); "
                "set CODEMINT_LLM__API_KEY"
            )
        if resp.status_code != 200:
            raise ServerCheckError(
                f"LLM server at {base}: GET /models returned HTTP {resp.status_code} "
                "(is base_url the OpenAI-compatible /v1 endpoint?)"
            )
        models = _model_ids(resp)
        if models is None:
            raise ServerCheckError(
                f"LLM server at {base}: GET /models did not return an OpenAI model list "
                "(is base_url the OpenAI-compatible /v1 endpoint?)"
            )
        if settings.model not in models:
            served = ", ".join(models) or "no models"
            raise ServerCheckError(
                f"LLM server at {base} serves {served}, not {settings.model!r}; "
                "set CODEMINT_LLM__MODEL to one of those or serve the model"
            )
        health_status = _health(http, server_root(base))
    return ServerInfo(base_url=base, models=models, health_status=health_status)


def _model_ids(resp: httpx.Response) -> list[str] | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    items = data.get("data") if isinstance(data, dict) else None
    if not isinstance(items, list):
        return None
    return [str(item["id"]) for item in items if isinstance(item, dict) and "id" in item]


def _health(http: httpx.Client, root: str) -> int | None:
    try:
        resp = http.get(f"{root}/health")
    except httpx.TransportError as exc:
        raise ServerCheckError(f"LLM server at {root}: GET /health failed ({type(exc).__name__})") from None
    if resp.status_code == 404:
        return None  # not every OpenAI-compatible server has it
    if resp.status_code != 200:
        raise ServerCheckError(
            f"LLM server at {root} is unhealthy: GET /health returned HTTP {resp.status_code}"
        )
    return resp.status_code
