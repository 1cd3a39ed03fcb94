"""ipywidgets explorers: thin wiring over the package's tested functions."""

from .attribution import AttributionScrubber, attribution_scrubber
from .budget import BudgetExplorer, RankExplorer
from .factorize import FactorizationExplorer
from .family import FamilyExplorer, family_explorer
from .kernels import FeatureExplorer, feature_explorer
from .layers import LayerExplorer, layer_explorer
from .reshape import ReshapeExplorer, reshape_explorer
from .timing import TimingExplorer, timing_explorer

__all__ = ["AttributionScrubber", "attribution_scrubber", "BudgetExplorer", "RankExplorer",
           "LayerExplorer", "layer_explorer", "ReshapeExplorer", "reshape_explorer",
           "TimingExplorer", "timing_explorer", "FeatureExplorer", "feature_explorer",
           "FactorizationExplorer", "FamilyExplorer", "family_explorer"]
