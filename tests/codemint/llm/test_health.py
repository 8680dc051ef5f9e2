"""check_server: one-line, actionable messages for each way the server can be unusable."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from openai_server import DEFAULT_MODEL, OpenAIServer

from codemint.llm.health import ServerCheckError, check_server, server_root
from codemint.settings import LLMSettings


@pytest.fixture
def server() -> Iterator[OpenAIServer]:
    with OpenAIServer(models=[DEFAULT_MODEL, "other/model"]) as srv:
        yield srv


def message(settings: LLMSettings) -> str:
    with pytest.raises(ServerCheckError) as info:
        check_server(settings, timeout_s=2)
    text = str(info.value)
    assert "\n" not in text
    return text


def test_healthy_server(server: OpenAIServer) -> None:
    info = check_server(LLMSettings(base_url=server.base_url, model=DEFAULT_MODEL))
    assert info.models == [DEFAULT_MODEL, "other/model"] and info.health_status == 200


def test_server_down() -> None:
    with OpenAIServer() as srv:
        url = srv.base_url
    text = message(LLMSettings(base_url=url, model=DEFAULT_MODEL))
    assert url in text and "unreachable" in text and "ConnectError" in text


def test_other_model_lists_what_is_served(server: OpenAIServer) -> None:
    text = message(LLMSettings(base_url=server.base_url, model="Qwen/Qwen2.5-Coder-7B-Instruct"))
    assert f"serves {DEFAULT_MODEL}, other/model, not 'Qwen/Qwen2.5-Coder-7B-Instruct'" in text


def test_unhealthy_engine(server: OpenAIServer) -> None:
    server.healthy = False
    text = message(LLMSettings(base_url=server.base_url, model=DEFAULT_MODEL))
    assert "unhealthy" in text and "503" in text


def test_no_health_endpoint_is_fine(server: OpenAIServer) -> None:
    server.health_endpoint = False
    info = check_server(LLMSettings(base_url=server.base_url, model=DEFAULT_MODEL))
    assert info.health_status is None


def test_wrong_base_url(server: OpenAIServer) -> None:
    text = message(LLMSettings(base_url=server.root_url + "/api", model=DEFAULT_MODEL))
    assert "HTTP 404" in text and "/v1" in text


def test_server_with_no_models(server: OpenAIServer) -> None:
    server.models = []
    assert "serves no models" in message(LLMSettings(base_url=server.base_url, model=DEFAULT_MODEL))


def test_hanging_server(server: OpenAIServer) -> None:
    server.get_delay_s = 5.0
    with pytest.raises(ServerCheckError, match=r"did not answer within 0\.3s"):
        check_server(LLMSettings(base_url=server.base_url, model=DEFAULT_MODEL), timeout_s=0.3)


def test_server_root() -> None:
    assert server_root("http://h:8000/v1/") == "http://h:8000"
    assert server_root("http://h:8000") == "http://h:8000"
