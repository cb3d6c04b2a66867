"""Nothing half-happens (issue 11): each failure below ends with one line, a documented exit code
(1-4, never 70) and the repository exactly as before, against real git and DVC.

Faults that root cannot produce here (a read-only .git, a full disk) are injected with a mock
at the filesystem boundary; everything else is the real thing."""

from __future__ import annotations

import errno
import os
import stat
import time
from pathlib import Path

import pytest

from conftest import git, snapshot
from gitreg import Registry

from ._util import run_gitreg, run_killed

def _one_line_error(r, code: int | set[int]) -> str:
    codes = {code} if isinstance(code, int) else code
    assert r.exit_code in codes, (r.exit_code, r.output)
    assert "Traceback" not in r.output and "internal error" not in r.output, r.output
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, r.stderr
    return errors[0]


def _commit_file(repo: Path, rel: str, data: bytes) -> None:
    path = repo / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    git(repo, "add", "--", rel)
    git(repo, "commit", "-qm", f"hand-made {rel[:40]}")


def _cache_files(repo: Path) -> dict[str, bytes]:
    cache = repo / ".dvc" / "cache"
    return {str(p.relative_to(cache)): p.read_bytes() for p in cache.rglob("*") if p.is_file()}


# -- 1. a stale .git/index.lock ------------------------------------------------------------------
def test_a_stale_index_lock_is_refused_up_front_touching_nothing(seeded, cli, make_artifact):
    lock = seeded / ".git" / "index.lock"
    lock.write_text("")
    before = snapshot(seeded)
    for args in (("register", "m", str(make_artifact())), ("promote", "m", "2.0.0", "staging"),
                 ("doctor", "--fix")):
        line = _one_line_error(cli(seeded, *args), 4)
        assert ".git/index.lock" in line and "no git process" in line, line
    assert snapshot(seeded) == before
    lock.unlink()
    assert cli(seeded, "register", "m", str(make_artifact())).exit_code == 0


# -- 2. a leftover temp file of an atomic write ---------------------------------------------------
def test_a_kill_inside_an_atomic_write_is_reported_and_fixed_by_doctor(seeded, cli):
    # die just before the manifest's atomic write renames its temporary file
    run_killed(seeded, "gitreg.yamlio:os.replace", 1, "before", "promote", "m", "2.0.0", "staging",
               match="manifest.yaml")
    temps = list((seeded / "models/m/2.0.0").glob(".manifest.yaml.*.tmp"))
    assert len(temps) == 1
    rel = str(temps[0].relative_to(seeded))
    r = cli(seeded, "doctor")
    assert r.exit_code == 1 and rel in r.stderr, r.output
    r = cli(seeded, "doctor", "--fix")
    assert r.exit_code == 0, r.output
    assert rel in r.stderr and not temps[0].exists()
    assert cli(seeded, "doctor").exit_code == 0
    assert cli(seeded, "promote", "m", "2.0.0", "staging").exit_code == 0


def test_gitreg_temp_files_do_not_wedge_mutations(seeded, cli, make_artifact):
    leftovers = [seeded / "models/m/2.0.0/.manifest.yaml.k3j4_h5g.tmp", seeded / ".dvc.yaml.abcdefgh.tmp"]
    for p in leftovers:
        p.write_text("half")
    assert cli(seeded, "promote", "m", "2.0.0", "staging").exit_code == 0
    assert cli(seeded, "register", "m", str(make_artifact())).exit_code == 0
    assert all(p.exists() for p in leftovers)  # never committed, never deleted by a mutation
    assert git(seeded, "ls-files", "--", *[str(p) for p in leftovers]) == ""
    # a file that merely looks similar is the user's: it still blocks, and doctor leaves it alone
    mine = seeded / "models/m/2.0.0/notes.tmp"
    mine.write_text("mine")
    assert cli(seeded, "promote", "m", "2.0.0", "archived").exit_code == 4
    assert cli(seeded, "doctor", "--fix").exit_code == 0
    assert mine.exists() and not any(p.exists() for p in leftovers)


