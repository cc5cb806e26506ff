"""kopf handlers, one module per concern; thin: read, decide with ``domain``, act through ``kube``."""
