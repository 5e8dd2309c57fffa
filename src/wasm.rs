//! The browser bindings: the only wasm-bindgen surface. Every call converts its arguments, calls
//! the core, and converts the result; no logic lives here. Errors become JS `Error`s whose message
//! is the core's readable text.
#[cfg(feature = "parts")]
use crate::ingest::Continuation;
use crate::ingest::{read_decoded_csv, CsvStream};
use crate::report::{build_frame, report_from, Frame};
use crate::sample::{generate, SampleOptions, SampleTables};
use crate::{read_csv, Dataset, ErrorKind, Options, RawTable};
use serde::Serialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(start)]
fn start() {
    // A panic then reaches the console with its message instead of a bare "unreachable".
    console_error_panic_hook::set_once();
}

/// The loaded dataset of one page. Held by the Web Worker.
#[wasm_bindgen]
#[derive(Default)]
pub struct Workbench {
    dataset: Option<Dataset>,
    sample: Option<SampleTables>,
    /// The dataset read through the last data options: reused while only the view changes
    /// (grain, range, filters, segment...), dropped whenever a file is loaded or removed.
    frame: Option<Frame>,
    /// A transactions file too large to hold, read again for each report (`streamReport`), and
    /// the lookups loaded with it; `dataset` is then `None`.
    streamed: Option<Streamed>,
}

#[derive(Default)]
struct Streamed {
    // Read by `streamReport` only: the size build has no streaming (feature `stream`).
    #[cfg_attr(not(feature = "stream"), allow(dead_code))]
    file: String,
    /// The encoding the host decodes the file from (`streamCsv`).
    #[cfg_attr(not(feature = "stream"), allow(dead_code))]
    encoding: Option<String>,
    lookups: Vec<RawTable>,
    /// The last report's fold, for the next view of the same data options (dropped with the
    /// lookups: a join reads them).
    #[cfg(feature = "stream")]
    kept: Option<crate::stream::Folded>,
}

#[derive(Serialize)]
struct Loaded<'a> {
    file: &'a str,
    rows_read: u64,
    columns: &'a [String],
    /// The lookup files loaded with it (the sample's users and merchants).
    lookups: Vec<&'a str>,
}

#[derive(Serialize)]
struct RoleInfo {
    role: &'static str,
    kind: crate::schema::Kind,
    description: &'static str,
}

fn loaded_info(table: &RawTable) -> Loaded<'_> {
    Loaded {
        file: &table.file,
        rows_read: table.rows_read,
        columns: &table.headers,
        lookups: Vec::new(),
    }
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    // json_compatible: maps become plain objects and None becomes null, as in the CLI's JSON.
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

/// The core's error as a JS `Error` whose message is its readable text. A file the core
/// recognises but leaves to the host to decode (GB18030: this build has no legacy-encoding tables,
/// the browser has them) is an `Error` named `NeedsDecoding` whose `encoding` property is the label
/// for `TextDecoder`; the worker decodes the bytes and calls `loadDecodedCsv` / `loadDecodedLookup`
/// (or starts a `CsvUpload` over with the encoding). A file past an upload's memory limit is an
/// `Error` named `TooLarge`, so that the page can tell it from a file it could not read.
fn core_error(error: crate::Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    match &error.kind {
        ErrorKind::NeedsDecoding { encoding } => {
            js.set_name("NeedsDecoding");
            // Cannot fail: a fresh Error is an ordinary extensible object.
            let _ = js_sys::Reflect::set(&js, &"encoding".into(), &encoding.as_str().into());
        }
        ErrorKind::TooLarge { .. } => js.set_name("TooLarge"),
        _ => {}
    }
    js.into()
}

/// Reads a file's bytes; with `encoding`, they are the UTF-8 text the host decoded from it.
fn read_file(file: &str, bytes: &[u8], encoding: Option<&str>) -> Result<RawTable, JsValue> {
    match encoding {
        None => read_csv(file, bytes),
        Some(encoding) => read_decoded_csv(file, bytes, encoding),
    }
    .map_err(core_error)
}

/// A CSV file read in chunks: the worker pushes the slices of a `File` as it reads them, shows
/// the progress each push returns, and hands the upload to `Workbench.finishCsv` or
/// `finishLookup`. The file never has to be in memory whole, only its table does.
#[wasm_bindgen]
pub struct CsvUpload {
    stream: CsvStream,
}

