"""A real HTTP receiver on 127.0.0.1 for delivery tests: records every request (POST or GET) and
answers from a script (status, headers, a hang, an answer trickled a byte at a time) per path."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    method: str = "POST"


@dataclass
class Answer:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    hang_seconds: float = 0.0
    body: bytes = b"ok"
    trickle_seconds: float = 0.0  # write the whole answer one byte at a time, this far apart


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.started = 0  # requests whose body was read (a hanging one counts before it answers)
        self.scripts: dict[str, list[Answer]] = {}
        self.default = Answer()
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    receiver.started += 1
                    script = receiver.scripts.get(self.path) or []
                    answer = script.pop(0) if script else receiver.default
                received = Received(self.path, dict(self.headers.items()), body, self.command)
                if answer.trickle_seconds:
                    with receiver.lock:
                        receiver.received.append(received)
                    self.trickle(answer)
                    return
                if answer.hang_seconds:
                    time.sleep(answer.hang_seconds)
                with receiver.lock:
                    receiver.received.append(received)
                self.send_response(answer.status)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(answer.body)))
                self.end_headers()
                self.wfile.write(answer.body)

            do_GET = do_POST

            def trickle(self, answer: Answer) -> None:
                head = f"HTTP/1.1 {answer.status} OK\r\nContent-Length: {len(answer.body)}\r\n\r\n"
                self.close_connection = True
                try:
                    for byte in head.encode() + answer.body:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(answer.trickle_seconds)
                except OSError:  # the client gave up, as it should
                    pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def script(self, path: str, *answers: Answer) -> None:
        with self.lock:
            self.scripts[path] = list(answers)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
