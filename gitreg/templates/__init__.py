"""Files gitreg writes into users '  registries (GitHub workflows)."""
