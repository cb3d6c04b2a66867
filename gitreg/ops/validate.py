"""`gitreg validate`: JSON Schema plus semantic checks, every problem as path:line:col: message."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from gitreg import schema, yamlio
from gitreg.core import events as ev
from gitreg.core import manifest as mf
from gitreg.core.names import NAME_RE, NONE_STAGE
from gitreg.core.stages import Lifecycle
from gitreg.core.version import SEMVER_RE, parse_version
from gitreg.errors import UserError
from gitreg.ops import gto_tags
from gitreg.ops.context import Context
from gitreg.store import CONFIG_FILE, MANIFEST_FILE, MODEL_FILE, MODELS_DIR, Store


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked = 0
        self.manifests: list[str] = []  # repo-relative paths of the manifests checked

    def add(self, where: str, message: str) -> None:
        self.problems.append(f"{where}: {message}")


def _where(rel: str, marks: Mapping[tuple, yamlio.Mark], path: tuple) -> str:
    probe = path
    while probe not in marks and probe:
        probe = probe[:-1]
    mark = marks.get(probe)
    return f"{rel}:{mark.line}:{mark.column}" if mark else f"{rel}:1:1"


def collect(root: Path, paths: Iterable[str]) -> list[Path]:
    """The manifest/model files to check: all of models/ when no path is given."""
    targets: list[Path] = []
    given = list(paths)
    if not given:
        given = [str(root / MODELS_DIR)]
    for p in given:
        path = Path(p)
        if not path.is_absolute():
            path = (Path.cwd() / path)
        if not path.exists():
            raise UserError(f"{p}: no such file or directory", "give manifest files or model directories")
        if path.is_dir():
            # only where gitreg keeps them: a file of that name inside an artifact directory
            # (models/N/V/model/manifest.yaml) is payload, not a manifest
            targets += [p for p in sorted(path.rglob(MANIFEST_FILE)) + sorted(path.rglob(MODEL_FILE))
                        if _registry_file(root, p)]
        else:
            targets.append(path)
    return targets


def _registry_file(root: Path, path: Path) -> bool:
    try:
        parts = path.resolve().relative_to(root.resolve()).parts
    except ValueError:
        return True  # reported as outside the registry
    return parts[:1] != (MODELS_DIR,) or len(parts) == (4 if parts[-1] == MANIFEST_FILE else 3)


def validate(ctx: Context, paths: Iterable[str] = (), base: str | None = None) -> Report:
    """Validate manifests; the report's .problems are `path:line:col: message` lines."""
    try:
        lifecycle: Lifecycle | None = ctx.lifecycle()
    except UserError:
        lifecycle = None
    extra = schema.extra_validator(ctx.root, ctx.lifecycle().extra_schema) if lifecycle else None
    return check_files(ctx.store, lifecycle, paths, base=base, extra=extra)


def check_files(store: Store, lifecycle: Lifecycle | None, paths: Iterable[str] = (),
                base: str | None = None, extra: Any = None) -> Report:
    root = store.root
    report = Report()
    paths = list(paths)
    if lifecycle is None:
        report.add(CONFIG_FILE, "missing or invalid configuration")
    targets = collect(root, paths)
    seen_versions: dict[str, dict[Any, str]] = {}
    seqs: dict[str, dict[int, str]] = {}
    base_rev = None
    if base is not None:
        base_rev = store.git.rev(base)
        if base_rev is None:
            raise UserError(f"unknown git reference {base!r}", "fetch it first, e.g. `git fetch origin main`")
    for path in targets:
        try:
            rel = str(path.resolve().relative_to(root.resolve()))
        except ValueError:
            report.add(str(path), "is outside the registry")
            continue
        report.checked += 1
        loaded = _load(path, rel, report)
        if loaded is None:
            continue
        data, marks = loaded
        if path.name == MODEL_FILE:
            _check_model_file(rel, data, marks, report)
            parts = Path(rel).parts
            if isinstance(data, dict) and isinstance(data.get("history"), list) and len(parts) == 3:
                # model.yaml's history shares the model's seq counter
                _check_seqs(rel, data["history"], marks, report, parts[1], MODEL_FILE, seqs)
            if base_rev and isinstance(data, dict):
                _check_against_base(store, base_rev, base, rel, data, marks, report, model_file=True)
            continue
        _check_manifest(store, lifecycle, rel, data, marks, report, seen_versions, seqs, extra)
        report.manifests.append(rel)
        if base_rev and isinstance(data, dict):
            _check_against_base(store, base_rev, base, rel, data, marks, report)
    if base_rev:
        _check_deleted(store, base_rev, base or "", report)
    models = {Path(rel).parts[1] for rel in report.manifests if len(Path(rel).parts) == 4}
    if models:
        check_trust(store, lifecycle, sorted(models), report)
    if not paths and store.git.head():
        # the whole registry: a committed summary that matches its model's files must say
        # what the manifests say (a cold `list` shows it instead of reading them)
        from gitreg.store import summary

        for problem in summary.check(store)[0]:
            where, _, what = problem.partition(": ")
            report.add(where, f"{what}; {summary.FIX_HINT}")
    return report


