"""`python -m conexion_server`."""

import sys

from .cli import main

sys.exit(main())
