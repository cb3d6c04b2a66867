"""Hostile registries (issue 11 §4): what a repository contains never makes gitreg read, write,
delete or fetch outside the repository (and the output directory it was given).

Each hostile registry is committed by the test, then the installed `gitreg` runs in it the way
CI does (`gitreg site -o _site` is exactly what pages.yml runs)."""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Iterator

import pytest

from conftest import git, snapshot
from gitreg import yamlio

from ._util import run_gitreg


def tree_state(top: Path) -> dict[str, tuple]:
    """Every entry under top, links not followed: kind, target or bytes, mtime."""
    out: dict[str, tuple] = {}
    for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = p.lstat()
            if p.is_symlink():
                out[str(p.relative_to(top))] = ("link", os.readlink(p), st.st_mtime_ns)
            elif p.is_dir():
                out[str(p.relative_to(top))] = ("dir", st.st_mtime_ns)
            else:
                out[str(p.relative_to(top))] = ("file", p.read_bytes(), st.st_mtime_ns, st.st_mode)
    st = top.lstat()
    out["."] = ("dir", st.st_mtime_ns)
    return out


def one_line_error(proc) -> str:
    assert proc.returncode == 1, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: ") and "(hint: " in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    return lines[0]


# -- gitreg site -o _site ------------------------------------------------------------------
@pytest.fixture
def victim(tmp_path: Path) -> Path:
    """A stand-in for the user's home directory, outside the repository."""
    home = tmp_path / "victim-home"
    home.mkdir()
    (home / ".bashrc").write_text("export PATH=$HOME/bin:$PATH\n")
    (home / ".profile").write_text("# profile\n")
    (home / "public").mkdir()  # an empty directory a link could point the site at
    (home / "notes").mkdir()
    (home / "notes" / "index.html").write_text("my own page")
    return home


def _commit_site(repo: Path, build) -> None:
    site = repo / "_site"
    build(site)
    git(repo, "add", "-f", "_site")
    git(repo, "commit", "-qm", "test: a hostile _site")


def _marker(site: Path, files: list[str]) -> None:
    site.mkdir(exist_ok=True)
    (site / ".gitreg-site").write_text(json.dumps({"generator": "gitreg site", "files": files}))


HOSTILE_SITES = {
    # the case: a marker naming a file through a link to the home directory
    "marker-through-link": lambda site, home: (
        _marker(site, ["evil/.bashrc", "evil/notes/index.html", "index.html"]),
        (site / "evil").symlink_to(home)),
    # a marker naming the victim by absolute path and by ..
    "marker-absolute-and-dotdot": lambda site, home: _marker(
        site, [str(home / ".bashrc"), "../../victim-home/.profile", "models/../../../victim-home/.bashrc"]),
    # the directory the model pages go into is a link: pages would be written into home
    "models-dir-is-link": lambda site, home: (
        _marker(site, ["index.html"]), (site / "models").symlink_to(home)),
    "model-dir-is-link": lambda site, home: (
        _marker(site, ["index.html"]), (site / "models").mkdir(), (site / "models" / "m").symlink_to(home)),
    # a page is a link to a file in home
    "page-is-link": lambda site, home: (
        _marker(site, ["index.html"]), (site / "index.html").symlink_to(home / ".profile")),
    "marker-is-link": lambda site, home: (
        site.mkdir(), (site / ".gitreg-site").symlink_to(home / ".bashrc")),
}


@pytest.mark.parametrize("case", sorted(HOSTILE_SITES))
def test_site_never_touches_anything_outside_its_directory(seeded: Path, victim: Path, case: str) -> None:
    _commit_site(seeded, lambda site: HOSTILE_SITES[case](site, victim))
    before_home = tree_state(victim)
    before_repo = git(seeded, "status", "--porcelain", "--untracked-files=all")
    proc = run_gitreg(seeded, "site", "-o", "_site")
    assert tree_state(victim) == before_home, proc.stderr
    assert git(seeded, "status", "--porcelain", "--untracked-files=all", "--", ":(exclude)_site") == before_repo
    if proc.returncode == 0:  # built safely into the real directory, every link left alone
        assert (seeded / "_site" / "index.html").is_file()
        assert not (seeded / "_site" / "index.html").is_symlink()
        assert (seeded / "_site" / "models" / "m" / "1.0.0.html").is_file()
    else:
        line = one_line_error(proc)
        assert "symbolic link" in line or "not written by `gitreg site`" in line, line


def test_site_refuses_an_output_directory_that_is_a_committed_link(seeded: Path, victim: Path) -> None:
    (seeded / "_site").symlink_to(victim / "public")
    git(seeded, "add", "_site")
    git(seeded, "commit", "-qm", "test: _site is a link to home")
    before_home = tree_state(victim)
    line = one_line_error(run_gitreg(seeded, "site", "-o", "_site"))
    assert "_site is a symbolic link inside the repository" in line, line
    nested = run_gitreg(seeded, "site", "-o", "_site/inner")  # a link on the way counts too
    assert "_site is a symbolic link inside the repository" in one_line_error(nested)
    assert tree_state(victim) == before_home


def test_site_follows_a_link_the_user_gave_outside_the_repository(seeded: Path, tmp_path: Path) -> None:
    real = tmp_path / "www"
    real.mkdir()
    (tmp_path / "www-link").symlink_to(real)
    proc = run_gitreg(seeded, "site", "-o", str(tmp_path / "www-link"))
    assert proc.returncode == 0, proc.stderr
    assert (real / "index.html").is_file() and (real / "models" / "m" / "index.html").is_file()


def test_site_marker_cannot_delete_a_users_file_inside_the_output_directory(seeded: Path) -> None:
    site = seeded / "_site"
    assert run_gitreg(seeded, "site", "-o", "_site").returncode == 0
    (site / "CNAME").write_text("models.example.com\n")  # the user's own file, not a page
    marker = json.loads((site / ".gitreg-site").read_text())
    marker["files"].append("CNAME")
    (site / ".gitreg-site").write_text(json.dumps(marker))
    assert run_gitreg(seeded, "site", "-o", "_site").returncode == 0
    assert (site / "CNAME").read_text() == "models.example.com\n"


# -- extra_schema $refs --------------------------------------------------------------------
class _Counter(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 - the http.server API
        type(self).hits.append(self.path)
        body = json.dumps({"type": "object"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/schema+json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[tuple[str, list[str]]]:
    """A schema server on 127.0.0.1 that counts the requests it gets."""
    hits: list[str] = []
    handler = type("Handler", (_Counter,), {"hits": hits})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _use_extra_schema(repo: Path, files: dict[str, object], extra: str = "schemas/extra.json") -> None:
    for rel, content in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))
    cfg = yamlio.loads((repo / "gitreg.yaml").read_text(), "gitreg.yaml")
    cfg["extra_schema"] = extra
    (repo / "gitreg.yaml").write_text(yamlio.dump(cfg))
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "test: extra_schema")


COMMANDS = {
    "validate": ("validate",),
    "promote": ("promote", "m", "2.0.0", "staging", "--reason", "try"),
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_extra_schema_http_ref_is_never_fetched(seeded: Path, http_server, command: str) -> None:
    url, hits = http_server
    _use_extra_schema(seeded, {"schemas/extra.json": {"$ref": f"{url}/team.json"}})
    before = snapshot(seeded)
    line = one_line_error(run_gitreg(seeded, *COMMANDS[command]))
    assert hits == [], "gitreg fetched a $ref from the network"
    assert f"{url}/team.json" in line and "outside the repository" in line, line
    assert snapshot(seeded) == before


@pytest.mark.parametrize("command", ["register", "ci-check"])
def test_extra_schema_http_ref_is_never_fetched_by_register_or_ci_check(
        seeded: Path, http_server, tmp_path: Path, command: str) -> None:
    url, hits = http_server
    _use_extra_schema(seeded, {"schemas/extra.json": {"$ref": f"{url}/team.json"}})
    before = snapshot(seeded)
    art = tmp_path / "model.pkl"
    art.write_bytes(b"weights")
    if command == "register":
        args: tuple[str, ...] = ("register", "m", str(art), "--version", "3.0.0")
    else:
        model_yaml = seeded / "models" / "m" / "model.yaml"  # a pull request editing the model
        model_yaml.write_text(model_yaml.read_text() + "description: edited in a PR\n")
        git(seeded, "commit", "-qam", "test: a PR's change")
        before = snapshot(seeded)
        args = ("ci", "check", "--base", "HEAD~1")
    line = one_line_error(run_gitreg(seeded, *args))
    assert hits == [], "gitreg fetched a $ref from the network"
    assert "outside the repository" in line, line
    assert snapshot(seeded) == before


def _outside_schema(tmp_path: Path) -> Path:
    secret = tmp_path / "outside" / "secret.json"
    secret.parent.mkdir(exist_ok=True)
    secret.write_text(json.dumps({"type": "object"}))
    return secret


REFUSED_REFS = {
    "file-url-outside": lambda tmp: _outside_schema(tmp).as_uri(),
    "absolute-path-outside": lambda tmp: str(_outside_schema(tmp)),
    "dotdot-outside": lambda tmp: (_outside_schema(tmp), "../../outside/secret.json")[1],
    "https": lambda tmp: "https://127.0.0.1:9/team.json",  # loopback only, never reached
}


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("case", sorted(REFUSED_REFS))
def test_extra_schema_refs_outside_the_repository_are_refused(seeded: Path, tmp_path: Path,
                                                             case: str, command: str) -> None:
    ref = REFUSED_REFS[case](tmp_path)
    _use_extra_schema(seeded, {"schemas/extra.json": {"properties": {"custom": {"$ref": ref}}}})
    before = snapshot(seeded)
    line = one_line_error(run_gitreg(seeded, *COMMANDS[command]))
    assert repr(ref) in line and "outside the repository" in line, line
    assert snapshot(seeded) == before


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_extra_schema_ref_through_a_link_out_of_the_repository_is_refused(
        seeded: Path, tmp_path: Path, command: str) -> None:
    (seeded / "schemas").mkdir()
    (seeded / "schemas" / "link.json").symlink_to(_outside_schema(tmp_path))
    _use_extra_schema(seeded, {"schemas/extra.json": {"$ref": "link.json"}})
    line = one_line_error(run_gitreg(seeded, *COMMANDS[command]))
    assert "'link.json'" in line and "outside the repository" in line, line


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("ref", ["missing.json", "#/$defs/nope", "common.json#/$defs/nope"])
def test_extra_schema_unresolvable_ref_is_exit_1_not_70(seeded: Path, command: str, ref: str) -> None:
    _use_extra_schema(seeded, {"schemas/extra.json": {"$ref": ref}, "schemas/common.json": {}})
    line = one_line_error(run_gitreg(seeded, *COMMANDS[command]))
    assert repr(ref) in line and "cannot be resolved" in line, line


def test_extra_schema_relative_ref_resolves_beside_the_schema_file(seeded: Path) -> None:
    # schemas/common.json is the sibling; the decoy at the root would refuse every manifest
    _use_extra_schema(seeded, {
        "schemas/extra.json": {"$ref": "common.json"},
        "schemas/common.json": {"properties": {"stage": {"enum": ["none", "production", "archived"]}}},
        "common.json": {"not": {}},
    })
    ok = run_gitreg(seeded, "validate")
    assert ok.returncode == 0, ok.stderr
    refused = run_gitreg(seeded, "promote", "m", "2.0.0", "staging", "--reason", "try")
    assert "'staging' is not one of" in one_line_error(refused)  # the sibling's rule is in force
    done = run_gitreg(seeded, "promote", "m", "2.0.0", "archived", "--reason", "retire")
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize("command", sorted(COMMANDS))
@pytest.mark.parametrize("how", ["dotdot", "link"])
def test_extra_schema_path_itself_must_be_inside_the_repository(seeded: Path, tmp_path: Path,
                                                                command: str, how: str) -> None:
    secret = _outside_schema(tmp_path)
    if how == "link":
        (seeded / "schemas").mkdir()
        (seeded / "schemas" / "extra.json").symlink_to(secret)
        _use_extra_schema(seeded, {})
    else:
        _use_extra_schema(seeded, {}, extra="../outside/secret.json")
    line = one_line_error(run_gitreg(seeded, *COMMANDS[command]))
    assert "is outside the registry" in line, line
