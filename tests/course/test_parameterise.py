import nbfactory as f
import pytest

from course.errors import ParameterError
from course.parameterise import (
    INJECTED_CELL_ID,
    declared_parameters,
    parameterise,
    parse_assignment,
    require_declared,
)


def test_declared_parameters_come_from_the_parameters_cell():
    nb = f.notebook(f.parameters("n = 3\nrate = 0.5  # step size\nname = 'x'"))
    assert declared_parameters(nb) == {"n": "3", "rate": "0.5", "name": "'x'"}


def test_parse_assignments_reads_literals_and_quoted_strings():
    items = ["n=3", "rate=0.5", "name='abc'", "flags=[1, 2]"]
    assert dict(parse_assignment(item) for item in items) == {
        "n": 3,
        "rate": 0.5,
        "name": "abc",
        "flags": [1, 2],
    }


@pytest.mark.parametrize("item", ["n_readings=hundred", "n=[1,2", "n=", "f=print(1)"])
def test_a_value_that_is_not_a_literal_is_refused_saying_how_to_quote(item):
    name, _, value = item.partition("=")
    with pytest.raises(ParameterError, match="is not a Python literal") as raised:
        parse_assignment(item)
    assert f"-p '{name}={value!r}'" in str(raised.value)


@pytest.mark.parametrize("item", ["n", "=3", "1n=3", "a b=1"])
def test_parse_assignments_rejects_malformed_items(item):
    with pytest.raises(ParameterError, match="expected NAME=VALUE"):
        parse_assignment(item)


def test_parameterise_injects_after_the_parameters_cell_with_a_stable_id():
    nb = f.good_notebook()
    once = parameterise(nb, {"n": 7})
    assert [c.id for c in once.cells][:3] == [nb.cells[0].id, nb.cells[1].id, INJECTED_CELL_ID]
    assert "n = 7" in once.cells[2].source
    assert once.metadata.papermill.parameters == {"n": 7}
    assert parameterise(nb, {"n": 7}) == once
    assert "papermill" not in nb.metadata


def test_undeclared_parameter_is_an_error_naming_the_notebook():
    with pytest.raises(ParameterError) as error:
        require_declared({"size": 3}, f.good_notebook(), "source/ws/nb.ipynb")
    assert str(error.value) == "source/ws/nb.ipynb: unknown parameter 'size' (declared: n)"
