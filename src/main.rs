//! The `paymetrics` command: the core's reports for files on disk, their SQL export, and the
//! sample generator.
use clap::{Args, Parser, Subcommand};
use paymetrics::join::JoinSpec;
use paymetrics::number::Decimal;
use paymetrics::options::{
    CohortBasis, DateRange, Filter, DEFAULT_FUNNEL_DAYS, DEFAULT_LARGE_AMOUNT, DEFAULT_SLA_HOURS,
};
use paymetrics::schema::Status;
use paymetrics::sql::Dialect;
use paymetrics::time::{DateOrder, WeekStart};
use paymetrics::{analyze, render_text, Dataset, Grain, Options};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "paymetrics",
    version,
    about = "Success metrics of a payment service, from CSV exports"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Print the metrics of a transactions CSV file
    Report {
        #[command(flatten)]
        view: ViewArgs,
        /// Print the report as JSON (the shape in docs/report.md)
        #[arg(long)]
        json: bool,
        /// Read the file in batches, in memory that does not grow with its rows, for files
        /// larger than the memory: every part of the report, custom metrics included,
        /// over a few reads of the file (standard input is copied to a temporary file for
        /// them; docs/architecture.md, "Streamed reports")
        #[arg(long)]
        stream: bool,
        /// Rows read at a time with --stream (default 1048576, ~200 MB): fewer take less
        /// memory and more time
        #[arg(long = "batch-rows", value_name = "ROWS", requires = "stream")]
        batch_rows: Option<usize>,
        /// Bytes read at a time with --stream (for tests)
        #[arg(long = "chunk-bytes", hide = true, requires = "stream")]
        chunk_bytes: Option<usize>,
    },
    /// Print SQL computing every catalog metric of the same view, over a table `transactions`
    /// with the file's column names (docs/sql.md)
    Sql {
        #[command(flatten)]
        view: ViewArgs,
        /// SQL dialect: duckdb, spark or bigquery
        #[arg(long, default_value = "duckdb", value_parser = parse_dialect)]
        dialect: Dialect,
    },
    /// Print the metric catalog as Markdown (the source of docs/metrics.md)
    Metrics,
    /// Write a seeded sample dataset (transactions.csv, users.csv, merchants.csv)
    Gen {
        /// Number of transactions
        #[arg(long, default_value_t = 50_000)]
        rows: usize,
        /// Random seed: the same seed gives the same files
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Output directory (created if missing)
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
}

