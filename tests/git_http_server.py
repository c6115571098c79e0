"""A smart-HTTP Git server on loopback that requires HTTP basic authentication.

``git http-backend`` run as CGI for the bare repositories under a root directory, behind a
check of the ``Authorization`` header, so that tests use credentials the way a hosting service
takes them: a right one fetches and pushes, a wrong one is refused with 401.
"""

from __future__ import annotations

import base64
import os
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit


def split_cgi_response(output: bytes) -> tuple[bytes, bytes]:
    """The CGI header block and the body. Only the headers are normalised: the body is a
    packfile, and any CR LF pair inside it is data (replacing it corrupts the pack, which git
    reports as "remote-curl: bad line length character")."""
    ends = [(i, len(sep)) for sep in (b"\r\n\r\n", b"\n\n") if (i := output.find(sep)) >= 0]
    if not ends:
        return output, b""
    index, width = min(ends)
    return output[:index].replace(b"\r\n", b"\n"), output[index + width :]


class GitHTTPServer:
    """``git http-backend`` as CGI behind HTTP basic authentication, for the repositories in
    ``root``; ``accounts`` are the (user, password) pairs it accepts."""

    def __init__(self, root: Path, accounts: set[tuple[str, str]]) -> None:
        self.root = root
        self.accounts = accounts
        self.logins: list[tuple[str, bool]] = []  # (user, accepted) of every authorized request
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                server.handle(self)

            def do_POST(self) -> None:
                server.handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def base(self) -> str:
        return f"127.0.0.1:{self.httpd.server_address[1]}"

    def url(self, repository: str, userinfo: str = "") -> str:
        return f"http://{userinfo + '@' if userinfo else ''}{self.base}/{repository}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def _user(self, request: BaseHTTPRequestHandler) -> str | None:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        accepted = (user, password) in self.accounts
        self.logins.append((user, accepted))
        return user if accepted else None

    def handle(self, request: BaseHTTPRequestHandler) -> None:
        user = self._user(request)
        if user is None:
            request.send_response(401)
            request.send_header("WWW-Authenticate", 'Basic realm="git"')
            request.send_header("Content-Length", "0")
            request.end_headers()
            return
        body = b""
        if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
            while size := int(request.rfile.readline().split(b";")[0], 16):
                body += request.rfile.read(size)
                request.rfile.readline()
            request.rfile.readline()
        elif request.headers.get("Content-Length"):
            body = request.rfile.read(int(request.headers["Content-Length"]))
        parts = urlsplit(request.path)
        env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REMOTE_USER": user,
            "REQUEST_METHOD": request.command,
            "PATH_INFO": unquote(parts.path),
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": request.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "HTTP_CONTENT_ENCODING": request.headers.get("Content-Encoding", ""),
            "GIT_PROTOCOL": request.headers.get("Git-Protocol", ""),
        }
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=env, capture_output=True, check=False
        )
        head, payload = split_cgi_response(done.stdout)
        headers = [line.decode().split(":", 1) for line in head.splitlines() if b":" in line]
        status = next((v.strip() for k, v in headers if k.lower() == "status"), "200 OK")
        request.send_response(int(status.split()[0]))
        for key, value in headers:
            if key.lower() not in ("status", "content-length"):
                request.send_header(key, value.strip())
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
