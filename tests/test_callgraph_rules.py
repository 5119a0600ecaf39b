"""Cross-file resolution on a real build: CALLS, IMPORTS, INHERITS_FROM, REFERS_TO.

One build of a small multi-module repository written here (a package with re-exports,
relative and star imports, a src-less script directory, a latin-1 module and a BOM
module). Expected edges come from what Python does when the code runs, not from output.
The C3 UDF is checked against CPython's own ``__mro__``.
"""

from __future__ import annotations

import codecs
import textwrap
from collections import defaultdict
from typing import Any

import pytest
from deltalake import DeltaTable

from codeanatomy.build import BuildOptions
from codeanatomy.pipeline import run
from codeanatomy.plan.udfs import c3_linearize

FILES = {
    "app/__init__.py": "from .models import Base, Child as Kid\nfrom .util import *\n",
    "app/models.py": """
        from . import util


        class Base:
            def __init__(self, name):
                self.name = name

            def greet(self):
                return util.shout(self.name)

            def run(self):
                return self.greet()


        class Mixin:
            def greet(self):
                return "mixin"


        class Child(Mixin, Base):
            def run(self):
                return super().run()
        """,
    "app/util.py": """
        __all__ = ["shout", "twice"]


        def shout(text):
            return text.upper()


        def twice(fn, value):
            return fn(fn(value))


        def _hidden():
            return 0
        """,
    "main.py": """
        import json
        import app
        from app import Kid, twice
        from app.models import Base as B


        def echo(x):
            return x


        def main():
            kid = Kid("k")
            kid.run()
            B("b").greet()
            B("c").run()
            twice(echo, 1)
            handler = echo
            handler(2)
            json.dumps({})
            app.shout("x")
            mystery()


        class Err(ValueError):
            pass


        if __name__ == "__main__":
            main()
        """,
    "app/protocols.py": """
        from typing import Optional

        from . import models


        class Session:
            def __enter__(self):
                return Cursor()

            def __exit__(self, *exc):
                return False

            def fetch(self):
                return 0


        class Cursor:
            def fetch(self):
                return 1


        class Failure(Exception):
            def reason(self):
                return "r"


        def query():
            with Session() as cursor:
                return cursor.fetch()


        def fail():
            raise Failure


        def recover():
            try:
                fail()
            except (Failure, KeyError) as err:
                return err.reason()


        def typed(base: models.Base):
            return base.greet()


        def opener(factory) -> Cursor:
            return factory()


        def use_opener():
            return opener(None).fetch()


        def optional(cur: Optional[Cursor]):
            return cur.fetch()


        def union_pipe(cur: Cursor | None):
            return cur.fetch()


        def quoted(cur: "Cursor"):
            return cur.fetch()


        def annotated():
            cur: Cursor = object()
            return cur.fetch()


        def first():
            return 1


        def second():
            return 2


        def third():
            return 3


        def fourth():
            return 4


        def pair():
            return first, second


        def returned_pair():
            a, b = pair()
            return b()


        def nested():
            (c, d), *rest = (fourth, first), second, third
            return d()


        def starred():
            (c, d), *rest = (fourth, first), second, third
            return [f() for f in rest]


        def appended():
            xs = []
            xs.append(third)
            (a,) = xs
            return a()


        def loop_pairs():
            for name, fn in [("a", first), ("b", second)]:
                fn()
        """,
    "app/gauges.py": """
        class Gauge:
            def __init__(self):
                self.raw = 0

            @property
            def level(self):
                return self.read()

            @level.setter
            def level(self, value):
                self.raw = value

            def read(self):
                return Reading()


        class Reading:
            def show(self):
                return 1
        """,
    "app/dials.py": """
        from .gauges import Gauge


        def watch(g: Gauge):
            return g.level.show()


        def reset(g: Gauge):
            g.level = 0
        """,
    "app/web.py": """
        def build(app):
            @app.route(
                "/items",
                methods=["GET"],
            )
            def items():
                return []

            return items
        """,
    "app/tally.py": """
        ROUTES = {"a": 1}
        seen = []


        def collect(*args, **kwargs):
            seen.append(len(args))
            kwargs.update(ROUTES)
            return [k.upper() for k in ROUTES.keys()], args.count(0)
        """,
    "scripts/tool.py": "import helper\n\nhelper.assist()\n",
    "scripts/helper.py": "def assist():\n    return 1\n",
}