#[wasm_bindgen]
impl CsvUpload {
    /// An upload of the file `file` (the name used in messages). With `encoding`, the chunks are
    /// the UTF-8 text the host decoded from that encoding after `NeedsDecoding`. With
    /// `memory_limit` (bytes; a JS number, as a u64 would have to be a BigInt), a push past it
    /// throws an `Error` named `TooLarge` whose message points to the command-line tool.
    #[wasm_bindgen(constructor)]
    pub fn new(
        file: &str,
        encoding: Option<String>,
        memory_limit: Option<f64>,
        row_reserve: Option<f64>,
    ) -> CsvUpload {
        let stream = match encoding {
            Some(encoding) => CsvStream::decoded(file, &encoding),
            None => CsvStream::new(file),
        };
        CsvUpload {
            stream: limited(stream, memory_limit, row_reserve),
        }
    }

    /// Reads the next chunk of the file and returns the progress `{bytes, rows, memory_bytes}`.
    /// After an error the upload reads no more: start a new one.
    pub fn push(&mut self, chunk: &[u8]) -> Result<JsValue, JsValue> {
        self.stream.push(chunk).map_err(core_error)?;
        Ok(to_js(&self.stream.progress())?)
    }

    /// Tells the upload the file's size (`File.size`), so that it sizes its columns once for
    /// the whole file and a file too large for the memory limit is refused early.
    #[wasm_bindgen(js_name = expectBytes)]
    pub fn expect_bytes(&mut self, total: f64) {
        self.stream.expect_bytes(total as u64);
    }

    /// The progress so far, as `push` returns it.
    pub fn progress(&self) -> Result<JsValue, JsError> {
        to_js(&self.stream.progress())
    }
}

/// Reading a file in two parts, by two workers (www/src/parts.js): only the speed build, which
/// reads the large files, has these (the size build would carry ~21 KB gzip it never runs).
#[cfg(feature = "parts")]
#[wasm_bindgen]
impl CsvUpload {
    /// What a second reader needs to read the rest of the file from a record boundary on:
    /// `null` until the header is read, and for a file that is not UTF-8.
    pub fn continuation(&self) -> Result<JsValue, JsError> {
        match self.stream.continuation() {
            Some(continuation) => to_js(&continuation),
            None => Ok(JsValue::NULL),
        }
    }

    /// An upload of a part of a file that starts at a record boundary, given the `continuation`
    /// of the upload that read the file's start (in another worker).
    pub fn resume(continuation: JsValue, memory_limit: Option<f64>) -> Result<CsvUpload, JsError> {
        let continuation: Continuation = serde_wasm_bindgen::from_value(continuation)
            .map_err(|error| JsError::new(&format!("not a continuation: {error}")))?;
        Ok(CsvUpload {
            stream: limited(CsvStream::resume(continuation), memory_limit, None),
        })
    }

    /// Whether the bytes pushed so far end between two records (not inside a quoted field).
    #[wasm_bindgen(js_name = atRecordBoundary)]
    pub fn at_record_boundary(&self) -> bool {
        self.stream.at_record_boundary()
    }

    /// Ends an upload made by `resume`: its rows as bytes, for `appendPart` in the other worker.
    #[wasm_bindgen(js_name = finishPart)]
    pub fn finish_part(self) -> Result<Vec<u8>, JsValue> {
        self.stream.finish_part().map_err(core_error)
    }

    /// Appends the rows of a part (`finishPart`'s bytes) that starts where this upload's bytes
    /// end; returns the progress. Throws, leaving the upload as it was, when the part is damaged;
    /// throws `TooLarge` past the memory limit.
    #[wasm_bindgen(js_name = appendPart)]
    pub fn append_part(&mut self, part: &[u8]) -> Result<JsValue, JsValue> {
        self.stream.append_part(part).map_err(core_error)?;
        Ok(to_js(&self.stream.progress())?)
    }
}

/// `stream` with the host's memory limit (bytes) and row reserve (bytes a row), when given.
fn limited(stream: CsvStream, memory_limit: Option<f64>, row_reserve: Option<f64>) -> CsvStream {
    match memory_limit {
        // `as` saturates: a negative or NaN limit is 0, a huge one no limit at all.
        Some(limit) => stream.with_memory_limit(limit as u64, row_reserve.unwrap_or(0.0) as u64),
        None => stream,
    }
}

