"""Synthetic clips have the motion they claim, and bad sizes get clear errors."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from r21d_edu.data import (
    CLIP_KINDS,
    SyntheticClip,
    bouncing_ball,
    drifting_grating,
    flash,
    make_clip,
    moving_shape,
    static_scene,
)


def centroids(clip: torch.Tensor) -> torch.Tensor:
    """(T, 2) centre of mass (y, x) of each frame, pixel j centred at j + 0.5."""
    x = clip[0].sum(0).double()  # (T, H, W), channels summed
    pos = torch.arange(x.shape[-1], dtype=torch.float64) + 0.5
    mass = x.sum((1, 2))
    return torch.stack([(x.sum(2) * pos).sum(1) / mass, (x.sum(1) * pos).sum(1) / mass], dim=1)


@pytest.mark.parametrize("shape", ["square", "disc"])
@pytest.mark.parametrize("velocity", [(1, 2), (0.5, -1.0), (-1.5, 0.25), (0, 0)])
@pytest.mark.parametrize("channels", [1, 3])
def test_moving_shape_centroid_moves_by_its_velocity(shape, velocity, channels):
    made = moving_shape(frames=12, size=40, velocity=velocity, shape=shape, channels=channels,
                        seed=3)
    assert made.clip.shape == (1, channels, 12, 40, 40) and made.clip.dtype == torch.float32
    steps = centroids(made.clip).diff(dim=0)
    # Exact for the area-covered square; the disc's one-pixel ramp is within a few hundredths.
    tolerance = 1e-6 if shape == "square" else 0.06
    assert torch.allclose(steps, torch.tensor(velocity, dtype=torch.float64).expand_as(steps),
                          atol=tolerance)
    assert torch.allclose(centroids(made.clip), torch.tensor(made.positions, dtype=torch.float64),
                          atol=tolerance)
    assert made.speed == pytest.approx(math.hypot(*velocity))


@settings(max_examples=40, deadline=None)
@given(dy=st.floats(-1.5, 1.5), dx=st.floats(-1.5, 1.5), frames=st.integers(2, 8),
       seed=st.integers(0, 1000))
def test_any_velocity_that_fits_moves_the_square_by_exactly_that(dy, dx, frames, seed):
    made = moving_shape(frames=frames, size=32, velocity=(dy, dx), seed=seed)
    steps = centroids(made.clip).diff(dim=0)
    assert torch.allclose(steps, torch.tensor([[dy, dx]], dtype=torch.float64), atol=1e-5)
    assert float(made.clip.min()) >= 0 and float(made.clip.max()) <= 1


def test_moving_shape_direction_follows_image_coordinates():
    assert moving_shape(velocity=(0, 1)).direction == 0  # right
    assert moving_shape(velocity=(1, 0)).direction == 90  # down: rows grow downwards
    assert moving_shape(velocity=(0, -1)).direction == 180
    assert moving_shape(velocity=(0, 0)).direction is None


@pytest.mark.parametrize("direction", [0, 45, 90, 200])
@pytest.mark.parametrize("speed", [0.0, 0.5, 1.0, 2.5])
def test_grating_phase_advances_by_its_speed(direction, speed):
    period = 8.0
    made = drifting_grating(frames=6, size=32, direction=direction, speed=speed, period=period,
                            seed=1)
    # Project each frame on the grating's own complex exponential: its angle is the phase.
    theta = math.radians(direction)
    pos = torch.arange(32, dtype=torch.float64)
    along = pos[None, :] * math.cos(theta) + pos[:, None] * math.sin(theta)
    wave = torch.exp(-2j * math.pi / period * along)
    frames = made.clip[0, 0].double() - 0.5
    phases = torch.angle((frames * wave).sum((1, 2)))
    shift = torch.remainder(phases.diff() + math.pi, 2 * math.pi) - math.pi
    expected = -2 * math.pi * speed / period  # the pattern moves forward: phase falls
    expected = (expected + math.pi) % (2 * math.pi) - math.pi
    assert torch.allclose(shift, torch.full_like(shift, expected), atol=0.05)


def test_grating_values_and_rgb():
    assert drifting_grating(channels=3, seed=2).clip.shape == (1, 3, 16, 32, 32)
    made = drifting_grating(contrast=0.5, seed=2)
    assert 0.25 - 1e-6 <= float(made.clip.min()) and float(made.clip.max()) <= 0.75 + 1e-6
    assert made.describe() == "grating, direction 0°, speed 1 px/frame, period 8 px"


def test_bouncing_ball_stays_inside_and_keeps_its_speed():
    made = bouncing_ball(frames=40, size=32, velocity=(1.5, 2.0), seed=0)
    pos = torch.tensor(made.positions, dtype=torch.float64)
    radius = 32 // 8
    assert float(pos.min()) >= radius and float(pos.max()) <= 32 - radius
    steps = pos.diff(dim=0).abs()
    # Between bounces each axis moves by its speed; at a bounce it folds back.
    assert (steps[:, 0] <= 1.5 + 1e-9).all() and (steps[:, 1] <= 2.0 + 1e-9).all()
    assert (pos.diff(dim=0)[:, 1] > 0).any() and (pos.diff(dim=0)[:, 1] < 0).any()  # it bounced
    assert torch.allclose(centroids(made.clip), pos.double(), atol=0.1)


def test_flash_changes_in_time_without_motion():
    made = flash(frames=12, size=24, onset=4, duration=3, seed=0)
    energy = made.clip[0, 0].abs().sum((1, 2))
    assert (energy[4:7] > 0).all() and (energy[:4] == 0).all() and (energy[7:] == 0).all()
    on = made.clip[0, 0, 4:7]
    assert torch.equal(on[0], on[1]) and torch.equal(on[1], on[2])  # same image: no motion
    difference = made.clip.diff(dim=2).abs().sum((0, 1, 3, 4))
    assert (difference > 0).tolist() == [i in (3, 6) for i in range(11)]  # on and off only
    assert made.speed == 0 and made.direction is None


@pytest.mark.parametrize("channels", [1, 3])
def test_static_scene_has_zero_temporal_difference(channels):
    made = static_scene(frames=8, size=16, channels=channels, seed=5)
    assert made.clip.shape == (1, channels, 8, 16, 16)
    assert float(made.clip.std()) > 0.05  # a texture, not a blank image
    assert torch.count_nonzero(made.clip.diff(dim=2)) == 0
    noisy = static_scene(frames=8, size=16, noise=0.1, seed=5)
    assert torch.count_nonzero(noisy.clip.diff(dim=2)) > 0


@pytest.mark.parametrize("kind", CLIP_KINDS)
def test_make_clip_is_seeded_and_shaped(kind):
    a = make_clip(kind, frames=8, size=24, direction=90, speed=1.0, channels=3, seed=7)
    b = make_clip(kind, frames=8, size=24, direction=90, speed=1.0, channels=3, seed=7)
    assert isinstance(a, SyntheticClip) and a.kind == kind
    assert a.clip.shape == (1, 3, 8, 24, 24)
    assert torch.equal(a.clip, b.clip)
    assert kind in repr(a).replace(" ", "_")


def test_make_clip_turns_direction_into_velocity():
    made = make_clip("moving_shape", direction=90, speed=2.0, frames=6)
    assert made.velocity == (2.0, 0.0)
    assert torch.allclose(centroids(made.clip).diff(dim=0),
                          torch.tensor([[2.0, 0.0]], dtype=torch.float64), atol=1e-6)


def test_seeds_differ():
    assert not torch.equal(static_scene(seed=0).clip, static_scene(seed=1).clip)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: moving_shape(size=2), r"size must be an integer >= 4, got 2"),
        (lambda: moving_shape(size=1000), r"size must be at most 256"),
        (lambda: moving_shape(frames=0), r"frames must be an integer >= 1"),
        (lambda: moving_shape(channels=2), r"channels must be 1 \(grey\) or 3 \(RGB\), got 2"),
        (lambda: moving_shape(frames=16, size=16, velocity=(0, 2)),
         r"travels 30 px in 16 frames, more than the 12 px a 16-pixel frame leaves"),
        (lambda: moving_shape(velocity=3), r"velocity must be a pair \(dy, dx\)"),
        (lambda: moving_shape(shape="star"), r"shape must be 'square' or 'disc'"),
        (lambda: drifting_grating(period=1.5), r"period must be at least 2 pixels"),
        (lambda: drifting_grating(speed=-1), r"speed must be >= 0"),
        (lambda: drifting_grating(contrast=2), r"contrast must be in \[0, 1\]"),
        (lambda: drifting_grating(direction=float("nan")), r"direction must be a finite number"),
        (lambda: bouncing_ball(size=8, radius=4), r"does not fit in a 8-pixel frame"),
        (lambda: flash(frames=2), r"at least 3 frames"),
        (lambda: flash(frames=8, onset=5, duration=3), r"must switch off before the end"),
        (lambda: make_clip("video"), r"kind must be one of moving_shape, grating"),
    ],
)
def test_bad_arguments_are_explained(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()
