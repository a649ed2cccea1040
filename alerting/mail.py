"""Email under one total deadline.

smtplib's timeout applies to each socket operation, so an SMTP server answering one byte at a time
would hold a send for ever. :class:`SmtpDeadline` bounds the whole send: the connect waits at most
until the deadline, and when it passes every SMTP connection the send opened is shut down, which
ends whatever read or write it was blocked in. Only Django's SMTP backend opens connections here;
other backends (console, locmem) are used as they are.
"""

from __future__ import annotations

import contextlib
import smtplib
import socket
import threading
import time

from django.core.mail.backends import smtp

_current = threading.local()


class SmtpDeadline:
    """``with SmtpDeadline(seconds):`` — SMTP connections opened on this thread inside the block are
    cut when ``seconds`` have passed; ``passed`` then tells the caller why its send failed."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._cut = False
        self._at = float("inf")
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __enter__(self) -> SmtpDeadline:
        self._at = time.monotonic() + self.seconds
        self._timer = threading.Timer(self.seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()
        _current.deadline = self
        return self

    def __exit__(self, *exc) -> None:
        _current.deadline = None
        if self._timer is not None:
            self._timer.cancel()
        with self._lock:
            for sock in self._sockets:
                sock.close()
            self._sockets.clear()

    @property
    def passed(self) -> bool:
        return self._cut or time.monotonic() >= self._at

    def remaining(self) -> float:
        left = self._at - time.monotonic()
        if left <= 0:
            raise TimeoutError("the deadline passed")
        return left

    def watch(self, sock: socket.socket) -> None:
        """Cut ``sock`` at the deadline. A duplicate of it is kept: TLS (SMTP_SSL, STARTTLS)
        detaches the original socket object, while shutting down any descriptor of a connection
        ends every operation blocked on it."""
        with self._lock:
            if self._cut:
                raise TimeoutError("the deadline passed")
            self._sockets.append(sock.dup())

    def _expire(self) -> None:
        with self._lock:
            self._cut = True
            for sock in self._sockets:
                with contextlib.suppress(OSError):  # already closed by the other side or the send
                    sock.shutdown(socket.SHUT_RDWR)


class _DeadlineSocket:
    """Opens the SMTP socket within the current deadline and hands it to the deadline's watch."""

    def _get_socket(self, host, port, timeout):
        deadline: SmtpDeadline | None = getattr(_current, "deadline", None)
        if deadline is not None:
            timeout = deadline.remaining() if timeout is None else min(timeout, deadline.remaining())
        sock = smtplib.SMTP._get_socket(self, host, port, timeout)
        if deadline is not None:
            try:
                deadline.watch(sock)
            except TimeoutError:
                sock.close()
                raise
        if isinstance(self, smtplib.SMTP_SSL):  # what SMTP_SSL._get_socket adds
            sock = self.context.wrap_socket(sock, server_hostname=self._host)
        return sock


class _DeadlineSMTP(_DeadlineSocket, smtplib.SMTP):
    pass


class _DeadlineSMTPSSL(_DeadlineSocket, smtplib.SMTP_SSL):
    pass


class DeadlineEmailBackend(smtp.EmailBackend):
    """Django's SMTP backend whose connections keep to the current :class:`SmtpDeadline`."""

    @property
    def connection_class(self):
        return _DeadlineSMTPSSL if self.use_ssl else _DeadlineSMTP