@pytest.fixture(scope="module")
def graph(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("xrepo")
    for rel, text in FILES.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    legacy = (
        "# -*- coding: latin-1 -*-\nfrom app import shout\n\ndef café():\n    return shout('é')\n"
    )
    (root / "legacy.py").write_bytes(legacy.encode("latin-1"))
    (root / "bom.py").write_bytes(codecs.BOM_UTF8 + b"import legacy\n\nlegacy.caf\xc3\xa9()\n")
    out = tmp_path_factory.mktemp("xout")
    run(BuildOptions(repo=root, out=out, jobs=1))
    nodes = DeltaTable(str(out / "cpg_nodes")).to_pyarrow_table().to_pylist()
    edges = DeltaTable(str(out / "cpg_edges")).to_pyarrow_table().to_pylist()
    props = DeltaTable(str(out / "cpg_props")).to_pyarrow_table().to_pylist()
    return {"nodes": {n["node_id"]: n for n in nodes}, "edges": edges, "props": props}


def _name(node: dict[str, Any]) -> str:
    return str(node["qualname"] or node["name"])


def _calls(graph: dict[str, Any]) -> dict[str, set[str]]:
    caller = {
        p["entity_id"]: p["value_string"] for p in graph["props"] if p["prop_key"] == "caller"
    }
    nodes = graph["nodes"]
    result: dict[str, set[str]] = defaultdict(set)
    for e in graph["edges"]:
        if e["edge_kind"] == "CALLS":
            result[_name(nodes[caller[e["edge_id"]]])].add(_name(nodes[e["dst_node_id"]]))
    return result


def _edges(graph: dict[str, Any], kind: str) -> set[tuple[str, str]]:
    nodes = graph["nodes"]
    return {
        (_name(nodes[e["src_node_id"]]), _name(nodes[e["dst_node_id"]]))
        for e in graph["edges"]
        if e["edge_kind"] == kind
    }


def test_calls_follow_imports_aliases_methods_and_mro(graph: dict[str, Any]) -> None:
    calls = _calls(graph)
    assert calls["main.main"] == {
        "app.models.Base.__init__",  # Kid("k"): Child has no __init__, its MRO reaches Base's
        "app.models.Child.run",
        "app.models.Base.greet",  # B("b").greet()
        "app.models.Base.run",  # B("c").run()
        "app.util.twice",
        "main.echo",  # handler = echo; handler(2)
        "json.dumps",
        "app.util.shout",  # star-imported into app, read as app.shout
        "mystery",  # UNRESOLVED, named by the callee text
    }
    assert calls["main"] == {"main.main"}
    assert calls["app.models.Child.run"] == {"app.models.Base.run", "builtins.super"}
    # self.greet() with self a Child (via super().run()) reaches Mixin.greet first in
    # Child's C3 MRO, and Base.greet for the plain Base instance B("c").
    assert calls["app.models.Base.run"] == {"app.models.Mixin.greet", "app.models.Base.greet"}
    assert calls["app.models.Base.greet"] == {"app.util.shout"}
    assert calls["app.util.twice"] == {"main.echo"}  # a function passed as an argument
    assert calls["app.util.shout"] == {"text.upper"}  # a str method: honestly unresolved
    assert calls["scripts.tool"] == {"scripts.helper.assist"}  # script dir is an import root
    assert calls["legacy.café"] == {"app.util.shout"}  # latin-1 source
    assert calls["bom"] == {"legacy.café"}  # BOM source


def test_protocols_annotations_and_unpacking(graph: dict[str, Any]) -> None:
    calls = {k: v for k, v in _calls(graph).items() if k.startswith("app.protocols.")}
    p = "app.protocols."
    # with: __enter__'s result is the `as` target, not the manager (no Session.fetch)
    assert calls[p + "query"] == {
        p + "Session",
        p + "Session.__enter__",
        p + "Session.__exit__",
        p + "Cursor.fetch",
    }
    assert calls[p + "Session.__enter__"] == {p + "Cursor"}
    assert calls[p + "fail"] == {p + "Failure"}  # `raise Failure` instantiates it
    assert calls[p + "recover"] == {p + "fail", p + "Failure.reason"}  # except ... as err
    assert calls[p + "typed"] == {"app.models.Base.greet"}  # parameter annotation
    assert calls[p + "use_opener"] == {p + "opener", p + "Cursor.fetch"}  # return annotation
    assert calls[p + "annotated"] == {"builtins.object", p + "Cursor.fetch"}
    for form in ("optional", "union_pipe", "quoted"):  # each annotation form on its own
        assert calls[p + form] == {p + "Cursor.fetch"}, form
    assert calls[p + "returned_pair"] == {p + "pair", p + "second"}
    assert calls[p + "nested"] == {p + "first"}
    assert calls[p + "starred"] == {p + "second", p + "third"}
    assert calls[p + "loop_pairs"] == {p + "first", p + "second"}
    assert calls[p + "appended"] == {p + "third", "builtins.list.append"}  # an unkeyed entry
    nodes = graph["nodes"]
    methods = {
        (_name(nodes[e["dst_node_id"]]), e["resolution_method"], e["confidence"])
        for e in graph["edges"]
        if e["edge_kind"] == "CALLS" and e["path"] == "app/protocols.py"
    }
    # each implicit call is certain on its own: __enter__ and __exit__ do not share a site
    assert {
        (p + "Session.__enter__", "protocol", 1.0),
        (p + "Session.__exit__", "protocol", 1.0),
        (p + "Failure", "constructor", 1.0),
    } <= methods


def test_property_reads_and_writes_are_calls(graph: dict[str, Any]) -> None:
    calls = _calls(graph)
    g = "app.gauges.Gauge."
    # reading the property calls the getter; `.show()` is called on what it returns
    assert calls["app.dials.watch"] == {g + "level", "app.gauges.Reading.show"}
    assert calls["app.dials.reset"] == {g + "level"}  # the store calls the setter
    assert calls[g + "level"] == {g + "read"}  # getter and setter share the qualname
    nodes = graph["nodes"]
    getter, setter = sorted(
        (n for n in nodes.values() if n["qualname"] == g + "level"), key=lambda n: n["bstart"]
    )
    sites = {
        (e["dst_node_id"], e["resolution_method"], e["confidence"]): nodes[e["src_node_id"]]
        for e in graph["edges"]
        if e["edge_kind"] == "CALLS" and e["path"] == "app/dials.py"
    }
    read = sites[(getter["node_id"], "property", 1.0)]
    write = sites[(setter["node_id"], "property", 1.0)]
    assert (read["node_kind"], read["line_start"]) == ("ATTRIBUTE", 5)  # a span of its own
    assert (write["node_kind"], write["line_start"]) == ("ATTRIBUTE", 9)
    refers = {(e["src_node_id"], e["dst_node_id"]) for e in graph["edges"]}
    assert (read["node_id"], getter["node_id"]) in refers  # the read REFERS_TO the getter


def test_methods_of_builtin_containers(graph: dict[str, Any]) -> None:
    calls = _calls(graph)
    # a list, a dict display, *args (a tuple) and **kwargs (a dict): each method is its
    # builtin type's; a str's is not known (we track no str values).
    assert calls["app.tally.collect"] == {
        "builtins.list.append",
        "builtins.len",
        "builtins.dict.update",
        "builtins.dict.keys",
        "builtins.tuple.count",
        "k.upper",
    }
    nodes = graph["nodes"]
    methods = {
        _name(nodes[e["dst_node_id"]]): e["resolution_method"]
        for e in graph["edges"]
        if e["edge_kind"] == "CALLS" and e["path"] == "app/tally.py"
    }
    assert methods["builtins.dict.keys"] == "builtin_method"
    assert methods["builtins.len"] == "builtins"


def test_unresolved_calls_are_explicit(graph: dict[str, Any]) -> None:
    unresolved = [
        e
        for e in graph["edges"]
        if e["edge_kind"] == "CALLS"
        and graph["nodes"][e["dst_node_id"]]["node_kind"] == "UNRESOLVED"
    ]
    names = {graph["nodes"][e["dst_node_id"]]["name"] for e in unresolved}
    # ``build`` is never called, so ``app`` holds nothing: the factory call and the
    # decorator application are both unknown; the latter is named without its arguments.
    assert names >= {"mystery", "app.route", "app.route(...)"}
    assert not any("\n" in name for name in names)
    assert all(
        e["confidence"] == 0.0 and e["resolution_method"] == "unresolved" for e in unresolved
    )


def test_imports_edges(graph: dict[str, Any]) -> None:
    imports = _edges(graph, "IMPORTS")
    assert ("json", "json") in imports  # EXTERNAL json
    assert ("app", "app") in imports
    assert ("Kid", "app.models.Child") in imports  # re-exported under another name
    assert ("twice", "app.util.twice") in imports  # star-imported into app/__init__
    assert ("Base", "app.models.Base") in imports
    assert ("util", "app.util") in imports  # from . import util
    assert ("helper", "scripts.helper") in imports
    externals = {n["qualname"] for n in graph["nodes"].values() if n["node_kind"] == "EXTERNAL"}
    assert {"json", "json.dumps", "builtins.ValueError"} <= externals


def test_inherits_from_with_index(graph: dict[str, Any]) -> None:
    nodes = graph["nodes"]
    index = {p["entity_id"]: p["value_int"] for p in graph["props"] if p["prop_key"] == "index"}
    inherits = {
        (_name(nodes[e["src_node_id"]]), _name(nodes[e["dst_node_id"]]), index[e["edge_id"]])
        for e in graph["edges"]
        if e["edge_kind"] == "INHERITS_FROM"
    }
    assert inherits == {
        ("app.models.Child", "app.models.Mixin", 0),
        ("app.models.Child", "app.models.Base", 1),
        ("main.Err", "builtins.ValueError", 0),
        ("app.protocols.Failure", "builtins.Exception", 0),
    }


def test_cross_file_refers_to(graph: dict[str, Any]) -> None:
    refs = _edges(graph, "REFERS_TO")
    assert ("Kid", "app.models.Child") in refs
    assert ("twice", "app.util.twice") in refs
    assert ("shout", "app.util.shout") in refs  # the attribute app.shout
    methods = {
        e["resolution_method"]
        for e in graph["edges"]
        if e["edge_kind"] in ("CALLS", "IMPORTS", "INHERITS_FROM", "REFERS_TO")
    }
    assert None not in methods
    for e in graph["edges"]:
        if e["edge_kind"] in ("CALLS", "IMPORTS", "INHERITS_FROM", "REFERS_TO"):
            assert 0.0 <= e["confidence"] <= 1.0


def test_fixpoint_reached(graph: dict[str, Any]) -> None:
    diagnostics = [n for n in graph["nodes"].values() if n["name"] == "fixpoint_not_reached"]
    assert diagnostics == []


HIERARCHIES = [
    "class A: pass\nclass B(A): pass\nclass C(A): pass\nclass D(B, C): pass",
    "class O: pass\nclass F(O): pass\nclass E(O): pass\nclass Dd(O): pass\n"
    "class C(Dd, F): pass\nclass B(Dd, E): pass\nclass A(B, C): pass",
    "class X: pass\nclass Y: pass\nclass A(X, Y): pass\nclass B(Y, X): pass\nclass Z(A): pass",
]


@pytest.mark.parametrize("source", HIERARCHIES)
def test_c3_matches_cpython(source: str) -> None:
    namespace: dict[str, Any] = {}
    exec(source, namespace)
    classes = {k: v for k, v in namespace.items() if isinstance(v, type)}
    edges = [
        (name, i, base.__name__)
        for name, cls in classes.items()
        for i, base in enumerate(cls.__bases__)
        if base is not object
    ]
    for name, cls in classes.items():
        expected = [c.__name__ for c in cls.__mro__ if c is not object]
        assert c3_linearize(name, edges) == expected
