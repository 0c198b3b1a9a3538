"""`python -m authmanager`: the maintenance command line (see `authmanager._cli`)."""

from authmanager._cli import main

if __name__ == "__main__":
    raise SystemExit(main())
