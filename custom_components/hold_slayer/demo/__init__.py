"""The company simulator: plays a scenario as a real SIP line on 127.0.0.1 (demo line, test bench)."""

from .scenario import Scenario, ScenarioError, load_scenario, load_scenarios, parse_scenario
from .simulator import CallRecord, CompanySimulator

__all__ = [
    "CallRecord",
    "CompanySimulator",
    "Scenario",
    "ScenarioError",
    "load_scenario",
    "load_scenarios",
    "parse_scenario",
]
