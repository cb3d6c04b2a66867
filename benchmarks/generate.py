"""Write a synthetic gitreg registry of a given size, fast and deterministically.

The registry is in gitreg's own format, exactly what `gitreg register`/`promote`/
`rollback` write: a `gitreg init` base commit, then one commit per event (each
registration is its own commit: GTO crashes on two versions of one artifact registered
on the same commit) with the `Gitreg-*` trailers; manifests, `.dvc` pointers (fake but
valid md5s, consistent with the manifest), a `.gitignore` per version directory,
`dvc.yaml` artifacts and `models/N/model.yaml`; GTO tags (`N@vX.Y.Z` on the
registration commit, `N#stage!#seq` then `N#stage#seq` on the version's registration
commit, and the re-assertion of a stage's remaining holder), tagger times strictly
increasing, one second apart.

History per model (seeded): versions registered one after another (patch/minor/major
bumps); some go to staging, some from staging to production (archiving the previous
holder), and now and then a rollback restores the previous production holder.

Everything goes through `git fast-import` (commits first, then the tags in a second
stream once the commit ids are known). Each manifest's text is kept in parts (a move
appends its history entry instead of dumping the whole file again) and each model's
tags are replayed once, at its end: 2000 models x 50 versions in a few minutes.

    python benchmarks/generate.py DIR --models 100 --versions 10 [--seed 0]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import subprocess
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping

from gitreg import Registry, yamlio
from gitreg.api import VersionInfo
from gitreg.ops.register import build_manifest
from gitreg.core.messages import commit_message as _commit_message
from gitreg.core.messages import tag_message as _tag_message
from gitreg.core.messages import tag_summary
from gitreg.core.timefmt import rfc3339
from gitreg.core import events as ev
from gitreg.core import manifest as mf
from gitreg.core.version import parse_version

BASE_TIME = 1767225600  # 2026-01-01T00:00:00Z
ACTORS = ("alice@example.com", "bob@example.com", "carol@example.com")
FRAMEWORKS = ("sklearn", "xgboost", "pytorch", "lightgbm")
STAGING, PRODUCTION, ARCHIVED = "staging", "production", "archived"


def _env(base: Mapping[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.setdefault("GIT_AUTHOR_NAME", "Alice")
    env.setdefault("GIT_AUTHOR_EMAIL", ACTORS[0])
    env.setdefault("GIT_COMMITTER_NAME", "Alice")
    env.setdefault("GIT_COMMITTER_EMAIL", ACTORS[0])
    env["DVC_NO_ANALYTICS"] = "1"
    return env


class _Clock:
    """One second per commit or tag, so every model's tags are strictly increasing."""

    def __init__(self, start: int) -> None:
        self.now = start

    def tick(self) -> int:
        self.now += 1
        return self.now


class _Stream:
    """A git fast-import input stream (bytes), written straight into the process.

    Commits are held back until `flush`, which first writes the blobs queued with
    `blob` (dvc.yaml, rewritten by every registration) back to back. fast-import
    deltifies a blob against the blob just before it in the stream: interleaved with
    the manifests, each 300 KB dvc.yaml of 2000 models was stored nearly whole
    (compressed anew, 100,000 times); one after another, each is a small delta.
    """

    def __init__(self, proc: subprocess.Popen) -> None:
        self.out = proc.stdin
        self.mark = 0
        self.blobs: list[bytes] = []
        self.commits: list[bytes] = []

    def write(self, text: str) -> None:
        self.out.write(text.encode())

    def data(self, payload: str) -> None:
        raw = payload.encode()
        self.out.write(b"data %d\n" % len(raw))
        self.out.write(raw)
        self.out.write(b"\n")

    def blob(self, payload: str) -> int:
        """Queue a blob; its mark (`:N`) can be used by the commits before the next flush."""
        self.mark += 1
        raw = payload.encode()
        self.blobs.append(b"blob\nmark :%d\ndata %d\n%s\n" % (self.mark, len(raw), raw))
        return self.mark

    def commit(self, ref: str, parent: str | None, when: int, message: str,
               files: Mapping[str, str | int], actor: str = ACTORS[0]) -> int:
        # gitreg's commits are authored by the actor their history entries record
        self.mark += 1
        name = actor.split("@")[0].title()
        parts = [f"commit {ref}\nmark :{self.mark}\n"
                 f"author {name} <{actor}> {when} +0000\n"
                 f"committer {name} <{actor}> {when} +0000\n".encode(), _data(message)]
        if parent:
            parts.append(f"from {parent}\n".encode())
        for path, text in files.items():
            if isinstance(text, int):  # a queued blob's mark
                parts.append(f"M 100644 :{text} {path}\n".encode())
            else:
                parts.append(f"M 100644 inline {path}\n".encode())
                parts.append(_data(text))
        parts.append(b"\n")
        self.commits.append(b"".join(parts))
        return self.mark

    def flush(self) -> None:
        for chunk in self.blobs + self.commits:
            self.out.write(chunk)
        self.blobs, self.commits = [], []

    def tag(self, name: str, target: str, when: int, actor: str, message: str) -> None:
        self.write(f"tag {name}\nfrom {target}\ntagger {actor.split('@')[0].title()} <{actor}> {when} +0000\n")
        self.data(message)


