"""Live media: WebRTC between the booth (aiortc) and the agents' browsers."""
