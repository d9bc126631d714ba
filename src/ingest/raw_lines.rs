//! CSV records with their line numbers and raw text, so a reject can quote the exact line.

/// One CSV record: its fields, its 1-based line number and the raw text of the line(s).
pub(crate) struct RawRecord<'a> {
    pub line_no: u64,
    pub fields: Vec<String>,
    pub raw: &'a str,
}

/// A CSV file whose header holds every required column: the lower-cased header, the data
/// records and each required column's index.
pub(crate) struct CheckedCsv<'a> {
    pub header: Vec<String>,
    pub records: Vec<RawRecord<'a>>,
    pub index: std::collections::BTreeMap<&'static str, usize>,
}

/// [`csv_records`] with the header checked for `required` columns (case- and
/// space-insensitive).
///
/// # Errors
/// A one-line reason when the file is empty or a required column is missing.
pub(crate) fn csv_with_columns<'a>(
    text: &'a str,
    required: &[&'static str],
) -> Result<CheckedCsv<'a>, String> {
    let (header, records) = csv_records(text);
    let header: Vec<String> = header
        .ok_or_else(|| "the file is empty (expected a header row)".to_owned())?
        .iter()
        .map(|h| h.trim().to_ascii_lowercase())
        .collect();
    let col = |n: &str| header.iter().position(|h| h == n);
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|n| col(n).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "missing column(s) {}; expected {}",
            missing.join(", "),
            required.join(",")
        ));
    }
    let index = required.iter().map(|n| (*n, col(n).unwrap_or(0))).collect();
    Ok(CheckedCsv {
        header,
        records,
        index,
    })
}

/// Splits CSV `text` into the header and the data records. Quoted fields may contain
/// commas; blank lines are skipped. A malformed record (e.g. an unterminated quote) is
/// returned with the fields the parser could read.
pub(crate) fn csv_records(text: &str) -> (Option<Vec<String>>, Vec<RawRecord<'_>>) {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut starts: Vec<(u64, usize, Vec<String>)> = Vec::new();
    let mut record = csv::StringRecord::new();
    // Line numbers come from byte offsets (the reader's own line count skips blank lines).
    let (mut counted_to, mut line) = (0usize, 1u64);
    loop {
        let pos = match reader.read_record(&mut record) {
            Ok(true) => record.position().cloned(),
            Ok(false) => break,
            Err(e) => {
                // Keep going: the bad record becomes a reject with what could be read.
                let pos = e.position().cloned();
                record.clear();
                pos
            }
        };
        let mut byte = pos
            .map_or(counted_to, |p| {
                usize::try_from(p.byte()).unwrap_or(usize::MAX)
            })
            .min(text.len());
        // A record's position is where the reader started, before any blank lines it skipped.
        while byte < text.len() && matches!(text.as_bytes()[byte], b'\n' | b'\r') {
            byte += 1;
        }
        if byte > counted_to {
            line += text.as_bytes()[counted_to..byte]
                .iter()
                .filter(|b| **b == b'\n')
                .count() as u64;
            counted_to = byte;
        }
        if record.iter().all(str::is_empty) {
            continue;
        }
        starts.push((line, byte, record.iter().map(str::to_owned).collect()));
    }
    let mut out = Vec::with_capacity(starts.len());
    for i in 0..starts.len() {
        let (line_no, start, _) = &starts[i];
        let end = starts.get(i + 1).map_or(text.len(), |n| n.1);
        let raw = text
            .get(*start..end.max(*start))
            .unwrap_or("")
            .trim_end_matches(['\r', '\n']);
        out.push(RawRecord {
            line_no: *line_no,
            fields: std::mem::take(&mut starts[i].2),
            raw,
        });
    }
    let mut it = out.into_iter();
    let header = it.next().map(|h| h.fields);
    (header, it.collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_keep_line_numbers_and_raw_text() {
        let text = "a,b\n1,\"x, y\"\n\n2,z\r\n";
        let (header, rows) = csv_records(text);
        assert_eq!(header.unwrap(), vec!["a", "b"]);
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[0].line_no, 2);
        assert_eq!(rows[0].fields, vec!["1", "x, y"]);
        assert_eq!(rows[0].raw, "1,\"x, y\"");
        assert_eq!(rows[1].line_no, 4);
        assert_eq!(rows[1].raw, "2,z");
    }
}
