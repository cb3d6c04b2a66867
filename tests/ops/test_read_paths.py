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
