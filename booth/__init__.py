"""LISA booth controller: state machine, presence, MQTT link, control socket, kiosk UI."""