# -- 3. artifact names that collide with gitreg's and DVC's own files ------------------------------
@pytest.mark.parametrize("fname", ["manifest.yaml", ".gitignore", "model.pkl.dvc", "x.dvc"])
def test_artifact_names_that_collide_are_refused_up_front(seeded, cli, tmp_path, fname):
    art = tmp_path / "art" / fname
    art.parent.mkdir()
    art.write_bytes(os.urandom(100))
    before, cache = snapshot(seeded), _cache_files(seeded)
    line = _one_line_error(cli(seeded, "register", "m", str(art)), 1)
    assert fname in line and "rename" in line and "directory" in line, line
    assert snapshot(seeded) == before and _cache_files(seeded) == cache
    # registering its directory works: the file then lives under model/
    assert cli(seeded, "register", "m", str(art.parent)).exit_code == 0
    assert cli(seeded, "register", "m", str(art.parent), "--bump", "patch").exit_code == 0
    assert Registry(seeded).validate().problems == []


# -- 4. --push without an origin -------------------------------------------------------------------
def test_push_without_origin_is_refused_before_anything_changes(seeded, cli, make_artifact):
    before = snapshot(seeded)
    for args in (("register", "m", str(make_artifact()), "--push"),
                 ("promote", "m", "2.0.0", "staging", "--push"),
                 ("request", "m", "2.0.0", "staging", "--reason", "r", "--push"),
                 ("rollback", "m", "--to", "1.0.0", "--reason", "r", "--push")):
        line = _one_line_error(cli(seeded, *args), 1)
        assert "origin" in line and "git remote add origin" in line, line
    assert snapshot(seeded) == before


# -- 5. --sign without a signing key ----------------------------------------------------------------
def test_sign_without_a_key_is_one_line_and_changes_nothing(seeded, cli, make_artifact, tmp_path):
    gnupg = tmp_path / "gnupg"
    gnupg.mkdir(mode=0o700)
    env = {"GNUPGHOME": str(gnupg)}
    before = snapshot(seeded)
    for args in (("register", "m", str(make_artifact()), "--sign"),
                 ("promote", "m", "2.0.0", "staging", "--sign")):
        line = _one_line_error(cli(seeded, *args, env=env), 1)
        assert "user.signingkey" in line and "gpg.format" in line, line
    git(seeded, "config", "gpg.format", "ssh")  # ssh signing needs user.signingkey: refused up front
    line = _one_line_error(cli(seeded, "promote", "m", "2.0.0", "staging", "--sign", env=env), 1)
    assert "user.signingkey" in line
    assert snapshot(seeded) == before


# -- 6. YAML python tags and deep nesting ------------------------------------------------------------
@pytest.mark.parametrize("text", [
    b'!!python/object/apply:os.system ["echo pwned"]\n',
    b"name: m\nhistory: !!python/object/apply:os.system [\"echo\"]\n",
    b"name: m\ncustom: " + b"[" * 10_000 + b"]" * 10_000 + b"\n",
])
def test_python_tags_and_deep_nesting_are_problems_not_crashes(seeded, cli, text):
    _commit_file(seeded, "models/m/2.0.0/manifest.yaml", text)
    r = cli(seeded, "validate")
    assert r.exit_code == 1 and "Traceback" not in r.output and "internal error" not in r.output, r.output
    assert any(ln.startswith("models/m/2.0.0/manifest.yaml:") and ln.split(":")[1].isdigit()
               and ln.split(":")[2].isdigit() for ln in r.stdout.splitlines()), r.output
    for args in (("list",), ("show", "m"), ("history", "m"), ("show", "m@2.0.0"), ("doctor",)):
        r = cli(seeded, *args)
        assert r.exit_code in {0, 1}, (args, r.output)
        assert "Traceback" not in r.output and "internal error" not in r.output, (args, r.output)
        assert "models/m/2.0.0/manifest.yaml" in r.stderr, (args, r.output)
    assert not (seeded / "pwned").exists()


# -- 7. a read-only .git ---------------------------------------------------------------------------
def _read_only_git(monkeypatch, repo: Path) -> None:
    """What `chmod -R a-w .git` does for a non-root user: every open for writing under .git fails
    (root ignores the mode bits, so the fault is injected at os.open, the filesystem boundary)."""
    real_open = os.open
    git_dir = str(repo / ".git")

    def fake_open(path, flags, *args, **kwargs):
        if str(path).startswith(git_dir) and flags & (os.O_WRONLY | os.O_RDWR | os.O_CREAT):
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)


