"""Configuration: the document models and the loader of a config directory."""

from lynq_bridge.config.loading import Config, load_config

__all__ = ["Config", "load_config"]
