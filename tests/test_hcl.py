"""HCL literals written into the generated Terraform."""

from bluegreen.hcl import hcl, hcl_key, hcl_key_width


def test_literals():
    assert hcl(None) == "null" and hcl(True) == "true" and hcl(False) == "false"
    assert hcl(5) == "5" and hcl(1.5) == "1.5"
    assert hcl(["a", 1]) == '["a", 1]'


def test_strings_are_escaped_and_never_interpolated():
    assert hcl('say "hi"\n') == r'"say \"hi\"\n"'
    assert hcl("C:\\tmp") == r'"C:\\tmp"'
    assert hcl("${var.x} %{if}") == '"$${var.x} %%{if}"'


def test_keys_are_bare_where_hcl_allows_and_aligned():
    assert hcl_key("CostCenter") == "CostCenter"
    assert hcl_key("cost:center") == '"cost:center"'
    assert hcl_key("true") == '"true"'
    assert hcl_key_width(["A", "cost:center"]) == len('"cost:center"')
    assert hcl_key("A", 4) == "A   "
