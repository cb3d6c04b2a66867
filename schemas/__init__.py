"""JSON Schemas of gitreg files; shipped inside the wheel as the package gitreg.schemas."""