def test_a_read_only_git_dir_is_a_clear_error(seeded, cli, make_artifact, monkeypatch):
    art = make_artifact()
    before = snapshot(seeded)
    _read_only_git(monkeypatch, seeded)
    for args in (("register", "m", str(art)), ("promote", "m", "2.0.0", "staging"), ("doctor", "--fix")):
        line = _one_line_error(cli(seeded, *args), {1, 4})
        assert "Read-only file system" in line and ".git" in line, line
    assert snapshot(seeded) == before


def test_git_failing_to_write_mid_change_is_undone(seeded, cli, make_artifact, monkeypatch):
    """The lock and journal could be written, but git cannot write its objects: undone, exit 1."""
    import subprocess

    real_run = subprocess.run

    def fake_run(cmd, *args, **kwargs):
        if cmd[:2] in (["git", "add"], ["git", "commit"], ["git", "commit-tree"]):
            return subprocess.CompletedProcess(
                cmd, 128, "" if kwargs.get("text") else b"",
                "error: insufficient permission for adding an object to repository database "
                ".git/objects\nfatal: Unable to create '.git/index.lock': Read-only file system\n"
                if kwargs.get("text") else b"fatal: Read-only file system\n")
        return real_run(cmd, *args, **kwargs)

    before = snapshot(seeded)
    monkeypatch.setattr(subprocess, "run", fake_run)
    for args in (("register", "m", str(make_artifact())), ("promote", "m", "2.0.0", "staging")):
        line = _one_line_error(cli(seeded, *args), {1, 4})
        assert "Read-only file system" in line or "permission" in line, line
    monkeypatch.undo()
    assert snapshot(seeded) == before


# -- 8. a full disk ------------------------------------------------------------------------------
def test_disk_full_during_register_removes_only_its_own_cache_objects(seeded, cli, make_artifact,
                                                                      monkeypatch):
    from gitreg import yamlio

    real_write = yamlio.write_atomic

    def full_disk(path, text, **kwargs):
        if Path(path).name == "manifest.yaml":  # after DVC has put the object into its cache
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_write(path, text, **kwargs)

    cached = _cache_files(seeded)
    old_object = next(iter(cached.values()))  # bytes that are in the cache already
    before = snapshot(seeded)
    monkeypatch.setattr(yamlio, "write_atomic", full_disk)
    for art in (make_artifact(), make_artifact(content=old_object)):
        line = _one_line_error(cli(seeded, "register", "m", str(art)), {1, 4})
        assert "No space left on device" in line, line
        assert snapshot(seeded) == before
        assert _cache_files(seeded) == cached  # the new object is gone, the old one stays
    # a directory artifact: every object it added is removed
    folder = make_artifact().parent
    (folder / "b.bin").write_bytes(os.urandom(50))
    _one_line_error(cli(seeded, "register", "m", str(folder)), {1, 4})
    assert snapshot(seeded) == before and _cache_files(seeded) == cached


def test_dvc_reporting_a_full_disk_is_translated():
    from gitreg import dvc
    from gitreg.errors import GitregError

    exc = dvc._translate("ERROR: unexpected error - [Errno 28] No space left on device: '/x'\n", "dvc add")
    assert isinstance(exc, GitregError) and exc.exit_code == 1 and "No space left" in exc.message


# -- 9. a .dvc file that is a symlink --------------------------------------------------------------
@pytest.mark.parametrize("where", ["/etc/passwd", "../../../../outside.dvc"])
def test_get_refuses_a_dvc_file_that_is_a_symlink(seeded, cli, tmp_path, where):
    (tmp_path / "outside.dvc").write_text("outs:\n- md5: 0123456789abcdef0123456789abcdef\n  path: x\n")
    vdir = seeded / "models/m/2.0.0"
    dvc_file = next(vdir.glob("*.dvc"))
    dvc_file.unlink()
    dvc_file.symlink_to(where)
    git(seeded, "add", "-A", "--", str(vdir))
    git(seeded, "commit", "-qm", "hostile symlink")
    git(seeded, "tag", "-f", "-a", "-m", "moved", "m@v2.0.0", "HEAD")
    out = tmp_path / "out"
    for args in (("get", "m@2.0.0", "-o", str(out)), ("get", "m@2.0.0", "-o", str(out), "--repo", str(seeded))):
        line = _one_line_error(cli(tmp_path, *args) if "--repo" in args else cli(seeded, *args), 1)
        assert "symbolic link" in line, line
        assert not out.exists()


