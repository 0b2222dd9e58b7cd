"""The hedge-flow engine: pure numpy/scipy functions of a chain and `now`; no I/O, no clock.

See docs/METHOD.md and docs/ARCHITECTURE.md."""
