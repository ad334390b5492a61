"""A simulator of the 21 city nodes: hall queues, windows, 好差评, bad-review
cases and the video network, as realistic traffic for the ingest gateway.

The model (`Simulation`) is pure and clock-driven; `connectors.simulator_client`
posts what it emits through the gateway.
"""

from streams.simulator.hours import offset_to
from streams.simulator.kernel import Emitted
from streams.simulator.scenarios import SCENARIOS, Injected
from streams.simulator.simulation import DEFAULT_SALT, RatePlan, Simulation

__all__ = ["DEFAULT_SALT", "SCENARIOS", "Emitted", "Injected", "RatePlan", "Simulation", "offset_to"]
