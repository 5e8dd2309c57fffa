//! The browser bindings: the only wasm-bindgen surface. Every call converts its arguments, calls
//! the core, and converts the result; no logic lives here. Errors become JS `Error`s whose message
//! is the core's readable text.
use crate::ingest::read_decoded_csv;
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
/// for `TextDecoder`; the worker decodes the bytes and calls `loadDecodedCsv` / `loadDecodedLookup`.
fn core_error(error: crate::Error) -> JsValue {
    let js = js_sys::Error::new(&error.to_string());
    if let ErrorKind::NeedsDecoding { encoding } = &error.kind {
        js.set_name("NeedsDecoding");
        // Cannot fail: a fresh Error is an ordinary extensible object.
        let _ = js_sys::Reflect::set(&js, &"encoding".into(), &encoding.as_str().into());
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

impl Workbench {
    fn load(&mut self, table: RawTable) -> Result<JsValue, JsValue> {
        let loaded = to_js(&loaded_info(&table))?;
        self.dataset = Some(Dataset::new(table));
        self.frame = None;
        Ok(loaded)
    }

    fn add_lookup(&mut self, table: RawTable) -> Result<JsValue, JsValue> {
        let dataset = self
            .dataset
            .as_mut()
            .ok_or_else(|| JsError::new("load a transactions file before a lookup file"))?;
        let loaded = to_js(&loaded_info(&table))?;
        dataset.add_lookup(table);
        self.frame = None;
        Ok(loaded)
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

    /// Removes a lookup file from the current dataset.
    #[wasm_bindgen(js_name = removeLookup)]
    pub fn remove_lookup(&mut self, file: &str) {
        if let Some(dataset) = self.dataset.as_mut() {
            dataset.lookups.retain(|t| t.file != file);
            self.frame = None;
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

    /// The report of the current dataset (see docs/report.md) under `options`
    /// (`{grain, tz, mapping}`, all optional).
    pub fn report(&mut self, options: JsValue) -> Result<JsValue, JsError> {
        let dataset = self
            .dataset
            .as_ref()
            .ok_or_else(|| JsError::new("no file is loaded"))?;
        // Through JSON text, not serde_wasm_bindgen::from_value: that reads only the fields a
        // struct declares, so a misspelt option would be ignored instead of refused.
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
        to_js(&report.map_err(error)?)
    }
}
