"""The ``apple-contacts`` importer on files written here: what each vCard version allows, bad
input turned into per-card errors, identity and hashes, and resume from any cursor."""

from __future__ import annotations

import base64
import hashlib
import json
import tracemalloc
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isometry.errors import PermissionRefused, SourceError, SourceUnreadable
from isometry.model import JSON, Node, node_id_for
from isometry.sources.base import Draft, Item, Options, Rejected, attachment_link
from isometry.sources.vcard import ContactsImporter
from isometry.sources.vcard.values import iso_date, listed, split_escaped, unescape
from openers import DirectOpener, RefusingOpener

IMPORTER = ContactsImporter()
NO_OPTIONS = Options()
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))
PNG64 = base64.b64encode(PNG).decode()


OPENER = DirectOpener()


def write(path: Path, *lines: str, newline: str = "\r\n", encoding: str = "utf-8") -> Path:
    path.write_bytes("".join(line + newline for line in lines).encode(encoding))
    return path


def vcard(*body: str, version: str = "3.0") -> list[str]:
    return ["BEGIN:VCARD", f"VERSION:{version}", *body, "END:VCARD"]


def read(path: Path, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, OPENER, NO_OPTIONS, cursor))


def items(path: Path) -> list[Item]:
    return [item for item, _ in read(path)]


def only(path: Path) -> Draft:
    (draft,) = items(path)
    assert isinstance(draft, Draft), draft
    return draft


def props(draft: Draft) -> dict[str, JSON]:
    found = draft.node["properties"]
    assert isinstance(found, dict)
    return found


# -- vCard 2.1 -------------------------------------------------------------------------------


def test_2_1_charsets_quoted_printable_and_bare_parameters(tmp_path: Path) -> None:
    path = tmp_path / "legacy.vcf"
    path.write_bytes(
        b"BEGIN:VCARD\r\nVERSION:2.1\r\n"
        b"N;CHARSET=ISO-8859-1:M\xfcller;J\xfcrgen\r\n"
        b"NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=ISO-8859-1:Gr=FC=DFe=0D=0A=\r\n"
        b"zweite Zeile\r\n"
        b"ORG:Caf\xe9 Noir\r\n"  # no charset, not UTF-8: Windows-1252
        b"TEL;WORK;VOICE;PREF:+49 30 1234\r\n"
        b"EMAIL;INTERNET:jm@example.org\r\n"
        b"ADR;HOME:;;Hauptstr. 1;Berlin;;10115;Deutschland\r\n"
        b"LABEL;HOME;ENCODING=QUOTED-PRINTABLE:Hauptstr. 1=0D=0A10115 Berlin\r\n"
        b"END:VCARD\r\n"
    )
    draft = only(path)
    p = props(draft)
    assert draft.node["name"] == "Jürgen Müller"
    assert draft.node["content"] == "Grüße\nzweite Zeile"
    assert p["organization"] == ["Café Noir"]
    assert p["phones"] == [{"value": "+49 30 1234", "types": ["work", "voice", "pref"]}]
    assert p["emails"] == [{"value": "jm@example.org", "types": ["internet"]}]
    (address,) = p["addresses"]
    assert address["label"] == "Hauptstr. 1\n10115 Berlin"
    assert draft.node["location_address"] == "Hauptstr. 1, Berlin, 10115, Deutschland"


def test_2_1_base64_that_is_not_indented_ends_at_a_blank_line(tmp_path: Path) -> None:
    path = write(
        tmp_path / "photo.vcf",
        *vcard("FN:Pic", "PHOTO;ENCODING=BASE64;TYPE=GIF:", PNG64[:40], PNG64[40:200],
               PNG64[200:], "", "TEL:1", version="2.1"),
    )  # fmt: skip
    draft = only(path)
    (attachment,) = draft.attachments
    assert attachment.data == PNG
    # What the bytes are wins over what the card declares.
    assert (attachment.filename, attachment.mime_type) == ("Pic.png", "image/png")
    assert props(draft)["phones"] == [{"value": "1", "types": []}]


# -- vCard 4.0 -------------------------------------------------------------------------------


