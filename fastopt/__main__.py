"""``python -m fastopt`` runs the command line."""

import sys

from fastopt.cli import main

sys.exit(main())
