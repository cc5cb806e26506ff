"""certwright's local test environment: a real control plane, a real Pebble, and the cluster stand-in.

Test infrastructure only; never shipped with the operator. ``python -m certwright_env`` starts one
environment for a person (``make env``); tests use the ``Environment`` class through their fixtures.
"""

from __future__ import annotations

from .environment import ECHO_IMAGE, STANDIN_POD_LABEL, Environment
from .pebble import AcmeEnvironment

__all__ = ["ECHO_IMAGE", "STANDIN_POD_LABEL", "AcmeEnvironment", "Environment"]