/// The file and the view options that `report` and `sql` share.
#[derive(Args)]
struct ViewArgs {
    /// The transactions CSV file (, ; tab or | delimited)
    file: PathBuf,
    /// Reporting time zone: a UTC offset (+08:00) or a zone name (Asia/Shanghai); default: the
    /// offset found in the data, else UTC
    #[arg(long)]
    tz: Option<String>,
    /// Time bucket of the series
    #[arg(long, default_value = "day", value_parser = parse_grain)]
    grain: Grain,
    /// Map a role to a column, e.g. --map amount=payment_value (repeatable; --map fee= unmaps)
    #[arg(long = "map", value_name = "ROLE=COLUMN", value_parser = parse_mapping)]
    mappings: Vec<(String, Option<String>)>,
    /// Join a lookup file many-to-one on a column of the transactions, e.g.
    /// --join orders.csv:order_id or --join users.csv:customer_id=user_id (repeatable);
    /// --join FILE alone picks the shared column
    #[arg(long = "join", value_name = "FILE[:COLUMN[=KEY]]")]
    joins: Vec<String>,
    /// Define a column from others, e.g. --derive "amount = quantity * unit_price" or
    /// --derive 'amount = -amount where direction = "收入"' (repeatable, applied in order)
    #[arg(long = "derive", value_name = "NAME = FORMULA")]
    derive: Vec<String>,
    /// Define a custom metric, e.g. --metric 'app_tpv = sum(amount where channel = "app")'
    /// (repeatable; reported after the catalog's metrics)
    #[arg(long = "metric", value_name = "NAME = FORMULA")]
    metrics: Vec<String>,
    /// Day/month order of dates like 03/04/2025: dmy or mdy (default: inferred per column)
    #[arg(long = "date-order", value_parser = parse_date_order)]
    date_order: Option<DateOrder>,
    /// Decimal separator of number columns: "," or "." (default: inferred per column)
    #[arg(long, value_parser = parse_decimal)]
    decimal: Option<Decimal>,
    /// Exchange rate into the report currency, e.g. --rate USD=7.1 (repeatable); without
    /// rates, mixed currencies are reported per currency, never summed
    #[arg(long = "rate", value_name = "CODE=RATE", value_parser = parse_rate)]
    rates: Vec<(String, f64)>,
    /// Currency to convert into with --rate (default: the most common one)
    #[arg(long)]
    currency: Option<String>,
    /// Override how a raw status value is read, e.g. --status "已转账=success" (repeatable)
    #[arg(long = "status", value_name = "RAW=NORMAL", value_parser = parse_status)]
    statuses: Vec<(String, Status)>,
    /// First local date of the period reported, YYYY-MM-DD (with --to; KPIs then compare
    /// with as many days just before)
    #[arg(long, requires = "to")]
    from: Option<String>,
    /// Last local date of the period reported, YYYY-MM-DD (included)
    #[arg(long, requires = "from")]
    to: Option<String>,
    /// Keep only rows whose COLUMN is one of the values, e.g. --filter channel=app_qr,online;
    /// COLUMN!=VALUES keeps the others (repeatable: all must hold)
    #[arg(long = "filter", value_name = "COLUMN=V1,V2", value_parser = parse_filter)]
    filters: Vec<Filter>,
    /// Break every metric down by the values of a column
    #[arg(long, value_name = "COLUMN")]
    segment: Option<String>,
    /// First day of weekly buckets: monday or sunday
    #[arg(long = "week-start", default_value = "monday", value_parser = parse_week_start)]
    week_start: WeekStart,
    /// Settlement SLA in hours for settlement_sla_breach
    #[arg(long = "sla-hours", default_value_t = DEFAULT_SLA_HOURS)]
    sla_hours: f64,
    /// Amount at or above which a payment is large (large_txn_count)
    #[arg(long = "large-amount", default_value_t = DEFAULT_LARGE_AMOUNT)]
    large_amount: f64,
    /// The funnel's conversion window in days
    #[arg(long = "funnel-days", default_value_t = DEFAULT_FUNNEL_DAYS)]
    funnel_days: u32,
    /// Retention cohorts by signup or first_payment (default: signup when a users file
    /// with signup dates is joined)
    #[arg(long, value_parser = parse_cohort)]
    cohort: Option<CohortBasis>,
    /// Do not print reading progress and speed on standard error
    #[arg(long, short)]
    quiet: bool,
}

impl ViewArgs {
    /// The core's options for these flags (joins are added once their files are read).
    fn options(&self) -> Options {
        Options {
            grain: self.grain,
            tz: self.tz.clone(),
            mapping: self.mappings.iter().cloned().collect::<BTreeMap<_, _>>(),
            statuses: self.statuses.iter().cloned().collect(),
            decimal: self.decimal,
            date_order: self.date_order,
            derive: self.derive.clone(),
            metrics: self.metrics.clone(),
            rates: self.rates.iter().cloned().collect(),
            currency: self.currency.as_ref().map(|c| c.to_uppercase()),
            range: self
                .from
                .clone()
                .zip(self.to.clone())
                .map(|(from, to)| DateRange { from, to }),
            filters: self.filters.clone(),
            segment: self.segment.clone(),
            week_start: self.week_start,
            sla_hours: Some(self.sla_hours),
            large_amount: Some(self.large_amount),
            funnel_days: Some(self.funnel_days),
            cohort: self.cohort,
            ..Options::default()
        }
    }
}

fn parse_grain(text: &str) -> Result<Grain, String> {
    Grain::parse(text).ok_or_else(|| format!("{text:?} is not day, week or month"))
}

fn parse_mapping(text: &str) -> Result<(String, Option<String>), String> {
    let (role, column) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not ROLE=COLUMN"))?;
    let column = column.trim();
    Ok((
        role.trim().to_string(),
        (!column.is_empty()).then(|| column.to_string()),
    ))
}

fn parse_date_order(text: &str) -> Result<DateOrder, String> {
    DateOrder::parse(text).ok_or_else(|| format!("{text:?} is not dmy or mdy"))
}

fn parse_decimal(text: &str) -> Result<Decimal, String> {
    Decimal::parse(text).ok_or_else(|| format!("{text:?} is not \",\" or \".\""))
}

