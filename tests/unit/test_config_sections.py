"""Each section of the config file lives with what it configures, and `nonstop.config` assembles
them: a section module (with its package's `__init__`) never imports `nonstop.config` back, the
import cycle that moving the monitor settings out once made (config -> monitor/__init__ -> alerts
-> config, and again through scrub -> logs -> config)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "nonstop"

# every module that holds a section of the file, imported first in a fresh interpreter
_PROBE = """
import importlib, sys
reached = []
for name in sys.argv[1:]:
    for loaded in [m for m in sys.modules if m == "nonstop" or m.startswith("nonstop.")]:
        del sys.modules[loaded]
    importlib.import_module(name)
    if "nonstop.config" in sys.modules:
        reached.append(name)
print(",".join(reached))
"""


def _section_modules() -> list[str]:
    found = [f"nonstop.{p.parent.name}.settings" for p in sorted(SRC.glob("*/settings.py"))]
    return [*found, "nonstop.config_sim", "nonstop.logs", "nonstop.strategy.degradation"]


def test_config_sections_never_import_the_config_back() -> None:
    modules = _section_modules()
    assert "nonstop.monitor.settings" in modules and "nonstop.venues.settings" in modules
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, *modules], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "", f"these section modules import nonstop.config: {done.stdout.strip()}"


def test_config_imports_first_and_reexports_every_section() -> None:
    probe = "import nonstop.config as c; print(sorted(n for n in c.__all__ if not hasattr(c, n)))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
