"""assert_tools_agree: gitreg, the real gto 1.10.1 and `dvc artifacts get --stage` see the same stages
and aliases (an alias is a GTO stage with one holder)."""

from __future__ import annotations

import atexit
import hashlib
import itertools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable

from typer.testing import CliRunner

from conftest import GTO
from gitreg.cli.main import app

_RUNNER = CliRunner()
# (repo, model, stage) -> (holder, that stage's tags) when DVC last confirmed it: DVC's answer is a
# function of the NAME#STAGE tags (names and objects) alone, so an unchanged set needs no new call
_CONFIRMED: dict[tuple[str, str, str], tuple[str, frozenset[str]]] = {}
# repo -> (all its tags, gitreg's state) when gto last agreed: gto reads nothing else that changes
_GTO_AGREED: dict[str, tuple[frozenset[str], str]] = {}
_OUT = itertools.count()

# `dvc artifacts get` runs in one long-lived subprocess of this venv that calls dvc.cli.main(argv)
# per request: the code `python -m dvc` runs, which opens the repository afresh and cleans up
# its clones every call; it saves the ~1 s import of each new process.
_DVC_WORKER = r"""
import json, os, sys
from dvc.cli import main
for line in sys.stdin:
    rc = main(json.loads(line))
    sys.stdout.flush()
    sys.stderr.flush()
    os.write(1, b"\n@@dvc-rc %d\n" % (rc or 0))
"""
_worker: subprocess.Popen | None = None


def _dvc(argv: list[str]) -> tuple[int, str]:
    global _worker
    if _worker is None or _worker.poll() is not None:
        _worker = subprocess.Popen([sys.executable, "-c", _DVC_WORKER], stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                   cwd=Path(sys.executable).parent)
        atexit.register(_worker.stdin.close)  # type: ignore[union-attr]
    assert _worker.stdin and _worker.stdout
    _worker.stdin.write(json.dumps(argv) + "\n")
    _worker.stdin.flush()
    output = []
    for line in _worker.stdout:
        if line.startswith("@@dvc-rc "):
            return int(line.split()[1]), "".join(output)
        output.append(line)
    raise AssertionError("the dvc worker died: " + "".join(output))


