import sys

if "worker" in sys.argv and "gevent" in sys.argv:  # patched before anything opens a socket
    from gevent import monkey

    monkey.patch_all()

from .cli import main  # noqa: E402

main()
