"""The company simulator: plays a scenario as a real SIP line on 127.0.0.1 (demo line, test bench)."""
