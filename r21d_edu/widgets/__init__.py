"""ipywidgets explorers: thin wiring over the package's tested functions."""

from .layers import LayerExplorer, layer_explorer

__all__ = ["LayerExplorer", "layer_explorer"]
