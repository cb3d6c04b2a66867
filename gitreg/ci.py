"""Pull requests as approvals: ci check, ci publish, codeowners (Registry verbs, issue 4)."""

from __future__ import annotations


class CIVerbs:
    """Mixed into Registry; methods use self.store, self.git, self.env, self.clock."""
