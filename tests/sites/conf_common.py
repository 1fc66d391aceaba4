"""Configuration shared by the small test sites: our local extensions, no theme."""

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "_ext"))

language = "zh_CN"
extensions = ["myst_parser", "aiinfra_math", "aiinfra_search"]
myst_enable_extensions = ["dollarmath", "amsmath"]
html_math_renderer = "katex_mathml"
math_numfig = True
numfig = True
