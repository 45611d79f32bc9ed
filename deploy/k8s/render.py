"""Render a kustomization without kubectl: the subset of Kustomize that deploy/k8s uses.

Supported fields: ``resources`` (files and folders with their own kustomization), ``namespace``,
``labels`` (``pairs``, added to ``metadata.labels`` only, like ``includeSelectors: false``),
``images`` (``newName`` / ``newTag`` / ``digest``) and ``patches`` / ``patchesStrategicMerge`` given
as files (strategic-merge patches, target taken from the patch's kind and name; ``$patch: delete``
removes the target). Strategic merge here merges maps, merges lists of maps by ``name`` and replaces
other lists, which is what Kubernetes does for the fields these overlays touch. Anything else raises,
so the overlays cannot silently drift past what this checks; ``kubectl kustomize`` stays the reference.

Usage: python deploy/k8s/render.py deploy/k8s/overlays/eks > rendered.yaml
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml

Object = dict[str, Any]
SUPPORTED = {"apiVersion", "kind", "resources", "namespace", "labels", "images", "patches", "patchesStrategicMerge"}
CLUSTER_SCOPED = {
    "Namespace",
    "ClusterRole",
    "ClusterRoleBinding",
    "CustomResourceDefinition",
    "PersistentVolume",
    "StorageClass",
    "PriorityClass",
    "IngressClass",
}


class RenderError(ValueError):
    """The kustomization uses something this renderer does not implement, or a patch has no target."""


def load_documents(path: Path) -> list[Object]:
    """The non-empty YAML documents of a file."""
    with path.open(encoding="utf-8") as handle:
        return [doc for doc in yaml.safe_load_all(handle) if doc]


def render(folder: str | Path) -> list[Object]:
    """The objects a kustomization folder produces, in resource order."""
    folder = Path(folder)
    config = load_documents(folder / "kustomization.yaml")[0]
    unknown = set(config) - SUPPORTED
    if unknown:
        raise RenderError(f"{folder}: unsupported kustomization fields {sorted(unknown)}")
    objects: list[Object] = []
    for entry in config.get("resources", []):
        path = (folder / entry).resolve()
        objects.extend(render(path) if path.is_dir() else load_documents(path))
    patch_files = [p if isinstance(p, str) else _patch_path(folder, p) for p in config.get("patchesStrategicMerge", [])]
    patch_files += [_patch_path(folder, p) for p in config.get("patches", [])]
    for patch_file in patch_files:
        for patch in load_documents(folder / patch_file):
            objects = apply_patch(objects, patch)
    if "namespace" in config:
        for obj in objects:
            if obj["kind"] not in CLUSTER_SCOPED:
                obj.setdefault("metadata", {})["namespace"] = config["namespace"]
    for label_set in config.get("labels", []):
        if set(label_set) - {"pairs", "includeSelectors", "includeTemplates"} or label_set.get("includeSelectors"):
            raise RenderError(f"{folder}: only labels.pairs (without includeSelectors) is supported")
        for obj in objects:
            obj.setdefault("metadata", {}).setdefault("labels", {}).update(label_set["pairs"])
    for image in config.get("images", []):
        for obj in objects:
            for container in _containers(obj):
                container["image"] = _retag(container["image"], image)
    return objects


def _patch_path(folder: Path, entry: Any) -> str:
    if not isinstance(entry, dict) or set(entry) != {"path"}:
        raise RenderError(f"{folder}: only `patches: - path: FILE` entries are supported, not {entry!r}")
    return str(entry["path"])


def _key(obj: Object) -> tuple[str, str]:
    return obj["kind"], obj["metadata"]["name"]


def apply_patch(objects: list[Object], patch: Object) -> list[Object]:
    """Apply one strategic-merge patch to the object of the same kind and name."""
    matches = [i for i, obj in enumerate(objects) if _key(obj) == _key(patch)]
    if len(matches) != 1:
        raise RenderError(f"patch {_key(patch)} matches {len(matches)} objects")
    index = matches[0]
    if patch.get("$patch") == "delete":
        return objects[:index] + objects[index + 1 :]
    merged = merge(objects[index], {k: v for k, v in patch.items() if k != "$patch"})
    return [*objects[:index], merged, *objects[index + 1 :]]


def merge(base: Any, patch: Any) -> Any:
    """Strategic merge of ``patch`` into ``base`` (maps merged, lists of named maps merged by name)."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            else:
                out[key] = merge(out[key], value) if key in out else copy.deepcopy(value)
        return out
    if isinstance(base, list) and isinstance(patch, list) and _named(base) and _named(patch):
        out = copy.deepcopy(base)
        positions = {item["name"]: i for i, item in enumerate(out)}
        for item in patch:
            if item["name"] in positions:
                out[positions[item["name"]]] = merge(out[positions[item["name"]]], item)
            else:
                out.append(copy.deepcopy(item))
        return out
    return copy.deepcopy(patch)


def _named(items: list[Any]) -> bool:
    return bool(items) and all(isinstance(item, dict) and "name" in item for item in items)


def _containers(obj: Object) -> list[Object]:
    spec = obj.get("spec", {})
    pod = spec.get("template", {}).get("spec", {}) if "template" in spec else spec if obj["kind"] == "Pod" else {}
    return [*pod.get("initContainers", []), *pod.get("containers", [])]


def _retag(reference: str, image: Object) -> str:
    name, tag, digest = reference, None, None
    if "@" in name:
        name, digest = name.split("@", 1)
    last = name.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = name.rsplit(":", 1)
    if name != image["name"]:
        return reference
    name = image.get("newName", name)
    if image.get("digest"):
        return f"{name}@{image['digest']}"
    tag = image.get("newTag", tag)
    out = f"{name}:{tag}" if tag else name
    return f"{out}@{digest}" if digest and "newTag" not in image else out


def main(argv: list[str]) -> int:
    """Print the rendered objects of the kustomization folder ``argv[0]`` as multi-document YAML."""
    if len(argv) != 1:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    yaml.safe_dump_all(render(argv[0]), sys.stdout, sort_keys=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
