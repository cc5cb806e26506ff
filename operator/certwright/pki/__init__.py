"""Keys, CSRs, certificate parsing and chains, on cryptography. No Kubernetes imports."""
