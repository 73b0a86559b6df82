"""How many examples the fuzz tests run (``LISA_FUZZ_EXAMPLES``, default 300) and how many
messages they generated (printed by ``conftest.py`` at the end of a ``make soak`` run)."""

from __future__ import annotations

import os
from collections import Counter

EXAMPLES = int(os.environ.get("LISA_FUZZ_EXAMPLES", "300"))
COUNTS: Counter[str] = Counter()
