"""``kubectl certwright``: a person's view of certwright's objects, and a dry run of the renewal path.

The plugin talks to the API server with the user's kubeconfig and RBAC, never the operator's. It
reads Certificates, Issuers, Secrets, Challenges and Events; ``renew`` sets the renew annotation;
``check`` creates throw-away solver objects (labelled ``certwright.dev/check``) and removes them.
"""
