"""Benchmark gitreg at registry scale, side by side with GTO and the git floor.

Generates (once, cached under --workdir) registries of 10x5, 100x10 and 1000x20
models x versions with benchmarks/generate.py, then times, as subprocesses of the
installed executables:

- `git for-each-ref refs/tags` (the floor), `gto show --json` (capped by --gto-timeout),
- `gitreg list --json` (cold: its cache file removed first; warm), `gitreg show NAME`,
  `gitreg resolve NAME#production` (or `show NAME#production` if resolve is missing),
- `gitreg promote` and `gitreg register` (1 MB) on copies of the registries,
- `gitreg --help` and `gitreg list` on the small one (and whether dvc gets imported),
- `gitreg register` of a 200 MB file against `dvc add` of the same file alone.

Medians of --runs runs; the sizes are interleaved run by run so that ratios come from
the same moments of a noisy machine; peak RSS per process from wait4(). Each target of
issue 6 is printed as a PASS/FAIL line; the exit code is 1 if one fails.

    python benchmarks/run.py                # the full run (about 10 minutes)
    python benchmarks/run.py --tier 100k --runs 5 --mutation-runs 9
                                            # issue 16: 10x5, 100x10, 2000x50 (not in CI; ~11 minutes
                                            # once generated, ~6 more to generate and repack)
    python benchmarks/run.py --smoke        # tiny sizes, one run, checks only that it works
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import generate  # noqa: E402

# GTO from PyPI: dvc depends on it, so it sits beside this interpreter.
DEFAULT_GTO = str(Path(sys.executable).parent / "gto")
PHASES = ("reads", "gto", "mutations", "startup", "big")
KB = 1024
MB = 1024 * 1024


# -- running and timing ------------------------------------------------------------------
@dataclass
class Sample:
    seconds: float
    rss_mb: float
    returncode: int | None  # None = killed at the timeout
    stdout: bytes = b""
    stderr: bytes = b""


GNU_TIME = "/usr/bin/time"


def timed(cmd: Sequence[str], cwd: Path, env: dict[str, str], timeout: float | None = None) -> Sample:
    """Run cmd once: wall time, peak RSS of the process, output.

    The peak RSS comes from GNU time (`%M`) when it is there: wait4() of a child forked
    from this (big) Python process counts the memory it inherited before exec.
    """
    rss_file = tempfile.NamedTemporaryFile(delete=False)
    rss_file.close()
    use_time = Path(GNU_TIME).exists()
    full = [GNU_TIME, "-f", "%M", "-o", rss_file.name, *cmd] if use_time else list(cmd)
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        proc = subprocess.Popen(full, cwd=cwd, env=env, stdout=out, stderr=err,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        killed = threading.Event()

        def kill() -> None:
            killed.set()
            try:
                os.killpg(proc.pid, 9)  # the whole session: GNU time and what it runs
            except ProcessLookupError:
                pass

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        if timer:
            timer.cancel()
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        rss = usage.ru_maxrss / KB
        if use_time:
            try:
                rss = int(Path(rss_file.name).read_text().split()[-1]) / KB
            except (OSError, ValueError, IndexError):
                pass  # killed at the timeout: keep wait4's figure
        os.unlink(rss_file.name)
        return Sample(seconds, rss, None if killed.is_set() else proc.returncode,
                      out.read(), err.read())


@dataclass
class Series:
    samples: list[Sample] = field(default_factory=list)
    timeout: float | None = None
    note: str = ""

    @property
    def timed_out(self) -> bool:
        return any(s.returncode is None for s in self.samples)

    @property
    def median(self) -> float:
        if not self.samples:
            return float("nan")
        if self.timed_out:
            return float("inf")
        return statistics.median(s.seconds for s in self.samples)

    @property
    def rss(self) -> float:
        return max((s.rss_mb for s in self.samples), default=float("nan"))

    def text(self) -> str:
        if not self.samples:
            return "n/a"
        if self.timed_out:
            return f"> {self.timeout:.0f} s" if self.timeout else "killed"
        return _secs(self.median)

    def to_dict(self) -> dict[str, Any]:
        return {"median_s": None if self.timed_out or not self.samples else round(self.median, 4),
                "timed_out_after_s": self.timeout if self.timed_out else None,
                "runs_s": [round(s.seconds, 4) for s in self.samples],
                "peak_rss_mb": round(self.rss, 1) if self.samples else None,
                **({"note": self.note} if self.note else {})}


def _secs(x: float) -> str:
    if x != x:
        return "n/a"
    return f"{x * 1000:.0f} ms" if x < 1 else f"{x:.2f} s"


def check_ok(sample: Sample, what: str) -> Sample:
    if sample.returncode != 0:
        raise SystemExit(f"{what} failed (exit {sample.returncode}):\n"
                         + sample.stderr.decode(errors="replace")[-2000:])
    return sample


# -- the environment ---------------------------------------------------------------------
def hermetic_env(home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    gitconfig = home / ".gitconfig"
    gitconfig.write_text("[user]\n\tname = Alice\n\temail = alice@example.com\n"
                         "[init]\n\tdefaultBranch = main\n")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("GIT_", "DVC_", "GITREG_", "PYTHONPROFILEIMPORTTIME"))
           # as users run it: with bytecode caching (a session-wide PYTHONDONTWRITEBYTECODE
           # here made every start-up recompile the modules, +0.1 s per command)
           and k != "PYTHONDONTWRITEBYTECODE"}
    env.update({
        "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
        "GIT_CONFIG_GLOBAL": str(gitconfig), "GIT_CONFIG_NOSYSTEM": "1",
        "DVC_NO_ANALYTICS": "1", "DVC_SITE_CACHE_DIR": str(home / ".dvc-site"),
        "DVC_GLOBAL_CONFIG_DIR": str(home / ".dvc-global"),
        "DVC_SYSTEM_CONFIG_DIR": str(home / ".dvc-system"),
        "NO_COLOR": "1", "COLUMNS": "120",
    })
    return env


def find_gitreg() -> str:
    exe = Path(sys.executable).with_name("gitreg")
    found = str(exe) if exe.exists() else shutil.which("gitreg")
    if not found:
        raise SystemExit("gitreg is not installed next to this Python; pip install -e . first")
    return found


def registry(workdir: Path, models: int, versions: int, seed: int, env: dict[str, str]) -> Path:
    """The generated registry of that size (made once, reused while its marker is there)."""
    path = workdir / "repos" / f"r{models}x{versions}-s{seed}"
    marker = path / ".git" / "gitreg-bench.json"
    if marker.exists():
        return path
    if path.exists():
        shutil.rmtree(path)
        shutil.rmtree(path.with_name(path.name + "-dvc-remote"), ignore_errors=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    print(f"generating {models}x{versions} ...", file=sys.stderr, flush=True)
    stats = generate.generate(path, models, versions, seed, env=env,
                              template=workdir / "repos" / "template", dvc_remote=workdir / "dvc-remote")
    # Packed tags and a repacked object store, as in any clone (and after git gc): the
    # layout every reader meets. fast-import's own pack has long delta chains that make
    # reading 20,000 manifests 5x slower than in a clone.
    started = time.perf_counter()
    subprocess.run(["git", "pack-refs", "--all"], cwd=path, env=env, check=True)
    subprocess.run(["git", "repack", "-a", "-d", "-f", "-q"], cwd=path, env=env, check=True)
    stats["seconds_repack"] = round(time.perf_counter() - started, 1)
    # A commit-graph with changed-path (Bloom) filters, as `git commit-graph write` makes it:
    # with it `git log -- models/NAME/` (history) skips the commits that do not touch the
    # model instead of reading every commit's trees.
    started = time.perf_counter()
    subprocess.run(["git", "commit-graph", "write", "--reachable", "--changed-paths"], cwd=path, env=env,
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stats["seconds_commit_graph"] = round(time.perf_counter() - started, 1)
    marker.write_text(json.dumps(stats))
    print(f"  {stats['commits']} commits, {stats['tags']} tags in {stats['seconds']} s",
          file=sys.stderr, flush=True)
    return path


def copy_registry(src: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(["cp", "-a", str(src), str(dest)], check=True)
    # cp gives every file a new inode and ctime, so every index entry's stat data is stale,
    # which no clone has (its checkout records them): refreshed, as `git status` would
    subprocess.run(["git", "update-index", "-q", "--refresh"], cwd=dest, check=False,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # the copy is 2.1 GB at 2000x50: flushed before any sample, so that its writeback
    # lands on none of them
    os.sync()
    return dest


def cache_files(repo: Path) -> list[Path]:
    state = repo / ".git" / "gitreg"
    return sorted(state.glob("summaries*")) + sorted(state.glob("cache*")) + sorted(state.glob("answer-*"))


def drop_cache(repo: Path) -> None:
    for p in cache_files(repo):
        if p.is_dir():
            shutil.rmtree(p)
        else:
            p.unlink()


def summaries(repo: Path, env: dict[str, str]) -> dict[str, dict[str, dict]]:
    from gitreg import Registry

    return Registry(repo, env=env).store.summaries()


# -- the benchmark -----------------------------------------------------------------------
class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.workdir: Path = args.workdir.resolve()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.env = hermetic_env(self.workdir / "home")
        self.gitreg = find_gitreg()
        self.gto = args.gto if args.gto and Path(args.gto).exists() else shutil.which("gto")
        self.results: dict[str, Any] = {}
        self.sizes: list[tuple[int, int]] = [tuple(map(int, s.split("x"))) for s in args.sizes]  # type: ignore[misc]
        self.repos: dict[str, Path] = {}
        self.checks: list[tuple[bool, str]] = []
        self.has_resolve = False
        self.tier100k = args.tier == "100k"
        self.mutation_runs: int = args.mutation_runs or args.runs
        self.generated: dict[str, str] = {}
        self.load_before = ""

    def key(self, size: tuple[int, int]) -> str:
        return f"{size[0]}x{size[1]}"

    def series(self, name: str, size: str) -> Series:
        return self.results.setdefault(size, {}).setdefault(name, Series())

    def run(self) -> int:
        a = self.args
        self.load_before = _load()
        for size in self.sizes:
            self.repos[self.key(size)] = registry(self.workdir, size[0], size[1], a.seed, self.env)
            stats = json.loads((self.repos[self.key(size)] / ".git" / "gitreg-bench.json").read_text())
            self.generated[self.key(size)] = (
                f"{stats['commits']} commits, {stats['tags']} tags; generate.py {stats['seconds']} s, "
                f"then pack-refs + repack {stats.get('seconds_repack', '?')} s, "
                f"commit-graph {stats.get('seconds_commit_graph', '?')} s")
        small, big = self.key(self.sizes[0]), self.key(self.sizes[-1])
        probe = timed([self.gitreg, "resolve", "--help"], self.workdir, self.env)
        self.has_resolve = probe.returncode == 0
        only = set(self.args.only or PHASES)
        if "reads" in only:
            self.correctness()
            self.reads()
        if "gto" in only:
            self.gto_runs()
        if "mutations" in only:
            self.mutations(small, big)
        if "startup" in only:
            self.startup(small)
        if "big" in only:
            self.big_artifact(small)
        return self.report(small, big)

    # correctness first: the numbers mean nothing if the answers differ
    def correctness(self) -> None:
        for size, repo in self.repos.items():
            drop_cache(repo)
            s = check_ok(timed([self.gitreg, "list", "--json"], repo, self.env), f"gitreg list on {size}")
            listed = json.loads(s.stdout)["models"]
            models = int(size.split("x")[0])
            self.checks.append((len(listed) == models,
                                f"gitreg list --json on {size} lists {len(listed)} of {models} models"))
            doc = timed([self.gitreg, "doctor"], repo, self.env) if models <= 100 else None
            if doc is not None:
                self.checks.append((doc.returncode == 0, f"gitreg doctor on {size}: "
                                    + (doc.stdout or doc.stderr).decode().strip().splitlines()[-1]))

    def reads(self) -> None:
        a = self.args
        if self.tier100k:  # one untimed pass: the page cache holds each registry as it would
            for size, repo in self.repos.items():
                name = generate.Generator.model_names_for(int(size.split("x")[0]))[0]
                for cmd in (["list", "--json"], ["show", name], ["history", name]):
                    check_ok(timed([self.gitreg, *cmd], repo, self.env), f"warm-up {cmd[0]}")
        for i in range(a.runs):
            for size, repo in self.repos.items():
                name = generate.Generator.model_names_for(int(size.split("x")[0]))[0]
                self.series("for-each-ref (floor)", size).samples.append(check_ok(timed(
                    ["git", "for-each-ref", "--format=%(refname) %(objectname) %(*objectname) "
                     "%(taggerdate:unix) %(contents:subject)", "refs/tags"], repo, self.env), "for-each-ref"))
                drop_cache(repo)
                self.series("list --json (cold)", size).samples.append(
                    check_ok(timed([self.gitreg, "list", "--json"], repo, self.env), "list cold"))
                self.series("list --json (warm)", size).samples.append(
                    check_ok(timed([self.gitreg, "list", "--json"], repo, self.env), "list warm"))
                self.series("show NAME", size).samples.append(
                    check_ok(timed([self.gitreg, "show", name], repo, self.env), "show"))
                cmd = ["resolve", f"{name}#production"] if self.has_resolve else ["show", f"{name}#production"]
                self.series("resolve NAME#production", size).samples.append(
                    check_ok(timed([self.gitreg, *cmd], repo, self.env), " ".join(cmd)))
                if self.tier100k:
                    self.series("history NAME", size).samples.append(
                        check_ok(timed([self.gitreg, "history", name], repo, self.env), "history"))
                if not self.has_resolve:
                    self.series("resolve NAME#production", size).note = \
                        "gitreg resolve not available: timed `show NAME#production`"

    def gto_runs(self) -> None:
        a = self.args
        for size, repo in self.repos.items():
            s = self.series("gto show --json", size)
            s.timeout = a.gto_timeout
            if not self.gto:
                s.note = "gto not installed"
                continue
            models = int(size.split("x")[0])
            if self.tier100k and models > 100:
                s.note = "gto not run above 100x10 at --tier 100k (over 150 s at 1000x20)"
                continue
            # GTO takes seconds to minutes here: 3 runs at 100x10 (still a median), 1 above
            runs = a.runs if models < 100 else min(a.runs, 3) if models == 100 else 1
            for _ in range(runs):
                sample = timed([self.gto, "show", "--json"], repo, self.env, timeout=a.gto_timeout)
                s.samples.append(sample)
                if sample.returncode is None:
                    break
                check_ok(sample, f"gto show on {size}")
            if not s.timed_out:
                self.compare_with_gto(size, repo, json.loads(s.samples[-1].stdout))

    def compare_with_gto(self, size: str, repo: Path, gto: dict[str, Any]) -> None:
        out = check_ok(timed([self.gitreg, "list", "--json"], repo, self.env), "list")
        ours = {m["name"]: m for m in json.loads(out.stdout)["models"]}
        bad = [n for n, g in gto.items()
               if n not in ours or g["version"].lstrip("v") != ours[n]["latest"]
               or {k: v.lstrip("v") for k, v in g["stage"].items() if v} != ours[n]["stages"]]
        bad += [n for n in ours if n not in gto]
        self.checks.append((not bad, f"gto show --json agrees with gitreg list --json on {size}"
                            + (f" (differs on {len(bad)}: {bad[:3]})" if bad else f" ({len(gto)} models)")))

    def mutations(self, small: str, big: str) -> None:
        a = self.args
        runs = self.mutation_runs
        copies = {size: copy_registry(self.repos[size], self.workdir / "copies" / size)
                  for size in (small, big)}
        artifact = self.workdir / "model-1mb.bin"
        artifact.write_bytes(os.urandom(MB))
        plans: dict[str, dict[str, list]] = {}
        for size, repo in copies.items():
            table = summaries(repo, self.env)
            names = sorted(table)
            # promote: versions still unassigned, one per model; register: one model each time
            todo = [(n, v) for n in names for v, s in sorted(table[n].items()) if s["stage"] == "none"]
            seen: set[str] = set()
            promos = [(n, v) for n, v in todo if not (n in seen or seen.add(n))]  # type: ignore[func-returns-value]
            step = max(1, len(promos) // (runs + 1))
            plans[size] = {"promote": promos[::step][: runs + 1],
                           "register": names[::max(1, len(names) // (runs + 1))][: runs + 1]}
            if len(plans[size]["promote"]) < runs + 1 or len(plans[size]["register"]) < runs + 1:
                raise SystemExit(f"the {size} registry is too small for {runs} mutation runs")
        # the first of each is a warm-up (DVC builds its state database on its first add).
        # All the promotions, then all the registrations: a register writes its 1 MB twice
        # (the DVC cache and the work tree), and that writeback then lands on the next
        # register, on both sizes alike, rather than on a promotion of one size
        for i in range(runs + 1):
            for size, repo in copies.items():
                name, ver = plans[size]["promote"][i]
                s = check_ok(timed([self.gitreg, "promote", name, ver, "staging", "--reason", "benchmark"],
                                   repo, self.env), f"promote on {size}")
                if i:
                    self.series("promote", size).samples.append(s)
                # the list a dashboard or CI job makes right after a change (not a target)
                s = check_ok(timed([self.gitreg, "list", "--json"], repo, self.env), f"list after promote on {size}")
                if i:
                    self.series("list --json (after a change)", size).samples.append(s)
        for i in range(runs + 1):
            for size, repo in copies.items():
                name = plans[size]["register"][i]
                s = check_ok(timed([self.gitreg, "register", name, str(artifact), "--bump", "patch"],
                                   repo, self.env), f"register on {size}")
                if i:
                    self.series("register 1 MB", size).samples.append(s)
        # the plain `dvc add`s after every gitreg sample: at 2000x50 DVC writes its state for
        # minutes and is killed, and the writeback it leaves slowed the next promotions by
        # 100-200 ms for a minute or so
        for i in range(1, min(a.dvc_runs, runs) + 1 if self.tier100k else 1):
            for size, repo in copies.items():
                self.series("dvc add 1 MB (same repo)", size).timeout = a.dvc_timeout
                self.series("dvc add 1 MB (same repo)", size).samples.append(
                    self.plain_dvc_add(repo, artifact, plans[size]["register"][i], a.dvc_timeout))
        for size, repo in copies.items():
            self.checks.append((self._clean(repo), f"gitreg doctor clean after the mutations on {size}")
                               if int(size.split("x")[0]) <= 100 else (True, f"{size} mutated copy kept at {repo}"))

    def plain_dvc_add(self, repo: Path, artifact: Path, name: str, timeout: float | None) -> Sample:
        """`dvc add` of the same file into a new directory of the same registry, then the
        directory removed again (the registry stays as it was)."""
        target = repo / "models" / name / "plain-dvc-add"
        target.mkdir()
        try:
            shutil.copyfile(artifact, target / artifact.name)
            s = timed([sys.executable, "-m", "dvc", "add", "-q", str(target.relative_to(repo) / artifact.name)],
                      repo, self.env, timeout=timeout)
            if s.returncode is not None:
                check_ok(s, "plain dvc add")
            return s
        finally:
            shutil.rmtree(target)

    def targets_100k(self, small: str, big: str) -> list[tuple[bool, str]]:
        """Issue 16's targets: ratios of medians measured in this run."""
        a = self.args
        r = self.results

        def get(size: str, row: str) -> Series:
            got = r.get(size, {}).get(row)
            return got if isinstance(got, Series) else Series()

        out: list[tuple[bool, str]] = []
        stats = json.loads((self.repos[big] / ".git" / "gitreg-bench.json").read_text())
        out.append((stats["seconds"] <= 300, f"generate.py made {big} in {stats['seconds']} s (<= 300 s; "
                    f"then pack-refs + repack {stats.get('seconds_repack', '?')} s)"))
        for row, limit in (("list --json (warm)", 1.5), ("show NAME", 1.5), ("resolve NAME#production", 1.5),
                           ("history NAME", 1.5), ("promote", 1.3), ("register 1 MB", 1.3)):
            out.append(_ratio_target(get(big, row), get(small, row), limit, f"{row} on {big} vs {small}"))
        warm, cold = get(big, "list --json (warm)"), get(big, "list --json (cold)")
        out.append(_ratio_target(cold, warm, 10, f"list --json (cold) vs warm on {big}"))
        cold_rss, hist_rss = cold.rss, get(big, "history NAME").rss
        out.append((cold_rss <= 200, f"list --json (cold) on {big}: peak RSS {cold_rss:.0f} MB (<= 200 MB)"))
        out.append((hist_rss <= 100, f"history NAME on {big}: peak RSS {hist_rss:.0f} MB (<= 100 MB)"))
        bare = get(small, "python -c pass")
        out.append(_ratio_target(get(small, "gitreg --help"), bare, 3, f"gitreg --help on {small} vs python -c pass"))
        out.append(_ratio_target(get(small, "gitreg list --json (start-up)"), bare, 4,
                                 f"gitreg list --json on {small} vs python -c pass"))
        out.append(_ratio_target(get(big, "register 1 MB"), get(big, "dvc add 1 MB (same repo)"), 0.5,
                                 f"register 1 MB on {big} vs plain dvc add of it there"))
        out.append(_ratio_target(get(small, f"register {a.big_mb} MB"), get(small, f"dvc add {a.big_mb} MB (same repo)"),
                                 1.0, f"register {a.big_mb} MB on {small} vs plain dvc add of it there"))
        mid = "100x10"
        gto, lst = get(mid, "gto show --json"), get(mid, "list --json (warm)")
        if gto.samples:
            ratio = gto.median / lst.median
            out.append((ratio >= 100, f"list --json (warm) on {mid} is {_x(ratio)} faster than gto show --json "
                        f"({gto.text()} vs {lst.text()}; >= 100x)"))
        else:
            out.append((False, f"gto show --json on {mid}: not measured ({gto.note or 'no 100x10 size'})"))
        return out

    def _clean(self, repo: Path) -> bool:
        return timed([self.gitreg, "doctor"], repo, self.env).returncode == 0

    def startup(self, small: str) -> None:
        repo = self.repos[small]
        for i in range(self.args.runs + 1):  # the first is a warm-up
            runs = [("python -c pass", [sys.executable, "-c", "pass"]),
                    ("gitreg --help", [self.gitreg, "--help"]), ("gitreg list", [self.gitreg, "list"]),
                    ("gitreg list --json (start-up)", [self.gitreg, "list", "--json"])]
            for row, cmd in runs:
                s = check_ok(timed(cmd, repo, self.env), row)
                if i:
                    self.series(row, small).samples.append(s)
        probe = ("import sys\nfrom gitreg.cli.main import app\n"
                 "try:\n    app(prog_name='gitreg', args=sys.argv[1:])\n"
                 "except SystemExit:\n    pass\n"
                 "heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('dvc', 'dvc_data', 'dvc_objects'))\n"
                 "sys.stderr.write('\\nIMPORTED ' + ' '.join(heavy[:5]) + '\\n')\n")
        for args in (["--help"], ["list"]):
            s = timed([sys.executable, "-c", probe, *args], repo, self.env)
            imported = s.stderr.decode().rsplit("IMPORTED", 1)[-1].split()
            self.results.setdefault(small, {})[f"dvc modules imported by gitreg {' '.join(args)}"] = imported
            self.checks.append((not imported and s.returncode == 0,
                                f"gitreg {' '.join(args)} imports no dvc module"
                                + (f" (imported {imported})" if imported else "")))

    def big_artifact(self, small: str) -> None:
        a = self.args
        size_mb = a.big_mb
        blob = self.workdir / f"model-{size_mb}mb.bin"
        if not blob.exists() or blob.stat().st_size != size_mb * MB:
            with open(blob, "wb") as fh:
                for _ in range(size_mb):
                    fh.write(os.urandom(MB))
        scratch = self.workdir / "big"
        for i in range(a.runs):
            # dvc add alone: a fresh git+dvc repo with the file already in place
            plain = scratch / "plain"
            if plain.exists():
                shutil.rmtree(plain)
            plain.mkdir(parents=True)
            subprocess.run(["git", "init", "-q"], cwd=plain, env=self.env, check=True)
            subprocess.run([sys.executable, "-m", "dvc", "init", "-q"], cwd=plain, env=self.env, check=True)
            shutil.copyfile(blob, plain / blob.name)
            self.series(f"dvc add {size_mb} MB (alone)", small).samples.append(check_ok(
                timed([sys.executable, "-m", "dvc", "add", "-q", blob.name], plain, self.env), "dvc add"))
            repo = copy_registry(self.repos[small], scratch / "reg")
            name = sorted(summaries(repo, self.env))[0]
            if self.tier100k:
                self.series(f"dvc add {size_mb} MB (same repo)", small).samples.append(
                    self.plain_dvc_add(repo, blob, name, None))
            self.series(f"register {size_mb} MB", small).samples.append(check_ok(
                timed([self.gitreg, "register", name, str(blob), "--bump", "patch"], repo, self.env),
                "register big"))
        shutil.rmtree(scratch, ignore_errors=True)

    # -- the report ----------------------------------------------------------------------
    def report(self, small: str, big: str) -> int:
        a = self.args
        sizes = list(self.repos)
        rows = ["for-each-ref (floor)", "gto show --json", "list --json (cold)", "list --json (warm)",
                "list --json (after a change)", "show NAME", "resolve NAME#production", "history NAME", "promote", "register 1 MB",
                "dvc add 1 MB (same repo)", "python -c pass", "gitreg --help", "gitreg list",
                "gitreg list --json (start-up)", f"dvc add {a.big_mb} MB (alone)",
                f"dvc add {a.big_mb} MB (same repo)", f"register {a.big_mb} MB"]
        lines = [f"gitreg benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, "
                 f"{platform.machine()} x{os.cpu_count()}, Python {platform.python_version()}, "
                 f"medians of {a.runs} runs" + (f" ({self.mutation_runs} of promote and register)"
                                                 if self.mutation_runs != a.runs else "")
                 + " (peak RSS in brackets), load average before "
                 f"{self.load_before}, after {_load()}", ""]
        lines += [f"generated {k}: {v}" for k, v in self.generated.items()]
        if self.generated:
            lines.append("")
        lines.append("| command | " + " | ".join(sizes) + " |")
        lines.append("|---|" + "---|" * len(sizes))
        for row in rows:
            cells = []
            for size in sizes:
                s = self.results.get(size, {}).get(row)
                cells.append("" if s is None or not isinstance(s, Series) else
                             (f"{s.text()} ({s.rss:.0f} MB)" if s.samples else s.note or "n/a"))
            if any(cells):
                lines.append(f"| {row} | " + " | ".join(cells) + " |")
        notes = {s.note for r in self.results.values() for s in r.values() if isinstance(s, Series) and s.note}
        lines += [f"note: {n}" for n in sorted(notes)]
        lines.append("")
        targets = self.targets(small, big)
        for ok, text in self.checks:
            lines.append(f"{'PASS' if ok else 'FAIL'}  check: {text}")
        for ok, text in targets:
            lines.append(f"{'PASS' if ok else 'FAIL'}  target: {text}")
        print("\n".join(lines))
        data = {"when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "runs": a.runs, "mutation_runs": self.mutation_runs,
                "smoke": a.smoke, "results": {size: {k: (v.to_dict() if isinstance(v, Series) else v)
                                                     for k, v in r.items()} for size, r in self.results.items()},
                "checks": [{"ok": ok, "text": t} for ok, t in self.checks],
                "targets": [{"ok": ok, "text": t} for ok, t in targets]}
        out = a.json or (self.workdir / "results.json")
        Path(out).write_text(json.dumps(data, indent=1))
        failed_checks = [t for ok, t in self.checks if not ok]
        failed_targets = [t for ok, t in targets if not ok]
        if failed_checks:
            return 1
        if failed_targets and not a.smoke:
            return 1
        return 0

    def targets(self, small: str, big: str) -> list[tuple[bool, str]]:
        if self.tier100k:
            return self.targets_100k(small, big)
        a = self.args
        r = self.results
        mid = "100x10" if "100x10" in r else big
        out: list[tuple[bool, str]] = []

        def get(size: str, row: str) -> Series:
            s = r.get(size, {}).get(row)
            return s if isinstance(s, Series) else Series()

        gto, lst = get(mid, "gto show --json"), get(mid, "list --json (warm)")
        cold = get(mid, "list --json (cold)")
        if gto.samples:
            ratio = gto.median / lst.median
            ratio_cold = gto.median / cold.median
            out.append((ratio >= 30 and ratio_cold >= 30,
                        f"list --json on {mid} is >= 30x faster than gto show --json: "
                        f"{_x(ratio)} warm, {_x(ratio_cold)} cold ({gto.text()} vs {lst.text()} / {cold.text()})"))
        else:
            out.append((False, f"list --json on {mid} vs gto show --json: gto not measured ({gto.note})"))
        warm, cold = get(big, "list --json (warm)"), get(big, "list --json (cold)")
        rss = max(warm.rss, cold.rss)
        out.append((warm.median < 1, f"list --json on {big}, warm cache: {warm.text()} (< 1 s)"))
        out.append((cold.median < 10, f"list --json on {big}, cold cache: {cold.text()} (< 10 s)"))
        out.append((rss < 300, f"list --json on {big}: peak RSS {rss:.0f} MB (< 300 MB)"))
        for row, limit in (("show NAME", 1.5), ("resolve NAME#production", 1.5), ("promote", 2.0),
                           ("register 1 MB", 2.0)):
            b, s = get(big, row), get(small, row)
            ratio = b.median / s.median
            label = row if row != "resolve NAME#production" or self.has_resolve else \
                "resolve NAME#production (timed as show NAME#production: no resolve command yet)"
            out.append((ratio <= limit, f"{label} on {big} is {_x(ratio)} its time on {small} "
                        f"({b.text()} vs {s.text()}; <= {limit}x)"))
        for row in ("gitreg --help", "gitreg list"):
            s = get(small, row)
            out.append((s.median < 0.3, f"{row} on {small}: {s.text()} (< 0.3 s)"))
        alone, ours = get(small, f"dvc add {a.big_mb} MB (alone)"), get(small, f"register {a.big_mb} MB")
        ratio = ours.median / alone.median
        out.append((ratio <= 1.5, f"register of {a.big_mb} MB is {_x(ratio)} dvc add of it alone "
                    f"({ours.text()} vs {alone.text()}; <= 1.5x)"))
        return out


