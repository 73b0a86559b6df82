"""Hardware abstraction layer: device interfaces, value types, health model.

Imports nothing of ours."""
