"""Every error the pki package raises, in one tree.

    PkiError (ValueError)          the bytes given are not what certwright can use
    ├── InvalidKey                 not an unencrypted ECDSA P-256/P-384 or RSA 2048/3072/4096 private key in PEM
    └── InvalidCertificate         not a PEM certificate chain

Both are ``ValueError``: they describe bad input (a Secret's ``tls.key`` or ``tls.crt``, a CA's answer), and
their messages never quote that input, so they are safe to put in an Event or a condition message.
"""

from __future__ import annotations


class PkiError(ValueError):
    """Base of everything the pki package raises."""


class InvalidKey(PkiError):
    """The data is not a private key certwright can use."""


class InvalidCertificate(PkiError):
    """The data is not a PEM certificate chain."""
