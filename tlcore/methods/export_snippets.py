"""The "How to load" snippets of exported runs: code that needs only transformers, peft and numpy.

Each method picks its snippet in ``Method.load_snippet``; the pieces several methods share live here.
"""
from __future__ import annotations

# The end of every "How to load" snippet for a sequence-classification model (model, tokenizer, config defined).
PREDICT_SNIPPET = [
    "def predict_proba(texts):",
    '    """Class probabilities, one row per text, columns in label order (config.id2label)."""',
    '    batch = tokenizer(list(texts), padding=True, truncation=True, return_tensors="pt")',
    "    with torch.no_grad():",
    "        return model(**batch).logits.softmax(-1).numpy()",
    "",
    "",
    "labels = [config.id2label[i] for i in range(config.num_labels)]",
    'proba = predict_proba(["Your text here."])',
    "print(labels[proba[0].argmax()], proba[0].max())",
]


def base_note(base: str, bundled: bool) -> list[str]:
    if bundled:
        return [f"`BASE` is the base model's public hub id (`{base}`). Offline, point it at a local copy of that "
                "model instead: any folder with its `config.json`, tokenizer and `model.safetensors`, such as one "
                f"saved with `hf download {base} --local-dir ...` or TransferLab's bundled copy "
                "(`tlcore models` / the model's package folder)."]
    return [f"`BASE` is the folder the run's model was loaded from (`{base}`); change it if the model lives "
            "elsewhere on this machine."]


def peft_snippet(config: dict, base: str, bundled: bool) -> list[str]:
    """Load a PEFT adapter and its head on the base model (transformers + peft)."""
    labels = list(config["labels"])
    return [
        "With transformers and peft only (`pip install transformers peft torch`):", "",
        "```python",
        "import torch",
        "from peft import PeftModel",
        "from transformers import AutoConfig, AutoModelForSequenceClassification, AutoTokenizer",
        "",
        'FOLDER = "."  # this folder',
        f'BASE = "{base}"  # the base model: hub id or a local folder',
        "",
        "config = AutoConfig.from_pretrained(FOLDER)  # the classifier: labels (id2label), pad token",
        "# transformers reports the head (classifier / score) as newly initialised here; the next line loads",
        "# the trained head from the adapter folder, with the adapter itself.",
        "base = AutoModelForSequenceClassification.from_pretrained(BASE, config=config, dtype=torch.float32)",
        "model = PeftModel.from_pretrained(base, FOLDER).eval()",
        "tokenizer = AutoTokenizer.from_pretrained(FOLDER)",
        "",
        "",
        *PREDICT_SNIPPET,
        "```", "",
        *base_note(base, bundled), "",
        "Or, with the base model named in `adapter_config.json` (edit its `base_model_name_or_path` to use "
        "a local folder):", "",
        "```python",
        "from peft import AutoPeftModelForSequenceClassification",
        "",
        f"labels = {labels!r}",
        "model = AutoPeftModelForSequenceClassification.from_pretrained(",
        '    FOLDER, num_labels=len(labels), id2label=dict(enumerate(labels)),',
        "    label2id={label: i for i, label in enumerate(labels)})",
        "```",
    ]


def full_snippet() -> list[str]:
    """Load a whole fine-tuned model folder (transformers alone)."""
    return [
        "With transformers only (`pip install transformers torch`):", "",
        "```python",
        "import torch",
        "from transformers import AutoModelForSequenceClassification, AutoTokenizer",
        "",
        'FOLDER = "."  # this folder',
        "",
        "model = AutoModelForSequenceClassification.from_pretrained(FOLDER, dtype=torch.float32).eval()",
        "tokenizer = AutoTokenizer.from_pretrained(FOLDER)",
        "config = model.config",
        "",
        "",
        *PREDICT_SNIPPET,
        "```", "",
        "A pipeline gives the same probabilities: `pipeline(\"text-classification\", model=FOLDER, "
        "top_k=None)(texts, truncation=True)`.",
    ]


# Shared by the encoder and decoder snippets: the same calibration as tlcore.methods.zero_shot.
_SOFTMAX_AND_CALIBRATE = [
    "def softmax(z):",
    "    z = np.exp(z - z.max(axis=1, keepdims=True))",
    "    return z / z.sum(axis=1, keepdims=True)",
    "",
    "",
    "def calibrate(s):",
    '    """Remove the bias of the scores towards some labels: one offset per label, set by the run from its',
    '    test texts as spec["calibration"] says (match: the average probability of each label equals its class',
    '    frequency)."""',
    '    offsets = spec["calibration_offsets"]',
    "    return s if offsets is None else s + np.asarray(offsets)",
    "",
    "",
]