impl Workbench {
    fn load(&mut self, table: RawTable) -> Result<JsValue, JsValue> {
        let loaded = to_js(&loaded_info(&table))?;
        self.dataset = Some(Dataset::new(table));
        self.frame = None;
        self.streamed = None;
        Ok(loaded)
    }

    fn add_lookup(&mut self, table: RawTable) -> Result<JsValue, JsValue> {
        let loaded = to_js(&loaded_info(&table))?;
        match (&mut self.dataset, &mut self.streamed) {
            (Some(dataset), _) => dataset.add_lookup(table),
            (None, Some(streamed)) => {
                // As `Dataset::add_lookup`: a lookup of the same name is replaced.
                streamed.lookups.retain(|t| t.file != table.file);
                streamed.lookups.push(table);
                #[cfg(feature = "stream")]
                {
                    streamed.kept = None;
                }
            }
            (None, None) => {
                return Err(JsError::new("load a transactions file before a lookup file").into())
            }
        }
        self.frame = None;
        Ok(loaded)
    }

    /// The lookups of the current dataset, held or streamed.
    fn lookups(&self) -> &[RawTable] {
        match (&self.dataset, &self.streamed) {
            (Some(dataset), _) => &dataset.lookups,
            (None, Some(streamed)) => &streamed.lookups,
            (None, None) => &[],
        }
    }
}

#[wasm_bindgen]
impl Workbench {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Workbench {
        Workbench::default()
    }

    /// Reads a transactions CSV file's bytes and makes it the current dataset (without lookups).
    /// A GB18030 file throws an `Error` named `NeedsDecoding` (see `core_error`).
    #[wasm_bindgen(js_name = loadCsv)]
    pub fn load_csv(&mut self, file: &str, bytes: &[u8]) -> Result<JsValue, JsValue> {
        self.load(read_file(file, bytes, None)?)
    }

    /// `loadCsv` for a file the host decoded to UTF-8 from `encoding` after `NeedsDecoding`.
    #[wasm_bindgen(js_name = loadDecodedCsv)]
    pub fn load_decoded_csv(
        &mut self,
        file: &str,
        utf8: &[u8],
        encoding: &str,
    ) -> Result<JsValue, JsValue> {
        self.load(read_file(file, utf8, Some(encoding))?)
    }

    /// Reads a lookup file (users, merchants, orders...) and adds it to the current dataset;
    /// a lookup of the same name is replaced. Join it with the report options' `joins`.
    /// A GB18030 file throws an `Error` named `NeedsDecoding` (see `core_error`).
    #[wasm_bindgen(js_name = loadLookup)]
    pub fn load_lookup(&mut self, file: &str, bytes: &[u8]) -> Result<JsValue, JsValue> {
        self.add_lookup(read_file(file, bytes, None)?)
    }

    /// `loadLookup` for a file the host decoded to UTF-8 from `encoding` after `NeedsDecoding`.
    #[wasm_bindgen(js_name = loadDecodedLookup)]
    pub fn load_decoded_lookup(
        &mut self,
        file: &str,
        utf8: &[u8],
        encoding: &str,
    ) -> Result<JsValue, JsValue> {
        self.add_lookup(read_file(file, utf8, Some(encoding))?)
    }

    /// Reads the rest of an upload and makes it the current dataset, as `loadCsv` does. The
    /// upload is used up, whether it succeeds or not. A GB18030 file shorter than the 64 KiB the
    /// upload gathers before reading throws `NeedsDecoding` here rather than from `push`.
    #[wasm_bindgen(js_name = finishCsv)]
    pub fn finish_csv(&mut self, upload: CsvUpload) -> Result<JsValue, JsValue> {
        self.load(upload.stream.finish().map_err(core_error)?)
    }

    /// Reads the rest of an upload and adds it to the current dataset as a lookup file, as
    /// `loadLookup` does.
    #[wasm_bindgen(js_name = finishLookup)]
    pub fn finish_lookup(&mut self, upload: CsvUpload) -> Result<JsValue, JsValue> {
        self.add_lookup(upload.stream.finish().map_err(core_error)?)
    }

