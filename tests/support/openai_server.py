"""A real OpenAI-compatible HTTP server for tests and benchmarks, with scripted replies.

It listens on 127.0.0.1 (random free port) in a background thread and speaks what codemint
uses of vLLM: `POST /v1/chat/completions` (n, stop, max_tokens, response_format, logprobs /
top_logprobs, usage, finish_reason, refusal), `POST /v1/embeddings`, `GET /v1/models` and
`GET /health`. What it answers comes from a responder `(request_json) -> Reply`, so a test
scripts content, delays, HTTP errors, hangs, refusals, malformed JSON or truncation.
Every chat request is counted, in total and per prompt (hash of the messages).

One thread per connection (ThreadingHTTPServer with HTTP/1.1 keep-alive): a per-request
delay blocks only its own connection, so hundreds of concurrent requests overlap.

Run standalone (the benchmark does, to keep the server off the client's GIL):
    python tests/support/openai_server.py --delay 0.05        # prints "PORT <n>", serves until killed
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import hashlib
import itertools
import json
import math
import re
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, cast

DEFAULT_MODEL = "test-model"
_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Reply:
    """What the server answers to one chat request."""

    # One text per choice; a single text (or None for a null content) is used for all n choices.
    content: str | list[str] | None = "OK"
    finish_reason: str | list[str] = "stop"
    status: int = 200
    delay_s: float = 0.0  # before answering; longer than the client timeout = a hang
    error: str = "scripted error"  # message of a non-200 reply
    headers: dict[str, str] = field(default_factory=dict)
    refusal: str | None = None
    # Alternatives for the first token (token -> logprob), sent when logprobs are requested.
    top_logprobs: dict[str, float] | None = None
    raw_body: bytes | None = None  # send exactly these bytes as a 200 body
    drop_connection: bool = False  # close the socket without answering
    emulate_limits: bool = True  # apply the request's `stop` and `max_tokens` like a server would
    omit_logprobs: bool = False  # answer without logprobs even when asked (servers that lack them)


Responder = Callable[[dict[str, Any]], Reply]


def prompt_hash(messages: Any) -> str:
    text = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fixed(content: str | list[str] | None = "OK", **kwargs: Any) -> Responder:
    """The same reply to every request."""
    reply = Reply(content=content, **kwargs)
    return lambda _request: reply


class Scripted:
    """Replies in order for successive requests, then `then` for every later one."""

    def __init__(self, replies: Sequence[Reply], then: Responder | Reply | None = None) -> None:
        self._replies = list(replies)
        self._then = then if then is not None else Reply()
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> Reply:
        with self._lock:
            if self._replies:
                return self._replies.pop(0)
        return self._then(request) if callable(self._then) else self._then


class FailOnce:
    """A share of the distinct prompts fails on first sight with `failure`, then gets `inner`.

    Which prompts fail is a deterministic function of the prompt hash and `seed`."""

    def __init__(
        self,
        inner: Responder,
        share: float,
        failure: Reply | None = None,
        *,
        seed: int = 0,
    ) -> None:
        self.inner = inner
        self.share = share
        self.failure = failure if failure is not None else Reply(status=500, error="scripted failure")
        self.seed = seed
        self.failed = 0
        self._seen: set[str] = set()
        self._lock = threading.Lock()

    def chosen(self, key: str) -> bool:
        digest = hashlib.sha256(f"{self.seed}:{key}".encode()).digest()
        return int.from_bytes(digest[:4], "big") / 2**32 < self.share

    def __call__(self, request: dict[str, Any]) -> Reply:
        key = prompt_hash(request.get("messages"))
        with self._lock:
            first = key not in self._seen
            self._seen.add(key)
            fail = first and self.chosen(key)
            if fail:
                self.failed += 1
        return self.failure if fail else self.inner(request)


# -- the server ---------------------------------------------------------------------------------


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 4096  # the default 5 drops SYNs when hundreds connect at once
    owner: OpenAIServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or was killed resets its connection: expected, stay quiet.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real client expects
    disable_nagle_algorithm = True  # else small writes wait ~40 ms for delayed ACKs

    def log_message(self, format: str, *args: Any) -> None:
        pass

    @property
    def owner(self) -> OpenAIServer:
        return cast(_HTTPServer, self.server).owner

    def setup(self) -> None:
        super().setup()
        self.owner._track(self.connection, add=True)

    def finish(self) -> None:
        self.owner._track(self.connection, add=False)
        with contextlib.suppress(OSError):
            super().finish()

    def do_GET(self) -> None:
        owner = self.owner
        with owner._inflight(owner.get_delay_s) as stopped:
            if stopped:
                self.close_connection = True
                return
        if self.path.rstrip("/") == "/v1/models":
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "vllm", "max_model_len": 4096}
                for m in owner.models
            ]
            self._send_json(200, {"object": "list", "data": data})
        elif self.path == "/health" and owner.health_endpoint:
            self._send(200 if owner.healthy else 503, b"", "application/json")
        else:
            self._send_json(404, {"detail": "Not Found"})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        try:
            body = json.loads(raw)
        except json.JSONDecodeError:
            self._error(400, "request body is not JSON")
            return
        if not isinstance(body, dict):
            self._error(400, "request body must be an object")
            return
        if self.path == "/v1/chat/completions":
            self._chat(body)
        elif self.path == "/v1/embeddings":
            self._embeddings(body)
        else:
            self._send_json(404, {"detail": "Not Found"})

    # -- endpoints ---

    def _chat(self, body: dict[str, Any]) -> None:
        owner = self.owner
        problem = _validate_chat(body, owner.models)
        if problem is not None:
            self._error(*problem)
            return
        owner._count_chat(body)
        reply = owner.responder(body)
        with owner._inflight(reply.delay_s + owner.delay_s) as stopped:
            if stopped:
                self.close_connection = True
                return
        if reply.drop_connection:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.shutdown(socket.SHUT_RDWR)
            return
        if reply.status != 200:
            self._error(reply.status, reply.error, reply.headers)
        elif reply.raw_body is not None:
            self._send(200, reply.raw_body, "application/json", reply.headers)
        else:
            self._send_json(200, _completion(body, reply, owner.next_id()), reply.headers)

    def _embeddings(self, body: dict[str, Any]) -> None:
        owner = self.owner
        if body.get("model") not in owner.models:
            self._error(404, f"The model `{body.get('model')}` does not exist.")
            return
        texts = body.get("input")
        if isinstance(texts, str):
            texts = [texts]
        if not isinstance(texts, list) or not all(isinstance(t, str) for t in texts):
            self._error(400, "input must be a string or a list of strings")
            return
        owner._count_embedding()
        with owner._inflight(owner.delay_s) as stopped:
            if stopped:
                self.close_connection = True
                return
        data = [
            {"object": "embedding", "index": i, "embedding": embedding(t, owner.embedding_dim)}
            for i, t in enumerate(texts)
        ]
        tokens = sum(len(_tokens(t)) for t in texts)
        self._send_json(
            200,
            {
                "object": "list",
                "data": data,
                "model": body["model"],
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    # -- writing ---

    def _error(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        kind = {400: "BadRequestError", 404: "NotFoundError", 429: "RateLimitError"}.get(
            status, "ServerError"
        )
        self._send_json(status, {"error": {"message": message, "type": kind, "code": status}}, headers)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), "application/json", headers)

    def _send(self, status: int, data: bytes, ctype: str, headers: dict[str, str] | None = None) -> None:
        # One write for status, headers and body: no Nagle stalls, one syscall.
        head = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}", f"Content-Type: {ctype}"]
        head.append(f"Content-Length: {len(data)}")
        head.extend(f"{k}: {v}" for k, v in (headers or {}).items())
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + data)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client gave up (timeout) and closed


_REASONS = {
    200: "OK",
    400: "Bad Request",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
}
_REASONS |= {502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout", 401: "Unauthorized"}


class _InFlight:
    def __init__(self, owner: OpenAIServer, delay_s: float) -> None:
        self.owner, self.delay_s = owner, delay_s

    def __enter__(self) -> bool:
        owner = self.owner
        with owner._arrivals:
            owner.in_flight += 1
            owner.max_in_flight = max(owner.max_in_flight, owner.in_flight)
            if owner.hold_until_in_flight:
                # A barrier, not a sleep: "N at once" must not depend on how fast a loaded
                # machine starts N handler threads. A generation count releases the whole group.
                if owner.in_flight >= owner.hold_until_in_flight:
                    owner._generation += 1
                    owner._arrivals.notify_all()
                else:
                    generation = owner._generation
                    owner._arrivals.wait_for(
                        lambda: owner._generation != generation or owner._stop.is_set(),
                        timeout=owner.hold_timeout_s,
                    )
        # Waiting on the stop event lets stop() release hanging handlers at once.
        if self.delay_s > 0:
            return owner._stop.wait(self.delay_s)
        return owner._stop.is_set()

    def __exit__(self, *exc: object) -> None:
        with self.owner._lock:
            self.owner.in_flight -= 1


class OpenAIServer:
    """Use as a context manager; `base_url` is what LLMSettings.base_url takes."""

    def __init__(
        self,
        responder: Responder | None = None,
        *,
        models: Sequence[str] = (DEFAULT_MODEL,),
        delay_s: float = 0.0,
        port: int = 0,
        embedding_dim: int = 16,
    ) -> None:
        self.responder: Responder = responder or fixed("OK")
        self.models = list(models)
        self.delay_s = delay_s  # added to every reply's own delay
        self.embedding_dim = embedding_dim
        self.healthy = True
        self.get_delay_s = 0.0  # before answering GET /v1/models and /health
        self.health_endpoint = True
        self.chat_requests = 0
        self.embedding_requests = 0
        self.counts: Counter[str] = Counter()  # per prompt hash
        self.requests: list[dict[str, Any]] = []  # chat request bodies, in arrival order
        self.in_flight = 0
        self.max_in_flight = 0
        # Hold each chat request until this many are in flight (0: off), at most hold_timeout_s.
        self.hold_until_in_flight = 0
        self.hold_timeout_s = 30.0
        self._lock = threading.Lock()
        self._arrivals = threading.Condition(self._lock)
        self._generation = 0
        self._stop = threading.Event()
        self._ids = itertools.count(1)
        self._conns: set[socket.socket] = set()
        self._httpd = _HTTPServer(("127.0.0.1", port), _Handler)
        self._httpd.owner = self
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def root_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return f"{self.root_url}/v1"

    @property
    def total(self) -> int:
        return self.chat_requests + self.embedding_requests

    def count(self, messages: Any) -> int:
        """Chat requests seen with exactly these messages."""
        return self.counts[prompt_hash(messages)]

    def reset_counts(self) -> None:
        with self._lock:
            self.chat_requests = self.embedding_requests = 0
            self.counts.clear()
            self.requests.clear()
            self.max_in_flight = self.in_flight

    def start(self) -> OpenAIServer:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._httpd.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:  # wake handlers blocked on idle keep-alive connections
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()

    def serve_forever(self) -> None:
        self._httpd.serve_forever(poll_interval=0.05)

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def next_id(self) -> int:
        return next(self._ids)

    def _count_chat(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.chat_requests += 1
            self.counts[prompt_hash(body.get("messages"))] += 1
            self.requests.append(body)

    def _count_embedding(self) -> None:
        with self._lock:
            self.embedding_requests += 1

    def _inflight(self, delay_s: float) -> _InFlight:
        return _InFlight(self, delay_s)

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)


# -- reply construction -------------------------------------------------------------------------

_TOKEN = re.compile(r"\s*\S+|\s+")


def _tokens(text: str) -> list[str]:
    """Word-level stand-in for a tokenizer (leading space kept, like BPE tokens)."""
    return _TOKEN.findall(text)


def _validate_chat(body: dict[str, Any], models: list[str]) -> tuple[int, str] | None:
    if body.get("model") not in models:
        return 404, f"The model `{body.get('model')}` does not exist."
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return 400, "messages must be a non-empty list"
    for m in messages:
        if (
            not isinstance(m, dict)
            or m.get("role") not in ("system", "user", "assistant")
            or "content" not in m
        ):
            return 400, f"bad message: {m!r}"[:200]
    n = body.get("n", 1)
    if not isinstance(n, int) or n < 1:
        return 400, "n must be a positive integer"
    rf = body.get("response_format")
    if rf is not None:
        kind = rf.get("type") if isinstance(rf, dict) else None
        if kind not in ("text", "json_object", "json_schema"):
            return 400, f"unknown response_format type {kind!r}"
        if kind == "json_schema":
            spec = rf.get("json_schema")
            if not isinstance(spec, dict) or not isinstance(spec.get("schema"), dict) or not spec.get("name"):
                return 400, "response_format.json_schema needs a name and a schema"
    if "guided_json" in body:
        return 400, "guided_json is ignored by current vLLM; use response_format"
    if body.get("top_logprobs") is not None and not body.get("logprobs"):
        return 400, "top_logprobs needs logprobs=true"
    return None


def _per_choice(value: Any, n: int) -> list[Any]:
    if isinstance(value, list):
        return [value[i % len(value)] for i in range(n)] if value else [None] * n
    return [value] * n


def _apply_limits(text: str, finish: str, body: dict[str, Any]) -> tuple[str, str]:
    stop = body.get("stop") or []
    for s in [stop] if isinstance(stop, str) else stop:
        cut = text.find(s)
        if cut >= 0:
            text, finish = text[:cut], "stop"
    max_tokens = body.get("max_tokens")
    if isinstance(max_tokens, int):
        tokens = _tokens(text)
        if len(tokens) > max_tokens:
            text, finish = "".join(tokens[:max_tokens]), "length"
    return text, finish


def _logprobs(text: str, top: dict[str, float] | None, k: int) -> dict[str, Any]:
    entries = []
    for i, token in enumerate(_tokens(text) or [""]):
        alternatives = dict(top) if (i == 0 and top) else {}
        chosen = alternatives.get(token, -0.01)
        alternatives.setdefault(token, chosen)
        ranked = sorted(alternatives.items(), key=lambda kv: -kv[1])[: max(k, 0)]
        entries.append(
            {
                "token": token,
                "logprob": chosen,
                "bytes": list(token.encode()),
                "top_logprobs": [{"token": t, "logprob": lp, "bytes": list(t.encode())} for t, lp in ranked],
            }
        )
    return {"content": entries}


def _completion(body: dict[str, Any], reply: Reply, rid: int) -> dict[str, Any]:
    n = int(body.get("n", 1))
    choices = []
    completion_tokens = 0
    for i, (content, finish) in enumerate(
        zip(_per_choice(reply.content, n), _per_choice(reply.finish_reason, n), strict=True)
    ):
        if content is not None and reply.emulate_limits:
            content, finish = _apply_limits(content, finish, body)
        completion_tokens += len(_tokens(content or ""))
        lp = None
        if body.get("logprobs") and content is not None and not reply.omit_logprobs:
            lp = _logprobs(content, reply.top_logprobs, int(body.get("top_logprobs") or 0))
        choices.append(
            {
                "index": i,
                "message": {
                    "role": "assistant",
                    "content": content,
                    "refusal": reply.refusal,
                    "tool_calls": [],
                },
                "logprobs": lp,
                "finish_reason": finish,
                "stop_reason": None,
            }
        )
    prompt_tokens = sum(len(_tokens(str(m.get("content", "")))) for m in body["messages"])
    return {
        "id": f"chatcmpl-{rid}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": body["model"],
        "choices": choices,
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def embedding(text: str, dim: int) -> list[float]:
    """A deterministic unit vector per text."""
    raw = hashlib.sha256(text.encode()).digest()
    while len(raw) < dim:
        raw += hashlib.sha256(raw).digest()
    values = [b / 127.5 - 1.0 for b in raw[:dim]]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [v / norm for v in values]


# -- a plausible model for every prompt of codemint/llm/prompt_templates/ ----------------------------------

_FIELD = r"^{}: `(.*)`$"
_CODE = re.compile(r"```python\n(.*)\n```\s*$", re.DOTALL)
_SAMPLES: dict[str, list[Any]] = {
    "int": [0, 1, 2, 5, -3, 10, 7, 42],
    "float": [0.5, 1.0, 0.0, 2.25, -1.5, 3.75],
    "str": ["abc", "", "hello world", "a-b_c", "xyz", "Python"],
    "bool": [True, False],
    "list": [[1, 2, 3], [], [5, -1, 5, 0], [7], [3, 1, 2], [10, 20]],
    "list_str": [["a", "b"], [], ["hello", "world", "hello"], ["x"], ["b", "a", "c"]],
    "dict": [{"a": 1}, {}, {"x": 2, "y": 3}],
}
_STR_NAMES = {
    "s",
    "text",
    "string",
    "word",
    "name",
    "line",
    "prefix",
    "suffix",
    "sep",
    "char",
    "pattern",
    "msg",
}
_LIST_NAMES = {"items", "values", "nums", "numbers", "xs", "arr", "lst", "seq", "elements", "data"}


def _kind(annotation: ast.expr | None, name: str) -> str:
    if annotation is not None:
        text = ast.unparse(annotation).lower()
        if text.startswith(("list[str", "sequence[str", "iterable[str", "tuple[str")):
            return "list_str"
        for kind, words in (
            ("list", ("list", "sequence", "iterable", "tuple", "set")),
            ("dict", ("dict", "mapping")),
            ("str", ("str",)),
            ("bool", ("bool",)),
            ("float", ("float",)),
            ("int", ("int",)),
        ):
            if any(text.startswith(w) or f"[{w}" in text for w in words):
                return kind
    if name in _STR_NAMES or name.endswith(("_str", "_name", "text")):
        return "str"
    if name in _LIST_NAMES or "list" in name:
        return "list"
    return "int"


class PipelineResponder:
    """Plays a plausible model for each prompt in codemint/llm/prompt_templates/, told apart by their
    fixed system messages. Summarize derives the instruction from the code; regenerate returns
    the code seen for that entry point in an earlier summarize prompt (kept in `seen_code`)."""

    def __init__(self, *, yes_logprob: float = -0.05, no_logprob: float = -3.5) -> None:
        if str(_REPO) not in sys.path:  # run as a script from anywhere
            sys.path.insert(0, str(_REPO))
        from codemint.llm import prompts

        self._prompts = {prompts.system_text(name): name for name in prompts.names()}
        self.yes_logprob, self.no_logprob = yes_logprob, no_logprob
        self.seen_code: dict[str, str] = {}
        self.calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def __call__(self, request: dict[str, Any]) -> Reply:
        messages = request.get("messages") or []
        system = messages[0].get("content") if messages and messages[0].get("role") == "system" else None
        name = self._prompts.get(system or "")
        user = next((m.get("content", "") for m in messages if m.get("role") == "user"), "")
        if name is None:
            return Reply(status=400, error="PipelineResponder: not a codemint prompt")
        with self._lock:
            self.calls[name] += 1
        handler: Callable[[dict[str, Any], str], Reply] = getattr(self, f"_{name}")
        return handler(request, user)

    # -- prompt handlers ---

    def _summarize(self, request: dict[str, Any], user: str) -> Reply:
        entry, code = _field(user, "Function name"), _code(user)
        with self._lock:
            self.seen_code[entry] = code
        node = _function(code, entry)
        params = [a.arg for a in node.args.args] if node else []
        words = _body_words(node, set(params)) if node else []
        uses = ", ".join(words[:4]) or "plain Python"
        call = f"`{entry}({', '.join(params)})`"
        args = ", ".join(f"`{p}`" for p in params) or "no arguments"
        variants = [
            f"Write a Python function {call} that takes {args} and returns the result, using {uses}.",
            f"Implement {call} in Python. It receives {args}; compute and return the result with {uses}.",
            f"Create a Python function named `{entry}` taking {args}. It should return the value derived "
            f"from its inputs by means of {uses}.",
        ]
        n = int(request.get("n", 1))
        return Reply(content=[variants[i % len(variants)] for i in range(n)])

    def _self_evaluate(self, request: dict[str, Any], user: str) -> Reply:
        # Yes when the instruction names the function shown, else no (the calibration baseline
        # shows the instruction with another function's code).
        defined = re.findall(r"^def (\w+)\(", _code(user), re.MULTILINE)
        instruction = user.split("Function:")[0]
        if any(f"`{name}(" in instruction or f"`{name}`" in instruction for name in defined):
            return Reply(content="Yes", top_logprobs={"Yes": self.yes_logprob, "No": self.no_logprob})
        return Reply(content="No", top_logprobs={"Yes": self.no_logprob, "No": self.yes_logprob})

    def _propose_inputs(self, request: dict[str, Any], user: str) -> Reply:
        k = int(_field(user, "Number of inputs", r"^{}: (\d+)$") or 3)
        cases = self._cases(user, k)
        return Reply(content=json.dumps({"inputs": cases}))

    def _kill_mutants(self, request: dict[str, Any], user: str) -> Reply:
        # The same well-formed inputs as proposals: whether they catch a mutant is the
        # sandbox's finding, not the model's claim.
        return self._propose_inputs(request, user)

    def _input_generator(self, request: dict[str, Any], user: str) -> Reply:
        cases = self._cases(user, 6)
        source = (
            "def generate_inputs() -> list:\n"
            f"    cases = {cases!r}\n"
            '    return [{"args": list(case), "kwargs": {}} for case in cases]\n'
        )
        return Reply(content=f"```python\n{source}```")

    def _regenerate(self, request: dict[str, Any], user: str) -> Reply:
        entry = _field(user, "Function name")
        with self._lock:
            code = self.seen_code.get(entry)
        if code is None:
            code = f"def {entry}(*args, **kwargs):\n    raise NotImplementedError\n"
        return Reply(content=f"Here is the solution.\n\n```python\n{code.rstrip()}\n```")

    def _judge(self, request: dict[str, Any], user: str) -> Reply:
        verdict = {"passed": True, "score": 0.9, "reasons": "The function solves the instruction as stated."}
        return Reply(content=json.dumps(verdict))

    def _realistic_bug(self, request: dict[str, Any], user: str) -> Reply:
        """The code with one condition or constant of the entry point changed (an off-by-one
        or a wrong condition, as codemint.mutants writes them); the code unchanged if none."""
        from codemint import mutants

        entry, code = _field(user, "Function name"), _code(user)
        kinds = {"compare": "wrong_condition", "boolop": "wrong_condition", "const": "off_by_one"}
        try:
            found = [m for m in mutants.generate(code, entry, max_mutants=60, seed=7) if m.operator in kinds]
        except SyntaxError:
            found = []
        replies = [
            f"Bug: {kinds[m.operator]}: {m.description}.\n\n```python\n{m.code.rstrip()}\n```"
            for m in reversed(found)
        ] or [f"Bug: missing_case: none.\n\n```python\n{code.rstrip()}\n```"]
        n = int(request.get("n", 1))
        return Reply(content=[replies[i % len(replies)] for i in range(n)])

    def _translate_js(self, request: dict[str, Any], user: str) -> Reply:
        """A JavaScript function of the entry point's name and parameters that returns null:
        well-formed, so only running it against the row's tests can reject it."""
        entry, code = _field(user, "Function name"), _code(user)
        node = _function(code, entry)
        params = ", ".join(a.arg for a in [*node.args.posonlyargs, *node.args.args]) if node else ""
        body = f"```javascript\nfunction {entry}({params}) {{\n  return null;\n}}\n```"
        return Reply(content=[body] * int(request.get("n", 1)))

    def _cases(self, user: str, k: int) -> list[list[Any]]:
        entry, code = _field(user, "Function name"), _code(user)
        node = _function(code, entry)
        if node is None:
            return [[] for _ in range(k)]
        a = node.args
        positional = [*a.posonlyargs, *a.args]
        required = positional[: len(positional) - len(a.defaults)]
        kinds = [_kind(p.annotation, p.arg) for p in required]
        return [
            [_SAMPLES[kind][(i + j) % len(_SAMPLES[kind])] for j, kind in enumerate(kinds)] for i in range(k)
        ]