def _data(payload: str) -> bytes:
    raw = payload.encode()
    return b"data %d\n%s\n" % (len(raw), raw)


def _fake_md5(*parts: Any) -> str:
    return hashlib.md5("/".join(map(str, parts)).encode()).hexdigest()


def _dvc_file_text(out: Mapping[str, Any]) -> str:
    """yamlio.dump({"outs": [out]}) for the plain values a .dvc pointer holds (the smoke test
    compares them): 100,000 of them through PyYAML's representer took a minute."""
    if not any(c in "abcdef" for c in out["md5"]):  # all digits: YAML would quote it
        return yamlio.dump({"outs": [out]})
    lines = [f"  {k}: {v}" for k, v in out.items()]
    return "outs:\n-" + "\n".join(lines)[1:] + "\n"


def _next_version(rng: random.Random, current: Any) -> Any:
    roll = rng.random()
    return current.bump("major" if roll < 0.08 else "minor" if roll < 0.45 else "patch")


class _Model:
    def __init__(self, name: str) -> None:
        self.name = name
        self.manifests: dict[str, dict[str, Any]] = {}
        self.reg_mark: dict[str, int] = {}
        self.seq = 0
        self.events: list[ev.Event] = []
        self.tags: list[tuple[str, str, int, str]] = []  # (tag, version, event mark, message)
        # the manifests' text, kept in parts so a move appends instead of dumping it all again
        self.head: dict[str, str] = {}  # version -> every field before `stage`
        self.history_text: dict[str, str] = {}  # version -> the `history:` entries
        self.move_of: dict[int, tuple[int, str]] = {}  # seq -> (its commit mark, actor)

    def manifest_text(self, ver: str) -> str:
        """Exactly yamlio.dump(mf.ordered(manifest)): stage and history are its last fields."""
        return (self.head[ver] + f"stage: {self.manifests[ver]['stage']}\n"
                + "history:\n" + self.history_text[ver])

    def holders(self, stage: str) -> list[str]:
        return ev.stage_holders(self.manifests.values()).get(stage, [])


