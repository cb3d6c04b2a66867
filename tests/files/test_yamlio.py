"""Atomic writes keep file modes: a manifest must be readable like any file the user makes."""

from __future__ import annotations

import os

from gitreg import yamlio


def test_new_files_get_the_umask_mode_and_replaced_files_keep_theirs(tmp_path):
    umask = os.umask(0o022)
    try:
        path = tmp_path / "sub" / "manifest.yaml"
        yamlio.write_atomic(path, "a: 1\n")
        assert path.stat().st_mode & 0o777 == 0o644
        os.chmod(path, 0o600)
        yamlio.write_atomic(path, "a: 2\n")
        assert path.stat().st_mode & 0o777 == 0o600 and path.read_text() == "a: 2\n"
        assert [p.name for p in path.parent.iterdir()] == ["manifest.yaml"]  # no temp left
    finally:
        os.umask(umask)
