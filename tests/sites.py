"""A merchant's home page served on loopback, for the site check."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOME = b"""<!doctype html><html><body>
<a href="/libro">Libro de Reclamaciones</a> <a href="/terminos">T&eacute;rminos y condiciones</a>
<a href="/privacidad">Pol&iacute;tica de privacidad</a>
<a href="/devoluciones">Cambios y devoluciones</a>
<a href="mailto:hola@tienda.pe">Contacto</a></body></html>"""


@contextmanager
def shop_site(body: bytes = HOME) -> Iterator[str]:
    """Serve ``body`` at / on a free loopback port; yield the base URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
