"""python -m hpc_constructs.verify CLOUD_ASSEMBLY_DIR [--lose-az AZ | --each-az] [--json]"""

import sys

from hpc_constructs.verify.cli import main

sys.exit(main())
