"""Simulated drivers, one per device class, each with a test-control API."""