_EMBED = [
    "tokenizer = AutoTokenizer.from_pretrained(BASE)",
    "model = AutoModel.from_pretrained(BASE, dtype=torch.float32).eval()",
    "",
    "",
    "def embed(texts):",
    '    """Sentence vectors: mean of the last hidden states over real tokens, L2-normalised."""',
    '    batch = tokenizer(list(texts), padding=True, truncation=True, max_length=spec["max_length"],',
    '                      return_tensors="pt")',
    "    with torch.no_grad():",
    "        hidden = model(**batch).last_hidden_state",
    '    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)',
    "    pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)",
    "    return torch.nn.functional.normalize(pooled, dim=-1).numpy()",
    "",
    "",
    *_SOFTMAX_AND_CALIBRATE,
]


def _decoder_preamble(base: str) -> list[str]:
    """The start of both decoder snippets: imports, the two paths, the spec and the labels."""
    return ["```python", "import json", "", "import numpy as np", "import torch",
            "from transformers import AutoModelForCausalLM, AutoTokenizer", "",
            'FOLDER = "."  # this folder', f'BASE = "{base}"  # the base model: hub id or a local folder', "",
            'spec = json.load(open(f"{FOLDER}/method.json"))', 'labels = spec["labels"]']


# The end of both decoder snippets: calibrated probabilities from scores(text), and an example call.
_DECODER_PREDICT = [
    "def predict_proba(texts):",
    '    """Class probabilities, one row per text, columns in label order (calibrated as in the run)."""',
    "    return softmax(calibrate(np.stack([scores(t) for t in texts])))",
    "",
    "",
    'proba = predict_proba(["Your text here."])',
    "print(labels[proba[0].argmax()], proba[0].max())",
    "```", "",
]


def decoder_snippet(base: str, bundled: bool) -> list[str]:
    """Decoder zero-/few-shot, direct scoring: log p(label text | chat prompt)."""
    return [
        "With transformers and numpy only (`pip install transformers torch numpy`). This scores one text "
        "and label at a time: simple, and slow for many texts.", "",
        *_decoder_preamble(base),
        'label_texts = [spec["label_texts"][label] for label in labels]',
        "tokenizer = AutoTokenizer.from_pretrained(BASE)",
        "model = AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32).eval()",
        "",
        "",
        "def user_turn(text):",
        '    ids = tokenizer(text, add_special_tokens=False)["input_ids"][: spec["max_length"]]',
        '    return "Text: " + tokenizer.decode(ids).strip()',
        "",
        "",
        "def render(query=None):",
        '    """The prompt: instructions, the shots (few-shot), then the query."""',
        '    shots = spec.get("shots", [])',
        "    if tokenizer.chat_template:",
        '        messages = [{"role": "system", "content": spec["system_prompt"]}]',
        "        for shot in shots:",
        '            messages += [{"role": "user", "content": user_turn(shot["text"])},',
        '                         {"role": "assistant", "content": spec["label_texts"][shot["label"]]}]',
        "        if query is not None:",
        '            messages.append({"role": "user", "content": user_turn(query)})',
        "        return tokenizer.apply_chat_template(messages, tokenize=False,",
        "                                             add_generation_prompt=query is not None)",
        '    lines = [spec["system_prompt"], ""]',
        "    for shot in shots:",
        '        lines += [user_turn(shot["text"]), "Label: " + spec["label_texts"][shot["label"]], ""]',
        "    if query is not None:",
        '        lines += [user_turn(query), "Label: "]',
        '    return "\\n".join(lines)',
        "",
        "",
        'end = tokenizer.eos_token if tokenizer.chat_template else "\\n"',
        'label_ids = [tokenizer(t + end, add_special_tokens=False)["input_ids"] for t in label_texts]',
        "",
        "",
        *_SOFTMAX_AND_CALIBRATE,
        "def scores(text):",
        '    """log p(label text | prompt) for each label."""',
        "    prefix = render()",
        '    ids = tokenizer(prefix, add_special_tokens=False)["input_ids"]',
        '    ids += tokenizer(render(text)[len(prefix):], add_special_tokens=False)["input_ids"]',
        "    out = []",
        "    for answer in label_ids:",
        "        with torch.no_grad():",
        "            logits = model(torch.tensor([ids + answer])).logits[0, len(ids) - 1:-1]",
        "        logp = torch.log_softmax(logits.float(), -1)",
        "        out.append(sum(logp[i, t].item() for i, t in enumerate(answer)))",
        "    return np.array(out)",
        "",
        "",
        *_DECODER_PREDICT,
        *base_note(base, bundled),
    ]


