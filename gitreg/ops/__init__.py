"""Use cases, one module each: plain functions over a Registry."""
