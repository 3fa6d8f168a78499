"""bot/telegram/lenient.py on its own: the repairs follow the errors' locations, whatever the
field."""

from __future__ import annotations

from typing import Any

from bot.telegram.lenient import location, read_update


def message(**content: Any) -> dict[str, Any]:
    return {
        "update_id": 1,
        "message": {
            "message_id": 1,
            "date": 1,
            "chat": {"id": 7, "type": "private", "first_name": "A"},
            "text": "hallo",
            **content,
        },
    }


def test_a_broken_list_element_goes_and_the_rest_of_the_list_stays() -> None:
    entities = [
        {"type": "bold", "offset": "nirgends", "length": 1},
        {"type": "italic", "offset": 0, "length": 2},
    ]
    reading = read_update(message(entities=entities))
    assert reading.value is not None and reading.value.message is not None
    assert [e.type for e in reading.value.message.entities or []] == ["italic"]
    assert [str(p) for p in reading.repaired] == [
        "message.entities.0.offset: int_parsing",
        "message.entities.0: missing",
    ]


def test_the_raw_update_is_left_as_it_came() -> None:
    raw = message(forward_origin={"type": "neu", "date": 5})
    reading = read_update(raw)
    assert reading.value is not None and reading.value.message is not None
    origin = reading.value.message.forward_origin
    assert origin is not None and origin.type == "hidden_user"
    assert raw["message"]["forward_origin"] == {"type": "neu", "date": 5}


def test_the_event_itself_is_never_dropped() -> None:
    reading = read_update(message(chat={"id": "sieben"}))
    assert reading.value is None
    assert [str(p) for p in reading.problems] == [
        "message.chat.id: int_parsing",
        "message.chat.type: missing",
    ]


def test_a_location_shows_field_names_and_indexes_only() -> None:
    assert location(("message", "entities", 0, "type")) == "message.entities.0.type"
    assert location(("message", "Ein Name mit Leerzeichen", "x")) == "message.?.x"