    /// Bytes the loaded tables hold on the wasm heap (transactions and lookups; not the frame
    /// built from them), for the worker's memory budget. A number: a u64 would be a BigInt.
    #[wasm_bindgen(js_name = heapBytes)]
    pub fn heap_bytes(&self) -> f64 {
        let transactions = self
            .dataset
            .as_ref()
            .map_or(0, |dataset| dataset.transactions.heap_bytes());
        let lookups: usize = self.lookups().iter().map(RawTable::heap_bytes).sum();
        (transactions + lookups) as f64
    }

    /// Removes a lookup file from the current dataset.
    #[wasm_bindgen(js_name = removeLookup)]
    pub fn remove_lookup(&mut self, file: &str) {
        if let Some(dataset) = self.dataset.as_mut() {
            dataset.lookups.retain(|t| t.file != file);
            self.frame = None;
        }
        if let Some(streamed) = self.streamed.as_mut() {
            streamed.lookups.retain(|t| t.file != file);
            #[cfg(feature = "stream")]
            {
                streamed.kept = None;
            }
        }
    }

    /// Generates the built-in sample and loads its transactions table, with its users and
    /// merchants tables as lookups. The seed is a u32 so that JS passes a plain number (a u64
    /// would have to be a BigInt).
    #[wasm_bindgen(js_name = loadSample)]
    pub fn load_sample(&mut self, rows: usize, seed: u32) -> Result<JsValue, JsError> {
        let tables = generate(&SampleOptions {
            rows,
            seed: u64::from(seed),
        });
        let read = |name: &str, text: &str| {
            read_csv(name, text.as_bytes()).map_err(|e| JsError::new(&e.to_string()))
        };
        let mut dataset = Dataset::new(read("sample-transactions.csv", &tables.transactions)?);
        dataset.add_lookup(read("sample-users.csv", &tables.users)?);
        dataset.add_lookup(read("sample-merchants.csv", &tables.merchants)?);
        let loaded = to_js(&Loaded {
            lookups: dataset.lookups.iter().map(|t| t.file.as_str()).collect(),
            ..loaded_info(&dataset.transactions)
        })?;
        self.dataset = Some(dataset);
        self.frame = None;
        self.streamed = None;
        self.sample = Some(tables);
        Ok(loaded)
    }

    /// The CSV text of one table of the last generated sample: transactions, users or merchants.
    #[wasm_bindgen(js_name = sampleFile)]
    pub fn sample_file(&self, kind: &str) -> Result<String, JsError> {
        let tables = self
            .sample
            .as_ref()
            .ok_or_else(|| JsError::new("no sample has been generated"))?;
        match kind {
            "transactions" => Ok(tables.transactions.clone()),
            "users" => Ok(tables.users.clone()),
            "merchants" => Ok(tables.merchants.clone()),
            _ => Err(JsError::new(&format!("no sample table called {kind:?}"))),
        }
    }

    /// The roles a column can be mapped to, for the page's mapping controls.
    pub fn roles(&self) -> Result<JsValue, JsError> {
        let roles: Vec<RoleInfo> = crate::schema::Role::ALL
            .into_iter()
            .map(|role| RoleInfo {
                role: role.id(),
                kind: role.kind(),
                description: role.description(),
            })
            .collect();
        to_js(&roles)
    }

    /// The IANA time zone names this build knows, for the page's time-zone picker.
    pub fn zones(&self) -> Vec<String> {
        crate::time::iana_zone_names().map(str::to_string).collect()
    }

    /// What each custom metric definition (an array of `name = formula` strings) would give on
    /// the data of the last report, without computing it: `[{definition, id, formula, error}]`
    /// (see docs/report.md, "Custom metrics"). Empty before the first report.
    #[wasm_bindgen(js_name = checkMetrics)]
    pub fn check_metrics(&self, definitions: Vec<String>) -> Result<JsValue, JsError> {
        let outcomes = match (&self.dataset, &self.frame) {
            (Some(dataset), Some(frame)) => {
                crate::report::check_custom_metrics(dataset, frame, &definitions)
            }
            _ => {
                // A streamed file: its columns and mapping, as its last report read them.
                #[cfg(feature = "stream")]
                if let Some(kept) = self.streamed.as_ref().and_then(|s| s.kept.as_ref()) {
                    return to_js(&kept.check_custom_metrics(&definitions));
                }
                Vec::new()
            }
        };
        to_js(&outcomes)
    }

