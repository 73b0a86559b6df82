"""Real hardware drivers, one module per device model; chosen by name in the booth config
(``hal.registry``) and imported lazily, so a simulated booth never needs their native libraries."""
