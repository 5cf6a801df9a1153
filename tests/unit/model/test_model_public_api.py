"""The public namespaces export exactly what they name."""

import nonstop.journal
import nonstop.model


def test_model_and_journal_all_names_exist_once() -> None:
    for module in (nonstop.model, nonstop.journal):
        assert all(hasattr(module, name) for name in module.__all__), module.__name__
        assert len(set(module.__all__)) == len(module.__all__)
