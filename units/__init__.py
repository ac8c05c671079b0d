"""The unit roster, the unit status machine, live positions and position history."""
