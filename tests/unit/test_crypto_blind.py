"""BlindIndex: deterministic per key set and purpose, configurable length, no value in errors."""

from __future__ import annotations

import pickle

import pytest

from credit_vault.crypto import BlindIndex, KeySet

VALUE = "110101199003077777"


@pytest.fixture(scope="module")
def keys() -> KeySet:
    return KeySet.generate()


def test_deterministic(keys: KeySet) -> None:
    index = BlindIndex(keys, "subject_id")
    assert index.compute(VALUE) == index.compute(VALUE)
    assert BlindIndex(keys, "subject_id").compute(VALUE) == index.compute(VALUE)
    assert len(index.compute(VALUE)) == 16
    assert index.compute(VALUE) != index.compute(VALUE[:-1] + "8")


def test_differs_per_purpose_and_per_key_set(keys: KeySet) -> None:
    a = BlindIndex(keys, "subject_id").compute(VALUE)
    assert BlindIndex(keys, "name").compute(VALUE) != a
    assert BlindIndex(KeySet.generate(), "subject_id").compute(VALUE) != a


def test_length_is_a_prefix_of_the_hmac(keys: KeySet) -> None:
    full = keys.blind_index_key("subject_id").mac(VALUE.encode())
    for length in (8, 12, 16, 24, 32):
        index = BlindIndex(keys, "subject_id", length=length)
        assert index.length == length
        assert index.compute(VALUE) == full[:length]
    for bad in (0, 7, 33):
        with pytest.raises(ValueError, match="length"):
            BlindIndex(keys, "subject_id", length=bad)
    with pytest.raises(TypeError):
        BlindIndex(keys, "subject_id", length=16.0)  # type: ignore[arg-type]


def test_unicode_values(keys: KeySet) -> None:
    index = BlindIndex(keys, "name")
    assert index.compute("张三") != index.compute("张四")
    assert index.compute("") != index.compute(" ")


def test_errors_do_not_echo_the_value(keys: KeySet) -> None:
    index = BlindIndex(keys, "name")
    with pytest.raises(ValueError, match="UTF-8") as info:
        index.compute("张\ud800三")
    assert "张" not in str(info.value)
    assert "\ud800" not in str(info.value)
    assert info.value.__cause__ is None
    with pytest.raises(TypeError):
        index.compute(VALUE.encode())  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        BlindIndex(object(), "name")  # type: ignore[arg-type]


def test_handle(keys: KeySet) -> None:
    index = BlindIndex(keys, "subject_id")
    assert index.purpose == "subject_id"
    assert repr(index) == "BlindIndex(purpose='subject_id', length=16)"
    assert index._key.hex() not in repr(index)
    with pytest.raises(TypeError):
        pickle.dumps(index)
