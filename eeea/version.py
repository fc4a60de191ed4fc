"""eeea's version: one place, read without package metadata (a checkout used through torch.hub is not installed)."""
__version__ = "0.1.0"