    /// The report of the current dataset (see docs/report.md) under `options`
    /// (`{grain, tz, mapping}`, all optional).
    pub fn report(&mut self, options: JsValue) -> Result<JsValue, JsError> {
        let dataset = self
            .dataset
            .as_ref()
            .ok_or_else(|| JsError::new("no file is loaded"))?;
        // Through JSON text, not serde_wasm_bindgen::from_value: that reads only the fields a
        // struct declares, so a misspelt option would be ignored instead of refused. (The SQL
        // binding reads its options the same way: `options_of`.)
        let options: Options = if options.is_undefined() || options.is_null() {
            Options::default()
        } else {
            let text: String = js_sys::JSON::stringify(&options)
                .map_err(|_| JsError::new("invalid options: not JSON-shaped"))?
                .into();
            serde_json::from_str(&text)
                .map_err(|e| JsError::new(&format!("invalid options: {e}")))?
        };
        let error = |e: crate::Error| JsError::new(&e.to_string());
        let frame = match self.frame.take() {
            Some(frame) if frame.fits(&options) => frame,
            _ => build_frame(dataset, &options).map_err(error)?,
        };
        let report = report_from(dataset, &frame, &options);
        self.frame = Some(frame);
        // As JSON text parsed by the host's JSON.parse, not through `to_js`: a report is a large
        // tree (a segmented daily report of 1M rows is ~700 KB of JSON), and building it value
        // by value across the boundary was slower (in Node, 1M rows: segmented 38 ms against
        // 26 ms, daily 7 ms either way). The object is the same as the CLI's `--json`.
        report_to_js(&report.map_err(error)?)
    }
}

/// A report as the JS object `JSON.parse` makes of its JSON text (see `Workbench::report`).
fn report_to_js(report: &crate::report::Report) -> Result<JsValue, JsError> {
    let text = serde_json::to_string(report).map_err(|e| JsError::new(&e.to_string()))?;
    js_sys::JSON::parse(&text).map_err(|_| JsError::new("the report is not valid JSON"))
}

/// A file too large to hold (issue 5: a 1 GB CSV in the browser, in bounded memory): the
/// report is folded from batches of its rows (`crate::stream`), read from the host's `File`
/// once per read of the file. The speed build only (feature `stream`), which reads large files.
#[cfg(feature = "stream")]
#[wasm_bindgen]
impl Workbench {
    /// Makes `file` the current transactions file without holding its rows: each
    /// `streamReport` reads it again. Lookups loaded after it are held as usual.
    /// With `encoding`, the host gives the file's text decoded to UTF-8 from that encoding
    /// (after `NeedsDecoding`), and the reports name it.
    #[wasm_bindgen(js_name = streamCsv)]
    pub fn stream_csv(&mut self, file: &str, encoding: Option<String>) {
        self.dataset = None;
        self.frame = None;
        self.sample = None;
        self.streamed = Some(Streamed {
            file: file.to_string(),
            encoding,
            ..Streamed::default()
        });
    }

    /// The report of the file `streamCsv` named, under `options` (those of `report`; see
    /// `crate::stream`). `open()` is called once per read of the file and returns a function
    /// `next(maxBytes)` that returns the file's next bytes as a `Uint8Array`, at most `maxBytes`
    /// of them, and an empty one at the end (synchronously: a worker reads a `File` with
    /// `FileReaderSync`). `progress(read, bytes, rows)` hears each read's progress. A view that
    /// changes only the grain, week start or range of the last one reads the file once, not
    /// twice (`crate::stream::Folded`).
    #[wasm_bindgen(js_name = streamReport)]
    pub fn stream_report(
        &mut self,
        options: JsValue,
        open: &js_sys::Function,
        progress: &js_sys::Function,
    ) -> Result<JsValue, JsError> {
        use crate::stream::{stream_report_keeping, Batching};
        let streamed = self
            .streamed
            .as_mut()
            .ok_or_else(|| JsError::new("no file is streamed"))?;
        let options = options_of(options)?;
        let mut open = || -> std::io::Result<Box<dyn std::io::Read>> {
            let next = open.call0(&JsValue::NULL).map_err(host_error)?;
            let next = next
                .dyn_into::<js_sys::Function>()
                .map_err(|_| std::io::Error::other("open() did not return a function"))?;
            Ok(Box::new(HostReader { next }))
        };
        let mut progress = |at: crate::stream::StreamProgress| {
            // The progress is only shown: a failure to show it is no reason to stop.
            let _ = progress.call3(
                &JsValue::NULL,
                &at.read.into(),
                &(at.bytes as f64).into(),
                &(at.rows as f64).into(),
            );
        };
        // A quarter of the CLI's batch: ~45 MB with its frame, next to the fold's sets.
        let batching = Batching {
            rows: 1 << 18,
            chunk_bytes: 4 << 20,
            ..Batching::default()
        };
        let mut report = stream_report_keeping(
            (&streamed.file, &mut open, &streamed.lookups),
            &options,
            batching,
            &mut progress,
            &mut streamed.kept,
        )
        .map_err(|e| JsError::new(&e.to_string()))?;
        if let Some(encoding) = &streamed.encoding {
            report.quality.encoding.clone_from(encoding);
        }
        report_to_js(&report)
    }
}

