"""Session: one call's life (dial → navigate → hold → human → bridge) as a state machine. No HA imports."""
