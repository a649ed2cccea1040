"""The chain source operators, registered into the engine's operator registry by ``ChainsConfig``."""
