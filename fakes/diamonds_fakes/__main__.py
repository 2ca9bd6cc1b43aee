"""`python -m diamonds_fakes`: the same as the `diamonds-fakes` command, which starts every fake
provider server until Ctrl+C.
"""

import sys

from diamonds_fakes.runner import main

sys.exit(main())
