"""The ``csv`` importer on the files people have: quoted fields that never close, cells past the
csv module's limit, chosen and guessed encodings, old Mac line endings, delimiter options, and
header rows that name columns oddly or not at all."""

from __future__ import annotations

import codecs
import csv
import io
import json
import tracemalloc
from pathlib import Path
from typing import BinaryIO

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from isometry.cli.engine import import_config
from isometry.errors import SourceError, SourceUnreadable
from isometry.model import JSON
from isometry.sources import csvlines
from isometry.sources.base import Draft, Item, Options, Rejected
from isometry.sources.csvformat import detect_format
from isometry.sources.csvlines import unique_names
from isometry.sources.csvrecords import CsvImporter
from openers import DirectOpener

IMPORTER = CsvImporter()
OPENER = DirectOpener()
NO_OPTIONS = Options()


def write(path: Path, data: bytes | str) -> Path:
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def read(path: Path, options: Options = NO_OPTIONS, cursor: JSON = None) -> list[tuple[Item, JSON]]:
    return list(IMPORTER.read(path, OPENER, options, cursor))


def items(path: Path, options: Options = NO_OPTIONS) -> list[Item]:
    return [item for item, _ in read(path, options)]


def names(path: Path, options: Options = NO_OPTIONS) -> list[JSON]:
    return [item.node.get("name") for item in items(path, options) if isinstance(item, Draft)]


def encoding(path: Path, options: Options = NO_OPTIONS) -> str:
    with path.open("rb") as stream:
        return detect_format(path, stream, options).encoding


def assert_resumes(path: Path, options: Options = NO_OPTIONS) -> list[tuple[Item, JSON]]:
    """Reading from the cursor after any item gives exactly the items that followed, and the
    scan counts them all."""
    everything = read(path, options)
    for k, (_, cursor) in enumerate(everything):
        assert read(path, options, json.loads(json.dumps(cursor))) == everything[k + 1 :]
    assert IMPORTER.scan(path, OPENER, options).records == len(everything)
    return everything


class CountingOpener:
    """Opens any path, counting the bytes read through it."""

    def __init__(self) -> None:
        self.read = 0

    def open_binary(self, path: Path) -> BinaryIO:
        opener = self

        class Counted(io.FileIO):
            def read(self, size: int | None = -1, /) -> bytes:
                data = super().read(size)
                opener.read += len(data or b"")
                return data or b""

        return io.BufferedReader(Counted(str(path), "rb"))


# -- quoted fields that never close ------------------------------------------------------------


def test_an_unterminated_quote_rejects_its_row_and_reading_goes_on(tmp_path: Path) -> None:
    text = 'id,title,body\n1,A,"unterminated\n2,B,b\n3,C,c\n4,D,d\n'
    path = write(tmp_path / "unterm.csv", text)
    found = assert_resumes(path)
    first, cursor = found[0]
    assert isinstance(first, Rejected)
    assert first.raw == '1,A,"unterminated'
    assert first.reason == "row 1 (line 2): a quoted field opens here and never closes"
    assert (first.locator.line, first.locator.offset) == (2, text.index("1,A"))
    assert first.locator.length == len('1,A,"unterminated')
    assert cursor == {"offset": text.index("2,B"), "row": 1, "line": 2}
    assert [item.node["name"] for item, _ in found[1:] if isinstance(item, Draft)] == [
        "B",
        "C",
        "D",
    ]


