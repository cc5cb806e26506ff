"""The HTTP-01 responder that runs inside a solver Pod (``python -m certwright.solver``).

It answers ``GET /.well-known/acme-challenge/<token>`` with the key authorization for exactly the
tokens it was given and 404 for anything else, so a misrouted request cannot be mistaken for success.
"""
