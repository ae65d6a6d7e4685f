"""The ``apple-contacts`` importer on the real vCard fixtures: every card read, the same contact
from different apps read the same way, photos stored, locators that find each card again."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path

import pytest

from isometry.etl import templates
from isometry.model import JSON, Node, node_id_for
from isometry.sources import registry
from isometry.sources.base import Draft, Item, Options, attachment_link
from isometry.sources.vcard import ContactsImporter
from openers import DirectOpener
from paths import FIXTURES as SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "vcard"
IMPORTER = ContactsImporter()
NO_OPTIONS = Options()

# Cards in each fixture file: every one of them imports.
CARDS = {
    "John_Doe_ANDROID.vcf": 6,
    "John_Doe_GMAIL.vcf": 1,
    "John_Doe_IPHONE.vcf": 1,
    "John_Doe_MAC_ADDRESS_BOOK.vcf": 1,
    "fullcontact.vcf": 1,
    "gmail-list.vcf": 3,
    "outlook-2007.vcf": 1,
    "rfc6350-example.vcf": 1,
}


OPENER = DirectOpener()


def read(path: Path, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, OPENER, NO_OPTIONS, cursor))


def drafts(path: Path) -> list[Draft]:
    found = [item for item, _ in read(path)]
    assert all(isinstance(item, Draft) for item in found), found
    return [item for item in found if isinstance(item, Draft)]


def card(name: str) -> Draft:
    (only,) = drafts(FIXTURES / name)
    return only


def props(draft: Draft) -> dict[str, JSON]:
    found = draft.node["properties"]
    assert isinstance(found, dict)
    return found


def values(entries: JSON) -> list[JSON]:
    assert isinstance(entries, list)
    return [entry["value"] for entry in entries]


def typed(entries: JSON) -> dict[str, list[str]]:
    assert isinstance(entries, list)
    return {entry["value"]: entry["types"] for entry in entries}


def photo_bytes(path: Path, header: str) -> bytes:
    """The photo of a fixture decoded here, independently of the importer: the base64 lines
    after ``header`` up to the next line that is not indented."""
    text = path.read_bytes().decode("ascii")
    lines = re.split(r"\r*\n", text)
    start = next(i for i, line in enumerate(lines) if line.startswith(header))
    payload = [lines[start][len(header) :]]
    for line in lines[start + 1 :]:
        if not line.startswith(" "):
            break
        payload.append(line.strip())
    return base64.b64decode("".join(payload))


# -- the plugin ------------------------------------------------------------------------------


def test_registered_with_the_templates_permissions() -> None:
    assert isinstance(registry.load("apple-contacts"), ContactsImporter)
    template = templates.get("apple-contacts-import")
    assert template.sources == ("apple-contacts",)
    assert ContactsImporter.permissions == template.permissions
    assert ContactsImporter.permissions == frozenset({"contacts", "file-system"})
    assert (ContactsImporter.name, ContactsImporter.version) == ("apple-contacts", "1")


@pytest.mark.parametrize(
    ("name", "accepted"),
    [("a.vcf", True), ("A.VCF", True), ("b.vcard", True), ("c.ics", False), ("vcf", False)],
)
def test_accepts_vcard_files_by_suffix(name: str, accepted: bool) -> None:
    assert IMPORTER.accepts(Path(name)) is accepted


# -- every fixture ---------------------------------------------------------------------------


def test_the_fixture_folder_holds_the_files_this_suite_expects() -> None:
    assert {p.name for p in FIXTURES.glob("*.vcf")} == set(CARDS)


@pytest.mark.parametrize("name", sorted(CARDS))
def test_every_card_of_every_fixture_is_a_valid_person(name: str) -> None:
    path = FIXTURES / name
    found = drafts(path)
    assert len(found) == CARDS[name]
    data = path.read_bytes()
    scan = IMPORTER.scan(path, OPENER, NO_OPTIONS)
    assert scan.records == len(found)
    assert (scan.size, scan.fingerprint) == (len(data), hashlib.sha256(data).hexdigest())
    for draft in found:
        node = Node.from_dict(draft.node)  # passes the model's validation
        assert node.node_type == "person"
        assert node.name
        assert node.source == "apple-contacts"
        # The locator finds the card's bytes again, and the hash is theirs.
        loc = draft.locator
        assert loc.file == str(path.resolve())
        assert loc.offset is not None
        assert loc.length is not None
        assert loc.line is not None
        raw = data[loc.offset : loc.offset + loc.length]
        assert raw.startswith(b"BEGIN:VCARD")
        assert raw.rstrip(b"\r\n").endswith(b"END:VCARD")
        assert data[: loc.offset].count(b"\n") + 1 == loc.line
        assert draft.source_hash == hashlib.sha256(raw).hexdigest()
        assert draft.raw == raw.decode("utf-8")
        for attachment in draft.attachments:
            assert attachment.data
            assert attachment_link(hashlib.sha256(attachment.data).hexdigest()) in str(
                draft.node["properties"]
            )


@pytest.mark.parametrize("name", sorted(CARDS))
def test_reading_again_from_any_cursor_gives_the_cards_that_follow(name: str) -> None:
    path = FIXTURES / name
    everything = read(path)
    for k, (_, cursor) in enumerate(everything):
        assert read(path, cursor) == everything[k + 1 :]


# -- the same contact from different apps ----------------------------------------------------


def test_the_same_contact_from_iphone_mac_and_gmail_reads_the_same() -> None:
    """John Doe as the iPhone, Mac Address Book and Gmail exported him.

    The same: name (up to the commas and spaces each app puts between its parts), name parts,
    email, phones the apps share, organisation, title, home page. The iPhone and the Mac also
    agree on organisation units, birthday, every phone with its label and the home address;
    Gmail's export itself holds fewer phones, no department and another birthday.
    """
    iphone = card("John_Doe_IPHONE.vcf")
    mac = card("John_Doe_MAC_ADDRESS_BOOK.vcf")
    gmail = card("John_Doe_GMAIL.vcf")
    everyone = (iphone, mac, gmail)

    def spaced(name: JSON) -> str:
        return re.sub(r"[\s,]+", " ", str(name))

    assert {spaced(d.node["name"]) for d in everyone} == {"Mr. John Richter James Doe Sr."}
    for key, expected in [
        ("given_name", "John"),
        ("family_name", "Doe"),
        ("additional_names", ["Richter", "James"]),
        ("prefix", "Mr."),
        ("suffix", "Sr."),
        ("title", "Money Counter"),
    ]:
        assert [props(d)[key] for d in everyone] == [expected] * 3, key
    assert [values(props(d)["emails"]) for d in everyone] == [["john.doe@ibm.com"]] * 3
    assert [values(props(d)["urls"]) for d in everyone] == [["http://www.ibm.com"]] * 3
    assert [props(d)["organization"][0] for d in everyone] == ["IBM"] * 3
    assert props(iphone)["organization"] == props(mac)["organization"] == ["IBM", "Accounting"]

    iphone_phones = set(values(props(iphone)["phones"]))
    assert iphone_phones == set(values(props(mac)["phones"]))
    assert set(values(props(gmail)["phones"])) == {"905-555-1234", "905-666-1234"}
    assert set(values(props(gmail)["phones"])) <= iphone_phones
    # The assistant's phone: an Apple-named label on the iPhone, a typed one on the Mac.
    assert typed(props(iphone)["phones"])["905-222-1234"] == ["assistantphone"]
    assert typed(props(mac)["phones"])["905-222-1234"] == ["assistantphone"]
    assert typed(props(iphone)["phones"])["905-888-1234"] == ["home", "fax"]
    assert typed(props(mac)["phones"])["905-888-1234"] == ["home", "fax"]

    assert props(iphone)["birthday"] == props(mac)["birthday"] == "2012-06-06"
    assert props(gmail)["birthday"] == "1980-03-22"
    assert props(iphone)["addresses"] == props(mac)["addresses"]
    assert iphone.node["location_address"] == mac.node["location_address"]
    assert iphone.node["location_address"] == (
        "Silicon Alley 5, New York, New York 12345, United States of America"
    )
    # No UID in any of them: each is identified by its file and position.
    assert iphone.node["source_id"] == f"{(FIXTURES / 'John_Doe_IPHONE.vcf').resolve()}#1"


# -- each app's particulars ------------------------------------------------------------------


def test_iphone_card_with_its_photo_and_apple_labels() -> None:
    draft = card("John_Doe_IPHONE.vcf")
    p = props(draft)
    assert draft.node["name"] == "Mr. John Richter James Doe Sr."
    assert p["nickname"] == ["Johny"]
    assert p["vcard_version"] == "3.0"
    assert typed(p["emails"]) == {"john.doe@ibm.com": ["internet", "pref"]}
    assert typed(p["urls"]) == {"http://www.ibm.com": ["pref", "homepage"]}  # \: undone
    assert p["phones"] == [
        {"value": "905-555-1234", "types": ["cell", "voice", "pref"]},
        {"value": "905-666-1234", "types": ["home", "voice"]},
        {"value": "905-777-1234", "types": ["work", "voice"]},
        {"value": "905-888-1234", "types": ["home", "fax"]},
        {"value": "905-999-1234", "types": ["work", "fax"]},
        {"value": "905-111-1234", "types": ["pager"]},
        {"value": "905-222-1234", "types": ["assistantphone"]},
    ]
    home, work = p["addresses"]
    assert home == {
        "po_box": "", "extended": "", "street": "Silicon Alley 5,", "locality": "New York",
        "region": "New York", "postal_code": "12345", "country": "United States of America",
        "types": ["home", "pref"],
    }  # fmt: skip
    assert work["street"] == "Street4\nBuilding 6\nFloor 8"
    assert values(p["PRODID"]) == ["-//Apple Inc.//iOS 5.0.1//EN"]
    photo = photo_bytes(FIXTURES / "John_Doe_IPHONE.vcf", "PHOTO;ENCODING=b;TYPE=JPEG:")
    digest = hashlib.sha256(photo).hexdigest()
    (attachment,) = draft.attachments
    assert attachment.data == photo
    assert (attachment.filename, attachment.mime_type) == (
        "Mr. John Richter James Doe Sr.jpg",
        "image/jpeg",
    )
    assert attachment.role == "attachment"
    assert p["photos"] == [
        {
            "value": attachment_link(digest),
            "types": [],
            "filename": "Mr. John Richter James Doe Sr.jpg",
            "mime_type": "image/jpeg",
        }
    ]


def test_mac_address_book_card_keeps_its_apple_properties() -> None:
    draft = card("John_Doe_MAC_ADDRESS_BOOK.vcf")
    p = props(draft)
    assert draft.node["name"] == "Mr. John Richter,James Doe Sr."  # FN, \, undone
    assert values(p["X-ABUID"]) == ["6B29A774-D124-4822-B8D0-2780EC117F60:ABPerson"]
    assert p["X-ABRELATEDNAMES"] == [{"value": "Jenny", "types": ["pref", "spouse"]}]
    assert values(p["X-PHONETIC-FIRST-NAME"]) == ["Jon"]
    assert values(p["X-ABADR"]) == [
        "Silicon Alley",
        "Street 4, Building 6,\nFloor 8\nNew York\nUSA",
    ]
    assert "X-ABLABEL" not in p  # read as the types of the properties of their groups
    # A bare BASE64 parameter (not 3.0, but what Address Book writes), lines indented twice.
    photo = photo_bytes(FIXTURES / "John_Doe_MAC_ADDRESS_BOOK.vcf", "PHOTO;BASE64:")
    (attachment,) = draft.attachments
    assert attachment.data == photo
    assert photo.startswith(b"\xff\xd8\xff")
    content = str(draft.node["content"])
    assert content.startswith(
        'THIS SOFTWARE IS PROVIDED BY THE COPYRIGHT HOLDERS AND CONTRIBUTORS "AS'
    )
    assert content.endswith("POSSIBILITY OF SUCH DAMAGE.\nFavotire Color: Blue")


def test_gmail_card_keeps_text_with_commas_whole() -> None:
    draft = card("John_Doe_GMAIL.vcf")
    p = props(draft)
    # vobject's own decoding would cut these at the first unescaped comma.
    assert draft.node["name"] == "Mr. John Richter, James Doe Sr."
    content = str(draft.node["content"])
    assert "WARRANTIES, INCLUDING, BUT NOT LIMITED TO, THE IMPLIED" in content
    assert "LOSS OF USE, DATA, OR PROFITS; OR BUSINESS" in content
    assert content.endswith("SUCH DAMAGE.\nFavotire Color: Blue")
    assert p["anniversary"] == "1975-03-01"  # an X-ABDATE labelled anniversary
    assert p["X-ABRELATEDNAMES"] == [{"value": "Jenny", "types": ["spouse"]}]
    assert typed(p["emails"]) == {"john.doe@ibm.com": ["internet", "home"]}
    (address,) = p["addresses"]
    # Gmail writes the whole address in one field; it is kept there, and shown on one line.
    assert address["extended"] == (
        "Crescent moon drive\n555-asd\nNice Area, Albaney, New York 12345\nUnited States of America"
    )
    assert draft.node["location_address"] == (
        "Crescent moon drive, 555-asd, Nice Area, Albaney, New York 12345, United States of America"
    )


def test_android_2_1_cards_quoted_printable_and_bare_types() -> None:
    path = FIXTURES / "John_Doe_ANDROID.vcf"
    first, second, third, fourth, fifth, sixth = drafts(path)
    # No name at all: the email is what a contacts app shows.
    assert first.node["name"] == "john.doe@company.com"
    assert props(first)["emails"] == [{"value": "john.doe@company.com", "types": ["pref"]}]
    assert first.node["tags"] == ["My Contacts"]
    assert props(first)["categories"] == ["My Contacts"]
    assert second.node["name"] == "jane.doe@company.com"
    # Quoted-printable UTF-8, with soft line breaks.
    assert third.node["name"] == "Ñ Ñ Ñ Ñ Ñ"
    assert props(third)["family_name"] == "Ñ Ñ Ñ Ñ"
    assert fourth.node["name"] == " ".join(["Ñ"] * 11)
    assert props(fourth)["phones"] == [
        {"value": "123456", "types": ["cell", "pref"]},
        {"value": "234567", "types": ["home"]},
        {"value": "3456789", "types": ["cell"]},
        {"value": "45678901", "types": ["home"]},
    ]
    note = "Ñ Ñ Ñ Ñ Ñ Ñ Ñ ÑÑ Ñ Ñ Ñ Ñ Ñ Ñ ÑÑ Ñ Ñ Ñ Ñ "
    assert fourth.node["content"] == f"{note}\n\n{note}"  # two NOTEs, both kept
    assert (props(fifth)["given_name"], props(fifth)["family_name"]) == ("Ñ Ñ Ñ", "Ñ Ñ")
    assert typed(props(fifth)["emails"]) == {
        "bob@company.com": ["pref", "work"],
        "Ñ" * 14: ["pref"],
    }
    assert values(props(fifth)["urls"]) == ["www.company.com", "http://www.company.com"]
    assert props(fifth)["organization"] == ["Ñ" * 12]
    assert props(fifth)["ORG"] == [{"value": ["Ñ" * 12], "types": []}]  # the repeat, kept
    # The fixture's photo was cut short upstream (1171 base64 characters): kept, not stored.
    (photo,) = props(fifth)["photos"]
    assert photo["value"].startswith("/9j/4AAQSkZJRgABAQAAAQABAAD/2wBDAAIBAQEBAQIBAQE")
    assert photo["value"].endswith("+0iPnP/2Q==")
    assert "line 52" in photo["problem"]
    assert "cannot encode whole bytes" in photo["problem"]
    assert fifth.attachments == ()
    # A stray =80 after UTF-8 quoted-printable: the bad byte is replaced, the rest kept.
    assert props(sixth)["organization"] == ["Ñ" * 44]
    assert values(props(sixth)["ORG"]) == [["Ñ" * 44 + "\ufffd"], ["Ñ" * 44]]


def test_outlook_2007_card() -> None:
    draft = card("outlook-2007.vcf")
    p = props(draft)
    assert draft.node["name"] == "Mr. Michael Angstadt Jr."
    assert draft.node["content"] == (
        "This is the NOTE field\t\nI assume it encodes this text inside a NOTE vCard type.\n"
        "But I'm not sure because there's text formatting going on here.\n"
        "It does not preserve the formatting"
    )
    assert draft.node["modified_at"] == "2012-08-01T18:46:31Z"  # REV
    assert (p["birthday"], p["anniversary"]) == ("1922-03-10", "2012-08-01")
    assert (p["organization"], p["title"], p["role"]) == (
        ["TheCompany", "TheDepartment"],
        "TheJobTitle",
        "TheProfession",
    )
    (address,) = p["addresses"]
    assert address["types"] == ["work", "pref"]
    assert address["label"] == "222 Broadway\nNew York, NY 99999\nUSA"  # its LABEL property
    assert draft.node["location_address"] == "TheOffice, 222 Broadway, New York, NY 99999, USA"
    assert "LABEL" not in p
    assert p["X-MS-TEL"] == [{"value": "(111) 555-4444", "types": ["voice", "callback"]}]
    assert values(p["X-MS-SPOUSE"]) == ["TheSpouse"]
    assert str(values(p["X-MS-OL-DESIGN"])[0]).startswith("<card xmlns=")
    key, photo = draft.attachments
    assert key.filename == "Mr. Michael Angstadt Jr key.cer"
    assert key.mime_type == "application/pkix-cert"
    assert photo.filename == "Mr. Michael Angstadt Jr.jpg"
    expected = photo_bytes(FIXTURES / "outlook-2007.vcf", "PHOTO;TYPE=JPEG;ENCODING=BASE64:")
    assert photo.data == expected
    assert values(p["photos"]) == [attachment_link(hashlib.sha256(expected).hexdigest())]
    assert values(p["KEY"]) == [attachment_link(hashlib.sha256(key.data or b"").hexdigest())]


def test_rfc6350_example() -> None:
    draft = card("rfc6350-example.vcf")
    p = props(draft)
    assert draft.node["name"] == "Simon Perreault"
    assert p["suffix"] == "ing. jr, M.Sc."
    assert p["birthday"] == "--02-03"  # no year
    assert p["anniversary"] == "2009-08-08T14:30:00-05:00"
    assert (draft.node["latitude"], draft.node["longitude"]) == (46.772673, -71.282945)
    assert p["phones"] == [
        {
            "value": "tel:+1-418-656-9254;ext=102",
            "types": ["work", "voice", "pref"],
            "params": {"value": "uri"},
        },
        {
            "value": "tel:+1-418-262-6501",
            "types": ["work", "cell", "voice", "video", "text"],
            "params": {"value": "uri"},
        },
    ]
    assert p["LANG"] == [
        {"value": "fr", "types": ["pref"]},
        {"value": "en", "types": [], "params": {"pref": "2"}},
    ]
    assert draft.node["location_address"] == (
        "Suite D2-630, 2875 Laurier, Quebec, QC G1V 2M2, Canada"
    )
    assert values(p["KEY"]) == ["http://www.viagenie.ca/simon.perreault/simon.asc"]
    assert values(p["TZ"]) == ["-0500"]


def test_fullcontact_4_0_card_keeps_repeats_and_links() -> None:
    draft = card("fullcontact.vcf")
    p = props(draft)
    assert draft.node["content"] == "Notes line 1\nNotes line 2"
    assert draft.node["tags"] == ["Tag"]
    # Photos that are links stay links: nothing is fetched.
    assert draft.attachments == ()
    assert len(values(p["photos"])) == 3
    assert all(str(v).startswith("https://") for v in values(p["photos"]))
    # The first of a repeated property is the field, the others are kept under its name.
    assert (p["organization"], p["title"], p["birthday"]) == (
        ["Organization1", "Department1"],
        "Title1",
        "2016-08-01",
    )
    assert values(p["ORG"]) == [["Organization2", "Department2"]]
    assert values(p["TITLE"]) == ["Title2"]
    assert p["BDAY"] == [
        {"value": "2016-08-01", "types": [], "params": {"altid": "1", "value": "text"}}
    ]
    assert len(p["IMPP"]) == 7
    assert p["IMPP"][0] == {
        "value": "xmpp:gtalk",
        "types": [],
        "params": {"x-service-type": "GTalk"},
    }
    assert typed(p["emails"])["custom@example.com"] == ["customtype"]
    assert len(p["addresses"]) == 4
    assert draft.node["location_address"] == (
        "HomeExtended, HomeStreet, HomeCity, HomeState HomePostal, HomeCountry"
    )
    assert values(p["GENDER"]) == ["M"]


def test_gmail_list_gives_one_person_per_card() -> None:
    path = FIXTURES / "gmail-list.vcf"
    found = drafts(path)
    assert [d.node["name"] for d in found] == ["Arnold Smith", "Chris Beatle", "Doug White"]
    assert [values(props(d)["emails"]) for d in found] == [
        ["asmithk@gmail.com"],
        ["chrisy55d@yahoo.com"],
        ["dwhite@gmail.com"],
    ]
    assert [d.locator.line for d in found] == [1, 7, 13]
    assert [d.locator.record for d in found] == ["1", "2", "3"]
    assert [d.node["source_id"] for d in found] == [f"{path.resolve()}#{n}" for n in (1, 2, 3)]
    ids = {node_id_for("apple-contacts", str(d.node["source_id"])) for d in found}
    assert len(ids) == 3
