"""CDK constructs of the Chirp stack, one module per concern; infra/stack.py composes them."""