def _field(user: str, label: str, pattern: str = _FIELD) -> str:
    match = re.search(pattern.format(re.escape(label)), user, re.MULTILINE)
    return match.group(1) if match else ""


def _code(user: str) -> str:
    match = _CODE.search(user)
    return match.group(1) + "\n" if match else ""


def _function(code: str, name: str) -> ast.FunctionDef | None:
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    return next((n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == name), None)


def _body_words(node: ast.FunctionDef, params: set[str]) -> list[str]:
    words: list[str] = []
    for sub in (n for stmt in node.body for n in ast.walk(stmt)):
        word = sub.id if isinstance(sub, ast.Name) else sub.attr if isinstance(sub, ast.Attribute) else None
        if word and word not in params and word not in words and len(word) > 1:
            words.append(word)
    return words


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each reply")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--pipeline", action="store_true", help="answer with PipelineResponder")
    opts = parser.parse_args(argv)
    responder: Responder = PipelineResponder() if opts.pipeline else fixed("OK")
    server = OpenAIServer(responder, models=[opts.model], delay_s=opts.delay, port=opts.port)
    print(f"PORT {server.port}", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()


if __name__ == "__main__":
    main()


__all__ = [
    "DEFAULT_MODEL",
    "FailOnce",
    "OpenAIServer",
    "PipelineResponder",
    "Reply",
    "Responder",
    "Scripted",
    "embedding",
    "fixed",
    "prompt_hash",
]
