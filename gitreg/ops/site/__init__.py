"""The static dashboard (`gitreg site`) and the metric charts (`compare --plot`)."""
