//! Writing CSV (RFC 4180) for the export and the Cancellation Summary Report: quoting, and
//! neutralising spreadsheet formulas in every cell.
//!
//! Written here rather than with the `csv` crate because the rules are few and exact — quote a
//! cell that holds `,` `"` CR or LF, double its quotes, end rows with CRLF — and the part that needs
//! care, formula injection, is ours either way: **every** cell that starts with `=`, `+`, `-`, `@`,
//! a tab or a CR is prefixed with `'`, so a spreadsheet shows it as text instead of running it (the
//! OWASP "CSV injection" rule). That includes values Rebound generated or validated: an E.164 number
//! is written `'+442073794334` and a priority of `-1` as `'-1`. Exempting them would make the
//! safety of a file depend on every column's validation staying perfect forever; the price is that
//! a program joining the export with the API strips one leading `'` (`docs/SECURITY.md` says so).
//!
//! [`Row::value`] and [`Row::text`] therefore write the same thing; both names stay so callers say
//! what they mean (a value Rebound produced, text a client typed).

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

    /// A value Rebound produced or validated: formula starts neutralised, quoted if needed.
    pub fn value(&mut self, cell: &str) -> &mut Self {
        self.text(cell)
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
    fn every_cell_starting_like_a_formula_is_prefixed() {
        assert_eq!(
            row(&[("=SUM(A1)", true), ("+1", true), ("-2", true), ("@x", true), ("\tx", true), ("\rx", true)]),
            "'=SUM(A1),'+1,'-2,'@x,'\tx,\"'\rx\"\r\n"
        );
        // Values Rebound produced too: E.164 numbers and negative numbers.
        assert_eq!(row(&[("+442073794334", false), ("-1", false), ("=x", false)]), "'+442073794334,'-1,'=x\r\n");
        // Inside quotes the prefix comes after the opening quote, so it is part of the cell.
        assert_eq!(row(&[("=HYPERLINK(\"x\",\"y\")", true)]), "\"'=HYPERLINK(\"\"x\"\",\"\"y\"\")\"\r\n");
        // Only the start counts.
        assert_eq!(row(&[("a=b", true), ("1-2", false)]), "a=b,1-2\r\n");
    }

    #[test]
    fn what_is_written_reads_back_with_an_independent_parser() {
        let cells = ["plain", "a,b", "q\"uote", "multi\r\nline", "=1+1", "", " spaced ", "+4420"];
        let mut out = String::new();
        header(&mut out, &["h1", "h2", "h3", "h4", "h5", "h6", "h7", "h8"]);
        let mut row = Row::start(&mut out);
        for cell in cells {
            row.text(cell);
        }
        row.end();
        let mut reader = ::csv::ReaderBuilder::new().has_headers(true).from_reader(out.as_bytes());
        let records: Vec<::csv::StringRecord> = reader.records().map(|r| r.expect("a valid record")).collect();
        assert_eq!(records.len(), 1);
        let read: Vec<&str> = records[0].iter().collect();
        assert_eq!(read, ["plain", "a,b", "q\"uote", "multi\r\nline", "'=1+1", "", " spaced ", "'+4420"]);
    }
}
