//! The file line each kept row came from, for messages that name a cell's line.
//!
//! Why not a number per row: in nearly every file, row after row sits on the next line, so a
//! line number per row (8 bytes) cost more than most columns (a dictionary code is 2). Stored as
//! runs of rows on consecutive lines, a tidy file takes one run; every skipped row, blank line or
//! quoted line break starts another.

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
