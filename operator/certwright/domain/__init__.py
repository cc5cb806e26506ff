"""Pure decisions: spec parsing, renewal-time math, why a Certificate needs issuing, conditions. No I/O."""
