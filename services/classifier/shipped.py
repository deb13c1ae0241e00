"""The model shipped with signstream: served where no trained version is current, so a fresh
checkout recognises signs at once. `scripts/build_shipped_model.py` builds it; `card.json` and
`CARD.md` beside it say what it learned from and how it scores."""

from __future__ import annotations

from pathlib import Path

SHIPPED_MODEL = Path(__file__).resolve().parent / "shipped_model"
SHIPPED_VERSION = "shipped"  # the `model` field of its predictions
CARD_FILE = "card.json"
