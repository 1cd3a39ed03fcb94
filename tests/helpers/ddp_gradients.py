"""Run under torchrun (or alone): write the averaged gradients of the first steps.

Used by tests/test_distributed.py. Every process builds the same model from the
same seed, takes its share of each global batch (`epoch_batches`), and lets DDP
average the gradients; rank 0 saves them. BatchNorm runs in eval mode (see the
test's docstring for why), and no optimizer step is taken, so every step's
gradient is measured at the same parameters.
"""

import sys

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from r21d_edu.family import family_model
from r21d_edu.tasks import DirectionTask, make_splits
from r21d_edu.training import Distributed, epoch_batches

out, batch_size, steps = sys.argv[1], 16, 3
torch.set_num_threads(1)
world = Distributed.from_environment("cpu")
split = make_splits(DirectionTask(train=64, val=8, test=8))["train"]
torch.manual_seed(0)
model = family_model("r3d", widths=(4, 8, 8, 8)).double().eval()
network = DistributedDataParallel(model) if world.active else model
gradients = []
for indices in epoch_batches(len(split), batch_size, seed=0, epoch=0, world=world)[:steps]:
    clips, labels = split.batch(indices)
    network.zero_grad()
    nn.functional.cross_entropy(network(clips.double()), labels).backward()
    gradients.append({name: p.grad.clone() for name, p in model.named_parameters()})
if world.is_main:
    torch.save(gradients, out)
world.close()
