"""The Designs and Training sections, generated from the registries and from the models as built, so the
report cannot describe an architecture or an optimiser the code does not have.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from ..config import DEPTHS, RunConfig
from ..models import build_model, count_parameters
from ..registry import MODEL_NAMES, model_spec


def architecture_table(width: int, z_dim: int = 100, channels: int = 1) -> pd.DataFrame:
    """Parameter counts of each module per depth (at the report's width and z_dim)."""
    rows = []
    for depth in DEPTHS:
        row: dict[str, Any] = {"depth": depth}
        for model in MODEL_NAMES:
            m = build_model(RunConfig(model=model, depth=depth, z_dim=z_dim, width=width), channels)
            for attribute, part in model_spec(model).parts:
                row[f"{MODEL_NAMES[model]} {part}"] = count_parameters(getattr(m, attribute))
        rows.append(row)
    frame = pd.DataFrame(rows).set_index("depth")
    return frame.map(lambda n: f"{n / 1e6:.2f} M" if n >= 1e6 else f"{n / 1e3:.0f} k")
