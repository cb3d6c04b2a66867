"""gitreg.dvcadd: one plain file added without starting DVC, byte for byte what DVC writes (issue 16).

Every parity test adds the same file twice, in two copies of one registry: once by gitreg
(with DVC forbidden to start) and once by the real `dvc add`, and compares every file
either leaves (cache object and its mode, work-tree copy and its mode, .dvc, .gitignore),
then asks DVC itself whether the result is clean. Each reason to leave the work to DVC is
shown to start DVC, and DVC's answer is then the one recorded.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import git, snapshot
from gitreg import Registry, dvc, dvcadd
from gitreg.errors import ConflictError, UserError
from gitreg.git import Git


def _dvc(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=root, env=dvc.dvc_env(None),
                          capture_output=True, text=True, check=False)


def _tree(root: Path) -> dict[str, Any]:
    """What an add leaves: {relative path: (bytes, mode)} under models/ and in the DVC cache."""
    out: dict[str, Any] = {}
    for base in (root / "models", root / ".dvc" / "cache"):
        for p in sorted(base.rglob("*")) if base.exists() else []:
            if p.is_file():
                out[str(p.relative_to(root))] = (p.read_bytes(), stat.S_IMODE(p.stat().st_mode))
    return out


@pytest.fixture
def pair(repo: Path, tmp_path: Path) -> tuple[Path, Path]:
    """Two identical registries: one for gitreg's add, one for DVC's."""
    other = tmp_path / "other"
    shutil.copytree(repo, other, symlinks=True)
    return repo, other


@pytest.fixture
def dvc_runs(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every DVC process gitreg starts, recorded (and still run)."""
    calls: list[list[str]] = []
    real = dvc.run

    def spy(root: Path, args: Any, *a: Any, **kw: Any) -> str:
        calls.append(list(args))
        return real(root, args, *a, **kw)

    monkeypatch.setattr(dvc, "run", spy)
    return calls


def _add_both(pair: tuple[Path, Path], src: Path, name: str | None = None) -> tuple[Path, Path]:
    """gitreg's add in pair[0], plain `dvc add` of the same file in place in pair[1]."""
    mine, theirs = pair
    name = name or src.name
    rel = Path("models") / "m" / "1.0.0" / name
    for root in pair:
        (root / rel).parent.mkdir(parents=True)
    dvc.add(mine, [mine / rel], None, source=src, ignored=Git(mine).ignored)
    shutil.copy2(src, theirs / rel)
    proc = _dvc(theirs, "add", "-q", str(rel))
    assert proc.returncode == 0, proc.stderr
    return mine / rel, theirs / rel


@pytest.mark.parametrize("name", ["model.pkl", "weights_v2.bin", "Model-Final.onnx", "a.b.c", "_x"])
@pytest.mark.parametrize("size", [0, 1, dvcadd.CHUNK + 17])
def test_the_files_are_exactly_what_dvc_add_writes(pair, make_artifact, dvc_runs, name, size) -> None:
    src = make_artifact(size=size, name=name)
    mine, theirs = _add_both(pair, src)
    assert dvc_runs == []  # gitreg's add started no DVC
    assert _tree(pair[0]) == _tree(pair[1])
    text = mine.with_name(name + ".dvc").read_text()
    assert f"md5: {hashlib.md5(src.read_bytes()).hexdigest()}\n" in text and f"size: {size}\n" in text
    # DVC reads gitreg's result as its own: nothing to add, nothing to commit
    status = _dvc(pair[0], "status", "--json")
    assert status.returncode == 0 and status.stdout.strip() == "{}", status.stdout + status.stderr
    assert mine.read_bytes() == src.read_bytes()


def test_dvc_pushes_and_fetches_what_gitreg_added(pair, make_artifact, dvc_remote: Path, tmp_path) -> None:
    src = make_artifact(size=5000)
    mine, _ = _add_both(pair, src)
    rel = str(mine.relative_to(pair[0]))
    assert _dvc(pair[0], "push", "--", rel + ".dvc").returncode == 0
    shutil.rmtree(pair[0] / ".dvc" / "cache")
    mine.unlink()
    pulled = _dvc(pair[0], "pull", "--", rel + ".dvc")
    assert pulled.returncode == 0, pulled.stderr
    assert mine.read_bytes() == src.read_bytes()