def gitreg_json(repo: Path, *args: str) -> Any:
    r = _RUNNER.invoke(app, ["-C", str(repo), *args, "--json"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def gitreg_state(repo: Path) -> dict[str, Any]:
    # a model made by `gitreg create` has no version yet: GTO has no such thing to show
    return {m["name"]: {"latest": m["latest"] or "", "stages": m["stages"]}
            for m in gitreg_json(repo, "list")["models"] if m["versions"]}


def gitreg_state_with_aliases(repo: Path) -> dict[str, Any]:
    """{name: {"latest", "stages", "aliases"}}: what `gitreg list --json` says."""
    return {m["name"]: {"latest": m["latest"] or "", "stages": m["stages"], "aliases": m["aliases"]}
            for m in gitreg_json(repo, "list")["models"] if m["versions"]}


def as_gto_sees_it(state: dict[str, Any]) -> dict[str, Any]:
    """gitreg's state as gto shows it: an alias is a GTO stage with its one holder."""
    return {name: {"latest": s["latest"], "stages": {**s["stages"], **s["aliases"]}}
            for name, s in state.items()}


def _from_gto(data: dict[str, Any]) -> dict[str, Any]:
    return {name: {"latest": (v["version"] or "").removeprefix("v"),
                   "stages": {s: ver.removeprefix("v") for s, ver in v["stage"].items() if ver}}
            for name, v in data.items()}


def gto_state(repo: Path) -> dict[str, Any]:
    """`gto show --json`, the real gto CLI in a subprocess."""
    assert GTO, "the real gto is not installed (pip install gto); .ci/run installs it"
    proc = subprocess.run([GTO, "show", "--json"], cwd=repo, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return _from_gto(json.loads(proc.stdout or "{}"))


def gto_state_inprocess(repo: Path, deprecated: bool = False) -> dict[str, Any]:
    """What `gto show --json` prints (gto.api.show with the CLI's defaults), without the 0.6 s
    process start; gto opens the repository afresh on every call. deprecated: `--deprecated`."""
    from gto import api

    return _from_gto(api.show(str(repo), table=False, deprecated=deprecated))


def dvc_artifacts_get(repo: Path, name: str, stage: str, out: Path) -> None:
    """The real `dvc artifacts get REPO NAME --stage S -o OUT`, offline (see _DVC_WORKER)."""
    rc, output = _dvc(["artifacts", "get", str(repo), name, "--stage", stage, "-o", str(out)])
    assert rc == 0, f"dvc artifacts get {name} --stage {stage} failed: {output}"


def _tags(repo: Path) -> tuple[frozenset[str], dict[tuple[str, str], frozenset[str]]]:
    """All tags (name and object), and the stage tags of each (model, stage)."""
    proc = subprocess.run(["git", "for-each-ref", "--format=%(refname:strip=2) %(objectname)", "refs/tags"],
                          cwd=repo, capture_output=True, text=True, check=True)
    found: dict[tuple[str, str], set[str]] = {}
    for line in proc.stdout.splitlines():
        parts = line.split(" ")[0].split("#")
        if len(parts) == 3:
            found.setdefault((parts[0], parts[1].rstrip("!")), set()).add(line)
    return frozenset(proc.stdout.splitlines()), {k: frozenset(v) for k, v in found.items()}


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def assert_tools_agree(repo: Path, models: Iterable[str] | None = None, *, doctor: bool = True,
                       gto_only: Iterable[str] = ()) -> dict:
    """After any mutation: `gto show` == `gitreg list` (its aliases as gto stages), `gitreg doctor`
    is clean, and for every non-empty stage and every alias of `models` (default: all) DVC
    downloads the bytes `gitreg resolve NAME#S` / `NAME@ALIAS` names.

    gto_only: models gto shows that gitreg refuses to store (a GTO name with `/`).
    Returns gitreg's state ({name: {"latest", "stages", "aliases"}}). DVC reads a local registry's own
    cache, so nothing needs pushing first.
    """
    mine = gitreg_state_with_aliases(repo)
    all_tags, tags = _tags(repo)
    agreed = (all_tags, json.dumps(mine, sort_keys=True))
    if _GTO_AGREED.get(str(repo)) != agreed:
        theirs = gto_state_inprocess(repo)
        assert set(gto_only) <= set(theirs), "gto does not show the models gitreg left to it"
        theirs = {k: v for k, v in theirs.items() if k not in set(gto_only)}
        assert theirs == as_gto_sees_it(mine), "gto show and gitreg list disagree"
        if any(t.split(" ")[0].endswith(("!", "@deprecated")) for t in all_tags):
            # what each hides: gto's deprecated models are the ones `gitreg list` counts in "hidden"
            shown_by_gto_d = set(gto_state_inprocess(repo, deprecated=True))
            hidden = gitreg_json(repo, "list")["hidden"]
            assert sorted(shown_by_gto_d - set(mine) - set(gto_only)) == hidden, "gitreg list hides other models than gto"
        _GTO_AGREED[str(repo)] = agreed
    if doctor:
        r = _RUNNER.invoke(app, ["-C", str(repo), "doctor"], catch_exceptions=False)
        assert r.exit_code == 0, r.output
    for name in sorted(mine if models is None else set(models)):
        # an alias is fetched as a stage too: `dvc artifacts get --stage champion`
        refs = [(stage, version, f"{name}#{stage}") for stage, version in mine[name]["stages"].items()]
        refs += [(alias, version, f"{name}@{alias}") for alias, version in mine[name]["aliases"].items()]
        for stage, version, ref in sorted(refs):
            seen = (version, tags.get((name, stage), frozenset()))
            if _CONFIRMED.get((str(repo), name, stage)) == seen:
                continue
            resolved = gitreg_json(repo, "resolve", ref)
            assert resolved["version"] == version
            out = repo.parent / "dvc-get" / f"{name}-{stage}-{version}-{next(_OUT)}"
            dvc_artifacts_get(repo, name, stage, out)
            arts = resolved["artifacts"]
            wrong = f"dvc artifacts get {name} --stage {stage} did not fetch {version}"
            if out.is_file():
                assert len(arts) == 1 and _md5(out) == arts[0]["md5"], wrong
            else:  # a directory artifact: compare it file by file with the registered one
                src = repo / arts[0]["path"]
                got = {p.relative_to(out): _md5(p) for p in out.rglob("*") if p.is_file()}
                assert got == {p.relative_to(src): _md5(p) for p in src.rglob("*") if p.is_file()}, wrong
            _CONFIRMED[(str(repo), name, stage)] = seen
    return mine
