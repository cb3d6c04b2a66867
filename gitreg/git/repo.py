"""Git: the git commands gitreg runs in one repository, and the refs and tree entries they read."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

from gitreg.errors import ConflictError, UserError
from gitreg.git.process import GitCommandError, git_env, network_timeout, run_with_timeout, timed_out

if TYPE_CHECKING:
    from typing import Callable

    from gitreg.git.pathcommit import Staged

    # given directories, {dir: (tree id, {path: blob id})} as the commit will have them
    Describe = Callable[[Sequence[str]], "dict[str, tuple[str, dict[str, str]]]"]
    Derive = Callable[[Describe], list[str]]


@dataclass(frozen=True)
class Ref:
    name: str  # short name, e.g. churn@v1.0.0
    objecttype: str  # tag (annotated) or commit (lightweight)
    target: str  # the commit it points at (peeled)
    tagger_time: int | None
    subject: str


@dataclass(frozen=True)
class TreeEntry:
    mode: str
    kind: str
    sha: str
    path: str


class Git:
    """Runs git in one repository."""

    def __init__(self, root: Path, env: Mapping[str, str] | None = None):
        self.root = Path(root)
        self.env = git_env(env)
        self._idents: dict[str, tuple[str | None, str | None]] = {}

    def run(
        self,
        args: Sequence[str],
        *,
        input: str | bytes | None = None,
        extra_env: Mapping[str, str] | None = None,
        check: bool = True,
        text: bool = True,
        network: bool = False,
    ) -> subprocess.CompletedProcess:
        """Run git; network=True (it talks to a remote) puts GITREG_NETWORK_TIMEOUT on it."""
        env = self.env if not extra_env else {**self.env, **extra_env}
        if any("\x00" in a for a in args):  # no process argument can carry one
            raise UserError("an argument contains a NUL byte", "remove control characters from it")
        try:
            if network:
                limit = network_timeout(self.env)
                try:
                    proc = run_with_timeout(
                        ["git", *args], limit, cwd=self.root, env=env, input=input,
                        stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=text)
                except subprocess.TimeoutExpired:
                    raise timed_out(f"git {args[0]}", limit) from None
            else:
                proc = subprocess.run(
                    ["git", *args], cwd=self.root, env=env, input=input,
                    capture_output=True, text=text, check=False,
                )
        except FileNotFoundError:
            raise UserError("git is not installed", "install git and try again") from None
        if check and proc.returncode != 0:
            stderr = proc.stderr if text else proc.stderr.decode("utf-8", "replace")
            raise GitCommandError(args, proc.returncode, stderr)
        return proc

    def out(self, *args: str) -> str:
        return self.run(args).stdout.strip()

    # -- reads -------------------------------------------------------------------------
    def head(self) -> str | None:
        proc = self.run(["rev-parse", "--verify", "-q", "HEAD^{commit}"], check=False)
        return proc.stdout.strip() or None

    def current_branch(self) -> str | None:
        proc = self.run(["symbolic-ref", "-q", "--short", "HEAD"], check=False)
        return proc.stdout.strip() or None

    def rev(self, ref: str) -> str | None:
        if ref.startswith("-"):
            raise UserError(f"invalid git reference {ref!r}", "give a branch, tag or commit")
        proc = self.run(["rev-parse", "--verify", "-q", f"{ref}^{{commit}}"], check=False)
        return proc.stdout.strip() or None

    def config_get(self, key: str) -> str | None:
        proc = self.run(["config", "--get", key], check=False)
        return proc.stdout.strip() or None

    def identity(self, kind: str = "AUTHOR") -> tuple[str | None, str | None]:
        """(name, email) as git would write them, honouring GIT_AUTHOR_* / GIT_COMMITTER_*."""
        if kind not in self._idents:
            proc = self.run(["var", f"GIT_{kind}_IDENT"], check=False)
            name = email = None
            if proc.returncode == 0:
                ident = proc.stdout.strip()
                name, _, rest = ident.partition(" <")
                email = rest.split(">", 1)[0]
            self._idents[kind] = ((name or None), (email or None))
        return self._idents[kind]

    def actor_env(self, actor: str, *, tagger: bool = False) -> dict[str, str]:
        """The identity variables that make git record `actor` (an e-mail) as the author.

        A commit's author is the actor gitreg records in the history entry, so the entry
        and the commit name the same person; a tag's tagger (GTO's and Studio's "who") is
        the actor too. The committer stays git's own identity when it has one (who ran
        the command), and is the actor when only GIT_AUTHOR_* is set.
        """
        name, email = self.identity()
        if email != actor or not name:
            name = actor
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": actor}
        if tagger or self.identity("COMMITTER")[1] is None:
            env.update(GIT_COMMITTER_NAME=name, GIT_COMMITTER_EMAIL=actor)
        return env

    def refs(self, patterns: Iterable[str] = ("refs/tags",)) -> list[Ref]:
        """All refs under patterns in one for-each-ref pass (peeled to commits)."""
        fmt = "%00".join([
            "%(refname)", "%(objecttype)", "%(objectname)", "%(*objectname)",
            "%(taggerdate:unix)", "%(contents:subject)",
        ])
        proc = self.run(["for-each-ref", f"--format={fmt}", *patterns])
        refs: list[Ref] = []
        for line in proc.stdout.split("\n"):
            if not line:
                continue
            parts = line.split("\x00")
            if len(parts) < 6:
                continue
            refname, otype, obj, peeled, tdate, subject = parts[:6]
            name = refname[len("refs/tags/"):] if refname.startswith("refs/tags/") else refname
            refs.append(Ref(name, otype, peeled or obj, int(tdate) if tdate else None, subject))
        return refs

    def tag_trailers(self, patterns: Iterable[str]) -> dict[str, dict[str, str]]:
        """tag name -> the `Key: value` lines of its message body, in one for-each-ref pass."""
        from gitreg.core.messages import parse_trailers

        proc = self.run(["for-each-ref", "--format=%(refname)%00%(contents:body)%1e", *patterns])
        out: dict[str, dict[str, str]] = {}
        for rec in proc.stdout.split("\x1e"):
            refname, _, body = rec.lstrip("\n").partition("\x00")
            if not refname.startswith("refs/tags/"):
                continue
            out[refname[len("refs/tags/"):]] = parse_trailers(body)
        return out

    def ls_tree_text(self, rev: str, path: str | Sequence[str], recursive: bool = True) -> str:
        """`git ls-tree -z` output as it is ("" when rev or path is not there)."""
        paths = [path] if isinstance(path, str) else list(path)
        args = ["ls-tree", "-z", "--full-tree"] + (["-r"] if recursive else []) + [rev, "--", *paths]
        proc = self.run(args, check=False)
        return proc.stdout if proc.returncode == 0 else ""

    def ls_tree(self, rev: str, path: str | Sequence[str], recursive: bool = True) -> list[TreeEntry]:
        entries = []
        for rec in self.ls_tree_text(rev, path, recursive).split("\x00"):
            if not rec:
                continue
            meta, _, p = rec.partition("\t")
            mode, kind, sha = meta.split(" ")
            entries.append(TreeEntry(mode, kind, sha, p))
        return entries

    def blob_sizes(self, shas: Sequence[str]) -> dict[str, int]:
        """{sha: size} from one `git cat-file --batch-check`: sizes without reading contents."""
        if not shas:
            return {}
        proc = self.run(["cat-file", "--batch-check"], input="\n".join(shas) + "\n")
        out: dict[str, int] = {}
        for line in proc.stdout.splitlines():
            parts = line.split(" ")
            if len(parts) == 3 and parts[2].isdigit():
                out[parts[0]] = int(parts[2])
        return out

    def cat_blobs(self, shas: Sequence[str]) -> dict[str, bytes]:
        """Read many blobs in one `git cat-file --batch` process."""
        if not shas:
            return {}
        proc = self.run(["cat-file", "--batch"], input=("\n".join(shas) + "\n").encode(), text=False)
        data = proc.stdout
        out: dict[str, bytes] = {}
        pos = 0
        for sha in shas:
            nl = data.index(b"\n", pos)
            header = data[pos:nl].split(b" ")
            pos = nl + 1
            if len(header) < 3 or header[1] == b"missing":
                continue
            size = int(header[2])
            out[sha] = data[pos:pos + size]
            pos += size + 1
        return out

    def show_file(self, rev: str, path: str) -> bytes | None:
        proc = self.run(["cat-file", "blob", f"{rev}:{path}"], check=False, text=False)
        return proc.stdout if proc.returncode == 0 else None

    def status_porcelain(self, paths: Sequence[str]) -> list[str]:
        proc = self.run(["status", "--porcelain=v1", "-z", "--untracked-files=all", "--", *paths])
        return [p for p in proc.stdout.split("\x00") if p]

    # -- writes ------------------------------------------------------------------------
    def add(self, paths: Sequence[str], new_dirs: Sequence[str] | None = None,
            derive: Derive | None = None) -> Staged | None:
        """Stage paths as `git add -A -- PATHS` does.

        With new_dirs (a change's written files in `paths`, the directories it made in
        new_dirs), from those paths alone whenever that is the same (gitreg.git.pathcommit):
        git then never reads every index entry's file; what commit() needs is returned.
        derive: called once the paths are hashed, with a function giving directories'
        {dir: (tree id, {path: blob id})} as the commit will have them (unchanged ones left
        out); it writes files made from those (e.g. a model's summary) and returns their
        paths as a list, which are staged too (the caller commits them with the rest). A
        derived file `git add` would refuse (new, and matched by an ignore rule such as
        `*.json`) is removed again, and from that list: it is optional, the change is not.
        """
        from gitreg.git import pathcommit

        if new_dirs is not None:
            staged = pathcommit.plan(self, paths, new_dirs)
            made: list[str] = []
            if staged is not None and derive is not None:
                planned = staged
                made = derive(lambda dirs: pathcommit.describe(self, planned, dirs))
                if made and not pathcommit.extend(self, staged, made):
                    pathcommit.drop_refused(self, made)
                    if made and not pathcommit.extend(self, staged, made):
                        staged = None  # git add below stages them all
            if staged is not None:
                pathcommit.stage(self, staged)
                return staged
            paths = sorted(set(paths) | set(new_dirs) | set(made))
            if made:
                self.run(["add", "-A", "--", *paths])
                return None
        self.run(["add", "-A", "--", *paths])
        if derive is not None:
            made = derive(self._describe_staged)
            pathcommit.drop_refused(self, made)
            if made:
                self.run(["add", "--", *made])
        return None

    def ignored(self, paths: Sequence[str]) -> set[str] | None:
        """The paths the repository's ignore rules exclude, tracked or not (`check-ignore
        --no-index`); None if git could not say."""
        from gitreg.git import pathcommit

        return pathcommit._ignored(self, paths)

    def refused(self, paths: Sequence[str]) -> set[str]:
        """The paths `git add` would refuse: not in HEAD, and ignored by the repository's
        rules (a tracked file is added whatever the rules say)."""
        ignored = self.ignored(paths) or set()
        if not ignored:
            return set()
        tracked = {e.path for e in self.ls_tree("HEAD", sorted(ignored))} if self.head() else set()
        return ignored - tracked

    def _describe_staged(self, dirs: Sequence[str]) -> dict[str, tuple[str, dict[str, str]]]:
        """{dir: (tree id, {path: blob id})} of directories in the index (`write-tree --prefix`)."""
        out: dict[str, tuple[str, dict[str, str]]] = {}
        for d in (d.strip("/") for d in dirs):
            proc = self.run(["write-tree", f"--prefix={d}/"], check=False)
            if proc.returncode != 0:
                continue
            files: dict[str, str] = {}
            for rec in self.run(["ls-files", "-s", "-z", "--", f"{d}/"]).stdout.split("\x00"):
                meta, _, path = rec.partition("\t")
                if path:
                    files[path] = meta.split(" ")[1]
            out[d] = (proc.stdout.strip(), files)
        return out

    def commit(self, message: str, paths: Sequence[str], sign: bool = False,
               allow_empty: bool = False, actor: str | None = None,
               staged: Staged | None = None) -> str:
        """Commit `paths` (already staged) on the current branch; returns the new sha.

        `git commit -- PATHS` builds a temporary index from HEAD and rewrites the real one:
        0.4 s at 60,000 tracked files. When nothing else is staged, the index is exactly
        HEAD plus our paths, so write-tree + commit-tree + update-ref makes the same commit
        (same tree, parent, identity, signature, reflog line) in a fraction of that.
        actor: the e-mail recorded as the commit's author (see actor_env).
        staged: what add() returned for a change's paths: the commit is HEAD's tree with
        them put in (gitreg.git.pathcommit), without reading the index at all.
        """
        if staged is not None and not allow_empty:
            from gitreg.git import pathcommit

            made = pathcommit.commit(self, staged, message, sign=sign, actor=actor)
            if made is not None:
                return made
        ident = self.actor_env(actor) if actor else None
        head = self.head()
        if head and paths and not allow_empty and not self._staged_outside(paths):
            tree = self.out("write-tree")
            if tree != self.out("rev-parse", f"{head}^{{tree}}"):
                sha = self.run(["commit-tree", *(["-S"] if sign else []), "-p", head, "-F", "-",
                                tree], input=message, extra_env=ident).stdout.strip()
                subject = message.splitlines()[0] if message else ""
                # the old value makes the update fail if the branch moved meanwhile
                self.run(["update-ref", "-m", f"commit: {subject}", "HEAD", sha, head], extra_env=ident)
                return sha
        args = ["commit", "-q", "--no-verify", "-F", "-"]
        if sign:
            args.append("-S")
        if allow_empty:
            args.append("--allow-empty")
        args += ["--", *paths] if paths else []
        self.run(args, input=message, extra_env=ident)
        sha = self.head()
        assert sha
        return sha

    def _staged_outside(self, paths: Sequence[str]) -> bool:
        """Is anything staged (index vs HEAD) outside `paths`?"""
        staged = self.run(["diff", "--cached", "--name-only", "-z", "--no-renames", "HEAD"]).stdout
        roots = [p.rstrip("/") for p in paths]
        return any(
            name and not any(name == r or name.startswith(r + "/") for r in roots)
            for name in staged.split("\x00")
        )

    def create_tag(self, name: str, target: str, message: str, when: int | None = None,
                   sign: bool = False, actor: str | None = None) -> None:
        """An annotated tag; its tagger is `actor` (the person the event records) when given."""
        args = ["tag", "-s" if sign else "-a", "-F", "-", "--", name, target]
        extra = self.actor_env(actor, tagger=True) if actor else {}
        if when is not None:
            extra["GIT_COMMITTER_DATE"] = f"@{when} +0000"
        try:
            self.run(args, input=message, extra_env=extra)
        except GitCommandError as exc:
            if "already exists" in exc.stderr:
                raise ConflictError(
                    f"tag {name} already exists", "run `gitreg doctor` to see how tags and files differ"
                ) from None
            raise

    def delete_tag(self, name: str) -> None:
        self.run(["tag", "-d", "--", name], check=False)

    def reset_soft(self, sha: str) -> None:
        self.run(["reset", "-q", "--soft", sha])

    def restore(self, sha: str | None, paths: Sequence[str]) -> None:
        """Put paths back as they are in sha (index and work tree); untracked files stay."""
        if not paths:
            return
        if sha:
            self.run(["reset", "-q", sha, "--", *paths], check=False)
            self.run(["checkout", "-q", sha, "--", *paths], check=False)
        else:
            self.run(["rm", "-q", "-r", "--cached", "--ignore-unmatch", "--", *paths], check=False)

    def push(self, remote: str, refspecs: Sequence[str], atomic: bool = True) -> subprocess.CompletedProcess:
        args = ["push", "--porcelain"] + (["--atomic"] if atomic else []) + [remote, *refspecs]
        return self.run(args, check=False, network=True)

    def fetch(self, remote: str, refspecs: Sequence[str] = (), tags: bool = True) -> None:
        args = ["fetch", "-q"] + (["--tags"] if tags else []) + [remote, *refspecs]
        try:
            self.run(args, network=True)
        except GitCommandError as exc:
            raise ConflictError(
                f"could not fetch from {remote}: {exc.stderr.strip().splitlines()[-1] if exc.stderr.strip() else exc}",
                "check the remote URL and your network",
            ) from None

    def remote_url(self, remote: str = "origin") -> str | None:
        return self.config_get(f"remote.{remote}.url")
