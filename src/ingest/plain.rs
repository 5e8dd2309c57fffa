//! Plain lines: the records that need no CSV tokenizer.
//!
//! Nearly every line of a payments export is a record with no quote in it, ended by `\n` or
//! `\r\n`: its fields are the bytes between delimiters. Such a line is split here straight from
//! the input, eight bytes at a time, instead of going byte by byte through csv-core's state
//! machine, which also copies every field byte into a record buffer. csv-core had ~20% of the time
//! of reading a 1M-row file; this split takes a fraction of that. Any other line (a quote, a lone
//! `\r`, a line not yet ended in the input) is left to csv-core, which reads it exactly as before:
//! the split must find the same fields csv-core would, and the tests check that it does.
//!
//! Hand-written because no CSV crate offers it for pushed chunks: simd-csv's readers pull from an
//! `io::Read` and own the buffer, while the core is fed chunks by the host.

/// Whether lines may be split here: always, but tests compare with csv-core reading alone.
#[cfg(not(test))]
#[inline(always)]
pub fn enabled() -> bool {
    true
}

#[cfg(test)]
thread_local! {
    static DISABLED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[cfg(test)]
pub fn enabled() -> bool {
    !DISABLED.with(|disabled| disabled.get())
}

#[cfg(test)]
pub fn disable_for_this_thread(disabled: bool) {
    DISABLED.with(|cell| cell.set(disabled));
}

/// One in each byte of a word.
const ONES: u64 = 0x0101_0101_0101_0101;
/// The high bit of each byte of a word.
const HIGH: u64 = 0x8080_8080_8080_8080;

/// The high bit set in each byte of `word` equal to `byte`, and no other bit. Exact, unlike the
/// shorter "has a zero byte" test: no carry crosses from one byte to the next.
#[inline(always)]
fn bytes_equal(word: u64, byte: u8) -> u64 {
    let diff = word ^ (ONES * u64::from(byte));
    !(((diff & !HIGH) + !HIGH) | diff) & HIGH
}

/// Splits the line at the start of `text` when it is plain: no quote before its `\n`, and no
/// `\r` except one just before it. Returns the length of the line with its line break (what was
/// consumed), and leaves in `ends` the end of each field (the `\r` of a CRLF excluded); `None`
/// when the line is not plain or its `\n` is not in `text`, with `ends` then meaningless.
#[inline(always)]
pub fn split_line(text: &[u8], delimiter: u8, ends: &mut Vec<usize>) -> Option<usize> {
    ends.clear();
    let mut at = 0;
    while at + 8 <= text.len() {
        let bytes: [u8; 8] = text[at..at + 8].try_into().ok()?;
        let word = u64::from_le_bytes(bytes);
        let mut found = bytes_equal(word, delimiter)
            | bytes_equal(word, b'\n')
            | bytes_equal(word, b'"')
            | bytes_equal(word, b'\r');
        while found != 0 {
            let index = at + (found.trailing_zeros() / 8) as usize;
            if let Some(consumed) = structural(text, index, delimiter, ends)? {
                return Some(consumed);
            }
            found &= found - 1;
        }
        at += 8;
    }
    for index in at..text.len() {
        let byte = text[index];
        if byte == delimiter || byte == b'\n' || byte == b'"' || byte == b'\r' {
            if let Some(consumed) = structural(text, index, delimiter, ends)? {
                return Some(consumed);
            }
        }
    }
    None
}

/// Handles the delimiter, quote or line break at `index`: `Some(Some(consumed))` at the end of
/// the line, `Some(None)` to go on, `None` when the line is not plain.
#[inline(always)]
fn structural(
    text: &[u8],
    index: usize,
    delimiter: u8,
    ends: &mut Vec<usize>,
) -> Option<Option<usize>> {
    match text[index] {
        // A line wider than any header may be is left to csv-core, which counts its fields
        // without keeping them (`MAX_COLUMNS`).
        byte if byte == delimiter && ends.len() < super::MAX_COLUMNS => {
            ends.push(index);
            Some(None)
        }
        b'\n' => {
            ends.push(index);
            Some(Some(index + 1))
        }
        // csv-core ends a record at a lone `\r` too; only the CRLF pair is taken here.
        b'\r' if text.get(index + 1) == Some(&b'\n') => {
            ends.push(index);
            Some(Some(index + 2))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// csv-core's fields of the first record of `text`, and the bytes it consumed.
    fn csv_core_fields(text: &[u8], delimiter: u8) -> (Vec<Vec<u8>>, usize) {
        let mut reader = csv_core::ReaderBuilder::new().delimiter(delimiter).build();
        let mut output = vec![0; text.len() + 1];
        let mut ends = vec![0; text.len() + 1];
        let (_, read, _, fields) = reader.read_record(text, &mut output, &mut ends);
        let mut start = 0;
        let cells = ends[..fields]
            .iter()
            .map(|&end| {
                let cell = output[start..end].to_vec();
                start = end;
                cell
            })
            .collect();
        (cells, read)
    }

    fn plain_fields(text: &[u8], delimiter: u8) -> Option<(Vec<Vec<u8>>, usize)> {
        let mut ends = Vec::new();
        let consumed = split_line(text, delimiter, &mut ends)?;
        let mut start = 0;
        let cells = ends
            .iter()
            .map(|&end| {
                let cell = text[start..end].to_vec();
                start = end + 1;
                cell
            })
            .collect();
        Some((cells, consumed))
    }

    #[test]
    fn finds_each_byte_of_a_word_exactly() {
        for position in 0..8 {
            for other in [0u8, 1, b'\n' - 1, b'\n' + 1, 0x80, 0x8a, 0xff] {
                let mut bytes = [other; 8];
                bytes[position] = b'\n';
                let found = bytes_equal(u64::from_le_bytes(bytes), b'\n');
                assert_eq!(found, 0x80 << (8 * position), "{bytes:?}");
            }
        }
    }

    #[test]
    fn plain_lines_split_as_csv_core_reads_them() {
        let alphabet = [b'a', b'1', b' ', b'.', b'-', 0xe4, 0xb8, 0xad];
        let mut seed = 0x2545_f491_u64;
        let mut next = |bound: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % bound
        };
        for delimiter in [b',', b';', b'\t', b'|'] {
            // 5,000 random lines a delimiter: ~4 s in the debug build (20,000 took 17 s).
            for _ in 0..5_000 {
                let length = next(40) as usize;
                let mut line: Vec<u8> = (0..length)
                    .map(|_| match next(6) {
                        0 => delimiter,
                        _ => alphabet[next(alphabet.len() as u64) as usize],
                    })
                    .collect();
                if next(2) == 0 {
                    line.push(b'\r');
                }
                line.extend_from_slice(b"\nnext,line\n");
                // The stream passes over blank lines itself before it asks for a record.
                if length == 0 {
                    continue;
                }
                let Some(plain) = plain_fields(&line, delimiter) else {
                    panic!("{:?} is plain", String::from_utf8_lossy(&line));
                };
                let expected = csv_core_fields(&line, delimiter);
                // csv-core leaves the \n of a CRLF for the next call.
                let crlf = line[..plain.1].ends_with(b"\r\n");
                assert_eq!(plain.0, expected.0, "{:?}", String::from_utf8_lossy(&line));
                assert_eq!(plain.1, expected.1 + usize::from(crlf));
            }
        }
    }

    #[test]
    fn quotes_lone_carriage_returns_and_unended_lines_are_left_to_csv_core() {
        let mut ends = Vec::new();
        for text in [
            &b"a,\"b\",c\n"[..],
            b"a,b\"c\n",
            b"long enough field,\"x\"\n",
            b"a,b\rc\n",
            b"a,b,c",
            b"a,b,c\r",
            b"0123456789,0123456789",
        ] {
            assert_eq!(split_line(text, b',', &mut ends), None, "{text:?}");
        }
        assert_eq!(split_line(b"a,b\r\n", b',', &mut ends), Some(5));
        assert_eq!(ends, [1, 3]);
        assert_eq!(
            split_line(b"0123456789,0123456789\nx", b',', &mut ends),
            Some(22)
        );
        assert_eq!(ends, [10, 21]);
    }
}
