"""`python -m termagent`: what the installed git hook scripts call."""

import sys

from termagent.cli import main

sys.exit(main())
