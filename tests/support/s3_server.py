"""An S3-compatible server on loopback for the tests of a run directory on S3: moto's server
(real HTTP, the S3 API in memory), one per test process, started when first asked for."""

from __future__ import annotations

import atexit
import uuid
from typing import Any

import s3fs
from moto.server import ThreadedMotoServer

# Credentials moto accepts; the region keeps botocore from looking for a config file.
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
}

_endpoint: str | None = None


def endpoint() -> str:
    """The server's URL (http://127.0.0.1:PORT), started on first use, stopped at exit."""
    global _endpoint
    if _endpoint is None:
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        atexit.register(server.stop)
        host, port = server.get_host_and_port()
        _endpoint = f"http://{host}:{port}"
    return _endpoint


def environment() -> dict[str, str]:
    """What a `codemint run` subprocess needs to reach the server: the usual AWS variables."""
    return {**CREDENTIALS, "AWS_ENDPOINT_URL_S3": endpoint()}


def storage_options() -> dict[str, Any]:
    """The same as fsspec storage options, for this process (no environment changed)."""
    return {
        "key": CREDENTIALS["AWS_ACCESS_KEY_ID"],
        "secret": CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        "endpoint_url": endpoint(),
    }


def filesystem() -> s3fs.S3FileSystem:
    # A fresh instance each time: no listing cached from before a run wrote.
    return s3fs.S3FileSystem(skip_instance_cache=True, **storage_options())


def new_bucket() -> str:
    name = f"codemint-{uuid.uuid4().hex[:12]}"
    filesystem().mkdir(name)
    return name
