"""Writes a tiny random-weight Llama that mlx_lm.server can load (~0.6 MB), fully offline.

usage: make_tiny_model.py OUT_DIR [SEED]

Hidden size 64, 2 layers, a ~440-token byte-level BPE trained here on a fixed text, a chat template
in tokenizer_config.json. The output-head rows of the special tokens are zeroed so the model never
ends a reply early: every reply is exactly `max_tokens` long, which makes token accounting exact.
Two seeds give two different models (hot-swap's A and B).
"""

import json
import os
import sys

import mlx.core as mx
from mlx.utils import tree_flatten
from mlx_lm.models import llama
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

out = sys.argv[1]
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
os.makedirs(out, exist_ok=True)

corpus = [
    "the quick brown fox jumps over the lazy dog",
    "garnet routes chat completions to tiny loaders on a rack of machines",
    "hello world, this is a test of the emergency broadcast system",
    "one two three four five six seven eight nine ten",
    "user assistant system: say something short and useful",
] * 20
special = ["<unk>", "<s>", "</s>"]
tok = Tokenizer(models.BPE(unk_token="<unk>"))
tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
tok.decoder = decoders.ByteLevel()
trainer = trainers.BpeTrainer(vocab_size=440, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
tok.train_from_iterator(corpus, trainer)
tok.save(os.path.join(out, "tokenizer.json"))
vocab = tok.get_vocab_size()

with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
    json.dump(
        {
            "tokenizer_class": "PreTrainedTokenizerFast",
            "bos_token": "<s>",
            "eos_token": "</s>",
            "unk_token": "<unk>",
            "model_max_length": 2048,
            "chat_template": "{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}",
        },
        f,
    )

config = {
    "model_type": "llama",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "intermediate_size": 128,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "rms_norm_eps": 1e-5,
    "vocab_size": vocab,
    "max_position_embeddings": 2048,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "bos_token_id": tok.token_to_id("<s>"),
    "eos_token_id": tok.token_to_id("</s>"),
}
with open(os.path.join(out, "config.json"), "w") as f:
    json.dump(config, f, indent=1)

mx.random.seed(seed)
args = llama.ModelArgs.from_dict(config)
model = llama.Model(args)
weights = dict(tree_flatten(model.parameters()))
head = weights["lm_head.weight"]
rows = mx.arange(head.shape[0])[:, None]
specials = mx.array([tok.token_to_id(s) for s in special])
is_special = (rows == specials[None, :]).any(axis=1, keepdims=True)
weights["lm_head.weight"] = mx.where(is_special, mx.zeros_like(head), head)
mx.save_safetensors(os.path.join(out, "model.safetensors"), weights)
print(f"wrote {out}: vocab {vocab}, seed {seed}")