fn parse_rate(text: &str) -> Result<(String, f64), String> {
    let (code, rate) = text
        .split_once('=')
        .ok_or_else(|| format!("{text:?} is not CODE=RATE"))?;
    let rate: f64 = rate
        .trim()
        .parse()
        .ok()
        .filter(|r: &f64| r.is_finite() && *r > 0.0)
        .ok_or_else(|| format!("{rate:?} is not a positive number"))?;
    Ok((code.trim().to_uppercase(), rate))
}

fn parse_status(text: &str) -> Result<(String, Status), String> {
    let (raw, normal) = text
        .rsplit_once('=')
        .ok_or_else(|| format!("{text:?} is not RAW=NORMAL"))?;
    let status = serde_json::from_value(serde_json::Value::String(normal.trim().to_lowercase()))
        .map_err(|_| {
            format!("{normal:?} is not success, failed, refunded, disputed, pending or unknown")
        })?;
    Ok((raw.trim().to_string(), status))
}

fn parse_filter(text: &str) -> Result<Filter, String> {
    let (column, values, exclude) = match text.split_once("!=") {
        Some((column, values)) => (column, values, true),
        None => {
            let (column, values) = text
                .split_once('=')
                .ok_or_else(|| format!("{text:?} is not COLUMN=V1,V2 or COLUMN!=V1,V2"))?;
            (column, values, false)
        }
    };
    Ok(Filter {
        column: column.trim().to_string(),
        values: values.split(',').map(|v| v.trim().to_string()).collect(),
        exclude,
    })
}

fn parse_week_start(text: &str) -> Result<WeekStart, String> {
    WeekStart::parse(text).ok_or_else(|| format!("{text:?} is not monday or sunday"))
}

