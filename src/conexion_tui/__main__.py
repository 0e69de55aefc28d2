"""`python -m conexion_tui`: the same as the `conexion-tui` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