def _load(path: Path, rel: str, report: Report) -> tuple[Any, Mapping[tuple, yamlio.Mark]] | None:
    """The file's data and marks, or None with the problem reported."""
    try:
        size = path.stat().st_size
        if size > yamlio.MAX_YAML_BYTES:  # never read a huge file whole to learn that
            report.add(f"{rel}:1:1", f"file is {size} bytes; the limit is {yamlio.MAX_YAML_BYTES}")
            return None
        text = path.read_bytes().decode("utf-8")
        data, marks, dup = yamlio.load_with_marks(text, rel)
    except UnicodeDecodeError as exc:
        report.add(f"{rel}:1:1", f"not valid UTF-8 (byte {exc.start})")
        return None
    except UserError as exc:
        report.problems.append(exc.message)
        return None
    report.problems.extend(dup)
    return data, marks


def _check_model_file(rel: str, data: Any, marks: Mapping[tuple, yamlio.Mark], report: Report) -> None:
    for jpath, msg in schema.errors(schema.MODEL, data):
        report.add(_where(rel, marks, jpath), msg)
    parts = Path(rel).parts
    if isinstance(data, dict) and len(parts) == 3 and data.get("name") != parts[1]:
        report.add(_where(rel, marks, ("name",)),
                   f"name {data.get('name')!r} does not match the directory {parts[1]!r}")


def check_trust(store: Store, lifecycle: Lifecycle | None, models: Sequence[str], report: Report) -> None:
    """Every history entry backed by its actor's own commit, every approval by an approve commit."""
    from gitreg import provenance

    signed = lifecycle.signed_targets() if lifecycle else []
    prov = provenance.read(store.git, models, signatures=bool(signed))
    for name in models:
        work: dict[str, dict] = {}
        for path in sorted((store.root / MODELS_DIR / name).glob(f"*/{MANIFEST_FILE}")):
            try:
                data = yamlio.load_file(path, str(path.relative_to(store.root)))
            except UserError:
                continue  # reported by the schema checks above
            if isinstance(data, dict) and isinstance(data.get("history"), list):
                work[path.parent.name] = data
        try:
            head, _ = store.model_manifests(name)
        except UserError:
            head = {}
        committed = {v: {h["seq"] for h in (m.get("history") or [])
                         if isinstance(h, dict) and isinstance(h.get("seq"), int)}
                     for v, m in head.items()}
        for version, msg in provenance.problems(name, work, prov, signed, committed):
            where = f"{MODELS_DIR}/{name}/{version}/{MANIFEST_FILE}" if version else f"{MODELS_DIR}/{name}"
            report.add(f"{where}:1:1", msg)
        # an adopted entry's actor is the tagger of the gto tag it names (not its commit's author)
        adopted = [(name, ev.Event(h["seq"], str(m.get("version")), str(h.get("action")), h))
                   for m in work.values() for h in m["history"]
                   if isinstance(h, dict) and isinstance(h.get("seq"), int) and h.get("adopted_from")]
        for msg in gto_tags.adopted_problems(store.git, adopted):
            report.add(f"{MODELS_DIR}/{name}:1:1", msg)


def _check_manifest(store: Store, lifecycle: Lifecycle | None, rel: str, data: Any,
                    marks: Mapping[tuple, yamlio.Mark], report: Report,
                    seen_versions: dict[str, dict[Any, str]], seqs: dict[str, dict[int, str]],
                    extra: Any) -> None:
    for jpath, msg in schema.errors(schema.MANIFEST, data, extra):
        report.add(_where(rel, marks, jpath), msg)
    if not isinstance(data, dict):
        return
    parts = Path(rel).parts
    if len(parts) != 4 or parts[0] != MODELS_DIR:
        report.add(f"{rel}:1:1", "a manifest belongs at models/<name>/<version>/manifest.yaml")
        return
    dir_name, dir_version = parts[1], parts[2]
    _check_place(rel, data, marks, report, dir_name, dir_version, seen_versions)
    stage = data.get("stage")
    if lifecycle and isinstance(stage, str) and stage != NONE_STAGE and stage not in lifecycle.stages:
        report.add(_where(rel, marks, ("stage",)),
                   f"stage {stage!r} is not in gitreg.yaml (stages: {', '.join(lifecycle.stages)})")
    history = data.get("history")
    if isinstance(history, list):
        _check_seqs(rel, history, marks, report, dir_name, dir_version, seqs)
    artifacts = data.get("artifacts")
    if isinstance(artifacts, list):
        _check_artifacts(store, rel, artifacts, marks, report, dir_name, dir_version)


