import sys

from dmtui.cli.main import main

sys.exit(main())
