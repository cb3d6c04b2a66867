"""The static dashboard: `gitreg site -o DIR` (Registry verb, issue 8)."""

from __future__ import annotations


class SiteVerbs:
    """Mixed into Registry; methods use self.store, self.git, self.env, self.clock."""
