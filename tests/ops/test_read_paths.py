"""The fast read paths of issue 16 give the answers of the slow ones they replace.

`history` reads provenance from the log of the model's directory instead of the glob of
its manifests; `list`, `show` and `history` start without importing gitreg.api.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import git
from gitreg import Registry, provenance, yamlio
from gitreg.store import recorded

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "benchmarks"))
import generate  # noqa: E402


@pytest.fixture
def gen(tmp_path: Path, _template: Path) -> Path:
    generate.generate(tmp_path / "reg", 4, 5, seed=2, template=_template, dvc_remote=tmp_path / "remote")
    return tmp_path / "reg"


def _same(a: provenance.Provenance, b: provenance.Provenance) -> None:
    assert a.recorded == b.recorded
    assert a.commits == b.commits
    assert {k: v for k, v in a.introduced.items() if v} == {k: v for k, v in b.introduced.items() if v}
    assert sorted(a.introduced) == sorted(b.introduced)
    assert a.rewritten == b.rewritten


def test_history_by_directory_matches_the_manifest_glob(gen: Path) -> None:
    reg = Registry(gen)
    name = sorted(reg.store.model_tree())[1]
    version = sorted(reg.store.model_tree()[name].manifests)[0]
    vdir = gen / "models" / name / version
    # commits the directory's log sees and the manifests' glob does not: a .dvc-only edit
    # claiming an entry in its message, and a .gitignore-only edit
    dvc_file = next(vdir.glob("*.dvc"))
    dvc_file.write_text(dvc_file.read_text() + "# touched\n")
    git(gen, "commit", "-q", "-am", f"touch\n\nGitreg-Model: {name}\nGitreg-Seq: 1")
    (vdir / ".gitignore").write_text((vdir / ".gitignore").read_text() + "/extra\n")
    git(gen, "commit", "-q", "-am", "ignore more")
    # and a hand edit that rewrites an entry (history is append-only: reported as rewritten)
    data = yamlio.load_file(vdir / "manifest.yaml")
    data["history"][0]["by"] = "mallory@example.com"
    (vdir / "manifest.yaml").write_text(yamlio.dump(data))
    git(gen, "commit", "-q", "-am", "rewrite an entry")
    for names in ([name], [name, sorted(reg.store.model_tree())[0]]):
        _same(provenance.read(reg.git, names), provenance.read(reg.git, names, by_directory=True))
    assert provenance.read(reg.git, [name], by_directory=True).rewritten


def test_history_output_is_what_the_glob_walk_gives(gen: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(gen)
    names = sorted(reg.store.model_tree())
    fast = {n: reg.history(n) for n in names}
    real = provenance.read

    def glob_only(git_: object, names_: object = None, *args: object, **kwargs: object) -> object:
        kwargs.pop("by_directory", None)
        return real(git_, names_, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(provenance, "read", glob_only)
    assert {n: Registry(gen).history(n) for n in names} == fast
    assert all(e["commit"] for h in fast.values() for e in h["events"])


@pytest.mark.parametrize("args", [["list", "--json"], ["show", "churn-0000"], ["history", "churn-0000"]])
def test_read_commands_start_without_the_api(gen: Path, args: list[str]) -> None:
    probe = ("import sys\nfrom gitreg.cli.main import app\n"
             "try:\n    app(prog_name='gitreg', args=sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
             "heavy = [m for m in ('gitreg.api', 'jsonschema', 'ssl', 'rich', 'dvc', 'mlflow') if m in sys.modules]\n"
             "sys.stderr.write('\\nLOADED ' + repr(heavy) + ' ' + repr(code) + '\\n')\n")
    Registry(gen).lifecycle()  # gitreg.yaml validated once (jsonschema), then remembered
    proc = subprocess.run([sys.executable, "-c", probe, *args], cwd=gen, capture_output=True, text=True,
                          env=dict(os.environ), check=False)
    loaded = proc.stderr.rsplit("LOADED ", 1)[-1].strip()
    assert loaded.endswith(" 0"), proc.stderr
    heavy = loaded.rsplit(" ", 1)[0]
    # rich renders the tables of show and history, never --json
    assert heavy in ("[]", "['rich']") and (heavy == "[]" or args[-1] != "--json"), heavy
    if args[0] == "list":
        assert json.loads(proc.stdout) == Registry(gen).list_models()


def _gitreg(cwd: Path, *args: str, lean: bool = True) -> subprocess.CompletedProcess:
    """`gitreg ARGS` as the console script runs it (run()), or straight through the Typer app."""
    code = ("import sys\nfrom gitreg.cli.main import run\nrun()\n"
            "print('TYPER' if 'typer' in sys.modules else 'LEAN', file=sys.stderr)\n") if lean else \
        "import sys\nfrom gitreg.cli.main import app\napp(prog_name='gitreg', args=sys.argv[1:])\n"
    return subprocess.run([sys.executable, "-c", code, *args], cwd=cwd, capture_output=True, text=True,
                          env=dict(os.environ), check=False)


def test_list_json_starts_lean_and_prints_what_the_typer_command_prints(gen: Path) -> None:
    lean, full = _gitreg(gen, "list", "--json"), _gitreg(gen, "list", "--json", lean=False)
    assert (lean.returncode, full.returncode) == (0, 0)
    assert lean.stdout == full.stdout and json.loads(lean.stdout)["models"]
    assert lean.stderr.strip() == "LEAN"
    # any other command line takes the Typer app (which exits: nothing is printed after it)
    table = _gitreg(gen, "list")
    assert table.returncode == 0 and table.stdout.startswith("model") and table.stderr == ""


def test_list_json_errors_and_warnings_are_the_typer_commands(gen: Path, tmp_path: Path) -> None:
    outside = tmp_path / "empty"
    outside.mkdir()
    lean, full = _gitreg(outside, "list", "--json"), _gitreg(outside, "list", "--json", lean=False)
    assert lean.returncode == full.returncode == 1
    assert lean.stderr.splitlines()[0] == full.stderr.strip()
    assert lean.stderr.startswith("error: ") and lean.stdout == ""
    name = sorted(Registry(gen).store.model_tree())[0]
    version = sorted(Registry(gen).store.model_tree()[name].manifests)[0]
    (gen / "models" / name / version / "manifest.yaml").write_text("- not\n- a manifest\n")
    git(gen, "commit", "-q", "-am", "break a manifest")
    lean, full = _gitreg(gen, "list", "--json"), _gitreg(gen, "list", "--json", lean=False)
    assert lean.returncode == full.returncode == 0
    assert lean.stdout == full.stdout
    assert "warning: skipped" in lean.stderr and lean.stderr == full.stderr


# -- history's recording commits, remembered by HEAD ---------------------------------------

def _fresh(reg: Registry, name: str) -> dict[int, str]:
    return {seq: sha for (m, seq), sha in provenance.read(reg.git, [name], by_directory=True).recorded.items()
            if m == name}


def _reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The revs provenance.read is called with from now on."""
    seen: list[str] = []
    real = provenance.read

    def spy(git_: object, names: object = None, rev: str = "HEAD", *args: object, **kwargs: object) -> object:
        seen.append(rev)
        return real(git_, names, rev, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(provenance, "read", spy)
    return seen


def _recorded(reg: Registry, name: str) -> dict[int, str]:
    return recorded.recorded_commits(reg.git, reg.store.state_dir, name)


def _cache_file(reg: Registry, name: str) -> Path:
    found = recorded._recorded_path(reg.store.state_dir, name)
    assert found is not None
    return found


def test_recorded_commits_are_remembered_and_extended_by_new_commits(
        gen: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(gen)
    name = sorted(reg.store.model_tree())[0]
    version = sorted(reg.store.model_tree()[name].manifests)[-1]
    expected = _fresh(reg, name)
    seen = _reads(monkeypatch)
    assert _recorded(reg, name) == expected and seen == [reg.git.head()]  # the whole log, once
    assert _cache_file(reg, name).is_file()
    assert _recorded(reg, name) == expected and len(seen) == 1  # same HEAD: nothing read
    # gitreg's own commits (a request, then its own promote) extend the answer: only the
    # new commits are read, and it is the whole log's answer
    old = reg.git.head()
    Registry(gen).annotate(name, version, description="retrained", reason="new data")
    Registry(gen).promote(name, version, "staging", reason="try it")
    now = _recorded(reg, name)
    assert seen[-1] == f"{old}..{reg.git.head()}"
    assert now == _fresh(reg, name) and len(now) > len(expected)
    assert Registry(gen).history(name)["events"][-1]["commit"] == reg.git.head()
    # a hand edit that rewrites an old entry: the first commit to add an entry keeps it
    path = gen / "models" / name / version / "manifest.yaml"
    data = yamlio.load_file(path)
    data["history"][0]["by"] = "mallory@example.com"
    path.write_text(yamlio.dump(data))
    git(gen, "commit", "-q", "-am", "rewrite an entry")
    assert _recorded(reg, name) == _fresh(reg, name) == now


def test_recorded_commits_are_read_whole_after_a_reset_a_merge_or_a_replace(
        gen: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(gen)
    name = sorted(reg.store.model_tree())[1]
    version = sorted(reg.store.model_tree()[name].manifests)[0]
    _recorded(reg, name)
    Registry(gen).annotate(name, version, description="one", reason="r")
    seen = _reads(monkeypatch)
    git(gen, "reset", "-q", "--hard", "HEAD~1")  # HEAD moved back: read whole
    assert _recorded(reg, name) == _fresh(reg, name) and ".." not in seen[0]
    # a merge brings in a side branch's annotation: read whole, as git log attributes it
    git(gen, "checkout", "-q", "-b", "side")
    path = gen / "models" / name / version / "manifest.yaml"
    data = yamlio.load_file(path)
    top = max(h["seq"] for m in Registry(gen).store.model_manifests(name)[0].values() for h in m["history"])
    data["history"].append({"seq": top + 5, "action": "annotate", "at": "2026-02-01T00:00:00Z",
                            "by": "alice@example.com", "description": "side"})
    path.write_text(yamlio.dump(data))
    git(gen, "commit", "-q", "-am", "an entry on a side branch")
    git(gen, "checkout", "-q", "main")
    Registry(gen).annotate(name, description="model-level", reason="r")
    git(gen, "merge", "-q", "--no-edit", "side")
    seen.clear()
    merged = _recorded(reg, name)
    assert merged == _fresh(reg, name) and [".." in r for r in seen] == [False, False]
    side = git(gen, "rev-parse", "side").strip()
    assert side in merged.values()
    assert merged[top + 5] == side
    # a replace ref rewrites what git log walks without moving HEAD (here: the side commit
    # no longer adds its entry): read whole again
    fake = git(gen, "commit-tree", f"{side}~1^{{tree}}", "-p", f"{side}~1", "-m", "replaced").strip()
    git(gen, "replace", side, fake)
    seen.clear()
    replaced = _recorded(reg, name)
    assert replaced == _fresh(reg, name) and top + 5 not in replaced and len(seen) == 2
    assert Registry(gen).history(name) == Registry(gen).history(name)


@pytest.mark.parametrize("content", [
    b"", b"not json", b"[]", b'{"version": 1}',
    b'{"version":1,"name":"%(name)s","graph":"%(graph)s","head":"%(head)s","recorded":[[1,"zz"]]}',
    b'{"version":1,"name":"%(name)s","graph":"%(graph)s","head":"%(head)s","recorded":[[true,"%(head)s"]]}',
    b'{"version":1,"name":"%(name)s","graph":"%(graph)s","head":"%(head)s","recorded":[[1,"%(head)s"],[1,"%(head)s"]]}',
    b'{"version":1,"name":"other","graph":"%(graph)s","head":"%(head)s","recorded":[]}',
    b'{"version":1,"name":"%(name)s","graph":"0","head":"%(head)s","recorded":[]}',
    b'{"version":2,"name":"%(name)s","graph":"%(graph)s","head":"%(head)s","recorded":[]}',
    b'{"version":1,"name":"%(name)s","graph":"%(graph)s","head":"%(head)s","recorded":[],"x":1}',
])
def test_a_recorded_commits_file_that_is_not_what_gitreg_writes_is_rebuilt(gen: Path, content: bytes) -> None:
    reg = Registry(gen)
    name = sorted(reg.store.model_tree())[2]
    expected = _fresh(reg, name)
    path = _cache_file(reg, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    fill = {"name": name, "graph": recorded._graph_key(reg.git, reg.store.state_dir), "head": reg.git.head()}
    path.write_bytes(content % {k.encode(): v.encode() for k, v in fill.items()}
                     if b"%(" in content else content)
    assert _recorded(reg, name) == expected
    written = json.loads(path.read_bytes())
    assert written["head"] == reg.git.head() and dict(map(tuple, written["recorded"])) == expected


def test_a_log_git_could_not_read_is_never_remembered(gen: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reg = Registry(gen)
    name = sorted(reg.store.model_tree())[3]
    expected = _fresh(reg, name)
    with monkeypatch.context() as m:
        m.setattr(provenance, "_log", lambda *args, **kwargs: None)  # git log failed (fault injected)
        assert _recorded(reg, name) == {}
    assert not _cache_file(reg, name).exists()
    assert _recorded(reg, name) == expected and _cache_file(reg, name).is_file()
