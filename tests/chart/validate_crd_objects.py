#!/usr/bin/env python3
"""Validates custom resources against the openAPIV3Schema of their CRD, strictly.

kubernetes-validate only knows built-in kinds; tests/chart.rs uses this for the chart's
VariantAutoscaling objects. Usage: validate_crd_objects.py CRD.yaml MANIFEST.yaml...

Strict means unknown fields are errors (the API server would prune them silently). CEL rules
(x-kubernetes-validations) are not evaluated. Exit status 1 when any object fails or when a
manifest holds an object of another kind.
"""
import copy
import re
import sys

import jsonschema
import yaml

DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


def strict(schema):
    """Adds additionalProperties: false to every object schema that lists its properties."""
    schema = copy.deepcopy(schema)

    def walk(node):
        if isinstance(node, dict):
            if "properties" in node and "additionalProperties" not in node:
                node["additionalProperties"] = False
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    # The API server adds these to every root; metadata is checked by the API machinery.
    schema.setdefault("properties", {}).update(
        {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"}}
    )
    walk(schema)
    return schema


def main():
    crd_path, manifests = sys.argv[1], sys.argv[2:]
    with open(crd_path) as f:
        crd = yaml.safe_load(f)
    group = crd["spec"]["group"]
    kind = crd["spec"]["names"]["kind"]
    schemas = {
        f"{group}/{v['name']}": strict(v["schema"]["openAPIV3Schema"]) for v in crd["spec"]["versions"]
    }
    failures = 0
    for path in manifests:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d]
        for doc in docs:
            api_version, doc_kind = doc.get("apiVersion"), doc.get("kind")
            name = doc.get("metadata", {}).get("name", "?")
            if doc_kind != kind or api_version not in schemas:
                print(f"ERROR {path}: {doc_kind} {api_version} is not a {kind} of {sorted(schemas)}")
                failures += 1
                continue
            errors = sorted(
                jsonschema.Draft7Validator(schemas[api_version]).iter_errors(doc), key=lambda e: list(e.path)
            )
            if not DNS_SUBDOMAIN.match(name) or len(name) > 253:
                print(f"ERROR {path}: {kind}/{name}: metadata.name is not a DNS subdomain")
                failures += 1
            for error in errors:
                where = ".".join(str(p) for p in error.path) or "(root)"
                print(f"ERROR {path}: {kind}/{name}: {where}: {error.message}")
                failures += 1
            if not errors:
                print(f"INFO {path}: {kind}/{name} passed against {api_version} of {crd_path}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
