"""Entry point for `pulumi up` in bootstrap/: the program lives in bootstrap.program."""

from bootstrap.program import main

main()