def test_4_0_data_uris_links_and_type_lists(tmp_path: Path) -> None:
    path = write(
        tmp_path / "four.vcf",
        *vcard(
            "FN:Ann Lee",
            f"PHOTO:data:image/png;base64,{PNG64}",
            "PHOTO;MEDIATYPE=image/jpeg:https://example.org/ann.jpg",
            "LOGO:data:text/plain,hello%20world",
            'TEL;VALUE=uri;TYPE="home,voice";PREF=1:tel:+1-555-0100',
            "EMAIL;TYPE=work;TYPE=internet:ann@example.org",
            'ADR;LABEL="1 Main St^nSpringfield";TYPE=home:;;1 Main St;Springfield;;;',
            "BDAY;VALUE=text:circa 1800",
            "KIND:individual",
            version="4.0",
        ),
    )
    draft = only(path)
    p = props(draft)
    photo, logo = draft.attachments
    assert (photo.data, photo.filename, photo.mime_type) == (PNG, "Ann Lee.png", "image/png")
    assert (logo.data, logo.filename, logo.mime_type) == (
        b"hello world",
        "Ann Lee logo.txt",
        "text/plain",
    )
    assert p["photos"] == [
        {
            "value": attachment_link(hashlib.sha256(PNG).hexdigest()),
            "types": [],
            "filename": "Ann Lee.png",
            "mime_type": "image/png",
        },
        {
            "value": "https://example.org/ann.jpg",
            "types": [],
            "params": {"mediatype": "image/jpeg"},
        },
    ]
    assert p["phones"] == [
        {"value": "tel:+1-555-0100", "types": ["home", "voice", "pref"], "params": {"value": "uri"}}
    ]
    assert p["emails"] == [{"value": "ann@example.org", "types": ["work", "internet"]}]
    (address,) = p["addresses"]
    assert address["label"] == "1 Main St\nSpringfield"  # RFC 6868 ^n
    assert p["birthday"] == "circa 1800"  # a text date is kept as written
    assert p["KIND"] == [{"value": "individual", "types": []}]


def test_photos_are_named_after_the_contact_and_stored_once(tmp_path: Path) -> None:
    other = b"GIF89a" + bytes(40)
    path = write(
        tmp_path / "twice.vcf",
        *vcard(
            f"PHOTO;ENCODING=b:{PNG64}",
            f"PHOTO;ENCODING=b;TYPE=PNG:{PNG64}",
            f"PHOTO;ENCODING=b:{base64.b64encode(other).decode()}",
            "FN:Two/Three",  # after the photos, and with a character no file name may hold
        ),
    )
    draft = only(path)
    assert [(a.filename, a.data) for a in draft.attachments] == [
        ("Two_Three.png", PNG),
        ("Two_Three 2.gif", other),
    ]
    link = attachment_link(hashlib.sha256(PNG).hexdigest())
    photos = props(draft)["photos"]
    assert [(e["value"], e["filename"]) for e in photos][:2] == [
        (link, "Two_Three.png"),
        (link, "Two_Three.png"),
    ]


def test_a_photo_that_is_not_base64_is_kept_with_the_problem(tmp_path: Path) -> None:
    path = write(tmp_path / "bad.vcf", *vcard("FN:X", "PHOTO;ENCODING=b:@@not base64!!"))
    draft = only(path)
    assert draft.attachments == ()
    (photo,) = props(draft)["photos"]
    assert photo["value"] == "@@not base64!!"
    assert photo["problem"].startswith("line 4: not base64")


# -- names, groups, links --------------------------------------------------------------------


def test_name_falls_back_from_fn_to_n_to_organisation_to_email(tmp_path: Path) -> None:
    path = write(
        tmp_path / "names.vcf",
        *vcard("N:Doe;Jane;Q.,R.;Dr.;PhD"),
        *vcard("ORG:Acme\\, Inc.;Sales"),
        *vcard("EMAIL:x@example.org"),
        *vcard("TEL:+1 555"),
        *vcard("NOTE:nothing else"),
    )
    names = [i.node["name"] for i in items(path) if isinstance(i, Draft)]
    assert names == ["Dr. Jane Q. R. Doe PhD", "Acme, Inc.", "x@example.org", "+1 555", ""]


def test_categories_nicknames_and_escapes(tmp_path: Path) -> None:
    path = write(
        tmp_path / "lists.vcard",
        *vcard(
            "FN:Jim",
            "NICKNAME:Jimmy,Jimbo",
            "NICKNAME:Jim\\, the Great",
            "CATEGORIES:friends,work\\,old,friends",
            "NOTE:one\\ntwo\\\\three\\;four\\,five\\qsix",
        ),
    )
    draft = only(path)
    assert props(draft)["nickname"] == ["Jimmy", "Jimbo", "Jim, the Great"]
    assert props(draft)["categories"] == ["friends", "work,old"]
    assert draft.node["tags"] == ["friends", "work,old"]
    assert draft.node["content"] == "one\ntwo\\three;four,five\\qsix"


