"""The torch network of a neural mixture: a gate and stacked MLP experts.

Every expert has the same layer sizes, so each layer's weights are stacked into one
tensor of shape (n_experts, fan_in, fan_out). Dense routing runs every expert on every
row as one batched product. Sparse (top-k) routing sorts the (row, expert) pairs by
expert into blocks of equal size, each block holding one expert's rows (padded), and runs
all blocks as one batched product with each block's expert weights: only the chosen
experts compute, and every step stays on the device (no counts go back to the host).
"""

import math

import torch
from torch import nn
from torch.nn import functional as F


class MixtureNet(nn.Module):
    """Gate and experts; ``forward`` returns the mixture's output and the balance loss.

    Parameters
    ----------
    n_features, n_outputs, n_experts : int
    hidden_units : tuple of int
        Hidden layer sizes of every expert.
    top_k : int or None
        Experts per row; None (or ``n_experts``) runs every expert on every row.
    classify : bool
        Experts output class logits and the mixture returns log-probabilities (a
        gate-weighted sum of the experts' probabilities); otherwise the mixture returns
        the gate-weighted sum of the experts' outputs.
    generator : torch.Generator
        Draws the initial weights.
    """

    def __init__(self, n_features, n_outputs, n_experts, hidden_units, top_k, classify,
                 generator):
        super().__init__()
        self.n_experts = n_experts
        self.top_k = None if top_k is None or top_k >= n_experts else top_k
        self.classify = classify
        sizes = [n_features, *hidden_units, n_outputs]
        self.weights = nn.ParameterList()
        self.biases = nn.ParameterList()
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = 1.0 / math.sqrt(fan_in)  # torch.nn.Linear's default range
            self.weights.append(_uniform((n_experts, fan_in, fan_out), bound, generator))
            self.biases.append(_uniform((n_experts, fan_out), bound, generator))
        self.gate = nn.Parameter(_uniform((n_features, n_experts), 1.0 / math.sqrt(n_features),
                                          generator))
        self.gate_bias = nn.Parameter(torch.zeros(n_experts, dtype=torch.float32))
        # Noisy top-k gating: a learned, input-dependent noise scale (softplus).
        self.noise = nn.Parameter(torch.zeros(n_features, n_experts, dtype=torch.float32))

    def to_state(self):
        """The constructor's arguments and the parameters as NumPy arrays (on the CPU):
        what :meth:`from_state` rebuilds the network from, in plain types."""
        n_features, n_experts = self.gate.shape  # the arguments, read off the parameters
        config = {"n_features": n_features, "n_outputs": self.weights[-1].shape[2],
                  "n_experts": n_experts,
                  "hidden_units": tuple(w.shape[2] for w in self.weights[:-1]),
                  "top_k": self.top_k, "classify": self.classify}
        return {"config": config,
                "parameters": {name: value.detach().cpu().numpy()
                               for name, value in self.state_dict().items()}}

    @classmethod
    def from_state(cls, state):
        """The network :meth:`to_state` described, on the CPU, in evaluation mode."""
        module = cls(**state["config"], generator=torch.Generator())
        # A copy: the arrays may be read-only (joblib's memory-mapped load), which
        # torch.from_numpy warns of.
        module.load_state_dict({name: torch.tensor(value)
                                for name, value in state["parameters"].items()})
        return module.eval()

    def gate_logits(self, x, generator=None):
        """The gate's logits; with a ``generator`` (training, sparse), noise is added."""
        logits = x @ self.gate + self.gate_bias
        if generator is not None and self.top_k is not None:
            scale = F.softplus(x @ self.noise)
            noise = torch.randn(logits.shape, generator=generator, device=logits.device,
                                dtype=logits.dtype)
            logits = logits + noise * scale
        return logits

    def routing(self, x, generator=None):
        """Each row's experts (n, k) and weights (n, k), the gate's probabilities (n, E)."""
        proba = torch.softmax(self.gate_logits(x, generator), dim=1)
        if self.top_k is None:
            experts = torch.arange(self.n_experts, device=x.device).expand(len(x), -1)
            return experts, proba, proba
        top, experts = torch.topk(proba, self.top_k, dim=1)
        return experts, top / top.sum(dim=1, keepdim=True), proba

    def forward(self, x, generator=None):
        """The mixture's output for ``x`` and the load-balancing loss (0 when dense).

        A ``generator`` marks a training pass: it draws the gate noise.
        """
        experts, weight, proba = self.routing(x, generator)
        if self.top_k is None:
            out = self._dense(x, proba)
            return out, x.new_zeros(())
        out, counts = self._sparse(x, experts, weight)
        # Switch Transformer's auxiliary loss: n_experts * sum_e (share of the row slots
        # routed to e) * (mean gate probability of e); 1 when both are uniform.
        balance = self.n_experts * torch.sum(counts / counts.sum() * proba.mean(dim=0))
        return out, balance

    def _dense(self, x, proba):
        h = x.unsqueeze(0).expand(self.n_experts, -1, -1)
        h = self._experts(h, self.weights, self.biases)  # (E, n, out)
        if self.classify:
            mixed = torch.einsum("ne,eno->no", proba, torch.softmax(h, dim=2))
            return torch.log(mixed.clamp_min(torch.finfo(mixed.dtype).tiny))
        return torch.einsum("ne,eno->no", proba, h)

    def _sparse(self, x, experts, weight):
        n, k = experts.shape
        slots = n * k
        block = _block_size(slots, self.n_experts)
        flat = experts.reshape(-1)
        order = torch.argsort(flat, stable=True)
        expert_of = flat[order]
        counts = torch.zeros(self.n_experts, dtype=torch.long, device=x.device)
        counts.scatter_add_(0, flat, torch.ones_like(flat))
        padded = (counts + block - 1) // block * block
        padded_end = torch.cumsum(padded, 0)
        first = torch.cumsum(counts, 0) - counts
        dest = padded_end[expert_of] - padded[expert_of] + (
            torch.arange(slots, device=x.device) - first[expert_of]
        )
        # At most ceil(slots / block) + n_experts blocks: a bound known without the counts.
        n_blocks = -(-slots // block) + self.n_experts
        starts = torch.arange(n_blocks, device=x.device) * block
        block_expert = torch.searchsorted(padded_end, starts, right=True)
        block_expert = block_expert.clamp_(max=self.n_experts - 1)
        rows = order // k
        h = x.new_zeros(n_blocks * block, x.shape[1]).index_copy_(0, dest, x[rows])
        h = self._experts(h.view(n_blocks, block, -1),
                          [w[block_expert] for w in self.weights],
                          [b[block_expert] for b in self.biases])
        out = h.reshape(n_blocks * block, -1)[dest]
        if self.classify:
            out = torch.softmax(out, dim=1)
        out = out * weight.reshape(-1)[order].unsqueeze(1)
        mixed = x.new_zeros(n, out.shape[1]).index_add_(0, rows, out)
        if self.classify:
            mixed = torch.log(mixed.clamp_min(torch.finfo(mixed.dtype).tiny))
        return mixed, counts.to(x.dtype)

    @staticmethod
    def _experts(h, weights, biases):
        """Run stacked layers on (groups, rows, features) with ReLU between layers."""
        for i, (w, b) in enumerate(zip(weights, biases)):
            h = torch.baddbmm(b.unsqueeze(1), h, w)
            if i < len(weights) - 1:
                h = torch.relu(h)
        return h


def _uniform(shape, bound, generator):
    # float32 whatever torch's default dtype (set_default_dtype(torch.float64) is common
    # in scientific code): the rows are float32, and mixed dtypes fail in matmul.
    values = torch.rand(shape, generator=generator, dtype=torch.float32) * (2 * bound) - bound
    return nn.Parameter(values)


def _block_size(slots, n_experts):
    """Rows per block: about a quarter of an even share, a power of two in [8, 256].

    Padding wastes at most ``n_experts * (block - 1)`` row slots, under a quarter of them.
    """
    share = max(slots // (4 * n_experts), 1)
    return int(min(max(1 << (share.bit_length() - 1), 8), 256))
