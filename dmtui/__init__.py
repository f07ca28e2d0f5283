"""dmtui: recover Docker containers on the devicemapper storage driver."""

__version__ = "0.1.0"
