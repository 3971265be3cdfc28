import sys

from ml.cpu import use_fast_sort

use_fast_sort()  # before anything imports numpy

from ml.cli import main  # noqa: E402

sys.exit(main())
