"""The benchmark suite cannot rot (issue 6): its generator writes real gitreg registries
(doctor and validate clean, the real GTO reads the same state as `gitreg list`), and the
runner's smoke size runs end to end. Timings are judged only by the full runner."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

import pytest

from conftest import GTO, git, gitreg_exe
from gitreg import Registry, yamlio

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
sys.path.insert(0, str(BENCH))
import generate  # noqa: E402


@pytest.fixture(scope="module")
def gen10(tmp_path_factory: pytest.TempPathFactory, _template: Path) -> tuple[Path, dict]:
    base = tmp_path_factory.mktemp("bench10")
    stats = generate.generate(base / "reg", 10, 5, seed=0, template=_template, dvc_remote=base / "remote")
    return base / "reg", stats


def run_cli(repo: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*gitreg_exe(), *args], cwd=repo, capture_output=True, text=True,
                          env=dict(os.environ), check=False)


def test_generated_registry_is_clean_for_doctor_and_validate(gen10: tuple[Path, dict]) -> None:
    repo, stats = gen10
    assert stats["models"] == 10 and stats["commits"] > 50 and stats["promotions"] > 0
    doctor = run_cli(repo, "doctor")
    assert doctor.returncode == 0, doctor.stdout + doctor.stderr
    assert "tags match the manifests" in doctor.stdout + doctor.stderr
    validate = run_cli(repo, "validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
    assert git(repo, "status", "--porcelain") == ""


def test_gto_reads_the_same_state_as_gitreg_list(gen10: tuple[Path, dict]) -> None:
    repo, _ = gen10
    assert GTO, "the real gto must be installed (.ci/run installs it into its own venv)"
    gto = subprocess.run([GTO, "show", "--json"], cwd=repo, capture_output=True, text=True,
                         env=dict(os.environ), check=True)
    theirs = json.loads(gto.stdout)
    listed = run_cli(repo, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    ours = {m["name"]: m for m in json.loads(listed.stdout)["models"]}
    assert set(theirs) == set(ours)
    for name, g in theirs.items():
        assert g["version"] == "v" + ours[name]["latest"], name
        assert {k: v[1:] for k, v in g["stage"].items() if v} == ours[name]["stages"], name
    # the history has what the runner needs: production holders, archives, a rollback
    stages = {s for m in ours.values() for s in m["stages"]}
    assert {"staging", "production", "archived"} <= stages


def test_commits_tags_and_files_are_gitregs_own_format(gen10: tuple[Path, dict]) -> None:
    repo, stats = gen10
    log = git(repo, "log", "--format=%s%x00%(trailers:key=Gitreg-Action,valueonly)%x00"
              "%(trailers:key=Gitreg-Seq,valueonly)%x1e", "HEAD")
    records = [r.strip("\n").split("\x00") for r in log.split("\x1e") if r.strip()]
    events = [r for r in records if not r[0].startswith("gitreg: init")]
    assert len(events) == stats["commits"]
    # last, the models' summaries in one commit, as `gitreg doctor --fix` writes them
    assert events[0][0] == "gitreg: write the summaries of 10 model(s)" and events[0][1].strip() == "summaries"
    events = events[1:]
    assert all(r[0].startswith("gitreg: ") and r[1].strip() and r[2].strip() for r in events)
    # every registration is its own commit (GTO crashes on two versions on one commit)
    registered = [r for r in events if r[1].strip() == "register"]
    assert len(registered) == 50
    # tags: annotated, each model's strictly increasing in time, on registration commits
    refs = Registry(repo).store.tags()
    assert len(refs) == stats["tags"] and all(r.objecttype == "tag" for r in refs)
    times: dict[str, list[int]] = defaultdict(list)
    for r in refs:
        times[r.name.split("@")[0].split("#")[0]].append(r.tagger_time or 0)
    for name, ts in times.items():
        assert len(set(ts)) == len(ts), f"{name}: two tags in one second"
    reg_commit = {r.name.split("@v")[0] + "@" + r.name.split("@v")[1]: r.target
                  for r in refs if "@v" in r.name}
    for r in refs:
        if "#" in r.name:
            name = r.name.split("#")[0]
            assert r.target in {c for k, c in reg_commit.items() if k.startswith(name + "@")}
    # dvc.yaml names each model's latest artifact; .dvc files agree with the manifests
    artifacts = yamlio.load_file(repo / "dvc.yaml")["artifacts"]
    assert len(artifacts) == 10
    for name, entry in artifacts.items():
        assert (repo / (entry["path"] + ".dvc")).exists()
    manifest_files = sorted((repo / "models").glob("*/*/manifest.yaml"))
    assert len(manifest_files) == 50
    for path in manifest_files:
        m = yamlio.load_file(path)
        art = m["artifacts"][0]
        dvc_file = yamlio.load_file(path.parent / (art["path"] + ".dvc"))["outs"][0]
        assert (dvc_file["md5"], dvc_file["size"], dvc_file["path"]) == (art["md5"], art["size"], art["path"])
        assert (path.parent / ".gitignore").read_text() == f"/{art['path']}\n"


def test_generation_is_deterministic(tmp_path: Path, gen10: tuple[Path, dict], _template: Path) -> None:
    repo, _ = gen10
    again = tmp_path / "again"
    generate.generate(again, 10, 5, seed=0, template=_template, dvc_remote=tmp_path / "remote")
    assert git(again, "rev-parse", "HEAD:models") == git(repo, "rev-parse", "HEAD:models")
    assert git(again, "rev-parse", "HEAD:dvc.yaml") == git(repo, "rev-parse", "HEAD:dvc.yaml")
    other = tmp_path / "other"
    generate.generate(other, 10, 5, seed=1, template=_template, dvc_remote=tmp_path / "remote")
    assert git(other, "rev-parse", "HEAD:models") != git(repo, "rev-parse", "HEAD:models")


def test_generated_pack_is_valid_for_git_fsck(gen10: tuple[Path, dict]) -> None:
    """generate.py writes its pack, index and packed-refs itself: git must find them whole
    (every object's id, every delta, the checksums) and every ref pointing at a real tag."""
    repo, stats = gen10
    fsck = subprocess.run(["git", "fsck", "--full", "--strict", "--no-dangling"], cwd=repo,
                          capture_output=True, text=True, check=False)
    assert fsck.returncode == 0 and fsck.stdout + fsck.stderr == "", fsck.stdout + fsck.stderr
    packs = list((repo / ".git" / "objects" / "pack").glob("*.idx"))
    verify = git(repo, "verify-pack", "-v", *map(str, packs))
    depths = [int(line.split("=")[1].split(":")[0]) for line in verify.splitlines()
              if line.startswith("chain length")]
    assert depths and max(depths) <= 16  # short delta chains: readers apply few deltas
    assert len(git(repo, "for-each-ref", "refs/tags").splitlines()) == stats["tags"]


def test_fast_texts_are_what_yamlio_dumps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(generate._checks, "left", 0)  # compare here, not inside _dump
    (tmp_path / "objects" / "pack").mkdir(parents=True)
    pack = generate._Pack(tmp_path, [], [])
    gen = generate.Generator(Path("."), 12, 3, 5, pack, generate._Clock(0), None)
    models = gen.run()
    pack.finish()
    assert gen._dvc_yaml() == yamlio.dump({"artifacts": gen.dvc_artifacts})
    # manifests are kept as text in parts (a move appends its history entry): the same
    # bytes as dumping the whole manifest, at every version and after every move
    from gitreg.core import manifest as mf

    for m in models:
        for ver, manifest in m.manifests.items():
            assert m.manifest_text(ver) == yamlio.dump(mf.ordered(manifest)), (m.name, ver)
    for out in ({"md5": "0" * 32, "size": 3, "hash": "md5", "path": "model.pkl"},
                {"md5": "ab" * 16, "size": 3, "hash": "md5", "path": "model.pkl"},
                {"md5": "ab" * 16 + ".dir", "size": 3, "nfiles": 2, "hash": "md5", "path": "model"}):
        assert generate._dvc_file_text(out) == yamlio.dump({"outs": [out]})
    # the YAML writer's scalars: whatever it does not know goes through PyYAML
    for value in ("plain words", "a: colon", "yes", "No", "null", "~", "", " lead", "trail ", "1.5",
                  "1.2.3", "0x1f", "1_000", "2026-01-01", "2026-01-01T00:00:00Z", "'q'", "#x", "a #b",
                  "-x", "é", "a\nb", "0b0101", "12345678901234567890123456789012", "e" * 32,
                  "x" * 120, 3, -2, 0.5, 1e-07, 1e20, float("inf"), True, None, [], {}):
        for data in ({"k": value}, [value], {"k": {"n": value}}, {"k": [{"a": value, "b": 1}]}):
            assert generate._dump(data) == yamlio.dump(data), data


def test_runner_smoke_runs_end_to_end(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--smoke", "--sizes", "3x2", "5x3", "--big-mb", "1",
         "--workdir", str(tmp_path / "work"), "--json", str(out)],
        capture_output=True, text=True, env=dict(os.environ), timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["checks"] and all(c["ok"] for c in data["checks"]), data["checks"]
    # every target line is produced (timings are not judged at the smoke size)
    texts = " | ".join(t["text"] for t in data["targets"])
    for what in ("gto show --json", "warm cache", "cold cache", "peak RSS", "show NAME", "resolve",
                 "promote", "register 1 MB", "gitreg --help", "gitreg list", "dvc add of it alone"):
        assert what in texts, what
    assert "PASS" in proc.stdout and "target:" in proc.stdout
    for row in ("list --json (cold)", "list --json (warm)", "register 1 MB", "promote"):
        assert data["results"]["5x3"][row]["median_s"] > 0


def test_register_fast_path_never_touches_the_source_file(reg: Registry, make_artifact, repo: Path) -> None:
    """register adds a single file without copying it first (issue 6): DVC reads the
    user's file through a hard link it then replaces, or copies it with -o. Either way
    the source keeps its inode, bytes, mode, mtime and link count, and the registered
    copy is a separate file."""
    src = make_artifact(size=300_000)
    src.chmod(0o640)
    before = src.stat()
    data = src.read_bytes()
    result = reg.register("fast", [src], version="1.0.0")
    after = src.stat()
    assert (after.st_ino, after.st_mode, after.st_mtime_ns, after.st_size, after.st_nlink) == \
        (before.st_ino, before.st_mode, before.st_mtime_ns, before.st_size, 1)
    assert src.read_bytes() == data
    placed = repo / "models" / "fast" / "1.0.0" / src.name
    assert placed.read_bytes() == data and placed.stat().st_ino != before.st_ino
    manifest = reg.show("fast@1.0.0")
    import hashlib

    assert manifest["artifacts"][0]["md5"] == hashlib.md5(data).hexdigest()
    assert result.commit and "fast@v1.0.0" in result.tags
    # and the tree stays exactly what plain `dvc add` leaves: .dvc committed, payload ignored
    assert git(repo, "status", "--porcelain") == ""
    assert (placed.parent / ".gitignore").read_text() == f"/{src.name}\n"