def test_a_registration_through_it_is_clean_and_leaves_the_source_alone(reg: Registry, repo, make_artifact,
                                                                         dvc_runs) -> None:
    src = make_artifact(size=300_000)
    before = src.stat()
    seen: list[tuple[int, int]] = []
    reg.register("m", [src], version="1.0.0", progress=lambda _n, done, total: seen.append((done, total)))
    assert dvc_runs == []
    after = src.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_nlink) == (before.st_ino, before.st_mtime_ns, 1)
    assert git(repo, "status", "--porcelain", "--untracked-files=all") == ""
    assert seen[-1] == (300_000, 300_000) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    assert not list((repo / ".dvc" / "tmp").glob("gitreg-*"))  # no temporary file stays


def test_a_root_ignore_rule_on_the_file_means_no_gitignore_entry_as_with_dvc(pair, make_artifact, dvc_runs) -> None:
    for root in pair:
        (root / ".gitignore").write_text("*.bin\n")
    src = make_artifact(size=100, name="model.bin")
    mine, theirs = _add_both(pair, src)
    assert dvc_runs == []
    assert not mine.with_name(".gitignore").exists() and not theirs.with_name(".gitignore").exists()
    assert _tree(pair[0]) == _tree(pair[1])


def _spied_add(root: Path, src: Path, dvc_runs: list) -> Path:
    target = root / "models" / "m" / "1.0.0" / src.name
    target.parent.mkdir(parents=True)
    dvc.add(root, [target], None, source=src, ignored=Git(root).ignored)
    assert dvc_runs, "DVC should have done this add"
    return target


@pytest.mark.parametrize("case", ["executable", "repo cache type", "local cache dir", "global cache",
                                  "system cache", "no_scm", "dvcignore rule", "model dir dvcignore",
                                  "name with a space", "leading digit", "yaml word", "can clone"])
def test_whatever_could_make_dvc_write_something_else_runs_dvc(pair, make_artifact, dvc_runs, monkeypatch,
                                                              isolated_env, case) -> None:
    root = pair[0]
    name = {"name with a space": "my model.pkl", "leading digit": "1e3", "yaml word": "true"}.get(case, "m.pkl")
    src = make_artifact(size=64, name=name)
    home = Path(isolated_env["HOME"])
    config = root / ".dvc" / "config"
    if case == "executable":
        src.chmod(0o755)
    elif case == "repo cache type":
        config.write_text(config.read_text() + "[cache]\n    type = hardlink\n")
    elif case == "local cache dir":
        (root / ".dvc" / "config.local").write_text(f"[cache]\n    dir = {root.parent / 'elsewhere'}\n")
    elif case == "global cache":
        (home / ".dvc-global").mkdir(exist_ok=True)
        (home / ".dvc-global" / "config").write_text("[cache]\n    shared = group\n")
    elif case == "system cache":
        (home / ".dvc-system").mkdir(exist_ok=True)
        (home / ".dvc-system" / "config").write_text("[cache]\n    type = symlink\n")
    elif case == "no_scm":
        config.write_text(config.read_text().replace("[core]\n", "[core]\n    no_scm = true\n"))
    elif case == "dvcignore rule":
        (root / ".dvcignore").write_text("# comment\n*.tmp\n")
    elif case == "model dir dvcignore":
        (root / "models" / "m").mkdir(parents=True)
        (root / "models" / "m" / ".dvcignore").write_text("scratch/\n")
    elif case == "can clone":
        monkeypatch.setattr(dvcadd, "_can_clone", lambda _d: True)
    try:
        if case == "no_scm":  # DVC then writes no .gitignore entry; gitreg must not either
            _spied_add(root, src, dvc_runs)
            assert not (root / "models" / "m" / "1.0.0" / ".gitignore").exists()
        else:
            target = _spied_add(root, src, dvc_runs)
            assert target.read_bytes() == src.read_bytes()
            if case == "executable":
                assert "isexec: true" in target.with_name(target.name + ".dvc").read_text()
    finally:
        for d in (".dvc-global", ".dvc-system"):
            shutil.rmtree(home / d, ignore_errors=True)