# -- 10. a directory artifact missing from the DVC remote --------------------------------------------
def test_get_of_a_directory_missing_from_the_remote_says_so(repo, bare_remote, tmp_path, cli):
    src = tmp_path / "bundle"
    src.mkdir()
    (src / "a.bin").write_bytes(os.urandom(100))
    (src / "b.bin").write_bytes(os.urandom(100))
    Registry(repo).register("m", [src], version="1.0.0")  # never pushed to the DVC remote
    git(repo, "push", "-q", "origin", "main", "--tags")
    clone = tmp_path / "clone2"
    git(tmp_path, "clone", "-q", str(bare_remote), str(clone))
    out = tmp_path / "out"
    line = _one_line_error(cli(clone, "get", "m", "-o", str(out)), 1)
    assert "not in the DVC remote" in line and "dvc push" in line, line
    assert not out.exists()


# -- 11. --repo URLs and network timeouts ------------------------------------------------------------
@pytest.mark.parametrize("url", ["fd::3", "ext::sh -c touch% pwned", "-uhack", "--upload-pack=touch pwned",
                                 "ftp://host/x", "file::/tmp/x", "transport::x"])
def test_get_refuses_transport_helpers_and_options_as_repo(tmp_path, url):
    proc = run_gitreg(tmp_path, "get", "m", "--repo", url, "-o", str(tmp_path / "out"), timeout=60)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert proc.stderr.startswith("error:") and "--repo" in proc.stderr, proc.stderr
    assert not (tmp_path / "pwned").exists() and not (tmp_path / "out").exists()


def _hanging_ssh(tmp_path: Path) -> str:
    script = tmp_path / "fake-ssh"
    script.write_text("#!/bin/sh\nexec sleep 60\n")  # a host that never answers
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    return str(script)


def test_network_calls_time_out_with_a_hint(seeded, tmp_path, make_artifact):
    env = {**os.environ, "GIT_SSH_COMMAND": _hanging_ssh(tmp_path), "GITREG_NETWORK_TIMEOUT": "2"}
    started = time.monotonic()
    proc = run_gitreg(tmp_path, "get", "m", "--repo", "ssh://git@registry.invalid/r.git",
                      "-o", str(tmp_path / "out"), env=env, timeout=60)
    assert proc.returncode in {1, 4}, proc.stderr
    assert "timed out after 2" in proc.stderr and "GITREG_NETWORK_TIMEOUT" in proc.stderr, proc.stderr
    git(seeded, "remote", "add", "origin", "git@registry.invalid:r.git")  # scp-style: ssh
    proc = run_gitreg(seeded, "promote", "m", "2.0.0", "staging", "--push", env=env, timeout=60)
    assert proc.returncode == 4, proc.stderr
    assert "timed out after 2" in proc.stderr and "GITREG_NETWORK_TIMEOUT" in proc.stderr, proc.stderr
    assert time.monotonic() - started < 40


def test_a_bad_network_timeout_value_is_a_user_error(seeded, tmp_path):
    env = {**os.environ, "GITREG_NETWORK_TIMEOUT": "soon"}
    proc = run_gitreg(tmp_path, "get", "m", "--repo", str(seeded), "-o", str(tmp_path / "o"), env=env)
    assert proc.returncode == 1 and "GITREG_NETWORK_TIMEOUT" in proc.stderr, proc.stderr


# -- 12. one hostile manifest does not take the registry down -----------------------------------------
HOSTILE_MANIFESTS = [
    b'!!python/object/apply:os.system ["echo"]\n',
    b"name: bad\nversion: 1.0.0\nhistory: 7\n",
    b"a: &a [x]\nb: *a\n",
]


