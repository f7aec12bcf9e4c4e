"""The offline plan: evaluate the real stack program under Pulumi's mock runtime and record what it declares."""
