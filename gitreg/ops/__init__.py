"""Use cases, one module each: plain functions whose first argument is a Context (context.py)."""
