"""`python -m bench.faults.worker [--controls NAME[,NAME]] [--import MODULE] SYNDICATE-ARGS...`:
a syndicate process (worker, beat, web) with the named protections switched off, for a fault
scenario's control run, and with bench-only modules (tasks) imported. Without either it is plain
`syndicate`."""

from __future__ import annotations

import importlib
import sys

from .controls import install


def main(argv: list[str]) -> None:
    while argv[:1] in (["--controls"], ["--import"]):
        if argv[0] == "--controls":
            install(argv[1].split(","))
        else:
            importlib.import_module(argv[1])
        argv = argv[2:]
    from syndicate.cli import main as syndicate

    syndicate(argv, prog_name="syndicate")


if __name__ == "__main__":
    main(sys.argv[1:])
