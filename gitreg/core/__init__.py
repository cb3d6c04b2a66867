"""Pure domain logic: no git, yaml, dvc, rich, typer, clock or environment."""