/// The bytes of a file as the host's `next(maxBytes)` gives them.
#[cfg(feature = "stream")]
struct HostReader {
    next: js_sys::Function,
}

#[cfg(feature = "stream")]
impl std::io::Read for HostReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let got = self
            .next
            .call1(&JsValue::NULL, &(buf.len() as f64).into())
            .map_err(host_error)?;
        let bytes = got
            .dyn_into::<js_sys::Uint8Array>()
            .map_err(|_| std::io::Error::other("the read did not return a Uint8Array"))?;
        let len = bytes.length() as usize;
        if len > buf.len() {
            return Err(std::io::Error::other(
                "the read returned more bytes than asked",
            ));
        }
        bytes.copy_to(&mut buf[..len]);
        Ok(len)
    }
}

/// A JS exception thrown by the host's reads (a `File` changed on disk: NotReadableError) as
/// an I/O error with its message.
#[cfg(feature = "stream")]
fn host_error(error: JsValue) -> std::io::Error {
    let message = match error.dyn_ref::<js_sys::Error>() {
        Some(error) => String::from(error.message()),
        None => error.as_string().unwrap_or_else(|| format!("{error:?}")),
    };
    std::io::Error::other(message)
}

/// Report options from JS (`undefined` or `null`: the defaults), read as `Workbench::report` reads
/// them (through JSON text, so that a misspelt option is refused). Not shared with it: called from
/// two places, the size build kept it as a function of its own, +375 bytes gzip (docs/size.md).
#[cfg(any(feature = "sql", feature = "stream"))]
fn options_of(options: JsValue) -> Result<Options, JsError> {
    if options.is_undefined() || options.is_null() {
        return Ok(Options::default());
    }
    let text: String = js_sys::JSON::stringify(&options)
        .map_err(|_| JsError::new("invalid options: not JSON-shaped"))?
        .into();
    serde_json::from_str(&text).map_err(|e| JsError::new(&format!("invalid options: {e}")))
}

/// The SQL script of a view (docs/sql.md) in `dialect` (`duckdb`, `spark` or `bigquery`), the
/// same text as `paymetrics sql` prints for the same file and options. Stateless: `report` is the
/// report the page shows (or just its fields `file`, `tz`, `mapping`, `columns`, `statuses`,
/// `currencies`, `currency` and `custom`: see `sql::ScriptInput`), and `options` those it was
/// computed under. Only the speed build has it (feature `sql`): the page fetches that build when
/// the SQL panel is first opened, so the first load carries no SQL writer.
#[cfg(feature = "sql")]
#[wasm_bindgen(js_name = sqlScript)]
pub fn sql_script(report: JsValue, options: JsValue, dialect: &str) -> Result<String, JsError> {
    use crate::sql::{script_from, Dialect, ScriptInput};
    let dialect = Dialect::parse(dialect).ok_or_else(|| {
        JsError::new(&format!(
            "unknown SQL dialect {dialect:?}: use duckdb, spark or bigquery"
        ))
    })?;
    let input: ScriptInput = serde_wasm_bindgen::from_value(report)
        .map_err(|e| JsError::new(&format!("not a report: {e}")))?;
    let options = options_of(options)?;
    script_from(&input, &options, dialect).map_err(|e| JsError::new(&e.to_string()))
}
