//! The `paymetrics` command: the core's reports for files on disk, and the sample generator.
use clap::{Parser, Subcommand};
use paymetrics::{analyze, read_csv, render_text, Grain, Options};
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

#[derive(Subcommand)]
enum Command {
    /// Print the metrics of a transactions CSV file
    Report {
        /// The transactions CSV file (, ; tab or | delimited)
        file: PathBuf,
        /// Reporting time zone as a UTC offset, e.g. +08:00 (default: the offset found in the data, else UTC)
        #[arg(long)]
        tz: Option<String>,
        /// Time bucket of the series
        #[arg(long, default_value = "day", value_parser = parse_grain)]
        grain: Grain,
        /// Map a role to a column, e.g. --map amount=payment_value (repeatable; --map fee= unmaps)
        #[arg(long = "map", value_name = "ROLE=COLUMN", value_parser = parse_mapping)]
        mappings: Vec<(String, Option<String>)>,
        /// Print the report as JSON (the shape in docs/report.md)
        #[arg(long)]
        json: bool,
    },
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Report {
            file,
            tz,
            grain,
            mappings,
            json,
        } => {
            let options = Options {
                grain,
                tz,
                mapping: mappings.into_iter().collect::<BTreeMap<_, _>>(),
            };
            report(&file, &options, json)
        }
        Command::Gen { rows, seed, out } => generate(rows, seed, &out),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("error: {message}");
            ExitCode::from(2)
        }
    }
}

fn report(path: &Path, options: &Options, json: bool) -> Result<(), String> {
    let bytes = std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let name = path.display().to_string();
    let table = read_csv(&name, &bytes).map_err(|e| e.to_string())?;
    let report = analyze(&table, options).map_err(|e| e.to_string())?;
    let text = if json {
        let mut text = serde_json::to_string_pretty(&report).map_err(|e| e.to_string())?;
        text.push('\n');
        text
    } else {
        render_text(&report)
    };
    write_stdout(&text)
}

/// Writes to standard output; a closed pipe (`paymetrics report f.csv | head`) is not an error.
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
