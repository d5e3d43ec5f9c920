"""The resolution loop: after a merchant answers, the consumer says whether it was resolved."""
