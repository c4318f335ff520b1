"""Journey runs seen from outside a worker: their contracts, and starting and signalling them
through a Temporal client (for the API, the enroll and draw activities and the simulator)."""
