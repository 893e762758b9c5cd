"""Validates generated Grafana dashboards against Grafana's typed models (grafana-foundation-sdk)
and writes every panel query as a recording rule for `promtool check rules`.

grafana-foundation-sdk's models decode JSON leniently (unknown keys are dropped, values are not
checked), so this check is stricter than a plain load:
  1. unknown fields: the dashboard is decoded into the models (`Dashboard.from_json`, with the
     panel and query plugins registered) and encoded back; every key of the input must come back
     with its value, so a key the models do not know, at any depth they type, fails;
  2. ill-typed fields: every attribute of every decoded model object is checked against the
     model's type annotations (str, int, float, bool, enums by value, literals, lists, maps,
     unions, nested models); a query of a data source the models do not know fails.

Usage: python grafana_conformance.py RULES_OUT DASHBOARD.json...
       python grafana_conformance.py --self-test
"""

import copy
import enum
import json
import sys
import typing

from grafana_foundation_sdk.cog import runtime as cogruntime
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.cog.plugins import register_default_plugins
from grafana_foundation_sdk.models.dashboard import Dashboard

register_default_plugins()


def type_errors(value, hint, path):
    """The places where `value` does not fit the annotation `hint`."""
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is typing.Any or hint is object:
        # Panel options and custom field config are typed `object` on the panel and decoded into
        # the panel plugin's own model: check that model.
        return model_errors(value, path)
    if origin is typing.Union or (origin is not None and str(origin) == "<class 'types.UnionType'>"):
        if value is not None:
            args = tuple(a for a in args if a is not type(None))
        best = None
        for alt in args:
            errs = type_errors(value, alt, path)
            if not errs:
                return []
            if best is None or len(errs) < len(best):
                best = errs
        return best or [f"{path}: {value!r} fits none of {hint}"]
    if hint is type(None):
        return [] if value is None else [f"{path}: expected null, got {value!r}"]
    if origin is typing.Literal:
        return [] if value in args else [f"{path}: {value!r} is not one of {args}"]
    if origin is list:
        if not isinstance(value, list):
            return [f"{path}: expected a list, got {value!r}"]
        return [e for i, v in enumerate(value) for e in type_errors(v, args[0], f"{path}[{i}]")]
    if origin is dict:
        if not isinstance(value, dict):
            return [f"{path}: expected an object, got {value!r}"]
        return [e for k, v in value.items() for e in type_errors(v, args[1], f"{path}.{k}")]
    if isinstance(hint, type) and issubclass(hint, enum.Enum):
        if isinstance(value, hint) or value in [m.value for m in hint]:
            return []
        return [f"{path}: {value!r} is not one of {[m.value for m in hint]}"]
    if hint is bool:
        return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
    if hint is int:
        ok = isinstance(value, int) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected an integer, got {value!r}"]
    if hint is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return [] if ok else [f"{path}: expected a number, got {value!r}"]
    if hint is str:
        return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"]
    if isinstance(hint, type):
        if isinstance(value, cogruntime.UnknownDataquery):
            return [f"{path}: a query of a data source the models do not know"]
        if not isinstance(value, hint):
            return [f"{path}: expected {hint.__name__}, got {value!r}"]
        return model_errors(value, path)
    return []


def model_errors(obj, path):
    """Checks every annotated attribute of a decoded model object."""
    if not hasattr(obj, "to_json"):
        return []
    hints = typing.get_type_hints(type(obj))
    errs = []
    for name, hint in hints.items():
        if hasattr(obj, name):
            errs += type_errors(getattr(obj, name), hint, f"{path}.{name}")
    return errs


def lost_keys(given, back, path):
    """Keys of `given` that did not come back (or came back different) in `back`."""
    if isinstance(given, dict):
        if not isinstance(back, dict):
            return [f"{path}: not an object after decoding"]
        out = []
        for k, v in given.items():
            if k not in back:
                out.append(f"{path}.{k}: unknown field")
            else:
                out += lost_keys(v, back[k], f"{path}.{k}")
        return out
    if isinstance(given, list):
        if not isinstance(back, list) or len(back) != len(given):
            return [f"{path}: list changed by decoding"]
        return [e for i, (a, b) in enumerate(zip(given, back)) for e in lost_keys(a, b, f"{path}[{i}]")]
    if given != back:
        return [f"{path}: {given!r} decoded as {back!r}"]
    return []


def dashboard_errors(data):
    model = Dashboard.from_json(copy.deepcopy(data))
    back = json.loads(json.dumps(model, cls=JSONEncoder))
    return lost_keys(data, back, "$") + model_errors(model, "$")


def queries(data):
    for panel in data.get("panels", []):
        for inner in [panel] + panel.get("panels", []):
            for t in inner.get("targets", []):
                yield inner["id"], t["refId"], t["expr"]


def self_test():
    good = {"uid": "x", "title": "x", "schemaVersion": 39, "panels": [{
        "type": "stat", "id": 1, "title": "p", "gridPos": {"h": 4, "w": 6, "x": 0, "y": 0},
        "datasource": {"type": "prometheus", "uid": "prometheus"},
        "targets": [{"refId": "A", "expr": "up"}],
        "options": {"colorMode": "value"}}]}
    assert not dashboard_errors(good), dashboard_errors(good)
    unknown = copy.deepcopy(good)
    unknown["panels"][0]["gridPos"]["width"] = 6
    ill = copy.deepcopy(good)
    ill["panels"][0]["options"]["colorMode"] = "rainbow"
    ill_id = copy.deepcopy(good)
    ill_id["panels"][0]["id"] = "1"
    for case in (unknown, ill, ill_id):
        errs = dashboard_errors(case)
        if not errs:
            print("accepted a broken dashboard")
            return 1
        print(f"rejected: {errs[0]}")
    return 0


def main(argv):
    if argv[1:] == ["--self-test"]:
        return self_test()
    rules_out, files = argv[1], argv[2:]
    failed = 0
    rules = []
    for f in files:
        with open(f, encoding="utf-8") as fh:
            data = json.load(fh)
        errs = dashboard_errors(data)
        for e in errs:
            print(f"{f}: {e}")
        failed += bool(errs)
        n = 0
        for panel_id, ref, expr in queries(data):
            n += 1
            rules.append({"record": f"dashboard:{data['uid']}:{panel_id}:{ref}".replace("-", "_"), "expr": expr})
        verdict = "INVALID" if errs else "valid"
        print(f"{f}: {len(data.get('panels', []))} panels, {n} queries, {verdict}")
    with open(rules_out, "w", encoding="utf-8") as fh:
        json.dump({"groups": [{"name": "dashboard-queries", "rules": rules}]}, fh, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