@pytest.mark.parametrize("kind", ["file", "directory"])
def test_an_ignored_dvc_file_is_refused_with_the_fix_and_nothing_changes(reg: Registry, repo, make_artifact,
                                                                         dvc_runs, kind) -> None:
    """DVC refuses an ignored .dvc file, but under -q without a word ("dvc add failed: no
    output"); gitreg refuses it first and says which rule to change."""
    (repo / ".gitignore").write_text("*.dvc\n")
    git(repo, "add", ".gitignore")
    git(repo, "commit", "-qm", "ignore dvc files")
    before = snapshot(repo)
    art = make_artifact()
    with pytest.raises(UserError, match=r"git ignores models/m/1\.0\.0/\S+\.dvc") as info:
        reg.register("m", [art if kind == "file" else art.parent], version="1.0.0")
    assert "git check-ignore -v" in info.value.hint
    assert dvc_runs == []
    after = snapshot(repo)
    assert set(after["files"]) - set(before["files"]) == set(), sorted(set(after["files"]) - set(before["files"]))
    assert after == before


def test_an_intact_cache_object_is_kept_and_a_damaged_one_replaced(pair, make_artifact, dvc_runs) -> None:
    root = pair[0]
    src = make_artifact(size=4096)
    md5 = hashlib.md5(src.read_bytes()).hexdigest()
    obj = root / ".dvc" / "cache" / "files" / "md5" / md5[:2] / md5[2:]
    obj.parent.mkdir(parents=True)
    obj.write_bytes(b"damaged, and not protected")
    target = root / "models" / "m" / "1.0.0" / src.name
    target.parent.mkdir(parents=True)
    dvc.add(root, [target], None, source=src, ignored=Git(root).ignored)
    assert obj.read_bytes() == src.read_bytes() and stat.S_IMODE(obj.stat().st_mode) == 0o444
    inode = obj.stat().st_ino
    second = root / "models" / "m" / "2.0.0" / src.name
    second.parent.mkdir(parents=True)
    dvc.add(root, [second], None, source=src, ignored=Git(root).ignored)
    assert obj.stat().st_ino == inode and second.read_bytes() == src.read_bytes()
    assert dvc_runs == []


