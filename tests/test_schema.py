import pytest
from pydantic import ValidationError

from handocr.schema import SCHEMA_VERSION, Document, Line, ModelInfo, Models, Page, Paragraph, Word


def _document() -> Document:
    line = Line(
        box=[10, 20, 200, 50],
        text="Chère amie, œuvre à 5 €",
        confidence=0.93,
        det_score=0.88,
        words=[Word(box=[10, 20, 60, 50], text="Chère", confidence=0.9)],
    )
    page = Page(width=300, height=400, lines=[line, line], paragraphs=[Paragraph(box=[10, 20, 200, 50], lines=[0, 1])])
    models = Models(detector=ModelInfo(name="det", version="1"), recognizer=ModelInfo(name="rec", version="2"))
    return Document(model=models, pages=[page], source="page.jpg")


def test_json_round_trip_is_lossless():
    document = _document()
    restored = Document.model_validate_json(document.model_dump_json())
    assert restored == document
    assert restored.schema_version == SCHEMA_VERSION


def test_page_text_joins_paragraphs_and_lines():
    document = _document()
    assert document.text == "Chère amie, œuvre à 5 €\nChère amie, œuvre à 5 €"


@pytest.mark.parametrize("box", [[0, 0, 1], [5, 0, 1, 1], [0, 5, 1, 1]])
def test_bad_boxes_are_rejected(box):
    with pytest.raises(ValidationError):
        Word(box=box, text="x", confidence=0.5)


@pytest.mark.parametrize("confidence", [-0.1, 1.5])
def test_confidence_must_be_a_probability(confidence):
    with pytest.raises(ValidationError):
        Word(box=[0, 0, 1, 1], text="x", confidence=confidence)


def test_unknown_fields_are_rejected():
    with pytest.raises(ValidationError):
        Word.model_validate({"box": [0, 0, 1, 1], "text": "x", "confidence": 0.5, "colour": "red"})