def test_group_members_and_related_cards_become_links(tmp_path: Path) -> None:
    path = write(
        tmp_path / "group.vcf",
        *vcard("FN:Team", "KIND:group", "UID:urn:uuid:team", "MEMBER:urn:uuid:ann",
               "MEMBER:urn:uuid:bob", version="4.0"),
        *vcard("FN:Ann", "UID:urn:uuid:ann", "RELATED;TYPE=spouse;VALUE=uri:urn:uuid:bob",
               "RELATED;TYPE=friend;VALUE=text:Carl", version="4.0"),
    )  # fmt: skip
    team, ann = items(path)
    assert isinstance(team, Draft)
    assert isinstance(ann, Draft)
    team_id = node_id_for("apple-contacts", "urn:uuid:team")
    ann_id = node_id_for("apple-contacts", "urn:uuid:ann")
    bob_id = node_id_for("apple-contacts", "urn:uuid:bob")
    assert list(team.edges) == [
        {"edge_type": "LINK", "source_id": team_id, "target_id": ann_id, "label": "member"},
        {"edge_type": "LINK", "source_id": team_id, "target_id": bob_id, "label": "member"},
    ]
    assert list(ann.edges) == [
        {"edge_type": "LINK", "source_id": ann_id, "target_id": bob_id, "label": "spouse"}
    ]
    assert [e["value"] for e in props(ann)["RELATED"]] == ["urn:uuid:bob", "Carl"]


def test_an_agent_card_inside_a_2_1_card_is_kept_with_it(tmp_path: Path) -> None:
    path = write(
        tmp_path / "agent.vcf",
        *vcard("FN:Boss", "AGENT:", *vcard("FN:Helper", "TEL:123", version="2.1"),
               "TEL:999", version="2.1"),
    )  # fmt: skip
    draft = only(path)
    assert props(draft)["AGENT"] == [
        {
            "value": "Helper",
            "types": [],
            "card": {"phones": [{"value": "123", "types": []}], "vcard_version": "2.1"},
        }
    ]
    assert props(draft)["phones"] == [{"value": "999", "types": []}]


# -- dates and values ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "omit_year", "expected"),
    [
        ("1980-03-22", None, "1980-03-22"),
        ("19220310", None, "1922-03-10"),
        ("--0203", None, "--02-03"),
        ("--02-03", None, "--02-03"),
        ("1604-03-15", "1604", "--03-15"),
        ("20090808T1430-0500", None, "2009-08-08T14:30:00-05:00"),
        ("1953-10-15T23:10:00Z", None, "1953-10-15T23:10:00Z"),
        ("2001-02-30", None, "2001-02-30"),  # no such day: kept as written
        ("circa 1800", None, "circa 1800"),
    ],
)
def test_dates(written: str, omit_year: str | None, expected: str) -> None:
    assert iso_date(written, omit_year) == expected


def test_escapes_and_splitting() -> None:
    assert unescape("a\\,b\\;c\\:d\\\\e\\nf\\Ng\\x") == "a,b;c:d\\e\nf\ng\\x"
    assert unescape("crlf\r\nand cr\r") == "crlf\nand cr\n"
    assert split_escaped("a;b\\;c;;d\\\\;e", ";") == ["a", "b\\;c", "", "d\\\\", "e"]
    assert listed(" a , b\\,c,,") == ["a", "b,c"]


def test_rev_and_created_are_the_node_times(tmp_path: Path) -> None:
    path = write(
        tmp_path / "rev.vcf",
        *vcard("FN:A", "REV:2024-05-06T07:08:09+02:00", "CREATED:20200101T000000Z", version="4.0"),
        *vcard("FN:B", "REV:not a time"),
        *vcard("FN:C", "REV:0001-01-01T00:00:00+01:00"),
    )
    first, second, third = items(path)
    assert isinstance(first, Draft)
    assert isinstance(second, Draft)
    assert first.node["modified_at"] == "2024-05-06T05:08:09Z"
    assert first.node["created_at"] == "2020-01-01T00:00:00Z"
    assert "modified_at" not in second.node
    assert props(second)["REV"] == [{"value": "not a time", "types": []}]
    assert isinstance(third, Draft)
    assert props(third)["REV"] == [{"value": "0001-01-01T00:00:00+01:00", "types": []}]


# -- bad input -------------------------------------------------------------------------------


