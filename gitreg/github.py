"""A pull request's reviews, read from the GitHub REST API for `gitreg ci check`.

On a pull request, the approval of a stage change is the pull request's reviews (and,
after it, the merge): identities GitHub established, not names written into files. The
check reads them with the workflow's token from `GITHUB_API_URL` (https://api.github.com
on github.com; the tests point it at a stand-in on 127.0.0.1). This needs the network at
run time; nothing here runs outside `ci check`.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

_PR_EVENTS = ("pull_request", "pull_request_target", "pull_request_review")
_TIMEOUT = 30
_MAX_PAGES = 20


@dataclass
class PullRequest:
    number: int
    author: str
    repository: str
    api_url: str
    token: str = field(repr=False, default="")


@dataclass
class Reviews:
    """The pull request's approving reviewers (latest review per person), or why unknown."""

    pull: PullRequest | None
    approvers: list[str] = field(default_factory=list)
    blocking: list[str] = field(default_factory=list)  # latest review requests changes
    unavailable: str | None = None  # why reviews could not be read (None: they were)


def pull_request(env: Mapping[str, str]) -> tuple[PullRequest | None, str | None]:
    """The pull request this CI run is for, from GitHub Actions' variables; else (None, why)."""
    if env.get("GITHUB_EVENT_NAME") not in _PR_EVENTS:
        return None, "not running on a pull request event (GITHUB_EVENT_NAME)"
    path = env.get("GITHUB_EVENT_PATH")
    try:
        event = json.loads(Path(path).read_text(encoding="utf-8")) if path else None
    except (OSError, ValueError):
        event = None
    pr = event.get("pull_request") if isinstance(event, dict) else None
    if not isinstance(pr, dict) or not isinstance(pr.get("number"), int):
        return None, "the event file (GITHUB_EVENT_PATH) names no pull request"
    repo = env.get("GITHUB_REPOSITORY", "")
    if repo.count("/") != 1 or not all(repo.split("/")):
        return None, "GITHUB_REPOSITORY is not OWNER/REPO"
    api = env.get("GITHUB_API_URL") or "https://api.github.com"
    if urllib.parse.urlsplit(api).scheme not in ("https", "http"):
        return None, "GITHUB_API_URL is not an http(s) URL"
    token = env.get("GITHUB_TOKEN") or env.get("GH_TOKEN") or ""
    if not token:
        return None, "no GITHUB_TOKEN to read the pull request's reviews with"
    author = ((pr.get("user") or {}).get("login")) or ""
    return PullRequest(pr["number"], str(author), repo, api.rstrip("/"), token), None


def read_reviews(env: Mapping[str, str]) -> Reviews:
    pull, why = pull_request(env)
    if pull is None:
        return Reviews(None, unavailable=why)
    reviews: list[Any] = []
    try:
        for page in range(1, _MAX_PAGES + 1):
            batch = _get(pull, f"/repos/{pull.repository}/pulls/{pull.number}/reviews"
                               f"?per_page=100&page={page}")
            if not isinstance(batch, list):
                return Reviews(pull, unavailable="the reviews API answered something other than a list")
            reviews += batch
            if len(batch) < 100:
                break
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", None) or exc
        return Reviews(pull, unavailable=f"reading the reviews failed: {reason}")
    return _judge(pull, reviews)


def _judge(pull: PullRequest, reviews: list[Any]) -> Reviews:
    latest: dict[str, str] = {}
    for r in reviews:  # the API lists reviews oldest first; a comment changes nothing
        if not isinstance(r, dict):
            continue
        who = (r.get("user") or {}).get("login")
        state = r.get("state")
        if not isinstance(who, str) or state not in ("APPROVED", "CHANGES_REQUESTED", "DISMISSED"):
            continue
        latest[who] = state
    approvers = sorted(w for w, s in latest.items() if s == "APPROVED" and w != pull.author)
    blocking = sorted(w for w, s in latest.items() if s == "CHANGES_REQUESTED")
    return Reviews(pull, approvers, blocking)


def _get(pull: PullRequest, path: str) -> Any:
    req = urllib.request.Request(pull.api_url + path, headers={
        "Accept": "application/vnd.github+json", "Authorization": f"Bearer {pull.token}",
        "X-GitHub-Api-Version": "2022-11-28", "User-Agent": "gitreg-ci-check"})
    with urllib.request.urlopen(req, timeout=_TIMEOUT) as resp:  # noqa: S310 - http(s) only
        return json.loads(resp.read(10 * 1024 * 1024))
