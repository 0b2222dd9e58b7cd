"""Suite-wide settings.

Property tests are derandomized by default, so `make test` and CI run the same
examples every time (a failure is reproducible, never a flake). For a wider,
random search run `HYPOTHESIS_PROFILE=explore make test`.
"""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("deterministic", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, max_examples=1000, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))