def test_dvcs_lock_held_elsewhere_is_a_conflict_and_nothing_is_left(reg: Registry, repo, make_artifact,
                                                                    monkeypatch) -> None:
    monkeypatch.setattr(dvcadd, "LOCK_DELAY", 0.01)
    holder = subprocess.Popen(
        [sys.executable, "-c", "import sys, zc.lockfile; l = zc.lockfile.LockFile(sys.argv[1]); "
         "print('held', flush=True); sys.stdin.read()", str(repo / ".dvc" / "tmp" / "lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        before, cache_before = snapshot(repo), dvc.cache_listing(repo)
        with pytest.raises(ConflictError, match="another DVC process holds the repository lock"):
            reg.register("m", [make_artifact()], version="1.0.0")
        assert snapshot(repo) == before and dvc.cache_listing(repo) == cache_before
        assert not list((repo / ".dvc" / "tmp").glob("gitreg-*"))
    finally:
        holder.communicate("")
    reg.register("m", [make_artifact()], version="1.0.0")  # and once it is free, it works


def test_a_full_disk_is_a_one_line_error_and_the_repository_is_as_before(reg: Registry, repo, make_artifact,
                                                                         monkeypatch) -> None:
    def full(*_a: Any, **_k: Any) -> None:
        raise OSError(errno.ENOSPC, "No space left on device", "models/m/1.0.0/model.pkl")

    before = snapshot(repo)
    cache_before = dvc.cache_listing(repo)
    monkeypatch.setattr(dvcadd, "_copy", full)
    with pytest.raises(UserError, match="no space left on device") as info:
        reg.register("m", [make_artifact()], version="1.0.0")
    assert "\n" not in info.value.message and info.value.hint
    assert snapshot(repo) == before and dvc.cache_listing(repo) == cache_before


def test_a_cache_on_another_file_system_is_left_to_dvc(pair, make_artifact, dvc_runs, monkeypatch) -> None:
    real = os.replace

    def cross(src: Any, dst: Any) -> None:
        if ".dvc/cache" in str(dst):
            raise OSError(errno.EXDEV, "Invalid cross-device link")
        real(src, dst)

    monkeypatch.setattr(dvcadd.os, "replace", cross)
    target = _spied_add(pair[0], make_artifact(size=100), dvc_runs)
    assert target.with_name(target.name + ".dvc").exists()
    assert not list((pair[0] / ".dvc" / "tmp").glob("gitreg-*"))


@pytest.mark.parametrize("text, plain", [
    ("", True),
    ("[core]\n    analytics = false\n    remote = storage\n", True),
    ("['remote \"storage\"']\n    url = /x\n", True),
    ("[core]\n    autostage = true\n", True),
    ("[cache]\n", False),
    ("[ cache ]\n    type = copy\n", False),
    ("[core]\n    hardlink_lock = true\n", False),
    ("[core]\n  no_scm = True\n", False),
    ("not a config [\n", False),
])
def test_only_a_config_without_cache_settings_is_plain(tmp_path: Path, text: str, plain: bool) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    assert dvcadd._plain_config(path) is plain
    assert dvcadd._plain_config(tmp_path / "missing") is True


def test_the_config_files_are_dvcs_four_levels(tmp_path: Path) -> None:
    env = {"HOME": "/h", "XDG_CONFIG_DIRS": "/etc/a:/etc/b"}
    assert [str(p) for p in dvcadd._config_files(tmp_path, env)] == [
        "/etc/a/dvc/config", "/h/.config/dvc/config",
        str(tmp_path / ".dvc" / "config"), str(tmp_path / ".dvc" / "config.local")]
    env = {"HOME": "/h", "XDG_CONFIG_HOME": "/x", "DVC_SYSTEM_CONFIG_DIR": "/s"}
    assert [str(p) for p in dvcadd._config_files(tmp_path, env)][:2] == ["/s/config", "/x/dvc/config"]


@pytest.mark.parametrize("overrides", [
    {}, {"XDG_CONFIG_HOME": "/x"}, {"XDG_CONFIG_DIRS": "/etc/a:/etc/b"},
    {"DVC_GLOBAL_CONFIG_DIR": "/g", "DVC_SYSTEM_CONFIG_DIR": "/s"}])
def test_the_config_files_are_the_ones_dvc_reads(tmp_path: Path, monkeypatch, overrides) -> None:
    from dvc.config import Config

    for key in ("XDG_CONFIG_HOME", "XDG_CONFIG_DIRS", "DVC_GLOBAL_CONFIG_DIR", "DVC_SYSTEM_CONFIG_DIR"):
        monkeypatch.delenv(key, raising=False)
    for key, value in overrides.items():
        monkeypatch.setenv(key, value)
    theirs = [os.path.join(Config.get_dir(level), "config") for level in ("system", "global")]
    assert [str(p) for p in dvcadd._config_files(tmp_path, dict(os.environ))][:2] == theirs


@pytest.mark.parametrize("kernel_copy", ["works", "refused", "stops halfway"])
def test_the_work_tree_copy_is_the_cache_object_byte_for_byte(tmp_path: Path, kernel_copy: str,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "object"
    source.write_bytes(os.urandom(3 * dvcadd.CHUNK * 8 + 12345))  # many chunks of the plain copy
    real = os.copy_file_range
    calls: list[int] = []

    def refuse(src: int, dst: int, count: int, *rest: Any) -> int:
        calls.append(count)
        if kernel_copy == "refused" or len(calls) > 1:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real(src, dst, min(count, dvcadd.CHUNK + 7), *rest)  # a part, then refused

    if kernel_copy != "works":
        monkeypatch.setattr(os, "copy_file_range", refuse)
    dvcadd._copy(source, tmp_path / "copy")
    assert (tmp_path / "copy").read_bytes() == source.read_bytes()  # the reserved size trimmed to it
