"""The simulator is never on the production path: only the simulator itself and the one sim-mode
starter (`nonstop.embedded_sim`) mention it (the issue's `grep -rn "nonstop.sim"` check, as a test)."""

from __future__ import annotations

import re
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src" / "nonstop"


def test_architecture_only_the_sim_mode_starter_reaches_the_simulator() -> None:
    pattern = re.compile(r"nonstop.sim")  # grep's regex: the dot matches any character
    hits = sorted(
        str(path.relative_to(SRC))
        for path in SRC.rglob("*.py")
        if pattern.search(path.read_text(encoding="utf-8"))
    )
    outside = [h for h in hits if not h.startswith("sim/")]
    assert outside == ["embedded_sim.py"]
