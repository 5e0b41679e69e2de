"""``python -m tlcore.cli ...``: the same as the ``tlcore`` command."""
import sys

from .main import main

sys.exit(main())
