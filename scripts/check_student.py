"""Loads an exported Distillery student with Hugging Face transformers and prints its outputs.

The Swift test suite calls this to check that a checkpoint folder written by `distillery train`
is a valid Hugging Face BERT (AutoModelForSequenceClassification / AutoModelForMaskedLM /
AutoModel, chosen by config.json's architectures) that computes what Distillery computes.

  python3 scripts/check_student.py STUDENT_DIR INPUT.json
INPUT.json: {"input_ids": [[...]], "token_type_ids": [[...]], "attention_mask": [[...]]}
Prints one JSON object: {"architecture", "last_hidden_state" (flattened), "logits" (flattened, when there is a head),
"id2label" (class names in index order, sequence-classification models)}.
"""
import json
import sys

import torch
from transformers import AutoConfig, AutoModel, AutoModelForMaskedLM, AutoModelForSequenceClassification


def main():
    folder, input_path = sys.argv[1], sys.argv[2]
    config = AutoConfig.from_pretrained(folder)
    architecture = (config.architectures or ["BertModel"])[0]
    loader = {"BertForSequenceClassification": AutoModelForSequenceClassification,
              "BertForMaskedLM": AutoModelForMaskedLM}.get(architecture, AutoModel)
    model = loader.from_pretrained(folder, attn_implementation="eager").eval()
    batch = {k: torch.tensor(v) for k, v in json.load(open(input_path)).items()}
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    result = {"architecture": architecture, "last_hidden_state": out.hidden_states[-1].flatten().tolist()}
    if hasattr(out, "logits"):
        result["logits"] = out.logits.flatten().tolist()
    if architecture == "BertForSequenceClassification":
        result["id2label"] = [config.id2label[i] for i in range(config.num_labels)]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