def test_a_card_that_cannot_be_parsed_is_rejected_and_reading_goes_on(tmp_path: Path) -> None:
    path = write(
        tmp_path / "broken.vcf",
        "not a card",
        *vcard("FN:Bad", "this line is no property"),
        *vcard("FN:Good"),
        "BEGIN:VCARD",
        "VERSION:3.0",
        "FN:Never closed",
        *vcard("FN:After"),
        *vcard(),
        *vcard("FN:Last"),
        "",
        "trailing junk",
    )
    found = items(path)
    kinds = [type(i).__name__ for i in found]
    assert kinds == ["Rejected", "Rejected", "Draft", "Rejected", "Draft", "Rejected", "Draft",
                     "Rejected"]  # fmt: skip
    stray, bad, good, open_, after, empty, last, junk = found
    assert isinstance(stray, Rejected)
    assert stray.reason == "broken.vcf: line 1 lies outside any BEGIN:VCARD..END:VCARD"
    assert (stray.locator.record, stray.locator.line, stray.raw) == ("line 1", 1, "not a card\r\n")
    assert isinstance(bad, Rejected)
    assert bad.reason == (
        "broken.vcf: card 1 (line 2): line 5 is not a vCard property: 'this line is no property'"
    )
    assert (bad.locator.file, bad.locator.record, bad.locator.line) == (
        str(path.resolve()), "1", 2
    )  # fmt: skip
    assert bad.raw.startswith("BEGIN:VCARD\r\n")
    assert isinstance(open_, Rejected)
    assert open_.reason == "broken.vcf: the card on line 11 has no END:VCARD"
    assert isinstance(empty, Rejected)
    assert empty.reason == "broken.vcf: the card on line 18 holds no properties"
    assert isinstance(junk, Rejected)
    assert junk.locator.line == 26
    assert [d.node["name"] for d in (good, after, last) if isinstance(d, Draft)] == [
        "Good", "After", "Last"
    ]  # fmt: skip
    # Cards are numbered in the file whatever became of them; stray text is no card.
    assert [d.locator.record for d in (good, after, last)] == ["2", "4", "6"]
    assert IMPORTER.scan(path, OPENER, NO_OPTIONS).records == len(found)


def test_a_file_that_is_no_vcard_cannot_be_scanned(tmp_path: Path) -> None:
    path = write(tmp_path / "notes.vcf", "just some text", "and more")
    with pytest.raises(SourceUnreadable, match=r"notes\.vcf is not a vCard file"):
        IMPORTER.scan(path, OPENER, NO_OPTIONS)


def test_utf16_is_refused_clearly(tmp_path: Path) -> None:
    path = tmp_path / "wide.vcf"
    path.write_bytes("BEGIN:VCARD\r\nFN:A\r\nEND:VCARD\r\n".encode("utf-16"))
    with pytest.raises(SourceUnreadable, match="UTF-16"):
        IMPORTER.scan(path, OPENER, NO_OPTIONS)
    with pytest.raises(SourceUnreadable, match="UTF-16"):
        read(path)


def test_an_empty_file_has_no_records(tmp_path: Path) -> None:
    path = tmp_path / "empty.vcf"
    path.write_bytes(b"")
    assert IMPORTER.scan(path, OPENER, NO_OPTIONS).records == 0
    assert read(path) == []


def test_files_are_opened_through_the_opener_only(tmp_path: Path) -> None:
    path = write(tmp_path / "a.vcf", *vcard("FN:A"))
    with pytest.raises(PermissionRefused):
        IMPORTER.scan(path, RefusingOpener(), NO_OPTIONS)
    with pytest.raises(PermissionRefused):
        list(IMPORTER.read(path, RefusingOpener(), NO_OPTIONS, None))
    with pytest.raises(SourceUnreadable, match=r"missing\.vcf"):
        read(tmp_path / "missing.vcf")


@pytest.mark.parametrize("cursor", [{"offset": -1, "line": 0, "card": 0}, {"index": 3}, [1]])
def test_a_cursor_of_another_kind_is_refused(tmp_path: Path, cursor: JSON) -> None:
    path = write(tmp_path / "a.vcf", *vcard("FN:A"))
    with pytest.raises(SourceError, match="not a cursor"):
        read(path, cursor)


# -- identity and change ---------------------------------------------------------------------


def test_line_endings_do_not_change_what_is_read(tmp_path: Path) -> None:
    lines = vcard("FN:Ann", "UID:ann-1", "NOTE:a long", "  note", f"PHOTO;ENCODING=b:{PNG64}")
    nodes = []
    for n, newline in enumerate(["\n", "\r\n", "\r\r\n", "\r"]):
        draft = only(write(tmp_path / f"{n}.vcf", *lines, newline=newline))
        nodes.append(draft.node)
        assert draft.attachments[0].data == PNG
    assert all(node == nodes[0] for node in nodes)
    assert nodes[0]["content"] == "a long note"


