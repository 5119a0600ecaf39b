"""SCIP symbol strings → package, descriptors, qualname."""

import pytest

from codeanatomy.extract.scip.symbols import SymbolSyntaxError, parse_symbol


def test_method_of_a_class_in_a_backquoted_module():
    parsed = parse_symbol("scip-python python . . `pkg.mod`/`Ärger`#m().")
    assert (parsed.scheme, parsed.manager, parsed.package, parsed.version) == (
        "scip-python",
        "python",
        "",
        "",
    )
    assert parsed.descriptors == (("pkg.mod", "namespace"), ("Ärger", "type"), ("m", "method"))
    assert (parsed.qualname, parsed.name, parsed.suffix) == ("pkg.mod.Ärger.m", "m", "method")


def test_module_meta_parameter_and_stdlib_package():
    module = parse_symbol("scip-python python python-stdlib 3.11 `os.path`/__init__:")
    assert (module.package, module.version) == ("python-stdlib", "3.11")
    assert (module.qualname, module.name, module.suffix) == ("os.path", "os.path", "meta")
    param = parse_symbol("scip-python python . . main/f().(x)")
    assert (param.qualname, param.name, param.suffix) == ("main.f.x", "x", "parameter")
    typevar = parse_symbol("scip-python python . . m/C#[T]")
    assert typevar.descriptors[-1] == ("T", "type_parameter")


def test_escapes_in_header_and_names():
    parsed = parse_symbol("s  x m p  q v a/`b``c`.")
    assert (parsed.scheme, parsed.manager, parsed.package) == ("s x", "m", "p q")
    assert parsed.qualname == "a.b`c"


def test_local_symbols_have_no_descriptors():
    parsed = parse_symbol("local 5(q)")
    assert parsed.is_local and parsed.qualname is None and parsed.suffix == "local"


@pytest.mark.parametrize(
    "bad", ["scip-python python . .", "s m p v a", "s m p v `open/", "s m p v a(x"]
)
def test_malformed_symbols_raise(bad):
    with pytest.raises(SymbolSyntaxError):
        parse_symbol(bad)