def channel_snippet(base: str, bundled: bool) -> list[str]:
    """Decoder zero-/few-shot, channel scoring: log p(text | each label's prompt)."""
    return [
        "With transformers and numpy only (`pip install transformers torch numpy`). Channel scoring: how likely "
        "the text is after each label's prompt (in method.json). This scores one text and label at a time: "
        "simple, and slow for many texts.", "",
        *_decoder_preamble(base),
        "tokenizer = AutoTokenizer.from_pretrained(BASE)",
        "model = AutoModelForCausalLM.from_pretrained(BASE, dtype=torch.float32).eval()",
        'prompts = [tokenizer(spec["channel_prompts"][label], add_special_tokens=False)["input_ids"]',
        "           for label in labels]",
        "",
        "",
        *_SOFTMAX_AND_CALIBRATE,
        "def scores(text):",
        '    """log p(text | label\'s prompt) for each label."""',
        '    ids = tokenizer(text.strip(), add_special_tokens=False)["input_ids"][: spec["max_length"]]',
        "    out = []",
        "    for prompt in prompts:",
        "        with torch.no_grad():",
        "            logits = model(torch.tensor([prompt + ids])).logits[0, len(prompt) - 1:-1]",
        "        logp = torch.log_softmax(logits.float(), -1)",
        "        out.append(sum(logp[i, t].item() for i, t in enumerate(ids)))",
        "    return np.array(out)",
        "",
        "",
        *_DECODER_PREDICT,
        *base_note(base, bundled),
    ]


def encoder_snippet(body: list[str], base: str, bundled: bool) -> list[str]:
    """An encoder-based method.json: embed with the base model, then ``body`` defines predict_proba."""
    head = ["With transformers and numpy only (`pip install transformers torch numpy`):", "",
            "```python", "import json", "", "import numpy as np", "import torch",
            "from transformers import AutoModel, AutoTokenizer", "",
            'FOLDER = "."  # this folder',
            f'BASE = "{base}"  # the base model: hub id or a local folder', "",
            'spec = json.load(open(f"{FOLDER}/method.json"))',
            'labels = spec["labels"]', *_EMBED]
    tail = ["", "", 'proba = predict_proba(["Your text here."])',
            "print(labels[proba[0].argmax()], proba[0].max())", "```", "", *base_note(base, bundled)]
    return head + body + tail


# The linear probe: logistic regression on the sentence vectors (method.json's linear_head).
LINEAR_HEAD_BODY = [
    'head = spec["linear_head"]',
    'coef, intercept = np.asarray(head["coef"]), np.asarray(head["intercept"])',
    "", "",
    "def predict_proba(texts):",
    '    """Class probabilities, one row per text, columns in label order."""',
    "    z = embed(texts) @ coef.T + intercept",
    "    p = np.hstack([-z / 2, z / 2]) if z.shape[1] == 1 else z  # two classes: a sigmoid",
    "    proba = np.zeros((len(texts), len(labels)))",
    '    proba[:, head["classes"]] = softmax(p)',
    "    return proba",
]

# Encoder few-shot: each class vector is the normalised mean of its shots' vectors.
PROTOTYPE_BODY = [
    'shots = embed([s["text"] for s in spec["shots"]])',
    'prototypes = np.stack([shots[[s["label"] == label for s in spec["shots"]]].mean(0)',
    '                       for label in labels])',
    "class_vectors = prototypes / np.linalg.norm(prototypes, axis=1, keepdims=True)",
    "", "",
    "def predict_proba(texts):",
    '    """Class probabilities, one row per text, columns in label order."""',
    '    return softmax(calibrate(embed(texts) @ class_vectors.T / spec["temperature"]))',
]

# Encoder zero-shot: the saved class vectors (refined label texts), else the label texts' vectors.
CLASS_VECTOR_BODY = [
    'class_vectors = (np.asarray(spec["class_vectors"]) if "class_vectors" in spec',
    '                 else embed([spec["label_texts"][label] for label in labels]))',
    "", "",
    "def predict_proba(texts):",
    '    """Class probabilities, one row per text, columns in label order."""',
    '    return softmax(calibrate(embed(texts) @ class_vectors.T / spec["temperature"]))',
]
