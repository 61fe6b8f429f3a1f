"""``python -m exposure ...``: the same CLI as the ``exposure`` console script (works without the script on PATH)."""

import sys

from exposure.cli import main

sys.exit(main())
