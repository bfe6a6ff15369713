"""Encoder, time folding, voting, parameter counts: the behaviour Sec. 2.4 and Table 1 ask for."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import suite.models as models
from suite.models.layers import Encoder, FCBlock, MaxPool, SeqDropout, VotingDecoder
from suite.neurons import SpikingNeuron


def _batch_sizes(module: nn.Module) -> list[int]:
    seen: list[int] = []
    module.register_forward_hook(lambda m, inp, out: seen.append(inp[0].shape[0]))
    return seen


@pytest.mark.parametrize("name", models.names())
def test_static_input_runs_the_encoder_once(name, build, example_input):
    """The image is constant over time: one conv + BN pass on [B, ...], not T of them."""
    steps, batch = 4, 3
    net = build(name, T=steps)
    enc_bn = _batch_sizes(net.enc.bn)
    later = next(m for n, m in net.named_modules() if isinstance(m, nn.Conv2d) and not n.startswith("enc"))
    later_batches = _batch_sizes(later)
    net(torch.rand(batch, *models.entry(name).example.in_shape))  # static, even for an event network
    assert enc_bn == [batch]
    assert later_batches == [steps * batch], "layers after the encoder run with time folded"


@pytest.mark.parametrize("name", models.names())
def test_event_input_runs_the_encoder_per_step(name, build):
    steps, batch = 3, 2
    net = build(name, T=steps)
    seen = _batch_sizes(net.enc.bn)
    shape = models.entry(name).example.in_shape
    net(torch.rand(steps, batch, *shape))
    assert seen == [steps * batch]


def test_encoder_neuron_sees_the_static_current_repeated_over_time():
    enc = Encoder(1, 4, 3, 3, lambda: nn.Identity())
    x = torch.rand(2, 1, 6, 6)
    y = enc(x, 5)
    assert y.shape == (5, 2, 4, 6, 6)
    assert torch.equal(y[0], y[4])


def test_summed_weight_equals_parallel_convs_summed():
    """Sec. 2.4: three parallel convs whose outputs are added; computed as one conv with the summed weight."""
    torch.manual_seed(0)
    enc = Encoder(3, 8, 3, 3, lambda: nn.Identity())
    x = torch.randn(4, 3, 10, 10)
    direct = enc.bn(sum(conv(x) for conv in enc.convs))
    torch.testing.assert_close(enc.current(x), direct)
    enc.current(x).square().sum().backward()
    g = [c.weight.grad.clone() for c in enc.convs]
    assert torch.equal(g[0], g[1]) and torch.equal(g[1], g[2]), "each branch gets dL/dW of the sum"


def test_per_branch_norm_is_a_batchnorm_after_each_conv_then_the_sum():
    """encoder_norm="per-branch": sum_i BN_i(conv_i(x)), computed as one conv over the stacked kernels and one
    BatchNorm over the stacked channels; each branch has its own statistics, scale and shift."""
    torch.manual_seed(0)
    enc = Encoder(3, 8, 3, 3, lambda: nn.Identity(), norm="per-branch").train()
    with torch.no_grad():
        enc.bn.weight.uniform_(0.5, 2.0)
        enc.bn.bias.uniform_(-1.0, 1.0)
    x = torch.randn(4, 3, 10, 10)
    bns = [nn.BatchNorm2d(8).train() for _ in range(3)]
    with torch.no_grad():
        for i, bn in enumerate(bns):
            bn.weight.copy_(enc.bn.weight[8 * i : 8 * (i + 1)])
            bn.bias.copy_(enc.bn.bias[8 * i : 8 * (i + 1)])
    direct = sum(bn(conv(x)) for bn, conv in zip(bns, enc.convs, strict=True))
    torch.testing.assert_close(enc.current(x), direct)
    torch.testing.assert_close(enc.bn.running_mean, torch.cat([bn.running_mean for bn in bns]))
    y = enc(x, 2)
    assert y.shape == (2, 4, 8, 10, 10)
    y.square().sum().backward()
    assert not torch.equal(enc.convs[0].weight.grad, enc.convs[1].weight.grad), (
        "branches differ, unlike shared"
    )


def test_one_branch_makes_both_norms_the_same_layer():
    torch.manual_seed(0)
    shared = Encoder(2, 4, 3, 1, lambda: nn.Identity(), norm="shared")
    per_branch = Encoder(2, 4, 3, 1, lambda: nn.Identity(), norm="per-branch")
    per_branch.load_state_dict(shared.state_dict())
    x = torch.randn(3, 2, 6, 6)
    torch.testing.assert_close(shared.current(x), per_branch.current(x))


def test_unknown_encoder_norm_is_rejected():
    with pytest.raises(ValueError, match="encoder_norm='after'.*shared, per-branch"):
        Encoder(1, 4, 3, 3, lambda: nn.Identity(), norm="after")


def test_linear_bias_off_leaves_no_bias():
    assert FCBlock(6, 4, nn.Identity, 0.0, bias=False).fc.bias is None
    assert VotingDecoder(6, 2, nn.Identity, 0.0, bias=False).fc.bias is None
    assert FCBlock(6, 4, nn.Identity, 0.0).fc.bias is not None, "default: PyTorch's bias"


def test_vote_averages_groups_of_ten_then_time():
    """Class score = AvgPool1d(10) over the 10 x classes neurons, then the mean over T."""
    vote = VotingDecoder(30, 3, lambda: nn.Identity(), dropout=0.0)
    with torch.no_grad():  # FC = identity, so the "spikes" are the input
        vote.fc.weight.copy_(torch.eye(30))
        vote.fc.bias.zero_()
    s = torch.rand(5, 2, 30)
    expected = nn.AvgPool1d(10)(s.flatten(0, 1).unsqueeze(1)).squeeze(1).unflatten(0, (5, 2)).mean(0)
    torch.testing.assert_close(vote(s), expected)
    assert vote(s).shape == (2, 3)


@pytest.mark.parametrize("size", [28, 27])
def test_max_pool_gradient_matches_torch(size):
    x = (torch.rand(3, 2, 4, size, size) > 0.6).float().requires_grad_()  # spikes: many ties
    g = torch.randn(3, 2, 4, size // 2, size // 2)
    ours = torch.autograd.grad(MaxPool(2)(x), x, g)[0]
    ref = torch.autograd.grad(nn.MaxPool2d(2)(x.flatten(0, 1)).unflatten(0, (3, 2)), x, g)[0]
    assert torch.equal(MaxPool(2)(x), nn.MaxPool2d(2)(x.flatten(0, 1)).unflatten(0, (3, 2)))
    assert torch.equal(ours, ref)


def test_dropout_mask_is_shared_over_time():
    drop = SeqDropout(0.5).train()
    y = drop(torch.ones(6, 4, 50))
    assert torch.equal(y[0], y[5])
    assert set(y.unique().tolist()) <= {0.0, 2.0}
    assert torch.equal(drop.eval()(torch.ones(6, 4, 50)), torch.ones(6, 4, 50))


@pytest.mark.parametrize(
    ("name", "in_features"),
    [
        ("table1-mnist", 128 * 7 * 7),
        ("table1-nmnist", 128 * 8 * 8),
        ("table1-cifar10", 256 * 8 * 8),
        ("table1-cifar10-dvs", 128 * 8 * 8),
        ("table1-dvs-gesture", 128 * 4 * 4),
        ("table1-mnist-literal", 128 * 14 * 14),
        ("table1-nmnist-literal", 128 * 17 * 17),
        ("table1-cifar10-literal", 256 * 8 * 8),
        ("table1-cifar10-dvs-literal", 128 * 16 * 16),
        ("table1-dvs-gesture-literal", 128 * 8 * 8),
        ("vgg16", 512),
    ],
)
def test_first_fc_sees_the_size_table1_implies(name, in_features):
    """Reading (a) gives Fang et al.'s flatten sizes; the literal strings lack the encoder's MP2."""
    ex = models.entry(name).example
    with torch.device("meta"):  # shapes only: the literal N-MNIST net has 76 M parameters
        net = models.make(name, neuron="LIF", in_shape=ex.in_shape, num_classes=ex.num_classes, T=2)
    first_fc = next(m for m in net.modules() if isinstance(m, nn.Linear))
    assert first_fc.in_features == in_features


def test_spiking_layer_layout_of_vgg16_and_resnet18(build):
    vgg = build("vgg16")
    assert list(models.probes.spiking_layers(vgg)) == ["enc", *[f"conv{i}" for i in range(1, 13)], "vote"]
    res = build("resnet18")
    names = list(models.probes.spiking_layers(res))
    assert len(names) == 18 and names[0] == "enc" and names[-1] == "vote" and names[1] == "layer1.0.sn1"
    assert sum(isinstance(m, SpikingNeuron) for m in res.modules()) == 18


def test_resnet_adds_the_residual_before_the_neuron(build, example_input):
    """sn2 sees bn2(conv2(.)) + shortcut(x): with conv2's output zeroed, it sees exactly the shortcut."""
    net = build("resnet18").eval()
    block = net.layer1[0]
    seen = {}
    block.sn2.register_forward_hook(lambda m, inp, out: seen.setdefault("in", inp[0]))
    nn.init.zeros_(block.bn2.weight)
    nn.init.zeros_(block.bn2.bias)
    x_block = {}
    block.register_forward_hook(lambda m, inp, out: x_block.setdefault("x", inp[0]))
    net(example_input("resnet18"))
    torch.testing.assert_close(seen["in"], x_block["x"])  # identity shortcut in layer1
