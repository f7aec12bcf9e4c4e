"""Entry point for `pulumi up` / `pulumi preview`: the program lives in infra.program."""

from infra.program import main

main()