class Generator:
    def __init__(self, root: Path, models: int, versions: int, seed: int, stream: _Stream,
                 clock: _Clock, base: str) -> None:
        self.root = root
        self.n_models = models
        self.n_versions = versions
        self.rng = random.Random(seed)
        self.s = stream
        self.clock = clock
        self.parent: str | None = base
        self.dvc_artifacts: dict[str, dict[str, Any]] = {}
        self.dvc_text: dict[str, str] = {}
        self.counts = {"commits": 0, "tags": 0, "promotions": 0, "rollbacks": 0}

    # -- events ------------------------------------------------------------------------
    def _commit(self, message: str, files: Mapping[str, str | int], actor: str = ACTORS[0]) -> int:
        mark = self.s.commit("refs/heads/main", self.parent, self.clock.tick(), message, files, actor)
        self.parent = f":{mark}"
        self.counts["commits"] += 1
        return mark

    def register(self, m: _Model, ver: str, actor: str) -> None:
        rng = self.rng
        m.seq += 1
        seq = m.seq
        now = datetime.fromtimestamp(self.clock.now + 1, timezone.utc)
        metrics = {"accuracy": round(rng.uniform(0.7, 0.99), 4), "f1": round(rng.uniform(0.6, 0.97), 4),
                   "auc": round(rng.uniform(0.7, 0.99), 4)}
        info = VersionInfo(
            description=f"{m.name} {ver}: retrained on the {rng.choice(('weekly', 'monthly', 'daily'))} data",
            framework=rng.choice(FRAMEWORKS), algorithm="GradientBoostingClassifier",
            hyperparameters={"n_estimators": rng.choice((100, 200, 400)), "max_depth": rng.randint(3, 12)},
            metrics=metrics, dataset_version=f"v2026.{rng.randint(1, 12):02d}",
            tags=["benchmark", m.name.split("-")[0]], created_by=actor,
        )
        manifest = build_manifest(m.name, ver, info, actor, now, seq, len(m.manifests) + 1)
        vdir = f"models/{m.name}/{ver}"
        is_dir = rng.random() < 0.1
        if is_dir:
            nfiles = rng.randint(2, 5)
            art = {"path": "model", "md5": _fake_md5(m.name, ver) + ".dir",
                   "size": rng.randint(10_000, 5_000_000), "nfiles": nfiles}
            out = {"md5": art["md5"], "size": art["size"], "nfiles": nfiles, "hash": "md5", "path": "model"}
        else:
            art = {"path": "model.pkl", "md5": _fake_md5(m.name, ver), "size": rng.randint(10_000, 5_000_000)}
            out = {"md5": art["md5"], "size": art["size"], "hash": "md5", "path": "model.pkl"}
        manifest["artifacts"] = [art]
        m.manifests[ver] = manifest
        ordered = mf.ordered(manifest)
        assert list(ordered)[-2:] == ["stage", "history"], list(ordered)
        m.head[ver] = yamlio.dump({k: v for k, v in ordered.items() if k not in ("stage", "history")})
        m.history_text[ver] = yamlio.dump(manifest["history"])
        files: dict[str, str | int] = {
            f"{vdir}/manifest.yaml": m.manifest_text(ver),
            f"{vdir}/{art['path']}.dvc": _dvc_file_text(out),
            f"{vdir}/.gitignore": f"/{art['path']}\n",
        }
        if len(m.manifests) == 1:
            files[f"models/{m.name}/model.yaml"] = yamlio.dump(
                {"schema_version": 1, "name": m.name, "description": info.description,
                 "tags": info.tags, "created_at": rfc3339(now)})
        entry = {"path": f"{vdir}/{art['path']}", "type": "model", "desc": info.description,
                 "labels": info.tags}
        self.dvc_artifacts[m.name] = entry
        self.dvc_text[m.name] = "".join(
            "  " + line + "\n" for line in yamlio.dump({m.name: entry}).splitlines())
        files["dvc.yaml"] = self.s.blob(self._dvc_yaml())
        message = _commit_message("register", m.name, ver, None, None, [seq], info.description)
        mark = self._commit(message, files, actor)
        m.reg_mark[ver] = mark
        m.move_of[seq] = (mark, actor)
        m.events.append(ev.Event(seq, ver, ev.REGISTER, manifest["history"][0]))

    def _dvc_yaml(self) -> str:
        # dvc.yaml is rewritten by every registration, as gitreg does. Dumping 1000 entries
        # 20,000 times is slow, so each entry's block-YAML text is kept and joined: the
        # same bytes as yamlio.dump({"artifacts": ...}) (checked by the smoke test).
        return "artifacts:\n" + "".join(self.dvc_text.values())

    def moves(self, m: _Model, steps: list[dict[str, Any]], action: str, version: str, source: str,
              target: str, reason: str, actor: str) -> None:
        now = rfc3339(datetime.fromtimestamp(self.clock.now + 1, timezone.utc))
        seqs = []
        changed: list[str] = []
        for step in steps:
            m.seq += 1
            seqs.append(m.seq)
            ver = step["version"]
            man = m.manifests[ver]
            if ver not in changed:
                changed.append(ver)
            entry: dict[str, Any] = {"seq": m.seq, "action": step["action"], "from": step["from"],
                                     "to": step["to"], "at": now, "by": actor}
            for key in ("reason", "approved_by", "replaced_by", "requested_by"):
                if step.get(key):
                    entry[key] = step[key]
            man["history"].append(entry)
            m.history_text[ver] += yamlio.dump([entry])
            if step["action"] in ev.MOVES:
                man["stage"] = step["to"]
            m.events.append(ev.Event(m.seq, ver, step["action"], entry))
        files = {f"models/{m.name}/{v}/manifest.yaml": m.manifest_text(v) for v in changed}
        mark = self._commit(_commit_message(action, m.name, version, source, target, seqs, reason), files,
                            actor)
        for seq in seqs:
            m.move_of[seq] = (mark, actor)

    def promote(self, m: _Model, ver: str, target: str, actor: str, approver: str | None) -> None:
        current = m.manifests[ver]["stage"]
        steps: list[dict[str, Any]] = []
        reason = f"{'ship' if target == PRODUCTION else 'try'} {ver}"
        if target == PRODUCTION:
            for other in m.holders(PRODUCTION):
                steps.append({"version": other, "action": ev.ARCHIVE, "from": PRODUCTION, "to": ARCHIVED,
                              "reason": f"replaced by {ver}: {reason}", "replaced_by": ver})
        steps.append({"version": ver, "action": ev.PROMOTE, "from": current, "to": target,
                      "reason": reason, "approved_by": [approver] if approver else None})
        if approver:
            # as `gitreg request` then `gitreg approve` by another person: the approval, the
            # archive and the promotion are the approver's own commit (issue 11)
            self.moves(m, [{"version": ver, "action": ev.REQUEST, "from": current, "to": target,
                            "reason": reason}], "request", ver, current, target, reason, actor)
            steps.insert(0, {"version": ver, "action": ev.APPROVE, "from": current, "to": target,
                             "requested_by": actor})
            self.moves(m, steps, "approve", ver, current, target, reason, approver)
        else:
            self.moves(m, steps, "promote", ver, current, target, reason, actor)
        self.counts["promotions"] += 1

    def rollback(self, m: _Model, actor: str) -> bool:
        holders = m.holders(PRODUCTION)
        stack = ev.holder_stack(m.events, PRODUCTION)
        while stack and stack[-1] in holders:
            stack.pop()
        if not stack or not holders:
            return False
        current, target = holders[0], stack[-1]
        reason = "error rate doubled after the release"
        target_from = m.manifests[target]["stage"]
        steps = [{"version": current, "action": ev.ROLLBACK, "from": PRODUCTION, "to": ARCHIVED,
                  "reason": reason, "replaced_by": target},
                 {"version": target, "action": ev.ROLLBACK, "from": target_from, "to": PRODUCTION,
                  "reason": reason}]
        self.moves(m, steps, "rollback", target, current, PRODUCTION, reason, actor)
        self.counts["rollbacks"] += 1
        return True

    # -- the whole registry --------------------------------------------------------------
    @staticmethod
    def model_names_for(n: int) -> list[str]:
        kinds = ("churn", "fraud", "ranker", "pricing", "forecast", "ner", "vision", "reco")
        return [f"{kinds[i % len(kinds)]}-{i:04d}" for i in range(n)]

    def model_names(self) -> list[str]:
        return self.model_names_for(self.n_models)

    def run(self) -> list[_Model]:
        rng = self.rng
        models = [_Model(n) for n in self.model_names()]
        for m in models:
            ver = parse_version(rng.choice(("0.1.0", "1.0.0")))
            for i in range(self.n_versions):
                if i:
                    ver = _next_version(rng, ver)
                v = str(ver)
                self.register(m, v, rng.choice(ACTORS))
                if rng.random() < 0.6:
                    self.promote(m, v, STAGING, rng.choice(ACTORS), None)
                    if rng.random() < 0.5:
                        actor, approver = rng.sample(ACTORS, 2)
                        self.promote(m, v, PRODUCTION, actor, approver)
                        if rng.random() < 0.15:
                            self.rollback(m, rng.choice(ACTORS))
            self.plan_tags(m)
            self.s.flush()
        return models

    @staticmethod
    def plan_tags(m: _Model) -> None:
        """The model's tags, replayed once over its whole history as gitreg replays it (a
        departure from a stage that keeps holders re-asserts one); each on the commit of
        the event that wrote it, in the order gitreg writes them."""
        for t in ev.model_tags(m.name, m.events):
            mark, actor = m.move_of[t.seq]
            if t.kind == ev.REGISTER:
                msg = _tag_message(f"register {m.name} {t.version}", "register", actor, t.seq,
                                   reason=m.manifests[t.version]["description"])
            else:
                msg = _tag_message(tag_summary(m.name, t), t.event.action, actor, t.seq,
                                   t.event.data.get("reason"), t.event.data.get("approved_by"))
            m.tags.append((t.tag, t.version, mark, msg))


