"""Run the ``skautodec`` command line: ``python -m skautodec compare ...``."""

import sys

from .cli import main

sys.exit(main())
