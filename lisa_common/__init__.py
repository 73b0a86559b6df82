"""Pieces shared by the booth controller (``booth``) and the cloud bridge (``cloud_bridge``).

Those two packages never import each other; what both need lives here (and the message
contract in ``lisa_messages``). This package imports nothing of the project.
"""