def _ratio_target(b: Series, s: Series, limit: float, what: str) -> tuple[bool, str]:
    ratio = b.median / s.median
    return (ratio <= limit, f"{what} is {_x(ratio)} ({b.text()} vs {s.text()}; <= {limit}x)")


def _load() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def _x(ratio: float) -> str:
    return f"{ratio:.1f}x" if ratio == ratio else "n/a"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="gitreg benchmark: gitreg vs gto vs git, at scale")
    p.add_argument("--sizes", nargs="+", default=["10x5", "100x10", "1000x20"],
                   help="MODELSxVERSIONS, smallest first (default: 10x5 100x10 1000x20)")
    p.add_argument("--runs", type=int, default=5, help="runs per measurement (median)")
    p.add_argument("--mutation-runs", type=int, default=None,
                   help="runs of promote and register (default: --runs); they are cheap and the "
                        "noisiest figures, so more samples steady their medians (10x5 allows 9)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--gto", default=DEFAULT_GTO, help="the gto executable")
    p.add_argument("--gto-timeout", type=float, default=150.0)
    p.add_argument("--big-mb", type=int, default=200, help="size of the big artifact (MB)")
    p.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "gitreg-bench")
    p.add_argument("--json", type=Path, default=None, help="write the results here (default WORKDIR/results.json)")
    p.add_argument("--only", nargs="+", choices=PHASES, default=None,
                   help="run only these phases (targets of the others print as not measured)")
    p.add_argument("--tier", choices=("default", "100k"), default="default",
                   help="100k: issue 16's sizes (10x5, 100x10, 2000x50) and targets; not for CI")
    p.add_argument("--dvc-runs", type=int, default=1,
                   help="--tier 100k: runs of the plain `dvc add` beside register (slow at scale)")
    p.add_argument("--dvc-timeout", type=float, default=180.0,
                   help="--tier 100k: cap on one plain `dvc add` in the big registry")
    p.add_argument("--smoke", action="store_true",
                   help="tiny sizes and one run: checks that everything works; timings are not judged")
    args = p.parse_args(argv)
    if args.tier == "100k" and args.sizes == p.get_default("sizes"):
        args.sizes = ["10x5", "100x10", "2000x50"]
    if args.smoke:
        args.sizes = ["4x3", "8x4"] if args.sizes == p.get_default("sizes") else args.sizes
        args.runs = 1
        args.mutation_runs = 1
        args.big_mb = 2 if args.big_mb == p.get_default("big_mb") else args.big_mb
        args.gto_timeout = min(args.gto_timeout, 60)
    return Bench(args).run()


if __name__ == "__main__":
    sys.exit(main())
