"""Consume and compare: resolve, get, compare, best, monitor (Registry verbs, issue 5)."""

from __future__ import annotations


class ConsumeVerbs:
    """Mixed into Registry; methods use self.store, self.git, self.env, self.clock."""
