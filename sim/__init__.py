"""Simulated hardware, the test-control API, the scenario runner and the hardware simulator CLI."""
