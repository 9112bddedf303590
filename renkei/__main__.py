"""``python -m renkei``: the ``renkei`` command."""

import sys

from renkei.cli import main

sys.exit(main())
