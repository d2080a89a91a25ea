"""Streamlit assigns ``os.environ["MPLBACKEND"] = "Agg"`` when it is imported (its
``__init__``). Imported here, before the tests of this directory import it, with that change
taken back: the rest of the run, and the processes it starts, keep the environment they had
(tests/env_guard.py fails any test module whose import changes it). Nothing here draws with
matplotlib."""

from __future__ import annotations

import os

from tests.env_guard import restore_environment

_before = dict(os.environ)
import streamlit  # noqa: E402, F401  (the import that sets MPLBACKEND)

restore_environment(_before)
