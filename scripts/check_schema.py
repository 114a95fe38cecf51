"""Validates JSON documents against a JSON Schema with Python's jsonschema, the reference
implementation, so that a schema of ours is standard JSON Schema and not only what the Swift
SchemaValidation module understands.

Run: python3 scripts/check_schema.py schemas/pipeline.schema.json doc.json [train.json#/$defs/trainSpec ...]

Each document is FILE (checked against the whole schema) or FILE#POINTER (against the part of
the schema the pointer names, e.g. #/$defs/trainSpec). The schema itself is checked against its
meta-schema first. Prints one line per violation (FILE: path: message) and exits 1 if there is
any; exits 3 when jsonschema is not installed (the Swift test then skips with that reason).
"""
import importlib.metadata
import json
import sys

try:
    import jsonschema
except ImportError:
    print("jsonschema is not installed (python3 -m pip install jsonschema)")
    sys.exit(3)


def path_of(error):
    text = ""
    for part in error.absolute_path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(top level)"


def main(schema_path, documents):
    with open(schema_path) as f:
        schema = json.load(f)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    failures = 0
    for document in documents:
        file, _, pointer = document.partition("#")
        part = schema if not pointer else {"$ref": "#" + pointer, **{k: v for k, v in schema.items() if k in ("$schema", "$defs", "definitions")}}
        with open(file) as f:
            value = json.load(f)
        errors = sorted(validator_class(part).iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
        for error in errors:
            print(f"{document}: {path_of(error)}: {error.message}")
        failures += len(errors)
        if not errors:
            print(f"{document}: ok")
    version = importlib.metadata.version("jsonschema")
    print(f"{len(documents)} documents, {failures} violations ({validator_class.__name__}, jsonschema {version})")
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1], sys.argv[2:]))
