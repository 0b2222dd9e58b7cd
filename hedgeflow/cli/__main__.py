"""`python -m hedgeflow.cli`: the `hedgeflow` command."""

import sys

from hedgeflow.cli import main

sys.exit(main())
