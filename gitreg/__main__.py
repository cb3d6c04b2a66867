"""python -m gitreg"""

from gitreg.cli.main import run

run()