def generate(root: Path, models: int, versions: int, seed: int = 0, dvc_remote: Path | None = None,
             env: Mapping[str, str] | None = None, checkout: bool = True,
             template: Path | None = None) -> dict[str, Any]:
    """Create a registry at root (must not exist) and return counts and timings.

    template: a fresh `gitreg init` registry to copy instead of running init (made there
    first if missing), which saves the few seconds of `dvc init` per registry.
    """
    started = time.perf_counter()
    root = Path(root).resolve()
    if root.exists() and any(root.iterdir()):
        raise SystemExit(f"{root} exists and is not empty; give a new directory")
    env = _env(env)
    remote = Path(dvc_remote) if dvc_remote else root.with_name(root.name + "-dvc-remote")
    remote.mkdir(parents=True, exist_ok=True)
    if template is None:
        Registry.init(root, dvc_remote=str(remote), env=env)
    else:
        template = Path(template).resolve()
        if not (template / ".git").is_dir():
            Registry.init(template, dvc_remote=str(remote), env=env)
        if root.exists():
            root.rmdir()
        subprocess.run(["cp", "-a", str(template), str(root)], check=True)
    run = lambda *a, **kw: subprocess.run(["git", *a], cwd=root, env=env, check=True, **kw)  # noqa: E731
    base = run("rev-parse", "HEAD", capture_output=True, text=True).stdout.strip()
    # A fixed start, one second per event (1000 x 20 spans ~16 hours of 2026-01-01): the same
    # seed gives the same models/ tree whenever it is run. Later real changes are tagged
    # after these (gitreg tags at max(now, last tag + 1)).
    clock = _Clock(BASE_TIME)
    marks = root / ".git" / "gitreg-bench-marks"
    fast = ["fast-import", "--quiet", "--force", "--done"]
    proc = subprocess.Popen(["git", *fast, f"--export-marks={marks}"], cwd=root, env=env,
                            stdin=subprocess.PIPE)
    stream = _Stream(proc)
    gen = Generator(root, models, versions, seed, stream, clock, base)
    try:
        all_models = gen.run()
        stream.write("done\n")
        proc.stdin.close()
    finally:
        if proc.wait() != 0:
            raise SystemExit("git fast-import failed (commits)")
    commits_done = time.perf_counter()
    sha_of = {}
    for line in marks.read_text().splitlines():
        mark, sha = line.split()
        sha_of[int(mark[1:])] = sha
    marks.unlink()
    proc = subprocess.Popen(["git", *fast], cwd=root, env=env, stdin=subprocess.PIPE)
    stream = _Stream(proc)
    n_tags = 0
    # Tag times: one second apart, strictly increasing (GTO orders events by them).
    when = clock.now
    try:
        for m in all_models:
            for tag, ver, mark, msg in m.tags:
                when += 1
                stream.tag(tag, sha_of[m.reg_mark[ver]], when, ACTORS[0],
                           msg.replace("{commit}", sha_of[mark]))
                n_tags += 1
        stream.write("done\n")
        proc.stdin.close()
    finally:
        if proc.wait() != 0:
            raise SystemExit("git fast-import failed (tags)")
    tags_done = time.perf_counter()
    if checkout:
        run("reset", "-q", "--hard", "main")
    gen.counts["tags"] = n_tags
    return {
        "path": str(root), "models": models, "versions": versions, "seed": seed,
        **gen.counts,
        "seconds": round(time.perf_counter() - started, 2),
        "seconds_commits": round(commits_done - started, 2),
        "seconds_tags": round(tags_done - commits_done, 2),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("path", type=Path, help="new directory for the registry")
    p.add_argument("--models", type=int, default=10)
    p.add_argument("--versions", type=int, default=5)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--dvc-remote", type=Path, default=None,
                   help="local DVC remote folder (default: PATH-dvc-remote next to it)")
    args = p.parse_args(argv)
    stats = generate(args.path, args.models, args.versions, args.seed, args.dvc_remote)
    json.dump(stats, sys.stdout, indent=2)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
