"""A real S3 endpoint for tests: moto's server on a free loopback port, with the environment the
lake's ``s3://`` storage reads (endpoint and keys) set while it runs."""

from __future__ import annotations

import contextlib
import os
import socket
from collections.abc import Iterator

S3_ENVIRONMENT = ("S3_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def moto_s3_bucket(bucket: str) -> Iterator[str]:
    """Start moto's S3 server, create ``bucket`` and yield ``s3://bucket``; restore the
    environment and stop the server afterwards."""
    import pyarrow.fs as pafs
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port)
    server.start()
    saved = {key: os.environ.get(key) for key in S3_ENVIRONMENT}
    os.environ.update(
        S3_ENDPOINT_URL=f"http://127.0.0.1:{port}", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test"
    )
    try:
        pafs.S3FileSystem(
            endpoint_override=f"127.0.0.1:{port}",
            scheme="http",
            access_key="test",
            secret_key="test",
            region="us-east-1",
            allow_bucket_creation=True,
        ).create_dir(bucket)
        yield f"s3://{bucket}"
    finally:
        server.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
