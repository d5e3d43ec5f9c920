"""A loopback SMTP server for the tests: it keeps what it accepted (Message-IDs and raw
messages), and can refuse, drop or hold the sender at chosen points of the conversation."""

from __future__ import annotations

import email
import socketserver
import threading
from collections import Counter
from collections.abc import Callable
from email import policy

from tests.helpers import serve_in_background


class FakeSmtp:
    """Accepts messages (``250`` after the data) unless ``on_data`` says otherwise.

    ``on_data(n, message_id)`` runs when the n-th message's data has arrived, before the
    answer; it returns ``"accept"`` (answer 250 and keep it), ``"defer"`` (answer 451: try
    later), ``"drop"`` (close the connection without answering: not accepted) or
    ``"accept-then-hold"`` (keep it, answer 250, then hold the connection until
    :meth:`release`).
    """

    def __init__(self, on_data: Callable[[int, str], str] | None = None) -> None:
        self.accepted: list[str] = []  # Message-IDs, in order, duplicates included
        self.messages: list[bytes] = []  # the raw messages accepted
        self.on_data = on_data or (lambda n, mid: "accept")
        self.released = threading.Event()
        self._lock = threading.Lock()
        self._seen = 0
        fake = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"220 fake ESMTP\r\n")
                data: list[bytes] | None = None
                while line := self.rfile.readline():
                    if data is not None:
                        if line != b".\r\n":
                            data.append(line)
                            continue
                        if not fake._finish(b"".join(data), self.wfile):
                            return
                        data = None
                        continue
                    verb = line[:4].upper()
                    if verb == b"DATA":
                        data = []
                        self.wfile.write(b"354 go on\r\n")
                    elif verb == b"QUIT":
                        self.wfile.write(b"221 bye\r\n")
                        return
                    elif verb == b"EHLO":
                        self.wfile.write(b"250 fake\r\n")
                    else:
                        self.wfile.write(b"250 ok\r\n")

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        serve_in_background(self.server)

    def _finish(self, raw: bytes, out) -> bool:
        message = email.message_from_bytes(raw, policy=policy.default)
        message_id = str(message["Message-ID"])
        with self._lock:
            self._seen += 1
            n = self._seen
        decision = self.on_data(n, message_id)
        if decision == "drop":
            return False
        if decision == "defer":
            out.write(b"451 try again later\r\n")
            return True
        with self._lock:
            self.accepted.append(message_id)
            self.messages.append(raw)
        out.write(b"250 accepted\r\n")
        out.flush()
        if decision == "accept-then-hold":
            self.released.wait(30)
            return False
        return True

    def release(self) -> None:
        """Let held connections go."""
        self.released.set()

    def counts(self) -> Counter[str]:
        """Times each Message-ID was accepted."""
        with self._lock:
            return Counter(self.accepted)

    def close(self) -> None:
        """Stop serving."""
        self.release()
        self.server.shutdown()
        self.server.server_close()

    def settings(self) -> dict[str, object]:
        """The app settings that send its mail here."""
        return {
            "TRUSTSEAL_SMTP_HOST": "127.0.0.1",
            "TRUSTSEAL_SMTP_PORT": self.port,
            "TRUSTSEAL_SMTP_STARTTLS": False,
            "TRUSTSEAL_SMTP_TIMEOUT": 5.0,
        }

    def env(self) -> dict[str, str]:
        """The environment that sends a trustseal process's mail here."""
        return {key: str(value).lower() for key, value in self.settings().items()}
