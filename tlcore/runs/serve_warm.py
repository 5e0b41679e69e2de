"""``python -m tlcore.runs.serve_warm RUNS_DIR [--owner PID] [--preload MODEL ...]``: the warm worker server's entry
point (tlcore.runs.warm_server.main).

A module of its own because tlcore.runs re-exports from warm_server: started as ``-m tlcore.runs.warm_server``, the
server would run a second copy of that module as ``__main__``, and runpy warns about it in the server's log."""
import sys

from tlcore.runs.warm_server import main

sys.exit(main())
