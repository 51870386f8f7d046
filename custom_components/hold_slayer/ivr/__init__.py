"""IVR: menu parsing, decision rules, call-flow learning and replay. No HA imports."""
