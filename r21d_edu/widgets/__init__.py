"""ipywidgets explorers: thin wiring over the package's tested functions."""
