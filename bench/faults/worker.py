"""`python -m bench.faults.worker --controls NAME[,NAME] SYNDICATE-ARGS...`: a syndicate process
(worker, beat, web) with the named protections switched off, for a fault scenario's control run.
Without `--controls` it is plain `syndicate`."""

from __future__ import annotations

import sys

from .controls import install


def main(argv: list[str]) -> None:
    if argv[:1] == ["--controls"]:
        install(argv[1].split(","))
        argv = argv[2:]
    from syndicate.cli import main as syndicate

    syndicate(argv, prog_name="syndicate")


if __name__ == "__main__":
    main(sys.argv[1:])
