"""The gradient-clipping functions live in ``fnet.nn.utils`` (torch's home for them,
``torch.nn.utils.clip_grad_norm_``); ``fnet.optim`` re-exports them and the optax
transforms built on them, so existing code keeps working."""

from ..nn.utils._clip import clip_grad_norm, clip_grad_norm_, clip_grad_value, clip_grad_value_

__all__ = ["clip_grad_norm_", "clip_grad_value_", "clip_grad_norm", "clip_grad_value"]