def test_a_quoted_field_that_spans_lines_and_closes_is_one_cell(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", 'title,body\nA,"one\ntwo"\nB,"x ""q"" y"\n')
    found = items(path)
    assert [(i.node["name"], i.node["content"]) for i in found if isinstance(i, Draft)] == [
        ("A", "one\ntwo"),
        ("B", 'x "q" y'),
    ]


def test_an_unterminated_quote_after_a_field_that_spans_lines(tmp_path: Path) -> None:
    """The row is refused up to the line where the field that never closes opens."""
    path = write(tmp_path / "x.csv", 'id,title,body\n1,"multi\nline","broken\n2,B,b\n3,C,c\n')
    found = assert_resumes(path)
    first = found[0][0]
    assert isinstance(first, Rejected)
    assert first.raw == '1,"multi\nline","broken'
    assert first.reason == "row 1 (line 2): a quoted field opens on line 3 and never closes"
    assert [i.node["name"] for i, _ in found if isinstance(i, Draft)] == ["B", "C"]


def test_a_quoted_field_open_at_the_end_of_the_last_line(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", 'title,body\nA,a\nB,"b')
    found = assert_resumes(path)
    assert isinstance(found[0][0], Draft)
    assert isinstance(found[1][0], Rejected)
    assert found[1][0].raw == 'B,"b'


def test_a_header_whose_quote_never_closes_is_unreadable(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", 'id,"title\n1,A\n')
    with pytest.raises(SourceUnreadable, match="never closes"):
        read(path)
    with pytest.raises(SourceUnreadable, match="never closes"):
        IMPORTER.scan(path, OPENER, NO_OPTIONS)


def test_rows_that_never_close_are_cut_in_linear_time(tmp_path: Path) -> None:
    """Every line opens a quoted field that the next line's quote closes, and opens another:
    the field of line 2 never closes, nor does any field that opens after it."""
    count = 5000
    path = write(tmp_path / "x.csv", "id,title\n" + 'x","\n' * count)
    opener = CountingOpener()
    scan = IMPORTER.scan(path, opener, NO_OPTIONS)
    found = list(IMPORTER.read(path, opener, NO_OPTIONS, None))
    assert scan.records == len(found) == 1
    cut = found[0][0]
    assert isinstance(cut, Rejected)
    assert cut.reason == (
        f"row 1 (line 2): a quoted field opens on line {count + 1} and never closes"
    )
    size = path.stat().st_size
    assert opener.read < 8 * size


def test_a_long_row_that_never_closes_is_not_held_whole(tmp_path: Path) -> None:
    body = "".join(f"{n},title {n},{'lorem ipsum ' * 8}\n" for n in range(2, 60_000))
    path = write(tmp_path / "x.csv", 'id,title,body\n1,A,"never closed\n' + body)
    assert path.stat().st_size > 5 * 2**20
    tracemalloc.start()
    found = iter(IMPORTER.read(path, OPENER, NO_OPTIONS, None))
    try:
        first = next(found)[0]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        del found  # closes the file
    assert isinstance(first, Rejected)
    assert first.raw == '1,A,"never closed'
    assert peak < 32 * 2**20, peak


def test_a_cell_past_the_lookahead_that_closes_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(csvlines, "_LOOKAHEAD", 64)
    cell = "".join(f"line {n}, with a comma\n" for n in range(50))
    path = write(tmp_path / "x.csv", f'title,body\nA,"{cell}"\nB,b\n')
    assert [i.node.get("content") for i in items(path) if isinstance(i, Draft)] == [cell, "b"]
    assert_resumes(path)


def test_a_cell_larger_than_the_csv_modules_default_limit(tmp_path: Path) -> None:
    big = "x" * 200_000
    path = write(tmp_path / "x.csv", f'id,title,body\n1,short,ok\n2,long,"{big}"\n3,after,ok\n')
    found = items(path)
    assert all(isinstance(item, Draft) for item in found)
    assert [i.node["content"] for i in found if isinstance(i, Draft)] == ["ok", big, "ok"]


# Text made of what matters to quoting: quotes, delimiters, line breaks, spaces and letters.
quoting_text = st.lists(
    st.sampled_from(['"', '"', '""', ",", ";", "\n", "\n", "\r\n", "\r", " ", "a", "b"])
).map("".join)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=quoting_text, lookahead=st.sampled_from([1, 16]))
def test_any_quoting_resumes_from_any_cursor_and_the_lookahead_changes_nothing(
    tmp_path: Path, body: str, lookahead: int
) -> None:
    path = write(tmp_path / "q.csv", 'title,"b"\n' + body)
    options = Options({"delimiter": ","})
    plain = assert_resumes(path, options)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(csvlines, "_LOOKAHEAD", lookahead)
        assert assert_resumes(path, options) == plain
    # Rows come in order, each the exact bytes it says, a record as csv reads its text; and
    # at most one is cut for a quoted field that never closes (see the module docstring).
    data, end = path.read_bytes(), 0
    for item, _ in plain:
        offset, length = item.locator.offset or 0, item.locator.length or 0
        assert offset >= end
        assert data[offset : offset + length].decode() == item.raw
        end = offset + length
        if isinstance(item, Draft):  # one row of two cells
            assert [len(cells) for cells in csv.reader(io.StringIO(item.raw))] == [2]
    refused = [item for item, _ in plain if "never closes" in getattr(item, "reason", "")]
    assert len(refused) <= 1


# -- encodings ---------------------------------------------------------------------------------

UTF16_TEXT = "title;body\r\nCafé;naïve\r\nÜber;straße\r\n"


@pytest.mark.parametrize("bom_encoding", ["utf-16-le", "utf-16-be"])
@pytest.mark.parametrize("option", ["utf-16", "UTF16", "utf-16-le", "utf-16-be"])
def test_a_utf16_file_with_a_byte_order_mark_is_read_by_it(
    tmp_path: Path, bom_encoding: str, option: str
) -> None:
    path = write(tmp_path / "x.csv", ("\ufeff" + UTF16_TEXT).encode(bom_encoding))
    options = Options({"encoding": option})
    if codecs.lookup(option).name not in ("utf-16", bom_encoding):
        with pytest.raises(SourceUnreadable, match="byte order mark"):
            read(path, options)
        return
    assert names(path, options) == ["Café", "Über"]
    assert names(path) == ["Café", "Über"]
    assert_resumes(path, options)


@pytest.mark.parametrize("file_encoding", ["utf-16-le", "utf-16-be"])
def test_utf16_without_a_byte_order_mark_is_read_in_the_order_its_nul_bytes_show(
    tmp_path: Path, file_encoding: str
) -> None:
    path = write(tmp_path / "x.csv", UTF16_TEXT.encode(file_encoding))
    assert names(path, Options({"encoding": "utf-16"})) == ["Café", "Über"]
    assert names(path, Options({"encoding": file_encoding})) == ["Café", "Über"]
    other = "utf-16-be" if file_encoding == "utf-16-le" else "utf-16-le"
    with pytest.raises(SourceUnreadable, match=f"is {file_encoding}, not {other}"):
        read(path, Options({"encoding": other}))
    for ascii_based in ("utf-8", "cp1252"):
        with pytest.raises(SourceUnreadable, match=f"encoding={file_encoding}"):
            read(path, Options({"encoding": ascii_based}))


@pytest.mark.parametrize("option", ["utf-16", "utf-16-le", "utf-32"])
def test_a_utf8_file_read_as_utf16_is_refused_not_read_into_nothing(
    tmp_path: Path, option: str
) -> None:
    path = write(tmp_path / "x.csv", "id,title\n1,A\n2,B\n")
    with pytest.raises(SourceUnreadable, match="no NUL bytes"):
        read(path, Options({"encoding": option}))
    with pytest.raises(SourceUnreadable, match="no NUL bytes"):
        IMPORTER.scan(path, OPENER, Options({"encoding": option}))


def test_a_byte_order_mark_that_is_not_the_chosen_encodings_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", b"\xef\xbb\xbftitle\nA\n")
    assert names(path, Options({"encoding": "utf-8"})) == ["A"]
    assert names(path, Options({"encoding": "utf-8-sig"})) == ["A"]
    with pytest.raises(SourceUnreadable, match="byte order mark of utf-8"):
        read(path, Options({"encoding": "cp1252"}))
    path = write(tmp_path / "y.csv", ("\ufeff" + "title\nA\n").encode("utf-32-le"))
    assert names(path, Options({"encoding": "utf-32"})) == ["A"]
    with pytest.raises(SourceUnreadable, match="byte order mark of utf-32-le"):
        read(path, Options({"encoding": "utf-16"}))


@pytest.mark.parametrize("value", [1252, True, ["utf-8"]])
def test_an_encoding_option_that_is_not_a_name_is_refused(tmp_path: Path, value: JSON) -> None:
    path = write(tmp_path / "x.csv", "title\nA\n")
    with pytest.raises(SourceError, match="encoding"):
        read(path, Options({"encoding": value}))


@pytest.mark.parametrize("value", ["rot13", "base64", "idna", "punycode", "zlib"])
def test_a_codec_that_is_no_text_encoding_is_refused_by_name(tmp_path: Path, value: str) -> None:
    path = write(tmp_path / "x.csv", "title\nCaf\xe9\n".encode("cp1252"))
    with pytest.raises(SourceError, match=f"'{value}' is a codec, not an encoding"):
        read(path, Options({"encoding": value}))


WESTERN = [
    "title,body\nSão Paulo,x\n",
    "title,body\nÅngström,x\n",
    "title,body\nMüller,x\n",
    "title,body\nAñoño,¿Qué?\n",
    "title,body\ndéjà vu,x\n",
    "title,body\n½ price,x\n",
    "title;body\n“Quote”;5 \u2013 dash\n",
    "name;notes\nJosé Martínez;Café au lait, crème brûlée\nFrançoise Dürer;Straße Nr. 5\n",
    "id,titolo,nota\n1,Città,Perché la città è così bella? Più o meno\n2,Caffè,Un tè\n",
    "id,título,nota\n1,Ação,Informação sobre a reunião em São Paulo\n2,Avó,Florianópolis\n",
]


@pytest.mark.parametrize("text", WESTERN)
def test_short_western_files_are_read_as_cp1252(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "x.csv", text.encode("cp1252"))
    assert encoding(path) == "cp1252"
    assert items(path)[0].raw == text.splitlines()[1]


CJK = [
    ("big5", "title,body\n中文,測試\n"),
    ("big5", "id,title,body\n1,台北市,今天天氣很好\n2,高雄,我們去看電影吧\n"),
    ("shift_jis", "title,body\n日本語,テスト\n"),
    ("shift_jis", "id,title,body\n1,カタカナ,テストです\n2,ひらがな,こんにちは\n"),
    ("gb18030", "title,body\n中文,测试\n"),
    ("gb18030", "id,title,body\n1,会议,明天开会\n2,购物,买牛奶\n"),
    ("gbk", "id,title,body\n1,iPhone手机,新款\n2,MacBook电脑,很好\n"),
    ("euc_kr", "title,body\n한국어,시험\n"),
    ("euc_jp", "id,title,body\n1,会議,明日の午後\n2,買い物,牛乳\n"),
]


@pytest.mark.parametrize(("file_encoding", "text"), CJK)
def test_short_chinese_japanese_and_korean_files_keep_their_encoding(
    tmp_path: Path, file_encoding: str, text: str
) -> None:
    path = write(tmp_path / "x.csv", text.encode(file_encoding))
    decoded = path.read_bytes().decode(encoding(path))
    assert decoded == text


@pytest.mark.parametrize(
    ("file_encoding", "text"),
    [
        ("cp1251", "id,заголовок,заметка\n1,Покупки,Купить хлеб, масло и сыр\n"),
        (
            "cp1250",
            "id,tytuł,notatka\n1,Zakupy,Kupić chleb, masło i żółty ser\n"
            "2,Spotkanie,Spotkanie w Łodzi o godzinie ósmej\n3,Zażółć,Zażółć gęślą jaźń\n",
        ),
        ("cp1253", "id,τίτλος,σημείωση\n1,Αγορές,Ψωμί, τυρί και γάλα\n"),
    ],
)
def test_other_single_byte_encodings_are_not_taken_for_cp1252(
    tmp_path: Path, file_encoding: str, text: str
) -> None:
    path = write(tmp_path / "x.csv", text.encode(file_encoding))
    assert encoding(path) != "cp1252"


# Short exports as people have them (budgets in euros and pounds, names and places in capitals,
# addresses), written in cp1252: every row is read as written. Next to them, files in other
# encodings whose bytes make much the same cp1252 (a sign and digits after a delimiter, words of
# capitals): they keep their encoding, so that reading the one right is not bought by reading
# the other wrong.
WESTERN_EXPORTS = [
    "title,price\nCafé,€3\n",
    "title,amount\nRent,€500\nFood,€120\n",
    "title,price\nLunch,€12\n",
    "title;price\nBrot;€2,50\nKäse;€4,99\n",
    "title,amount\nRent,3 €\nFood,12€\n",
    "title,note\nTaxi,costs €50 total\n",
    "title,amount\nTrain,£45.20\nCoffee,£3\n",
    "title,day,amount\nCafé,2 Jan,€4.50\nBäckerei,3 Jan,€2.10\n",
    "id,amount\n1,€5\n2,€6\n3,€7\n4,€8\n",
    "name,address,amount\nJosé Peña,Calle Mayor 3,€1.200\n",
    "name,city\nMÜLLER,Berlin\n",
    "name,city\nÄÖÜ GmbH,Berlin\n",
    "name,city\nMÜLLER ÄÖÜ,Berlin\n",
    "name,city\nPEÑA,Madrid\n",
    "name,city\nÉCOLE,Paris\n",
    "name\nÄÖÜ\n",
    "name\nÉÈ\n",
    "name\nÑÑ\n",
    "name;street;city\nFRANÇOISE DUPRÉ;12 rue de l'Église;CRÉTEIL\n",
    "name;street;city\nJÜRGEN MÜLLER;Hauptstraße 5;MÜNCHEN\n",
    "name,amount,city\nJOÃO,€12,SÃO PAULO\n",
    "name,note\nCRÉÉ,idée créée\n",
    "title,note\ncréé,x\n",
]
LOOKALIKES = [
    ("gb18030", "项目,金额,备注\n房租,500,每月\n午饭,12,公司附近\n"),
    ("gb18030", "姓名,城市\n王小明,北京\n李华,上海\n"),
    ("big5", "項目,金額,備註\n房租,500,每月\n午餐,12,公司附近\n"),
    ("big5", "姓名,城市\n王小明,台北\n李華,高雄\n"),
    ("shift_jis", "title,amount\n家賃,500\n昼食,12\n"),
    ("shift_jis", "氏名,住所\n山田太郎,東京都新宿区\n鈴木花子,大阪市北区\n"),
    ("euc_jp", "項目,金額,備考\n家賃,500,毎月\n昼食,12,会社の近く\n"),
    ("euc_kr", "title,amount\n월세,500\n점심,12\n"),
    ("euc_kr", "이름,도시\n김민수,서울\n이영희,부산\n"),
    ("gb18030", "id,title\n1,中心\n2,中文\n"),  # ÖÐÐÄ, ÖÐÎÄ in cp1252
    ("shift_jis", "name,amount\nﾔﾏﾀﾞ ﾀﾛｳ,1200\nｽｽﾞｷ ﾊﾅｺ,3400\n"),  # ﾔﾏﾀﾞ is ÔÏÀÞ
    ("shift_jis", "name,amount\nﾄﾖﾀ ｼﾞﾄﾞｳｼｬ,1200\nﾏﾂﾓﾄ ｹﾝ,3400\n"),
]
# Single-byte encodings whose short samples charset-normalizer cannot always tell from one
# another (cp1251 from mac_cyrillic): what matters here is that they are not cp1252.
SINGLE_BYTE_LOOKALIKES = [
    ("cp1251", "id,title,amount\n1,Аренда,€500\n2,Еда,€120\n"),
    ("cp1253", "id,title,amount\n1,Ενοίκιο,€500\n2,Φαγητό,€120\n"),
    ("cp1255", "id,title,amount\n1,שכירות,₪500\n2,אוכל,₪120\n"),
    ("cp1256", "id,title,amount\n1,إيجار,500\n2,طعام,120\n"),
    ("cp1251", "id,name,city\n1,ИВАНОВ,ЛИПЕЦК\n2,ПЕТРОВА,ТУЛА\n"),  # ÈÂÀÍÎÂ in cp1252
    ("cp1253", "id,name,city\n1,ΠΑΠΑΔΟΠΟΥΛΟΣ,ΑΘΗΝΑ\n2,ΓΕΩΡΓΙΟΥ,ΠΑΤΡΑ\n"),
]


def rows(path: Path) -> list[str]:
    """The text of each row of ``path`` as read."""
    return [item.raw for item in items(path)]


@pytest.mark.parametrize("text", WESTERN_EXPORTS)
def test_short_western_exports_are_read_as_written(tmp_path: Path, text: str) -> None:
    path = write(tmp_path / "x.csv", text.encode("cp1252"))
    header, *lines = text.splitlines()
    assert rows(path) == lines
    if header.startswith(("title", "name")):
        delimiter = ";" if ";" in header else ","
        assert names(path) == [line.split(delimiter)[0] for line in lines]


@pytest.mark.parametrize(("file_encoding", "text"), LOOKALIKES)
def test_short_lookalikes_of_western_exports_keep_their_encoding(
    tmp_path: Path, file_encoding: str, text: str
) -> None:
    path = write(tmp_path / "x.csv", text.encode(file_encoding))
    assert rows(path) == text.splitlines()[1:]


@pytest.mark.parametrize(("file_encoding", "text"), SINGLE_BYTE_LOOKALIKES)
def test_short_single_byte_lookalikes_are_not_taken_for_cp1252(
    tmp_path: Path, file_encoding: str, text: str
) -> None:
    path = write(tmp_path / "x.csv", text.encode(file_encoding))
    assert encoding(path) != "cp1252"


def _ascii_rows(count: int) -> str:
    return "".join(f"{n},T{n},plain ascii text number {n}\n" for n in range(1, count))


def test_a_latin1_row_after_the_first_64_kib_decides_the_encoding(tmp_path: Path) -> None:
    text = "id,title,body\n" + _ascii_rows(3000) + "3000,Café,crème brûlée\n"
    assert len(text) > 2**16
    path = write(tmp_path / "x.csv", text.encode("latin-1"))
    assert encoding(path) == "cp1252"
    found = items(path)
    assert all(isinstance(item, Draft) for item in found)
    last = found[-1]
    assert isinstance(last, Draft)
    assert last.node["content"] == "crème brûlée"


@pytest.mark.parametrize("count", [50, 3000])
def test_a_budget_whose_only_signs_are_euros_is_read_as_cp1252(tmp_path: Path, count: int) -> None:
    text = "title,amount\n" + "".join(f"Rent {n},€{500 + n}\n" for n in range(count))
    path = write(tmp_path / "x.csv", text.encode("cp1252"))
    assert rows(path) == text.splitlines()[1:]


def test_euro_amounts_after_the_first_64_kib_are_read_as_cp1252(tmp_path: Path) -> None:
    text = "id,title,amount\n" + _ascii_rows(3000) + "3000,Rent,€500\n3001,Food,€120\n"
    assert len(text) > 2**16
    path = write(tmp_path / "x.csv", text.encode("cp1252"))
    assert rows(path)[-2:] == ["3000,Rent,€500", "3001,Food,€120"]


def test_a_utf8_row_after_the_first_64_kib_keeps_utf8(tmp_path: Path) -> None:
    text = "id,title,body\n" + _ascii_rows(3000) + "3000,Café,crème brûlée\n3001,x,\xff\n"
    path = write(tmp_path / "x.csv", text.encode("utf-8"))
    assert encoding(path) == "utf-8"
    path = write(tmp_path / "y.csv", "id,title,body\n" + _ascii_rows(5000))
    assert encoding(path) == "utf-8"


# -- line endings ------------------------------------------------------------------------------


def test_lines_that_end_in_a_carriage_return_alone(tmp_path: Path) -> None:
    path = write(tmp_path / "mac.csv", 'id,title,body\r1,A,"two\rlines"\r\r2,B,b\r3,C,"c')
    found = assert_resumes(path)
    assert [(i.node["name"], i.node.get("content")) for i, _ in found if isinstance(i, Draft)] == [
        ("A", "two\rlines"),
        ("B", "b"),
    ]
    assert found[0][0].raw == '1,A,"two\rlines"'
    assert found[1][0].locator.line == 5
    assert isinstance(found[2][0], Rejected)


def test_lines_that_end_in_a_carriage_return_alone_in_utf16(tmp_path: Path) -> None:
    path = write(tmp_path / "mac.csv", "\ufeffid,title\r1,A\r2,B\r".encode("utf-16-le"))
    assert names(path) == ["A", "B"]
    assert_resumes(path)


# -- options -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "delimiter"),
    [
        ("\t", "\t"),
        ("\\t", "\t"),
        ("tab", "\t"),
        ("TAB", "\t"),
        (";", ";"),
        ("semicolon", ";"),
        ("comma", ","),
        ("pipe", "|"),
        ("|", "|"),
        (" ", " "),
        ("space", " "),
    ],
)
def test_delimiter_spellings(tmp_path: Path, value: str, delimiter: str) -> None:
    path = write(tmp_path / "x.csv", f'title{delimiter}body\nA{delimiter}"b,c;d"\n')
    with path.open("rb") as stream:
        assert detect_format(path, stream, Options({"delimiter": value})).delimiter == delimiter
    found = items(path, Options({"delimiter": value}))
    assert [(i.node["name"], i.node["content"]) for i in found if isinstance(i, Draft)] == [
        ("A", "b,c;d")
    ]


@pytest.mark.parametrize("value", [";;", "1", 1, "a", '"', "\n", "", "tabs", True, [";"]])
def test_other_delimiters_are_refused(tmp_path: Path, value: JSON) -> None:
    path = write(tmp_path / "x.csv", "title;body\nA;b\n")
    with pytest.raises(SourceError, match=r"delimiter=") as refused:
        read(path, Options({"delimiter": value}))
    assert repr(value) in str(refused.value)
    with pytest.raises(SourceError, match=r"delimiter="):
        IMPORTER.scan(path, OPENER, Options({"delimiter": value}))


def test_the_command_line_keeps_an_option_value_of_white_space() -> None:
    config = import_config(
        batch_size=None,
        branch_strategy=None,
        post_execution=None,
        merge_strategy=None,
        target=None,
        dedup=None,
        sync_deletes=None,
        max_error_rate=None,
        timeout=None,
        max_memory=None,
        max_database=None,
        include=None,
        exclude=None,
        date_from=None,
        date_to=None,
        option=["delimiter=\t", "quote= ", "encoding= cp1252 ", "delimiter2=\\t"],
    )
    assert config["options"] == {
        "delimiter": "\t",
        "quote": " ",
        "encoding": "cp1252",
        "delimiter2": "\\t",
    }


# -- header ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (
            ["id", "", "title", "", "column_2"],
            ["id", "column_2_2", "title", "column_4", "column_2"],
        ),
        (["a", "a", "a_2"], ["a", "a_2_2", "a_2"]),
        (["a", "a", "a_2", "a_2_2"], ["a", "a_2_3", "a_2", "a_2_2"]),
        (["", "column_1", "column_1"], ["column_1_2", "column_1", "column_1_3"]),
        (["x", " x ", "x"], ["x", " x ", "x_3"]),
    ],
)
def test_invented_header_names_never_take_a_real_one(
    header: list[str], expected: list[str]
) -> None:
    assert unique_names(header) == expected
    assert len(set(expected)) == len(expected)


def test_a_header_row_of_delimiters_only_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", ",,\n1,A,x\n2,B,y\n")
    with pytest.raises(SourceUnreadable, match=r"line 1\) names no column"):
        read(path)
    with pytest.raises(SourceUnreadable, match="names no column"):
        IMPORTER.scan(path, OPENER, NO_OPTIONS)


def test_blank_lines_before_the_header_are_skipped(tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "\n   \n\ntitle,body\nA,a\n")
    assert names(path) == ["A"]
    assert items(path)[0].locator.line == 5
