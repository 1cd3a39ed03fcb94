"""The one HTML table renderer: captions, totals, header rows and cells that need HTML."""

from r21d_edu._tables import TABLE_STYLE, Cell, html_table


def test_plain_tables_are_as_before():
    assert html_table([["a < b", 1]], ["what", "n"]) == (
        "<table><tr><th>what</th><th>n</th></tr><tr><td>a &lt; b</td><td>1</td></tr></table>")


def test_caption_totals_cells_and_spans():
    page = html_table([[Cell("<code>x</code>", raw=True), Cell("1,000", num=True)]],
                      [Cell("name", rowspan=2), "n"], sections=True, caption="a & b",
                      total=["total", Cell("1,000", num=True)], header_rows=[["count"]])
    assert page.startswith(TABLE_STYLE + "<table class='r21d-table'><caption>a &amp; b</caption>")
    assert "<th rowspan='2'>name</th>" in page and "<tr><th>count</th></tr></thead>" in page
    assert "<td><code>x</code></td><td class='num'>1,000</td>" in page
    assert "<tr class='total'><td>total</td><td class='num'>1,000</td></tr></tbody>" in page
