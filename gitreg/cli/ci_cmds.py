"""Commands of this noun are added by their issue; see gitreg/cli/main.py."""
