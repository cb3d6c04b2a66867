"""JSON Schema validation of manifests, model files and gitreg.yaml (schemas ship in the wheel)."""

from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from gitreg.errors import UserError

if TYPE_CHECKING:
    from jsonschema import Draft202012Validator

# jsonschema is imported on first validation, not with this module: it costs ~70 ms and
# read commands never validate (issue 6).

MANIFEST = "manifest"
MODEL = "model"
CONFIG = "config"


@lru_cache(maxsize=None)
def schema(kind: str) -> dict[str, Any]:
    text = resources.files("gitreg.schemas").joinpath(f"{kind}.schema.json").read_text("utf-8")
    return json.loads(text)


@lru_cache(maxsize=None)
def validator(kind: str) -> Draft202012Validator:
    from jsonschema import Draft202012Validator, FormatChecker

    return Draft202012Validator(schema(kind), format_checker=FormatChecker())


def validator_for(raw_schema: dict[str, Any], source: Path | None = None,
                  root: Path | None = None) -> Draft202012Validator:
    """A validator for a registry's own schema. With source (the schema file) and root (the
    repository), its $refs resolve only to files inside the repository, relative to source;
    anything else is refused in one line (a registry is untrusted input, issue 11)."""
    from jsonschema import Draft202012Validator, FormatChecker

    Draft202012Validator.check_schema(raw_schema)
    if source is None or root is None:
        return Draft202012Validator(raw_schema, format_checker=FormatChecker())
    from referencing import Resource

    label = _label(source.resolve(), root.resolve())
    base = source.resolve().as_uri()
    if isinstance(raw_schema, dict) and "$id" not in raw_schema:
        raw_schema = {"$id": base, **raw_schema}  # relative refs resolve beside the file
    try:
        resource = Resource.from_contents(raw_schema, default_specification=_draft())
        registry = _local_registry(root.resolve()).with_resource(base, resource)
        _check_refs(resource, registry.resolver(base), set())
    except _BadRef as bad:
        raise _ref_error(label, bad.__cause__ or bad, bad.ref) from None
    return Draft202012Validator(raw_schema, registry=registry, format_checker=FormatChecker())


class _RefRefused(Exception):
    """A $ref that points outside the repository (raised inside the registry's retrieve)."""


class _BadRef(Exception):
    """The $ref, as written in the schema, whose lookup failed (the cause says why)."""

    def __init__(self, ref: str) -> None:
        super().__init__(ref)
        self.ref = ref


def _draft() -> Any:  # imported late, like jsonschema itself
    from referencing.jsonschema import DRAFT202012

    return DRAFT202012


def _local_registry(root: Path) -> Any:
    """A referencing.Registry that retrieves only regular files inside root, never the network."""
    from referencing import Registry, Resource

    from gitreg import yamlio

    def retrieve(uri: str) -> Any:
        parts = urlsplit(uri)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise _RefRefused(uri)
        from urllib.request import url2pathname  # urllib.request imports ssl, http, email

        path = Path(url2pathname(unquote(parts.path)))
        real = path.resolve()  # a link inside the repository that leaves it is outside
        if root not in real.parents:
            raise _RefRefused(uri)
        if not real.is_file():
            raise FileNotFoundError(str(path))
        return Resource.from_contents(yamlio.load_file(real, str(path)),
                                      default_specification=_draft())

    return Registry(retrieve=retrieve)  # type: ignore[call-arg]


def _check_refs(resource: Any, resolver: Any, seen: set[int]) -> None:
    """Resolve every $ref now, so a bad one is one clear error, not a failure mid-validation."""
    from referencing.exceptions import Unresolvable

    if id(resource.contents) in seen:
        return
    seen.add(id(resource.contents))
    resolver = resolver.in_subresource(resource)
    contents = resource.contents
    if isinstance(contents, dict):
        for key in ("$ref", "$dynamicRef"):
            ref = contents.get(key)
            if isinstance(ref, str):
                try:
                    resolved = resolver.lookup(ref)
                except Unresolvable as exc:
                    raise _BadRef(ref) from exc
                target = _draft().create_resource(resolved.contents)
                _check_refs(target, resolved.resolver, seen)
    for sub in resource.subresources():
        _check_refs(sub, resolver, seen)


def _ref_error(label: str, exc: BaseException, ref: str | None = None) -> UserError:
    exc = getattr(exc, "_wrapped", exc)  # jsonschema wraps referencing's errors
    ref = ref if ref is not None else getattr(exc, "ref", "?")
    cause: BaseException | None = exc
    while cause is not None and not isinstance(cause, (_RefRefused, UserError)):
        cause = cause.__cause__ or cause.__context__
    if isinstance(cause, UserError):
        return cause  # the referenced file is unreadable or not YAML/JSON: its own message
    if cause is not None:
        return UserError(f"extra_schema {label}: $ref {ref!r} points outside the repository; "
                         "gitreg never fetches or reads schemas from elsewhere",
                         "copy that schema into the repository and refer to it by a relative "
                         "path, e.g. \"$ref\": \"common.json\"")
    return UserError(f"extra_schema {label}: $ref {ref!r} cannot be resolved (no such file or "
                     "pointer in the repository)",
                     "fix the $ref: a file path relative to the schema file, optionally with "
                     "#/json/pointer")


def _label(source: Path, root: Path) -> str:
    try:
        return source.relative_to(root).as_posix()
    except ValueError:
        return str(source)


def errors(kind: str, data: Any, extra: Draft202012Validator | None = None) -> list[tuple[tuple, str]]:
    """[(json path, message)] for every schema violation, in document order."""
    found = []
    for v in [validator(kind)] + ([extra] if extra else []):
        try:
            for err in v.iter_errors(data):
                found.append((tuple(err.absolute_path), _message(err)))
        except Exception as exc:  # a $ref only reached through a $dynamicRef or similar
            from referencing.exceptions import Unresolvable

            if not isinstance(exc, Unresolvable):
                raise
            raise _ref_error("schema", exc) from None
    found.sort(key=lambda e: [str(p) for p in e[0]])
    return found


def _message(err: Any) -> str:
    path = ".".join(str(p) for p in err.absolute_path)
    where = f"{path}: " if path else ""
    msg = err.message
    if len(msg) > 200:
        msg = msg[:197] + "..."
    return f"{where}{msg}"


def extra_validator(root: Path, extra: str | None) -> Any:
    """The validator of gitreg.yaml's extra_schema (a JSON Schema file in the repository), or None."""
    if not extra:
        return None
    path = (root / extra).resolve()
    if root.resolve() not in path.parents:
        raise UserError(f"gitreg.yaml extra_schema {extra!r} is outside the registry",
                        "give a path inside the repository")
    from gitreg import yamlio

    raw = yamlio.load_file(path, extra)
    try:
        return validator_for(raw, path, root)  # $refs: files in the repo only
    except UserError:
        raise
    except Exception as exc:  # jsonschema.SchemaError
        raise UserError(f"{extra}: not a valid JSON Schema ({str(exc).splitlines()[0]})",
                        "fix the schema file named by extra_schema") from None
