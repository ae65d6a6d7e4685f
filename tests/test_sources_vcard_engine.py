"""The ``apple-contacts-import`` template end to end: the real engine reads the vCard fixtures
in place, stores the photos, writes nothing on a second run, updates a changed contact, and
quarantines a card it cannot read."""

from __future__ import annotations

import base64
import hashlib
import io
import re
from pathlib import Path

from isometry import api
from isometry.etl.states import State
from isometry.model import node_id_for
from isometry.vcs.repository import Repository
from paths import FIXTURES as SHARED_FIXTURES

AUTHOR = "alice"
TEMPLATE = "apple-contacts-import"
FIXTURES = SHARED_FIXTURES / "vcard"


def grants(folder: Path) -> list[str]:
    return [f"file-system={folder}", f"contacts={folder}"]


def node_named(repo: Repository, name: str) -> dict[str, object]:
    return next(n for n in api.nodes(repo) if n["name"] == name)


def test_the_fixture_folder_imports_with_its_photos_and_a_second_run_writes_nothing(
    repo: Repository, tmp_path: Path
) -> None:
    op = api.import_(repo, TEMPLATE, [FIXTURES], author=AUTHOR, grants=grants(FIXTURES),
                     base=tmp_path)  # fmt: skip
    assert op.state is State.SUCCEEDED
    assert (op.counts["read"], op.counts["inserted"], op.counts["quarantined"]) == (15, 15, 0)
    nodes = api.nodes(repo)
    assert len(nodes) == 15
    assert {n["node_type"] for n in nodes} == {"person"}
    assert {n["source"] for n in nodes} == {"apple-contacts"}
    assert {"Mr. John Richter James Doe Sr.", "Simon Perreault", "Doug White"} <= {
        n["name"] for n in nodes
    }

    iphone = node_named(repo, "Mr. John Richter James Doe Sr.")
    (photo,) = api.attachments(repo, str(iphone["id"]))
    text = (FIXTURES / "John_Doe_IPHONE.vcf").read_bytes().decode("ascii")
    payload = re.search(r"PHOTO;ENCODING=b;TYPE=JPEG:(.*?)\r+\nEND:VCARD", text, re.DOTALL)
    assert payload is not None
    expected = base64.b64decode(re.sub(r"\s+", "", payload.group(1)))
    assert photo["hash"] == hashlib.sha256(expected).hexdigest()
    assert photo["mime_type"] == "image/jpeg"
    assert photo["names"] == ["Mr. John Richter James Doe Sr.jpg"]
    stored = io.BytesIO()
    api.read_blob(repo, str(photo["hash"]), stored)
    assert stored.getvalue() == expected
    properties = iphone["properties"]
    assert isinstance(properties, dict)
    assert properties["photos"][0]["value"] == f"attachment:{photo['hash']}"

    outlook = node_named(repo, "Mr. Michael Angstadt Jr.")
    assert len(api.attachments(repo, str(outlook["id"]))) == 2  # photo and certificate

    again = api.import_(repo, TEMPLATE, [FIXTURES], author=AUTHOR, grants=grants(FIXTURES),
                        base=tmp_path)  # fmt: skip
    assert again.state is State.SUCCEEDED
    assert again.counts["unchanged"] == 15
    assert (again.counts["inserted"], again.counts["updated"]) == (0, 0)


def test_a_changed_contact_updates_its_node_and_a_broken_card_is_quarantined(
    repo: Repository, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    src.mkdir()
    path = src / "contacts.vcf"

    bad_card = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bad\r\nthis is no property\r\nEND:VCARD\r\n"

    def ann_card(phone: str) -> bytes:
        return (
            b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Ann Lee\r\nUID:ann-1\r\n"
            + f"TEL;TYPE=cell:{phone}\r\nEND:VCARD\r\n".encode()
        )

    def export(phone: str) -> None:
        bob = b"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Bob\r\nEND:VCARD\r\n"
        path.write_bytes(ann_card(phone) + bad_card + bob)

    export("555-0100")
    ann_length = len(ann_card("555-0100"))
    config = {"max_error_rate": 0.5}
    first = api.import_(repo, TEMPLATE, [path], author=AUTHOR, grants=grants(src),
                        base=tmp_path, config=config)  # fmt: skip
    assert first.state is State.PARTIALLY_SUCCEEDED
    assert (first.counts["inserted"], first.counts["quarantined"]) == (2, 1)
    (bad,) = api.quarantine(repo, first.id)
    assert bad["reason"] == (
        "contacts.vcf: card 2 (line 7): line 10 is not a vCard property: 'this is no property'"
    )
    assert bad["locator"] == {
        "file": str(path.resolve()), "record": "2", "line": 7, "offset": ann_length,
        "length": len(bad_card),
    }  # fmt: skip

    ann_id = node_id_for("apple-contacts", "ann-1")
    ann = node_named(repo, "Ann Lee")
    assert ann["id"] == ann_id
    (origin,) = api.lineage(repo, node=ann_id)
    assert origin["locator"] == {
        "file": str(path.resolve()), "record": "ann-1", "line": 1, "offset": 0,
        "length": ann_length,
    }  # fmt: skip

    export("555-0199")
    second = api.import_(repo, TEMPLATE, [path], author=AUTHOR, grants=grants(src),
                         base=tmp_path, config=config)  # fmt: skip
    assert (second.counts["inserted"], second.counts["updated"]) == (0, 1)
    assert second.counts["unchanged"] == 1  # Bob
    ann = node_named(repo, "Ann Lee")
    assert ann["id"] == ann_id
    properties = ann["properties"]
    assert isinstance(properties, dict)
    assert properties["phones"] == [{"value": "555-0199", "types": ["cell"]}]
    assert len(api.nodes(repo)) == 2


def test_the_template_needs_the_contacts_grant(repo: Repository, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    (src / "a.vcf").write_text("BEGIN:VCARD\nVERSION:3.0\nFN:A\nEND:VCARD\n")
    op = api.import_(repo, TEMPLATE, [src], author=AUTHOR, grants=[f"file-system={src}"],
                     base=tmp_path)  # fmt: skip
    assert op.state is State.FAILED
    assert "contacts" in str(op.error)
    assert api.nodes(repo) == []
