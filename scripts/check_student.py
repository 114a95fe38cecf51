"""Loads an exported Distillery student with Hugging Face transformers and prints its outputs.

The Swift test suite calls this to check that a checkpoint folder written by `distillery train`
is a valid Hugging Face model of its family (BERT, RoBERTa, XLM-R, DistilBERT; AutoModelForSequenceClassification / AutoModelForMaskedLM /
AutoModel, chosen by config.json's architectures) that computes what Distillery computes.

  python3 scripts/check_student.py STUDENT_DIR INPUT.json [STUDENT_DIR INPUT.json ...]
INPUT.json: {"input_ids": [[...]], "token_type_ids": [[...]], "attention_mask": [[...]]}
Prints one JSON object per folder, a line each (several folders share one start of torch): {"architecture", "last_hidden_state" (flattened), "logits" (flattened, when there is a head),
"id2label" (class names in index order, sequence-classification models)}.
"""
import inspect
import json
import sys

import torch
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification


def check(folder, input_path):
    config = AutoConfig.from_pretrained(folder)
    architecture = (config.architectures or ["BertModel"])[0]
    classifier = architecture.endswith("ForSequenceClassification")
    loader = AutoModelForSequenceClassification if classifier else AutoModelForMaskedLM if architecture.endswith("ForMaskedLM") else AutoModel
    model = loader.from_pretrained(folder, attn_implementation="eager").eval()
    # DistilBERT takes no token_type_ids: pass what the model's forward accepts.
    accepted = inspect.signature(model.forward).parameters
    batch = {k: torch.tensor(v) for k, v in json.load(open(input_path)).items() if k in accepted}
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    result = {"architecture": architecture, "last_hidden_state": out.hidden_states[-1].flatten().tolist()}
    if hasattr(out, "logits"):
        result["logits"] = out.logits.flatten().tolist()
    if classifier:
        result["id2label"] = [config.id2label[i] for i in range(config.num_labels)]
    print(json.dumps(result))


if __name__ == "__main__":
    arguments = sys.argv[1:]
    if not arguments or len(arguments) % 2:
        sys.exit("usage: check_student.py STUDENT_DIR INPUT.json [STUDENT_DIR INPUT.json ...]")
    for i in range(0, len(arguments), 2):
        check(arguments[i], arguments[i + 1])
