"""The side-by-side comparison and the tutorial-01 explorer built on it."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from r21d_edu import FullConv3d, NaiveConv2Plus1d, SpatioTemporalConv
from r21d_edu.compare import compare_layers
from r21d_edu.widgets import layer_explorer


def test_64_to_64_matches_the_paper():
    c = compare_layers(64, 64, 3, padding=1, input_size=(16, 56, 56))
    assert c.intermediate_channels == 144
    assert c.conv_weights == {"3d": 110_592, "naive": 110_592, "2plus1d": 110_592}
    # bias of 64 on every layer; the (2+1)D layers add the middle BN's 2*144 affine weights
    assert c.parameters == {"3d": 110_656, "naive": 110_944, "2plus1d": 110_944}
    assert c.middle_shape == (1, 144, 16, 56, 56)  # 2.25x the input's channels
    assert c.output_shape == (1, 64, 16, 56, 56)
    assert c.formula.endswith("= ⌊3·3·3·64·64 / (3·3·64 + 3·64)⌋ = ⌊110,592 / 768⌋ = 144")


@settings(max_examples=40, deadline=None)
@given(
    n_in=st.integers(1, 64), n_out=st.integers(1, 64), t=st.integers(1, 5),
    d=st.integers(1, 5), stride=st.integers(1, 3), padding=st.integers(0, 2),
)
def test_counts_equal_the_real_modules(n_in, n_out, t, d, stride, padding):
    kernel = (t, d, d)
    m = max(1, (t * d * d * n_in * n_out) // (d * d * n_in + t * n_out))
    c = compare_layers(n_in, n_out, kernel, stride, padding, input_size=(8, 12, 12),
                       intermediate_channels=m)
    built = {
        "3d": FullConv3d(n_in, n_out, kernel, stride, padding),
        "naive": NaiveConv2Plus1d(n_in, n_out, kernel, stride, padding, intermediate_channels=m),
        "2plus1d": SpatioTemporalConv(n_in, n_out, kernel, stride, padding,
                                      intermediate_channels=m),
    }
    assert c.parameters == {k: sum(p.numel() for p in v.parameters()) for k, v in built.items()}
    expected_size = [(s + 2 * padding - k) // stride + 1 for s, k in zip((8, 12, 12), kernel)]
    assert c.output_shape == (1, n_out, *expected_size)


def test_rich_display_shows_the_numbers():
    html = compare_layers(3, 64, (3, 7, 7), input_size=(8, 112, 112))._repr_html_()
    assert "= 83" in html and "(2+1)D conv" in html and "28,224" in html  # 3*7*7*3*64


def test_impossible_sizes_raise_with_the_layer_message():
    with pytest.raises(ValueError, match="smaller than the kernel along H"):
        compare_layers(3, 8, 5, input_size=(8, 2, 2))


def test_explorer_updates_when_a_slider_moves():
    explorer = layer_explorer()
    assert explorer.comparison.intermediate_channels == 144
    explorer.controls["out_channels"].value = 128
    assert explorer.comparison.intermediate_channels == 230
    assert "230" in explorer.summary.value
    assert explorer.message.value == ""


def test_explorer_flags_impossible_settings_and_keeps_the_last_good_view():
    explorer = layer_explorer()
    explorer.controls["padding"].value = 0
    good = explorer.comparison
    explorer.controls["frames"].value = 2  # 2 frames, no padding, t = 3
    assert "Not possible" in explorer.message.value
    assert "smaller than the kernel along T" in explorer.message.value
    assert explorer.comparison is good
    explorer.controls["frames"].value = 8  # back to a valid setting clears the flag
    assert explorer.message.value == ""


def test_the_layer_comparison_has_a_clear_module_name_and_the_old_path_works() -> None:
    import r21d_edu
    import r21d_edu.compare as old
    import r21d_edu.layer_comparison as new

    assert new.compare_layers is old.compare_layers is r21d_edu.compare_layers
    assert new.LayerComparison is old.LayerComparison is r21d_edu.LayerComparison