@pytest.mark.parametrize("text", HOSTILE_MANIFESTS)
def test_one_hostile_manifest_does_not_take_the_registry_down(seeded, cli, tmp_path, text):
    _commit_file(seeded, "models/bad/1.0.0/manifest.yaml", text)
    bad = "models/bad/1.0.0/manifest.yaml"
    for args in (("list",), ("list", "--json"), ("site", "-o", str(tmp_path / "site"))):
        r = cli(seeded, *args)
        assert r.exit_code == 0, (args, r.output)
        assert "warning:" in r.stderr and bad in r.stderr, (args, r.output)
    for args in (("show", "m"), ("history", "m"), ("resolve", "m")):
        assert cli(seeded, *args).exit_code == 0, args
    assert "bad" not in cli(seeded, "list", "--json").stdout
    r = cli(seeded, "doctor")
    assert r.exit_code == 1 and bad in r.stderr, r.output
    r = cli(seeded, "validate")
    assert r.exit_code == 1 and bad in r.stdout
    assert cli(seeded, "promote", "m", "2.0.0", "staging").exit_code == 0
    before = snapshot(seeded)
    for args in (("promote", "bad", "1.0.0", "staging"), ("show", "bad")):
        line = _one_line_error(cli(seeded, *args), 1)
        assert bad in line, line
    assert snapshot(seeded) == before


def test_a_broken_version_blocks_mutations_of_its_model_only(seeded, cli, make_artifact):
    _commit_file(seeded, "models/m/3.0.0/manifest.yaml", b"name: m\nversion: 3.0.0\nhistory: {}\n")
    bad = "models/m/3.0.0/manifest.yaml"
    before = snapshot(seeded)
    for args in (("promote", "m", "2.0.0", "staging"), ("register", "m", str(make_artifact())),
                 ("show", "m@3.0.0")):
        line = _one_line_error(cli(seeded, *args), 1)
        assert bad in line, line
    assert snapshot(seeded) == before
    r = cli(seeded, "show", "m", "--json")  # the other versions are still readable
    assert r.exit_code == 0 and bad in r.stderr and '"2.0.0"' in r.stdout
    assert cli(seeded, "register", "other", str(make_artifact())).exit_code == 0


# -- 13. big blobs are refused before they are read -----------------------------------------------------
def test_a_big_manifest_blob_is_refused_before_it_is_read(seeded, cli, monkeypatch):
    from gitreg.git import Git

    big = b"schema_version: 1\ndescription: " + b"x" * (6 * 1024 * 1024) + b"\n"
    _commit_file(seeded, "models/m/2.0.0/manifest.yaml", big)
    big_sha = git(seeded, "rev-parse", "HEAD:models/m/2.0.0/manifest.yaml").strip()
    real_cat = Git.cat_blobs
    asked: list[str] = []

    def cat_blobs(self, shas):
        asked.extend(shas)
        return real_cat(self, shas)

    monkeypatch.setattr(Git, "cat_blobs", cat_blobs)
    for args in (("list",), ("show", "m"), ("show", "m@2.0.0"), ("doctor",)):
        r = cli(seeded, *args)
        assert r.exit_code in {0, 1}, (args, r.output)
        assert f"{len(big)} bytes" in r.stderr and "the limit is" in r.stderr, (args, r.output)
    assert big_sha not in asked
    r = cli(seeded, "validate")
    assert r.exit_code == 1 and f"{len(big)} bytes" in r.stdout



@pytest.mark.parametrize("url,ok", [
    ("/srv/registry", True), ("registry", True), ("../registry.git", True), ("file:///srv/r.git", True),
    ("ssh://git@host/r.git", True), ("git://host/r.git", True), ("https://host/r.git", True),
    ("http://host:8080/r.git", True), ("git@github.com:org/r.git", True), ("host:r.git", True),
    ("fd::3", False), ("ext::sh -c id", False), ("foo::bar", False), ("-oProxyCommand=id", False),
    ("ftp://host/r.git", False), ("a@b@c:d", False), ("", False), ("host:r\n.git", False),
])
def test_repo_url_table(url, ok):
    from gitreg.errors import UserError
    from gitreg.git import check_repo_url

    if ok:
        check_repo_url(url, local_exists=False)
    else:
        with pytest.raises(UserError, match="--repo"):
            check_repo_url(url, local_exists=False)
