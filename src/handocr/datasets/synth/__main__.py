"""``python -m handocr.datasets.synth OUT --pages N --seed S --fonts DIR [--photo]``."""

import sys

from handocr.datasets.synth.dataset import main

sys.exit(main())
