"""`python -m mlpc`: the command line (see mlpc.cli)."""
import sys

from .cli import main

sys.exit(main())
