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


def test_architecture_the_connectivity_layer_knows_no_venue() -> None:
    """Each adapter brings its own error codes; `nonstop.connectivity` imports no venue module and
    names no exchange's code table."""
    conn = SRC / "connectivity"
    texts = {p.name: p.read_text(encoding="utf-8") for p in conn.rglob("*.py")}
    assert not [n for n, t in texts.items() if re.search(r"^from nonstop\.venues|^import nonstop\.venues", t, re.M)]
    classify = texts["classify.py"]
    assert not re.search(r"-20[0-9]{2}|-1[0-9]{3}|5[01][0-9]{3}", classify), "a venue error code in classify.py"
