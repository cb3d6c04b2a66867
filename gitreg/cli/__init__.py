"""The Typer CLI: a thin layer over gitreg.api, one module per noun."""
