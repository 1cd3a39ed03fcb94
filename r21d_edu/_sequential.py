"""`nn.Sequential` subclasses whose slices are plain `nn.Sequential`s.

`nn.Sequential.__getitem__` builds a slice by calling ``self.__class__(OrderedDict(...))``:
right for `nn.Sequential` itself, wrong for a subclass whose constructor takes sizes
(``SpatioTemporalConv(in_channels, out_channels, kernel_size)``), which then fails with a
confusing TypeError about its first argument. A slice of a layer — ``layer[:3]``, "the
spatial half and its BN and ReLU" — is a sequence of modules, not a new layer, so it is
returned as an `nn.Sequential` holding the same modules under the same keys.
"""

from __future__ import annotations

from collections import OrderedDict

from torch import nn

__all__ = ["SliceableSequential"]


class SliceableSequential(nn.Sequential):
    """An `nn.Sequential` whose slices are `nn.Sequential`s of the same (shared) modules.

    Shape:
        As the modules it holds; a slice computes the first part of the same function.
    """

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return nn.Sequential(OrderedDict(list(self._modules.items())[idx]))
        return super().__getitem__(idx)
