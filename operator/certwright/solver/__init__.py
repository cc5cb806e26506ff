"""The HTTP-01 responder that runs inside a solver Pod."""
