"""Sphinx settings of the gateway's docs site (Markdown pages through MyST, the furo theme).
The references under reference/ are generated from the code at every build
(_ext/gateway_reference.py); scripts/test builds the site with warnings as errors."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent / "_ext"))

project = "Disclosure gateway"
author = "Jerone Group Oy"
copyright = "Jerone Group Oy"  # noqa: A001 - Sphinx's setting name
extensions = ["myst_parser", "gateway_reference"]
source_suffix = {".md": "markdown"}
exclude_patterns = ["_build", "_generated_extra"]
html_extra_path = ["_generated_extra"]
html_theme = "furo"
html_title = "Disclosure gateway"
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]
nitpicky = True
