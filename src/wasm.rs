//! The browser bindings: the only wasm-bindgen surface. Every call converts its arguments, calls
//! the core, and converts the result; no logic lives here. Errors become JS `Error`s whose message
//! is the core's readable text.
use crate::sample::{generate, SampleOptions, SampleTables};
use crate::{analyze, read_csv, Options, RawTable};
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
    table: Option<RawTable>,
    sample: Option<SampleTables>,
}

#[derive(Serialize)]
struct Loaded<'a> {
    file: &'a str,
    rows_read: u64,
    columns: &'a [String],
}

#[derive(Serialize)]
struct RoleInfo {
    role: &'static str,
    kind: crate::schema::Kind,
    description: &'static str,
}

fn to_js<T: Serialize>(value: &T) -> Result<JsValue, JsError> {
    // json_compatible: maps become plain objects and None becomes null, as in the CLI's JSON.
    value
        .serialize(&serde_wasm_bindgen::Serializer::json_compatible())
        .map_err(|e| JsError::new(&e.to_string()))
}

#[wasm_bindgen]
impl Workbench {
    #[wasm_bindgen(constructor)]
    pub fn new() -> Workbench {
        Workbench::default()
    }

    /// Reads a CSV file's bytes and makes it the current dataset.
    #[wasm_bindgen(js_name = loadCsv)]
    pub fn load_csv(&mut self, file: &str, bytes: &[u8]) -> Result<JsValue, JsError> {
        let table = read_csv(file, bytes).map_err(|e| JsError::new(&e.to_string()))?;
        self.table = Some(table);
        self.loaded()
    }

    /// Generates the built-in sample and loads its transactions table. The seed is a u32 so that
    /// JS passes a plain number (a u64 would have to be a BigInt).
    #[wasm_bindgen(js_name = loadSample)]
    pub fn load_sample(&mut self, rows: usize, seed: u32) -> Result<JsValue, JsError> {
        let tables = generate(&SampleOptions {
            rows,
            seed: u64::from(seed),
        });
        let table = read_csv("sample-transactions.csv", tables.transactions.as_bytes())
            .map_err(|e| JsError::new(&e.to_string()))?;
        self.table = Some(table);
        self.sample = Some(tables);
        self.loaded()
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

    /// The report of the current dataset (see docs/report.md) under `options`
    /// (`{grain, tz, mapping}`, all optional).
    pub fn report(&self, options: JsValue) -> Result<JsValue, JsError> {
        let table = self
            .table
            .as_ref()
            .ok_or_else(|| JsError::new("no file is loaded"))?;
        let options: Options = if options.is_undefined() || options.is_null() {
            Options::default()
        } else {
            serde_wasm_bindgen::from_value(options)
                .map_err(|e| JsError::new(&format!("invalid options: {e}")))?
        };
        let report = analyze(table, &options).map_err(|e| JsError::new(&e.to_string()))?;
        to_js(&report)
    }

    fn loaded(&self) -> Result<JsValue, JsError> {
        let table = self
            .table
            .as_ref()
            .ok_or_else(|| JsError::new("no file is loaded"))?;
        to_js(&Loaded {
            file: &table.file,
            rows_read: table.rows_read,
            columns: &table.headers,
        })
    }
}
