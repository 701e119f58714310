"""A UNet of Stable Diffusion 1.5's shape in plain torch, with random weights.

What decides a GPU's kernels is the network's shapes, not its weights: convolutions of 320 to 1280 channels on
64x64 to 8x8 latents, self-attention over 4096 to 64 tokens, cross-attention to 77 text tokens of 768, group
norms and GEGLU feed-forwards. This module builds that network (SD 1.5's UNet2DConditionModel config:
block_out_channels 320/640/1280/1280, two layers per block, 8 heads, cross-attention dim 768, 32 groups), so the
device check measures batch invariance and the batch curve of a real-size UNet without downloading one.
`TINY` is the same architecture at toy sizes, for running the check on a CPU.
"""

import math
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class UnetConfig:
    # One down block (and one up block) per entry; all but the deepest have attention, as in SD 1.5.
    channels: tuple[int, ...]
    layers: int
    heads: int
    context_dim: int
    latent_size: int
    latent_channels: int = 4
    groups: int = 32
    tokens: int = 77


SD15 = UnetConfig(channels=(320, 640, 1280, 1280), layers=2, heads=8, context_dim=768, latent_size=64)
TINY = UnetConfig(channels=(32, 64), layers=1, heads=2, context_dim=32, latent_size=8)


def timestep_embedding(t: torch.Tensor, dim: int) -> torch.Tensor:
    """Sinusoidal embedding of timesteps [B] (cos first, as diffusers' flip_sin_to_cos does for SD)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10000.0) * torch.arange(half, device=t.device, dtype=torch.float32) / half)
    angles = t.float()[:, None] * freqs[None, :]
    return torch.cat([torch.cos(angles), torch.sin(angles)], dim=1)


class ResBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, temb: int, groups: int):
        super().__init__()
        self.norm1 = nn.GroupNorm(groups, c_in, eps=1e-5)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.temb = nn.Linear(temb, c_out)
        self.norm2 = nn.GroupNorm(groups, c_out, eps=1e-5)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: torch.Tensor, temb: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        h = h + self.temb(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return self.skip(x) + h


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int, context_dim: int | None = None):
        super().__init__()
        self.heads = heads
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(context_dim or dim, dim, bias=False)
        self.v = nn.Linear(context_dim or dim, dim, bias=False)
        self.out = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor, context: torch.Tensor | None = None) -> torch.Tensor:
        context = x if context is None else context
        b, n, d = x.shape

        def heads(y: torch.Tensor) -> torch.Tensor:  # [b, tokens, d] -> [b, heads, tokens, d / heads]
            return y.view(b, -1, self.heads, d // self.heads).transpose(1, 2)

        h = F.scaled_dot_product_attention(heads(self.q(x)), heads(self.k(context)), heads(self.v(context)))
        return self.out(h.transpose(1, 2).reshape(b, n, d))


class Transformer(nn.Module):
    """GroupNorm, 1x1 projection in, one block (self-attention, cross-attention, GEGLU feed-forward), 1x1 out."""

    def __init__(self, dim: int, heads: int, context_dim: int, groups: int):
        super().__init__()
        self.norm = nn.GroupNorm(groups, dim, eps=1e-6)
        self.proj_in = nn.Conv2d(dim, dim, 1)
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn1 = Attention(dim, heads)
        self.attn2 = Attention(dim, heads, context_dim)
        self.geglu = nn.Linear(dim, 8 * dim)
        self.ff_out = nn.Linear(4 * dim, dim)
        self.proj_out = nn.Conv2d(dim, dim, 1)

    def forward(self, x: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        b, c, hgt, wid = x.shape
        h = self.proj_in(self.norm(x)).flatten(2).transpose(1, 2)
        h = h + self.attn1(self.norm1(h))
        h = h + self.attn2(self.norm2(h), context)
        value, gate = self.geglu(self.norm3(h)).chunk(2, dim=-1)
        h = h + self.ff_out(value * F.gelu(gate))
        return x + self.proj_out(h.transpose(1, 2).reshape(b, c, hgt, wid))


class SdUnet(nn.Module):
    """eps(sample [B, 4, H, W], timestep [B], encoder_hidden_states [B, 77, D]) -> [B, 4, H, W]."""

    def __init__(self, cfg: UnetConfig):
        super().__init__()
        ch, g, temb = cfg.channels, cfg.groups, 4 * cfg.channels[0]
        self.base = ch[0]
        self.time = nn.Sequential(nn.Linear(ch[0], temb), nn.SiLU(), nn.Linear(temb, temb))
        self.conv_in = nn.Conv2d(cfg.latent_channels, ch[0], 3, padding=1)
        attends = [i < len(ch) - 1 for i in range(len(ch))]
        self.down, skips, c = nn.ModuleList(), [ch[0]], ch[0]
        for i, c_out in enumerate(ch):
            for _ in range(cfg.layers):
                self.down.append(self._layer(c, c_out, temb, cfg, attends[i]))
                c = c_out
                skips.append(c)
            if i < len(ch) - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        self.mid = nn.ModuleList(
            [ResBlock(c, c, temb, g), Transformer(c, cfg.heads, cfg.context_dim, g), ResBlock(c, c, temb, g)]
        )
        self.up = nn.ModuleList()
        for i, c_out in reversed(list(enumerate(ch))):
            for _ in range(cfg.layers + 1):
                self.up.append(self._layer(c + skips.pop(), c_out, temb, cfg, attends[i]))
                c = c_out
            if i > 0:
                self.up.append(nn.Conv2d(c, c, 3, padding=1))
        self.norm_out = nn.GroupNorm(g, c, eps=1e-5)
        self.conv_out = nn.Conv2d(c, cfg.latent_channels, 3, padding=1)

    @staticmethod
    def _layer(c_in: int, c_out: int, temb: int, cfg: UnetConfig, attend: bool) -> nn.ModuleList:
        res = ResBlock(c_in, c_out, temb, cfg.groups)
        return nn.ModuleList([res, Transformer(c_out, cfg.heads, cfg.context_dim, cfg.groups)] if attend else [res])

    def forward(self, sample: torch.Tensor, timestep: torch.Tensor, context: torch.Tensor) -> torch.Tensor:
        temb = self.time(timestep_embedding(timestep, self.base).to(sample.dtype))
        h = self.conv_in(sample)
        skips = [h]
        for layer in self.down:
            if isinstance(layer, nn.Conv2d):  # downsample
                h = layer(h)
            else:
                h = layer[0](h, temb)
                if len(layer) > 1:
                    h = layer[1](h, context)
            skips.append(h)
        h = self.mid[2](self.mid[1](self.mid[0](h, temb), context), temb)
        for layer in self.up:
            if isinstance(layer, nn.Conv2d):  # upsample: nearest x2, then a 3x3 conv
                h = layer(F.interpolate(h, scale_factor=2.0, mode="nearest"))
            else:
                h = layer[0](torch.cat([h, skips.pop()], dim=1), temb)
                if len(layer) > 1:
                    h = layer[1](h, context)
        return self.conv_out(F.silu(self.norm_out(h)))


def build(cfg: UnetConfig, seed: int = 0) -> SdUnet:
    """The network with deterministic random weights, scaled so activations stay finite in fp16."""
    torch.manual_seed(seed)
    net = SdUnet(cfg)
    with torch.no_grad():
        for p in net.parameters():
            if p.dim() > 1:
                nn.init.normal_(p, std=1.0 / math.sqrt(p[0].numel()))
    return net.eval()
