"""A stand-in for GitHub's REST API on 127.0.0.1 (GitHub is not reachable from the tests).

It serves a pull request's reviews as GitHub does (`GET /repos/O/R/pulls/N/reviews`) and
records every request, so tests can set the reviews and check what gitreg asked for.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest


class GitHubStandIn:
    def __init__(self) -> None:
        self.reviews: list[dict[str, Any]] = []
        self.requests: list[tuple[str, str]] = []  # (path, Authorization header)
        self.status = 200
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                stand_in.requests.append((self.path, self.headers.get("Authorization", "")))
                if "/pulls/" in self.path and self.path.split("?")[0].endswith("/reviews"):
                    body = json.dumps(stand_in.reviews).encode()
                    self.send_response(stand_in.status)
                else:
                    body = b'{"message": "Not Found"}'
                    self.send_response(404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def review(self, login: str, state: str = "APPROVED") -> None:
        self.reviews.append({"id": len(self.reviews) + 1, "user": {"login": login}, "state": state})

    def env(self, folder: Path, number: int = 7, author: str = "alice-gh") -> dict[str, str]:
        """GitHub Actions' variables for a pull_request event of PR `number` by `author`."""
        event = folder / "event.json"
        event.write_text(json.dumps({"pull_request": {"number": number, "user": {"login": author}}}))
        return {"GITHUB_EVENT_NAME": "pull_request", "GITHUB_EVENT_PATH": str(event),
                "GITHUB_REPOSITORY": "acme/models", "GITHUB_API_URL": self.url,
                "GITHUB_TOKEN": "test-token"}

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def github_api() -> Iterator[GitHubStandIn]:
    api = GitHubStandIn()
    yield api
    api.close()
