// The runtime's own start-up cost: a script that does nothing.
