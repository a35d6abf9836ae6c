"""What the modules later in the import order provide to earlier ones.

The core modules import one another one way, layer descriptions → blocks → the network →
optimizers → serialization, so a reader can take the package in from the bottom up. Where an
earlier module needs a later one when it runs — a layer called alone computes in a Sequential;
net.save, net.to_torch and pickling are serialization's; net.summary() is mlpc.summary's — the
later module puts the object here when it
is imported (mlpc/__init__ imports them all), and the earlier one looks it up when called."""
from typing import Any

Sequential: Any = None        # mlpc.network.Sequential
Summary: Any = None           # mlpc.summary.Summary
save: Any = None              # mlpc.serialize.save
to_torch: Any = None          # mlpc.serialize.to_torch
reduce_network: Any = None    # mlpc.serialize.reduce_network (Sequential.__reduce_ex__)
reduce_optimizer: Any = None  # mlpc.serialize.reduce_optimizer (Optimizer.__reduce_ex__)