fn parse_cohort(text: &str) -> Result<CohortBasis, String> {
    match text.trim().to_ascii_lowercase().replace('-', "_").as_str() {
        "signup" => Ok(CohortBasis::Signup),
        "first_payment" => Ok(CohortBasis::FirstPayment),
        _ => Err(format!("{text:?} is not signup or first_payment")),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Report {
            view,
            json,
            stream: false,
            ..
        } => report(&view, json),
        Command::Report {
            view,
            json,
            stream: true,
            batch_rows,
            chunk_bytes,
        } => report_streamed(&view, json, (batch_rows, chunk_bytes)),
        Command::Sql { view, dialect } => sql(&view, dialect),
        Command::Gen { rows, seed, out } => generate(rows, seed, &out),
        Command::Metrics => write_stdout(&paymetrics::metrics::catalog_markdown()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

/// How much of a file is read at a time: the file is streamed, never held whole in memory.
const CHUNK_BYTES: usize = 1 << 20;

/// Reads a CSV file (`-`: standard input) chunk by chunk. Unless `quiet`, shows progress on a
/// terminal while a big file loads, then the size, rows and speed on standard error.
fn read_table(path: &Path, quiet: bool) -> Result<paymetrics::RawTable, String> {
    use std::io::{IsTerminal, Read};
    let name = path.display().to_string();
    let mut stream = paymetrics::ingest::CsvStream::new(&name);
    let mut input: Box<dyn Read> = if name == "-" {
        Box::new(std::io::stdin().lock())
    } else {
        let file = std::fs::File::open(path).map_err(|e| format!("{name}: {e}"))?;
        if let Ok(metadata) = file.metadata() {
            stream.expect_bytes(metadata.len());
        }
        Box::new(file)
    };
    let started = std::time::Instant::now();
    let live = !quiet && std::io::stderr().is_terminal();
    let mut shown = started;
    let mut chunk = vec![0; CHUNK_BYTES];
    loop {
        let read = match input.read(&mut chunk) {
            Ok(0) => break,
            Ok(read) => read,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(format!("{name}: {e}")),
        };
        stream.push(&chunk[..read]).map_err(|e| e.to_string())?;
        if live && shown.elapsed().as_millis() >= 250 {
            shown = std::time::Instant::now();
            let progress = stream.progress();
            eprint!(
                "\rreading {name}: {:.0} MB, {} rows…",
                progress.bytes as f64 / 1e6,
                progress.rows
            );
        }
    }
    let bytes = stream.progress().bytes;
    let table = stream.finish().map_err(|e| e.to_string())?;
    if !quiet {
        let seconds = started.elapsed().as_secs_f64();
        eprintln!(
            "{}read {name}: {:.1} MB, {} rows in {seconds:.2} s ({:.0} MB/s)",
            if live { "\r" } else { "" },
            bytes as f64 / 1e6,
            table.rows_read,
            bytes as f64 / 1e6 / seconds.max(1e-9),
        );
    }
    Ok(table)
}

/// Reads the file and the lookups it joins, with the options of the view.
fn load(view: &ViewArgs) -> Result<(Dataset, Options), String> {
    let mut options = view.options();
    let path = &view.file;
    let quiet = view.quiet;
    let mut dataset = Dataset::new(read_table(path, quiet)?);
    for join in &view.joins {
        // FILE:COLUMN[=KEY], or FILE alone for the suggested key. A Windows path's drive
        // letter (C:\...) is not a column: only a ':' after the file's extension counts.
        let spec = JoinSpec::parse(join).filter(|spec| Path::new(&spec.file).extension().is_some());
        let file = spec
            .as_ref()
            .map_or(join.as_str(), |spec| spec.file.as_str());
        let lookup = read_table(Path::new(file), quiet)?;
        let spec = match spec {
            Some(spec) => spec,
            None => paymetrics::join::suggest(&dataset.transactions, &lookup, file).ok_or_else(
                || format!("{file}: no column shares a name with the transactions; use --join {file}:COLUMN=KEY"),
            )?,
        };
        dataset.add_lookup(lookup);
        options.joins.push(spec);
    }
    Ok((dataset, options))
}

fn report(view: &ViewArgs, json: bool) -> Result<(), String> {
    let (dataset, options) = load(view)?;
    let report = analyze(&dataset, &options).map_err(|e| e.to_string())?;
    print_report(&report, json)
}

/// Prints a report as text or JSON. A script asked for the derived columns: a formula that
/// does not apply is an error, not a note.
fn print_report(report: &paymetrics::Report, json: bool) -> Result<(), String> {
    if let Some((derived, error)) = report
        .derived
        .iter()
        .find_map(|d| d.error.as_ref().map(|error| (d, error)))
    {
        return Err(format!("--derive {:?}: {error}", derived.definition));
    }
    let text = if json {
        let mut text = serde_json::to_string_pretty(report).map_err(|e| e.to_string())?;
        text.push('\n');
        text
    } else {
        render_text(report)
    };
    write_stdout(&text)
}

/// The report of a file read in batches (`paymetrics::stream`): its memory does not grow with
/// the file's rows. Unless `quiet`, shows each read's progress on a terminal, then the reads
/// and the speed on standard error.
fn report_streamed(
    view: &ViewArgs,
    json: bool,
    (batch_rows, chunk_bytes): (Option<usize>, Option<usize>),
) -> Result<(), String> {
    use std::io::IsTerminal;
    let name = view.file.display().to_string();
    // Standard input cannot be read twice: the first read copies it to a temporary file, which
    // the later reads read (removed when the report is done).
    let spool = match name == "-" {
        true => Some(Spool::new().map_err(|e| format!("standard input: {e}"))?),
        false => None,
    };
    let path = spool
        .as_ref()
        .map_or(view.file.as_path(), |s| s.path.as_path());
    let size = match &spool {
        Some(_) => 0,
        None => std::fs::metadata(path)
            .map_err(|e| format!("{name}: {e}"))?
            .len(),
    };
    let mut opened = 0;
    let mut open = || -> std::io::Result<Box<dyn std::io::Read>> {
        opened += 1;
        match (&spool, opened) {
            (Some(spool), 1) => Ok(Box::new(Tee {
                input: std::io::stdin().lock(),
                copy: std::io::BufWriter::new(spool.create()?),
            })),
            _ => Ok(Box::new(std::fs::File::open(path)?)),
        }
    };
    let live = !view.quiet && std::io::stderr().is_terminal();
    let started = std::time::Instant::now();
    let mut shown = started;
    let (mut reads, mut rows) = (0, 0);
    let mut progress = |at: paymetrics::stream::StreamProgress| {
        (reads, rows) = (at.read, rows.max(at.rows));
        if live && shown.elapsed().as_millis() >= 250 {
            shown = std::time::Instant::now();
            let of = match size {
                0 => String::new(),
                size => format!(" of {:.0}", size as f64 / 1e6),
            };
            eprint!(
                "\rreading {name} (read {}): {:.0}{of} MB, {} rows…",
                at.read,
                at.bytes as f64 / 1e6,
                at.rows
            );
        }
    };
    // The lookups are held in memory (they are small: users, merchants, orders); each needs its
    // join column named, as the transactions are not in memory to suggest one.
    let mut options = view.options();
    let mut lookups = Vec::new();
    for join in &view.joins {
        let spec = JoinSpec::parse(join)
            .filter(|spec| Path::new(&spec.file).extension().is_some())
            .ok_or_else(|| {
                format!("--join {join}: with --stream, name the column to join on, e.g. --join {join}:user_id")
            })?;
        lookups.push(read_table(Path::new(&spec.file), view.quiet)?);
        options.joins.push(spec);
    }
    let mut batching = paymetrics::stream::Batching::default();
    batching.rows = batch_rows.unwrap_or(batching.rows);
    batching.chunk_bytes = chunk_bytes.unwrap_or(batching.chunk_bytes);
    let report = paymetrics::stream::stream_report(
        &name,
        &mut open,
        &lookups,
        &options,
        batching,
        &mut progress,
    )
    .map_err(|e| e.to_string())?;
    if !view.quiet {
        let seconds = started.elapsed().as_secs_f64();
        // Standard input's size is known once it is copied.
        let size = match &spool {
            Some(spool) => std::fs::metadata(&spool.path).map_or(0, |m| m.len()),
            None => size,
        };
        let bytes = size as f64 * f64::from(reads);
        eprintln!(
            "{}streamed {name}: {:.1} MB, {rows} rows, read {reads} times in {seconds:.2} s ({:.0} MB/s)",
            if live { "\r" } else { "" },
            size as f64 / 1e6,
            bytes / 1e6 / seconds.max(1e-9),
        );
    }
    print_report(&report, json)
}

/// A temporary file that standard input is copied to as it is first read, removed on drop.
struct Spool {
    path: std::path::PathBuf,
}

impl Spool {
    fn new() -> std::io::Result<Spool> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path = std::env::temp_dir().join(format!(
            "paymetrics-stdin-{}-{nanos}.csv",
            std::process::id()
        ));
        Ok(Spool { path })
    }

    /// The file, created (never one that exists already).
    fn create(&self) -> std::io::Result<std::fs::File> {
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&self.path)
    }
}

impl Drop for Spool {
    fn drop(&mut self) {
        // Nothing to do if it was never created.
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Reads `input`, writing what it reads to `copy` (flushed at the end of the input).
struct Tee<R, W> {
    input: R,
    copy: W,
}

impl<R: std::io::Read, W: std::io::Write> std::io::Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let got = self.input.read(buf)?;
        match got {
            0 => self.copy.flush()?,
            _ => self.copy.write_all(&buf[..got])?,
        }
        Ok(got)
    }
}

/// Writes to standard output; a closed pipe (`paymetrics report f.csv | head`) is not an error.
fn sql(view: &ViewArgs, dialect: Dialect) -> Result<(), String> {
    let (dataset, options) = load(view)?;
    let text =
        paymetrics::sql::export_sql(&dataset, &options, dialect).map_err(|e| e.to_string())?;
    write_stdout(&text)
}

fn parse_dialect(text: &str) -> Result<Dialect, String> {
    Dialect::parse(text).ok_or_else(|| format!("{text:?} is not duckdb, spark or bigquery"))
}

fn write_stdout(text: &str) -> Result<(), String> {
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.to_string()),
        _ => Ok(()),
    }
}

fn generate(rows: usize, seed: u64, out: &Path) -> Result<(), String> {
    let tables = paymetrics::sample::generate(&paymetrics::sample::SampleOptions { rows, seed });
    std::fs::create_dir_all(out).map_err(|e| format!("{}: {e}", out.display()))?;
    for (name, text) in [
        ("transactions.csv", &tables.transactions),
        ("users.csv", &tables.users),
        ("merchants.csv", &tables.merchants),
    ] {
        let path = out.join(name);
        std::fs::write(&path, text).map_err(|e| format!("{}: {e}", path.display()))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}
