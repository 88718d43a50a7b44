//! Writing CSV (RFC 4180) for the export and the Cancellation Summary Report: quoting, and
//! neutralising spreadsheet formulas in free text.
//!
//! Written here rather than with the `csv` crate because the rules are few and exact — quote a
//! cell that holds `,` `"` CR or LF, double its quotes, end rows with CRLF — and the part that needs
//! care, formula injection, is ours either way: a cell of **free text** (notes, names, who did it,
//! wrap codes, reasons — anything a client typed) that starts with `=`, `+`, `-`, `@`, a tab or a
//! CR is prefixed with `'`, so a spreadsheet shows it as text instead of running it. **Values Rebound
//! generates or validated** (ids, E.164 numbers, instants, counts, state names) are written exactly
//! as the JSON API shows them: none can carry a formula, and a consumer joining the export with the
//! API must see the same text (`+442073794334`, a priority of `-1`).

/// The characters that make a spreadsheet read a cell as a formula.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One row being appended to a buffer: cells separated by commas, ended by [`Row::end`] with CRLF.
pub struct Row<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Row<'a> {
    pub fn start(out: &'a mut String) -> Row<'a> {
        Row { out, first: true }
    }

    fn separate(&mut self) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
    }

    /// A value Rebound produced or validated: quoted if needed, never altered.
    pub fn value(&mut self, cell: &str) -> &mut Self {
        self.separate();
        quote_into(self.out, cell, false);
        self
    }

    /// An optional value: empty when absent.
    pub fn opt_value(&mut self, cell: Option<&str>) -> &mut Self {
        self.value(cell.unwrap_or(""))
    }

    /// Free text from a client: formula starts neutralised, quoted if needed.
    pub fn text(&mut self, cell: &str) -> &mut Self {
        self.separate();
        quote_into(self.out, cell, cell.starts_with(FORMULA_STARTS));
        self
    }

    pub fn opt_text(&mut self, cell: Option<&str>) -> &mut Self {
        self.text(cell.unwrap_or(""))
    }

    pub fn end(&mut self) {
        self.out.push_str("\r\n");
    }
}

/// Appends one CSV cell, prefixed with `'` when `neutralise`.
fn quote_into(out: &mut String, cell: &str, neutralise: bool) {
    let needs_quotes = cell.contains([',', '"', '\r', '\n']);
    if needs_quotes {
        out.push('"');
    }
    if neutralise {
        out.push('\'');
    }
    if needs_quotes {
        for c in cell.chars() {
            if c == '"' {
                out.push('"');
            }
            out.push(c);
        }
        out.push('"');
    } else {
        out.push_str(cell);
    }
}

/// A header row.
pub fn header(out: &mut String, names: &[&str]) {
    let mut row = Row::start(out);
    for name in names {
        row.value(name);
    }
    row.end();
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(cells: &[(&str, bool)]) -> String {
        let mut out = String::new();
        let mut row = Row::start(&mut out);
        for (cell, text) in cells {
            if *text {
                row.text(cell);
            } else {
                row.value(cell);
            }
        }
        row.end();
        out
    }

    #[test]
    fn plain_cells_are_written_as_they_are_with_crlf_rows() {
        assert_eq!(row(&[("a", false), ("b c", true), ("", false)]), "a,b c,\r\n");
    }

    #[test]
    fn commas_quotes_and_line_breaks_are_quoted_and_quotes_doubled() {
        assert_eq!(
            row(&[("a,b", true), ("say \"hi\"", true), ("two\nlines", true), ("cr\r", false)]),
            "\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"cr\r\"\r\n"
        );
    }

    #[test]
    fn free_text_starting_like_a_formula_is_prefixed_but_values_are_not() {
        assert_eq!(
            row(&[("=SUM(A1)", true), ("+1", true), ("-2", true), ("@x", true), ("\tx", true)]),
            "'=SUM(A1),'+1,'-2,'@x,'\tx\r\n"
        );
        assert_eq!(row(&[("+442073794334", false), ("-1", false)]), "+442073794334,-1\r\n");
        // Inside quotes the prefix comes after the opening quote, so it is part of the cell.
        assert_eq!(row(&[("=HYPERLINK(\"x\",\"y\")", true)]), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"\r\n");
        // Only the start counts.
        assert_eq!(row(&[("a=b", true)]), "a=b\r\n");
    }

    #[test]
    fn what_is_written_reads_back_with_an_independent_parser() {
        let cells = ["plain", "a,b", "q\"uote", "multi\r\nline", "=1+1", "", " spaced "];
        let mut out = String::new();
        header(&mut out, &["h1", "h2", "h3", "h4", "h5", "h6", "h7"]);
        let mut row = Row::start(&mut out);
        for cell in cells {
            row.text(cell);
        }
        row.end();
        let mut reader = ::csv::ReaderBuilder::new().has_headers(true).from_reader(out.as_bytes());
        let records: Vec<::csv::StringRecord> = reader.records().map(|r| r.expect("a valid record")).collect();
        assert_eq!(records.len(), 1);
        let read: Vec<&str> = records[0].iter().collect();
        assert_eq!(read, ["plain", "a,b", "q\"uote", "multi\r\nline", "'=1+1", "", " spaced "]);
    }
}