def _check_place(rel: str, data: Mapping[str, Any], marks: Mapping[tuple, yamlio.Mark], report: Report,
                 dir_name: str, dir_version: str, seen_versions: dict[str, dict[Any, str]]) -> None:
    """The directory names a valid model and version, and the manifest says the same."""
    if not NAME_RE.fullmatch(dir_name):
        report.add(f"{rel}:1:1", f"directory {dir_name!r} is not a valid model name")
    if not SEMVER_RE.fullmatch(dir_version):
        report.add(f"{rel}:1:1", f"directory {dir_version!r} is not a SemVer version")
    if data.get("name") != dir_name:
        report.add(_where(rel, marks, ("name",)),
                   f"name {data.get('name')!r} does not match the directory {dir_name!r}")
    if data.get("version") != dir_version:
        report.add(_where(rel, marks, ("version",)),
                   f"version {data.get('version')!r} does not match the directory {dir_version!r}")
    elif SEMVER_RE.fullmatch(dir_version):
        key = parse_version(dir_version).precedence()
        other = seen_versions.setdefault(dir_name, {}).get(key)
        if other and other != dir_version:
            report.add(f"{rel}:1:1", f"version {dir_version} equals {other} in SemVer precedence")
        seen_versions[dir_name][key] = dir_version


def _check_seqs(rel: str, history: Sequence[Any], marks: Mapping[tuple, yamlio.Mark], report: Report,
                dir_name: str, dir_version: str, seqs: dict[str, dict[int, str]]) -> None:
    """History is ordered by seq, and a seq belongs to one version of the model."""
    last = 0
    for i, h in enumerate(history):
        if not isinstance(h, dict) or not isinstance(h.get("seq"), int):
            continue
        if h["seq"] <= last:
            report.add(_where(rel, marks, ("history", i, "seq")),
                       f"history seq {h['seq']} is not after {last}: history is ordered by seq")
        last = h["seq"]
        owner = seqs.setdefault(dir_name, {}).get(h["seq"])
        if owner and owner != dir_version:
            report.add(_where(rel, marks, ("history", i, "seq")),
                       f"seq {h['seq']} is also used by {dir_name} {owner}: seq is per model")
        seqs[dir_name][h["seq"]] = dir_version


def _check_artifacts(store: Store, rel: str, artifacts: Sequence[Any], marks: Mapping[tuple, yamlio.Mark],
                     report: Report, dir_name: str, dir_version: str) -> None:
    """Each artifact has its .dvc file beside the manifest, with the same md5."""
    vdir = store.root / MODELS_DIR / dir_name / dir_version
    for i, art in enumerate(artifacts):
        if not isinstance(art, dict) or not isinstance(art.get("path"), str):
            continue
        dvc_file = vdir / (art["path"] + ".dvc")
        where = _where(rel, marks, ("artifacts", i, "path"))
        if "/" in art["path"] or art["path"] in (".", ".."):
            continue  # the schema already reports it
        if not dvc_file.is_file():
            report.add(where, f"artifact {art['path']} has no {art['path']}.dvc file beside the manifest")
            continue
        try:
            dvc_data = yamlio.load_file(dvc_file, str(dvc_file.relative_to(store.root)))
            outs = dvc_data.get("outs") or []
            md5 = outs[0].get("md5") if outs else None
        except (UserError, AttributeError, IndexError, TypeError):
            report.add(where, f"{art['path']}.dvc is not a valid DVC file")
            continue
        if md5 != art.get("md5"):
            report.add(_where(rel, marks, ("artifacts", i, "md5")),
                       f"artifact {art['path']} md5 {art.get('md5')} does not match its .dvc file ({md5})")


def _check_against_base(store: Store, base_rev: str, base: str | None, rel: str,
                        data: Mapping[str, Any], marks: Mapping[tuple, yamlio.Mark],
                        report: Report, model_file: bool = False) -> None:
    """Registered fields unchanged but as new `annotate` entries record; history append-only."""
    raw = store.git.show_file(base_rev, rel)
    if raw is None:
        return  # a new version
    try:
        old = yamlio.loads(raw, f"{base}:{rel}")
    except UserError:
        return
    if not isinstance(old, dict):
        return
    for key in mf.unrecorded_changes(old, data, model_file):
        fix = ("change a description or tags with `gitreg annotate`" if key in mf.ANNOTATED_FIELDS
               else "register a new version instead" if not model_file else "put it back")
        report.add(_where(rel, marks, (key,)),
                   f"{key} changed since {base}: registered fields are immutable ({fix})")
    if mf.appended_entries(old, data) is None:
        report.add(_where(rel, marks, ("history",)),
                   f"history entries recorded in {base} were changed or removed: history is append-only")


def _check_deleted(store: Store, base_rev: str, base: str, report: Report) -> None:
    before = store.model_tree(base_rev)
    now_tree = {p.relative_to(store.root).parts[1:3]
                for p in (store.root / MODELS_DIR).glob(f"*/*/{MANIFEST_FILE}")}
    for name, files in before.items():
        for version in files.manifests:
            if (name, version) not in now_tree:
                report.add(f"{MODELS_DIR}/{name}/{version}/{MANIFEST_FILE}:1:1",
                           f"{name} {version} was deleted since {base}: registered versions are never deleted")