def test_uid_is_the_identity_and_the_hash_is_the_cards_bytes(tmp_path: Path) -> None:
    card = vcard("FN:Ann", "UID:urn:uuid:4f1b", "TEL:1")
    first = only(write(tmp_path / "one.vcf", *card))
    moved = items(write(tmp_path / "two.vcf", *vcard("FN:Other"), *card))[1]
    changed = only(write(tmp_path / "three.vcf", *vcard("FN:Ann", "UID:urn:uuid:4f1b", "TEL:2")))
    assert isinstance(moved, Draft)
    # The same card in another file, at another place: the same node, the same hash.
    assert first.node["source_id"] == moved.node["source_id"] == "urn:uuid:4f1b"
    assert first.locator.record == "urn:uuid:4f1b"
    assert first.source_hash == moved.source_hash
    assert (
        first.source_hash == hashlib.sha256("".join(f"{x}\r\n" for x in card).encode()).hexdigest()
    )
    # Changed: the same node, another hash.
    assert changed.node["source_id"] == first.node["source_id"]
    assert changed.source_hash != first.source_hash


# -- streaming and resume --------------------------------------------------------------------


def test_a_large_file_is_read_one_card_at_a_time(tmp_path: Path) -> None:
    photo = base64.b64encode(bytes(range(256)) * 24).decode()  # 6 KB of base64 per card
    path = tmp_path / "many.vcf"
    with path.open("w", newline="") as out:
        for n in range(600):
            out.write(f"BEGIN:VCARD\r\nVERSION:3.0\r\nFN:Person {n}\r\nUID:p{n}\r\n")
            out.write(f"PHOTO;ENCODING=b:{photo}\r\nEND:VCARD\r\n")
    size = path.stat().st_size
    tracemalloc.start()
    try:
        count = sum(1 for _ in IMPORTER.read(path, OPENER, NO_OPTIONS, None))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 600
    assert peak < size / 10, (peak, size)


_card_lines = st.lists(
    st.sampled_from(
        [
            "FN:Ann Lee",
            "FN:Comma, Sr.",
            "N:Doe;John;Richter,James;Mr.;Sr.",
            "UID:urn:uuid:1",
            "UID:urn:uuid:2",
            "EMAIL;TYPE=INTERNET;TYPE=pref:a@example.org",
            "TEL;HOME;VOICE:123",
            "item1.TEL:555",
            "item1.X-ABLabel:_$!<AssistantPhone>!$_",
            "ADR;TYPE=work:;;1 Main;Town;;;",
            "NOTE;ENCODING=QUOTED-PRINTABLE;CHARSET=UTF-8:caf=C3=A9=",
            "=0D=0Aline",
            " folded",
            f"PHOTO;ENCODING=b;TYPE=PNG:{PNG64[:60]}",
            f" {PNG64[60:]}",
            "BDAY:--0203",
            "REV:20120801T184631Z",
            "CATEGORIES:a,b",
            "this is not a property",
            "",
        ]
    )
    | st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\r\n"), max_size=12).map(
        lambda text: f"X-TEXT:{text}"
    ),
    max_size=6,
)
_pieces = st.lists(
    st.one_of(
        _card_lines.map(lambda body: vcard(*body)),
        _card_lines.map(lambda body: ["BEGIN:VCARD", *body]),  # never closed
        st.sampled_from([[""], ["stray text"], ["END:VCARD"]]),
    ),
    max_size=6,
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    pieces=_pieces,
    newline=st.sampled_from(["\n", "\r\n", "\r\r\n"]),
    bom=st.booleans(),
    last_newline=st.booleans(),
)
def test_resume_from_any_cursor_equals_reading_straight_through(
    tmp_path: Path, pieces: list[list[str]], newline: str, bom: bool, last_newline: bool
) -> None:
    text = newline.join(line for piece in pieces for line in piece)
    if last_newline and text:
        text += newline
    path = tmp_path / "random.vcf"
    path.write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode("utf-8"))
    everything = read(path)
    for k, (_, cursor) in enumerate(everything):
        stored = json.loads(json.dumps(cursor))  # a cursor survives being stored as JSON
        assert read(path, stored) == everything[k + 1 :]
    try:
        assert IMPORTER.scan(path, OPENER, NO_OPTIONS).records == len(everything)
    except SourceUnreadable:
        assert not any(isinstance(item, Draft) for item, _ in everything)
    for item, _ in everything:
        if isinstance(item, Draft):
            Node.from_dict(item.node)  # every draft is a valid node
        else:
            assert item.reason.startswith("random.vcf: ")
