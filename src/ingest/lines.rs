//! The file line each kept row came from, for messages that name a cell's line.
//!
//! Why not a number per row: in nearly every file, row after row sits on the next line, so a
//! line number per row (8 bytes) cost more than most columns (a dictionary code is 2). Stored as
//! runs of rows on consecutive lines, a tidy file takes one run; every skipped row, blank line or
//! quoted line break starts another.

/// The largest line a part of a file read by another stream may name (2^53: far past any file,
/// and far from overflowing when moved by the lines before the part).
pub(super) const MAX_LINE: u64 = 1 << 53;

/// Line numbers of rows, as runs of consecutive lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Lines {
    /// Each run's first row and that row's line: row `row + k` of the run is on line `line + k`.
    runs: Vec<Run>,
    len: usize,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Run {
    row: usize,
    line: u64,
}

impl Lines {
    /// Adds the next row, which starts on `line`.
    pub fn push(&mut self, line: u64) {
        let continues = self
            .runs
            .last()
            .is_some_and(|run| run.line + (self.len - run.row) as u64 == line);
        if !continues {
            self.runs.push(Run {
                row: self.len,
                line,
            });
        }
        self.len += 1;
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The line of row `row`; `None` past the last row.
    pub fn get(&self, row: usize) -> Option<u64> {
        if row >= self.len {
            return None;
        }
        // The last run starting at or before `row` (the first run starts at row 0).
        let run = self.runs[self.runs.partition_point(|run| run.row <= row) - 1];
        Some(run.line + (row - run.row) as u64)
    }

    /// Every row's line, in row order.
    pub fn iter(&self) -> impl Iterator<Item = u64> + '_ {
        self.runs.iter().enumerate().flat_map(move |(i, run)| {
            let end = self.runs.get(i + 1).map_or(self.len, |next| next.row);
            (0..(end - run.row) as u64).map(move |k| run.line + k)
        })
    }

    pub fn heap_bytes(&self) -> usize {
        self.runs.capacity() * std::mem::size_of::<Run>()
    }

    /// Writes the rows' lines for a part of a file read by another stream (see
    /// `CsvStream::finish_part`): the row count, then each run's first row and line.
    pub(super) fn write_part(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&(self.len as u64).to_le_bytes());
        out.extend_from_slice(&(self.runs.len() as u64).to_le_bytes());
        for run in &self.runs {
            out.extend_from_slice(&(run.row as u64).to_le_bytes());
            out.extend_from_slice(&run.line.to_le_bytes());
        }
    }

    /// Reads what `write_part` wrote; `None` when the runs do not hold together (they must
    /// start at row 0, on rows in order below the row count, on lines in order).
    pub(super) fn read_part(part: &mut super::part::PartReader) -> Option<Lines> {
        let len = usize::try_from(part.u64()?).ok()?;
        let count = part.count(16)?;
        let mut runs: Vec<Run> = Vec::with_capacity(count);
        for _ in 0..count {
            let row = usize::try_from(part.u64()?).ok()?;
            let line = part.u64()?;
            // Rows in order from row 0; lines in order too (two records may share a line when
            // a lone `\r` ends the first).
            let in_order = match runs.last() {
                None => row == 0,
                Some(last) => row > last.row && line >= last.line,
            };
            if !in_order || row >= len || line == 0 || line > MAX_LINE {
                return None;
            }
            runs.push(Run { row, line });
        }
        // Every row in a run, and no run counting lines past `MAX_LINE`.
        let fits = match runs.last() {
            None => len == 0,
            Some(last) => last.line.saturating_add((len - last.row) as u64) <= MAX_LINE,
        };
        fits.then_some(Lines { runs, len })
    }

    /// Appends the rows of `other`, a part of the file read by another stream whose line 1 is
    /// this file's line `shift + 1`: its runs are moved by `shift` lines, and its first run joins
    /// the last one here when it continues it, as if its rows had been pushed one by one.
    pub(super) fn append_shifted(&mut self, other: &Lines, shift: u64) {
        for (i, run) in other.runs.iter().enumerate() {
            let line = run.line + shift;
            let continues = i == 0
                && self
                    .runs
                    .last()
                    .is_some_and(|last| last.line + (self.len - last.row) as u64 == line);
            if !continues {
                self.runs.push(Run {
                    row: self.len + run.row,
                    line,
                });
            }
        }
        self.len += other.len;
    }
}

impl FromIterator<u64> for Lines {
    fn from_iter<I: IntoIterator<Item = u64>>(lines: I) -> Lines {
        let mut all = Lines::default();
        lines.into_iter().for_each(|line| all.push(line));
        all
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_row_keeps_its_line_across_gaps() {
        let written = [2, 3, 4, 7, 8, 10, 11, 12, 20];
        let lines: Lines = written.into_iter().collect();
        assert_eq!(lines.len(), written.len());
        assert_eq!(lines.runs.len(), 4);
        for (row, &line) in written.iter().enumerate() {
            assert_eq!(lines.get(row), Some(line));
        }
        assert_eq!(lines.get(written.len()), None);
        assert!(lines.iter().eq(written));
        let tidy: Lines = (2..1_000_002).collect();
        assert_eq!((tidy.runs.len(), tidy.get(999_999)), (1, Some(1_000_001)));
    }
}
