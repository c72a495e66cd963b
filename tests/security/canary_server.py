"""A canary server: a loopback TCP listener that must never be contacted.

It counts every *connection* it accepts (not only well-formed requests) and records the first
line of whatever arrives, any method, so a fetch, a preflight, a redirect target or a bare
``connect()`` all show up. Tests point every URL an attacker controls at it and assert
:attr:`CanaryServer.connections` stays zero.
"""

from __future__ import annotations

import socket
import threading


class CanaryServer:
    """A context manager; :attr:`url` is ``http://127.0.0.1:PORT``."""

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self._sock.settimeout(0.05)
        self.port = int(self._sock.getsockname()[1])
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._count = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="canary", daemon=True)

    @property
    def url(self) -> str:
        """The canary's base URL."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def connections(self) -> int:
        """Connections accepted so far."""
        with self._lock:
            return self._count

    @property
    def first_lines(self) -> list[str]:
        """The first line each connection sent (e.g. ``GET /img.png HTTP/1.1``)."""
        with self._lock:
            return list(self._lines)

    def _serve(self) -> None:
        while not self._stop.is_set():  # bounded: ends when the context exits
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(0.5)
                try:
                    first = conn.recv(512).split(b"\r\n", 1)[0].decode("latin-1")
                    conn.sendall(b"HTTP/1.1 418 I'm a canary\r\nContent-Length: 0\r\n\r\n")
                except OSError:
                    first = "(no data)"
            with self._lock:
                self._count += 1
                self._lines.append(first)

    def __enter__(self) -> CanaryServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._sock.close()
