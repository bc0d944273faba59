"""Function folders the bench deploys. Each is a package only so that mypy can tell the
`main` modules apart; Sandlot imports each folder's `main.py` as the top-level `main`."""
