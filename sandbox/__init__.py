"""Sandbox provider servers: local stand-ins for the four backend order APIs.

Each provider module (``boost``, ``checkout``, ``namefi``, ``digital_shop``) exposes a state
class and ``create_app(state)``. :class:`sandbox.runner.SandboxCluster` serves all four on one
aiohttp server; ``python -m sandbox`` runs them from the command line. See ``docs/sandbox.md``.
"""

from sandbox.faults import Fault
from sandbox.runner import PROVIDER_NAMES, SandboxCluster
from sandbox.state import ProviderState, RecordedRequest, SandboxOrder

__all__ = [
    "PROVIDER_NAMES",
    "Fault",
    "ProviderState",
    "RecordedRequest",
    "SandboxCluster",
    "SandboxOrder",
]
