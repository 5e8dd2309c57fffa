//! Custom metrics: `name = formula`, where the formula combines aggregates over the rows
//! (`sum(amount where status = "success")`, `count_distinct(user_id)`, `p95(latency_ms)`),
//! catalog metrics by id (`tpv / active_payers`), numbers and arithmetic.
//!
//! A custom metric covers the same rows as the catalog's in every place the report has a value:
//! the period, each time bucket, the previous period and each segment (rows after the filters and
//! the date range, bucketed by the local day of `created_at`). Its aggregates read cells as the
//! file wrote them, through the formula language of `expr` (columns by header, or a role id for
//! the mapped column); amounts are not converted between currencies.
//!
//! # Aggregates
//!
//! | written | value |
//! |---|---|
//! | `count()`, `count(where c)` | rows (where `c` holds) |
//! | `count(x)` | rows where `x` is not empty |
//! | `count_distinct(x)` | distinct non-empty values of `x`, compared as text |
//! | `sum(x)` | the sum of the numbers of `x`; 0 when there are none |
//! | `avg`, `min`, `max`, `median`, `p1`…`p99` | of the numbers of `x`; no value when there are none |
//! | `share(where c)` | the fraction of rows where `c` holds |
//! | `share(x where c)` | `sum(x where c) / sum(x)` |
//!
//! Percentiles interpolate like DuckDB's `quantile_cont`, as the catalog's do. A division by zero,
//! or any result that is not a finite number, gives no value.
use super::breakdown::Codes;
use super::catalog::{Metric, Unit, CATALOG};
use super::engine::{key_percentiles, order_key};
use crate::dataset::{FormulaRow, FormulaTable};
use crate::expr::{
    closest_name, compile_as, is_aggregate, parse_definition, written_name, BinaryOp, Compiled,
    Expect, Expr, ExprKind, ParseError, Span, UnaryOp,
};
use crate::schema::{Mapping, Role};
use std::collections::HashMap;

/// At most this many custom metrics in one report: each adds a walk's worth of formula
/// evaluations, and a share link carries them all.
pub const MAX_CUSTOM_METRICS: usize = 50;

/// A custom metric, checked against the table's columns and the catalog.
#[derive(Debug)]
pub struct CustomMetric {
    /// The name the user gave; unique, and never a catalog id.
    pub id: String,
    /// The formula as the parser understood it (every operation in parentheses).
    pub formula: String,
    pub unit: Unit,
    plan: Plan,
    aggregates: Vec<Aggregate>,
}

/// How the metric's value follows from its aggregates' values and the catalog's.
#[derive(Debug)]
enum Plan {
    Number(f64),
    /// A catalog metric, by id.
    Catalog(&'static str),
    /// The value of aggregate `n` of the metric.
    Aggregate(usize),
    Negate(Box<Plan>),
    Arithmetic(BinaryOp, Box<Plan>, Box<Plan>),
    Abs(Box<Plan>),
    /// Rounded to this many decimal digits (half away from zero).
    Round(Box<Plan>, i32),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Function {
    Count,
    CountDistinct,
    Sum,
    Avg,
    Min,
    Max,
    /// `median` (0.5) and `p1`…`p99`.
    Quantile(f64),
    Share,
}

/// One aggregate call: what it reads of each row and which rows it keeps.
#[derive(Debug)]
struct Aggregate {
    function: Function,
    /// `None`: each row (`count()`, `count(where …)`, `share(where …)`).
    value: Option<Expr>,
    filter: Option<Expr>,
}

impl CustomMetric {
    /// Parses `name = formula` against the formula names of the table (headers, then role
    /// aliases). `taken` are the ids already used by earlier custom metrics.
    pub fn parse(
        definition: &str,
        names: &[String],
        role_of_name: &dyn Fn(usize) -> Option<Role>,
        taken: &[String],
    ) -> Result<CustomMetric, ParseError> {
        let parsed = parse_definition(definition)?;
        let name_span = parsed.name_span;
        if CATALOG
            .iter()
            .any(|m| m.id.eq_ignore_ascii_case(&parsed.name))
        {
            return Err(ParseError::new(
                name_span,
                format!(
                    "{} is already a catalog metric; give the custom metric another name",
                    parsed.name
                ),
            ));
        }
        if ["bucket", "start"].contains(&parsed.name.to_ascii_lowercase().as_str()) {
            // The series points' own fields, next to the metric ids.
            return Err(ParseError::new(
                name_span,
                format!(
                    "{} names the time bucket in the series; give the metric another name",
                    parsed.name
                ),
            ));
        }
        if taken.iter().any(|id| id.eq_ignore_ascii_case(&parsed.name)) {
            return Err(ParseError::new(
                name_span,
                format!("there is already a custom metric named {}", parsed.name),
            ));
        }
        if let Some(condition) = &parsed.condition {
            // The definition grammar's trailing `where` (for derived columns): a metric's filter
            // belongs inside each aggregate, where it is unambiguous.
            let at = Span::new(
                parsed.expr.span.end,
                condition.span.start.max(parsed.expr.span.end),
            );
            return Err(ParseError::new(
                at,
                "a metric's filter goes inside its aggregates, as in sum(amount where status = \"success\")",
            ));
        }
        let mut planner = Planner {
            names,
            role_of_name,
            aggregates: Vec::new(),
        };
        let (plan, unit) = planner.plan(&parsed.expr)?;
        Ok(CustomMetric {
            id: parsed.name,
            formula: parsed.expr.to_string(),
            unit,
            plan,
            aggregates: planner.aggregates,
        })
    }

    /// The metric's value from its aggregates' values (in order) and the catalog's values.
    pub fn value(
        &self,
        aggregates: &[Option<f64>],
        catalog: &dyn Fn(&'static str) -> Option<f64>,
    ) -> Option<f64> {
        evaluate(&self.plan, aggregates, catalog).filter(|v| v.is_finite())
    }

    /// Checks that every aggregate's value and filter fit the table, without reading a row.
    pub fn check(
        &self,
        names: &[String],
        read_number: &crate::expr::NumberReader,
    ) -> Result<(), ParseError> {
        for aggregate in &self.aggregates {
            let expect = match aggregate.function {
                Function::Count | Function::CountDistinct => Expect::Natural,
                _ => Expect::Number,
            };
            if let Some(value) = &aggregate.value {
                compile_as(value, names, read_number, expect)?;
            }
            if let Some(filter) = &aggregate.filter {
                compile_as(filter, names, read_number, Expect::Condition)?;
            }
        }
        Ok(())
    }
}

fn evaluate(
    plan: &Plan,
    aggregates: &[Option<f64>],
    catalog: &dyn Fn(&'static str) -> Option<f64>,
) -> Option<f64> {
    let value = |p: &Plan| evaluate(p, aggregates, catalog);
    match plan {
        Plan::Number(n) => Some(*n),
        Plan::Catalog(id) => catalog(id),
        Plan::Aggregate(index) => aggregates.get(*index).copied().flatten(),
        Plan::Negate(p) => value(p).map(|v| -v),
        Plan::Abs(p) => value(p).map(f64::abs),
        Plan::Round(p, digits) => value(p).map(|v| {
            let scale = 10f64.powi(*digits);
            (v * scale).round() / scale
        }),
        Plan::Arithmetic(op, a, b) => {
            let (a, b) = (value(a)?, value(b)?);
            let result = match op {
                BinaryOp::Add => a + b,
                BinaryOp::Subtract => a - b,
                BinaryOp::Multiply => a * b,
                BinaryOp::Divide if b == 0.0 => return None,
                BinaryOp::Divide => a / b,
                BinaryOp::Remainder if b == 0.0 => return None,
                BinaryOp::Remainder => a % b,
                _ => return None,
            };
            result.is_finite().then_some(result)
        }
    }
}

struct Planner<'p> {
    names: &'p [String],
    role_of_name: &'p dyn Fn(usize) -> Option<Role>,
    aggregates: Vec<Aggregate>,
}

impl Planner<'_> {
    fn plan(&mut self, expr: &Expr) -> Result<(Plan, Unit), ParseError> {
        if expr.nesting() > crate::expr::MAX_NESTING {
            return Err(ParseError::new(
                expr.span,
                "the formula is nested too deeply",
            ));
        }
        Ok(match &expr.kind {
            ExprKind::Number(n) => (Plan::Number(*n), Unit::Number),
            ExprKind::Column { name, .. } => {
                let metric = self.catalog_metric(name, expr.span)?;
                (Plan::Catalog(metric.id), metric.unit)
            }
            ExprKind::Unary {
                op: UnaryOp::Negate,
                operand,
            } => {
                let (plan, unit) = self.plan(operand)?;
                (Plan::Negate(Box::new(plan)), unit)
            }
            ExprKind::Binary { op, left, right } if op.is_arithmetic() => {
                let (a, unit_a) = self.plan(left)?;
                let (b, unit_b) = self.plan(right)?;
                let unit = combined_unit(*op, unit_a, unit_b, &a, &b);
                (Plan::Arithmetic(*op, Box::new(a), Box::new(b)), unit)
            }
            ExprKind::Call { name, args } => self.call(name, args, expr)?,
            ExprKind::Text(_) | ExprKind::Bool(_) | ExprKind::Null => {
                return Err(ParseError::new(
                    expr.span,
                    "a metric is a number: text, true, false and null only work inside an aggregate's where",
                ))
            }
            ExprKind::Filter { keyword, .. } => {
                return Err(ParseError::new(
                    *keyword,
                    "'where' filters only work inside an aggregate, as in sum(amount where status = \"success\")",
                ))
            }
            _ => {
                return Err(ParseError::new(
                    expr.span,
                    "a comparison is not a metric: put it in an aggregate's where, as in count(where status = \"failed\"), or use share(where …)",
                ))
            }
        })
    }

    /// A bare name outside aggregates: a catalog metric id.
    fn catalog_metric(&self, name: &str, span: Span) -> Result<&'static Metric, ParseError> {
        if let Some(metric) = CATALOG.iter().find(|m| m.id.eq_ignore_ascii_case(name)) {
            return Ok(metric);
        }
        if self.names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            let written = written_name(name);
            return Err(ParseError::new(
                span,
                format!("{written} is a column: a metric reads it through an aggregate, as in sum({written}) or count_distinct({written})"),
            )
            .suggesting(format!("sum({written})")));
        }
        let mut error = ParseError::new(
            span,
            format!("unknown metric {name}: outside aggregates a name is a catalog metric id"),
        )
        .expecting(&CATALOG.iter().map(|m| m.id).collect::<Vec<_>>());
        if let Some(closest) = closest_name(name, CATALOG.iter().map(|m| m.id)) {
            error
                .message
                .push_str(&format!(" — did you mean {closest}?"));
            error = error.suggesting(closest);
        }
        Err(error)
    }

    fn call(&mut self, name: &str, args: &[Expr], expr: &Expr) -> Result<(Plan, Unit), ParseError> {
        let lower = name.to_ascii_lowercase();
        match lower.as_str() {
            "abs" | "round" => {
                let Some(first) = args.first() else {
                    return Err(ParseError::new(
                        expr.span,
                        format!("{lower}() needs a value"),
                    ));
                };
                let (plan, unit) = self.plan(first)?;
                if lower == "abs" {
                    if args.len() > 1 {
                        return Err(ParseError::new(args[1].span, "abs() takes one value"));
                    }
                    return Ok((Plan::Abs(Box::new(plan)), unit));
                }
                let digits = match args.get(1).map(|a| &a.kind) {
                    None => 0,
                    Some(ExprKind::Number(n)) if n.fract() == 0.0 && n.abs() <= 15.0 => *n as i32,
                    Some(_) => {
                        return Err(ParseError::new(
                            args[1].span,
                            "round()'s digits must be a whole number from -15 to 15",
                        ))
                    }
                };
                if args.len() > 2 {
                    return Err(ParseError::new(
                        args[2].span,
                        "round() takes a value and digits",
                    ));
                }
                Ok((Plan::Round(Box::new(plan), digits), unit))
            }
            _ if is_aggregate(&lower) => self.aggregate(&lower, args, expr),
            _ => {
                let known: Vec<&str> = crate::expr::AGGREGATE_FUNCTIONS
                    .iter()
                    .copied()
                    .chain(["p95", "abs", "round"])
                    .collect();
                let mut error = ParseError::new(
                    expr.span,
                    format!("{name}() is not a metric function: use an aggregate (sum, count, count_distinct, avg, min, max, median, p1…p99, share), abs or round"),
                )
                .expecting(&known);
                if let Some(closest) = closest_name(name, known.iter().copied()) {
                    error
                        .message
                        .push_str(&format!(" — did you mean {closest}?"));
                    error = error.suggesting(closest);
                }
                Err(error)
            }
        }
    }

    fn aggregate(
        &mut self,
        name: &str,
        args: &[Expr],
        expr: &Expr,
    ) -> Result<(Plan, Unit), ParseError> {
        let function = match name {
            "count" => Function::Count,
            "count_distinct" => Function::CountDistinct,
            "sum" => Function::Sum,
            "avg" => Function::Avg,
            "min" => Function::Min,
            "max" => Function::Max,
            "median" => Function::Quantile(0.5),
            "share" => Function::Share,
            percentile => {
                let n: f64 = percentile[1..].parse().unwrap_or(50.0);
                Function::Quantile(n / 100.0)
            }
        };
        if args.len() > 1 {
            return Err(ParseError::new(
                args[1].span,
                format!("{name}() takes one value (with an optional where): combine several with and / or"),
            ));
        }
        let (value, filter) = match args.first().map(|a| &a.kind) {
            None => (None, None),
            Some(ExprKind::Filter {
                value, condition, ..
            }) => {
                let value = (value.kind != ExprKind::Rows).then(|| value.as_ref().clone());
                (value, Some(condition.as_ref().clone()))
            }
            Some(_) => (args.first().cloned(), None),
        };
        for part in value.iter().chain(filter.iter()) {
            if let Some(inner) = find_aggregate(part) {
                return Err(ParseError::new(
                    inner.span,
                    "an aggregate cannot be inside another: each one reads rows",
                ));
            }
        }
        let needs_value = !matches!(function, Function::Count | Function::Share);
        if needs_value && value.is_none() {
            return Err(ParseError::new(
                expr.span,
                format!("{name}() needs a value, as in {name}(amount)"),
            ));
        }
        if function == Function::Share && filter.is_none() {
            return Err(ParseError::new(
                expr.span,
                "share() needs a where: share(where channel = \"app\") is the share of rows, share(amount where …) the share of the amount",
            ));
        }
        let unit =
            match function {
                Function::Count | Function::CountDistinct => Unit::Count,
                Function::Share => Unit::Ratio,
                _ => value
                    .as_ref()
                    .and_then(|v| self.role_of(v))
                    .map_or(Unit::Number, |role| match role {
                        Role::Amount | Role::Fee => Unit::Currency,
                        Role::LatencyMs => Unit::Milliseconds,
                        _ => Unit::Number,
                    }),
            };
        self.aggregates.push(Aggregate {
            function,
            value,
            filter,
        });
        Ok((Plan::Aggregate(self.aggregates.len() - 1), unit))
    }

    /// The role of a bare column reference, if it plays one.
    fn role_of(&self, expr: &Expr) -> Option<Role> {
        let ExprKind::Column { name, .. } = &expr.kind else {
            return None;
        };
        let index = self
            .names
            .iter()
            .position(|n| n == name)
            .or_else(|| self.names.iter().position(|n| n.eq_ignore_ascii_case(name)))?;
        (self.role_of_name)(index)
    }
}

/// An aggregate call anywhere in `expr`.
fn find_aggregate(expr: &Expr) -> Option<&Expr> {
    match &expr.kind {
        ExprKind::Call { name, .. } if is_aggregate(name) => Some(expr),
        ExprKind::Call { args, .. } => args.iter().find_map(find_aggregate),
        ExprKind::Unary { operand, .. } => find_aggregate(operand),
        ExprKind::Binary { left, right, .. } => {
            find_aggregate(left).or_else(|| find_aggregate(right))
        }
        ExprKind::In { operand, list, .. } => {
            find_aggregate(operand).or_else(|| list.iter().find_map(find_aggregate))
        }
        ExprKind::Filter {
            value, condition, ..
        } => find_aggregate(value).or_else(|| find_aggregate(condition)),
        _ => None,
    }
}

/// The unit of `a op b`: money divided by a count is still money (ARPU-like), a unit scaled by
/// a plain number keeps it, the sum or difference of two alike keeps it; anything else is a
/// plain number.
fn combined_unit(op: BinaryOp, a: Unit, b: Unit, plan_a: &Plan, plan_b: &Plan) -> Unit {
    let constant = |p: &Plan| matches!(p, Plan::Number(_));
    match op {
        BinaryOp::Add | BinaryOp::Subtract if a == b => a,
        BinaryOp::Add | BinaryOp::Subtract if constant(plan_b) => a,
        BinaryOp::Add | BinaryOp::Subtract if constant(plan_a) => b,
        BinaryOp::Multiply if constant(plan_b) => a,
        BinaryOp::Multiply if constant(plan_a) => b,
        BinaryOp::Divide if constant(plan_b) => a,
        BinaryOp::Divide if a == Unit::Currency && b == Unit::Count => Unit::Currency,
        _ => Unit::Number,
    }
}

/// Every custom metric of the options, parsed against the table's formula names (and the roles
/// their columns play, for units); each definition's outcome, in order.
pub fn parse_all(
    definitions: &[String],
    formulas: &FormulaTable,
    mapping: &Mapping,
) -> Vec<Result<CustomMetric, ParseError>> {
    let roles = name_roles(formulas, mapping);
    let role_of_name = |index: usize| roles[index];
    let names = &formulas.names;
    let mut taken: Vec<String> = Vec::new();
    definitions
        .iter()
        .enumerate()
        .map(|(index, definition)| {
            if index >= MAX_CUSTOM_METRICS {
                return Err(ParseError::new(
                    Span::new(0, definition.chars().count()),
                    format!("at most {MAX_CUSTOM_METRICS} custom metrics: remove some first"),
                ));
            }
            let metric = CustomMetric::parse(definition, names, &role_of_name, &taken)?;
            taken.push(metric.id.clone());
            Ok(metric)
        })
        .collect()
}

/// The role each formula name plays: a header's column's role, or the role an alias names.
fn name_roles(formulas: &FormulaTable, mapping: &Mapping) -> Vec<Option<Role>> {
    (0..formulas.names.len())
        .map(|index| {
            let column = formulas.target(index);
            Role::ALL
                .into_iter()
                .find(|&role| mapping.column(role) == Some(column))
        })
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Evaluation over rows
// ------------------------------------------------------------------------------------------------

/// The aggregates of every metric, compiled against the table, ready to read rows.
///
/// A formula's value on a row depends only on the cells of the columns it reads, and payment
/// data repeats itself (a few statuses, channels, funding sources; amounts and ids repeat too).
/// So each part of an aggregate (its value, its filter) is evaluated once per distinct
/// combination of its columns' dictionary codes and kept: a row then costs a few array reads.
/// 1M rows, two metrics: ~1.4 s evaluating every row, a few tens of ms this way.
pub struct Evaluator<'f, 'r> {
    formulas: &'f FormulaTable<'f>,
    /// Each typed row's row in the table (rows the typing skipped are not in the calendar).
    table_rows: &'f [u32],
    aggregates: Vec<RowAggregate<'f, 'r>>,
    /// Where each metric's aggregates start in `aggregates`.
    starts: Vec<usize>,
}

struct RowAggregate<'f, 'r> {
    function: Function,
    value: Option<Part<'f, 'r>>,
    filter: Option<Part<'f, 'r>>,
}

/// A compiled value or filter, with what it gave for each combination of its columns' codes.
struct Part<'f, 'r> {
    compiled: Compiled<'r>,
    role: PartRole,
    /// Each column read, as its codes per typed row and its number of codes (`None`: too many
    /// combinations to keep, evaluated on every row).
    key: Option<Vec<(&'f Codes, usize)>>,
    /// What the part gave per combination, as `Slot` bits (`UNKNOWN` before it is evaluated):
    /// 8 bytes, so that more of the table stays in cache.
    memo: Vec<u64>,
    /// The text values of a distinct count, as ids.
    ids: HashMap<String, u32>,
}

#[derive(Clone, Copy, PartialEq)]
enum PartRole {
    Filter,
    /// Whether the value is there (`count(x)`).
    Present,
    Number,
    /// The value as text, for distinct counts.
    Text,
}

/// A part's value on a row, as bits: a number's own bits, an id, or one of these NaNs (no
/// formula gives a NaN: a result that is not a finite number is null).
const UNKNOWN: u64 = 0x7ff8_dead_0000_0001;
const SKIP: u64 = 0x7ff8_dead_0000_0002;
const KEEP: u64 = 0x7ff8_dead_0000_0003;

/// At most this many combinations of codes are kept per part, beyond the rows themselves.
const MAX_KEPT: usize = 1 << 20;

impl Part<'_, '_> {
    /// What the part gives on each of `rows` (typed rows), as `Slot` bits.
    fn over(&mut self, rows: &[u32], cursor: &mut FormulaRow, table_rows: &[u32]) -> Vec<u64> {
        let mut out = Vec::with_capacity(rows.len());
        for &row in rows {
            let key = self.key.as_ref().map(|columns| {
                columns.iter().fold(0usize, |key, (codes, size)| {
                    key * size + codes.get(row as usize) as usize
                })
            });
            let known = key.map_or(UNKNOWN, |k| self.memo[k]);
            if known != UNKNOWN {
                out.push(known);
                continue;
            }
            cursor.go_to(table_rows[row as usize] as usize);
            let slot = self.evaluate(cursor);
            if let Some(k) = key {
                self.memo[k] = slot;
            }
            out.push(slot);
        }
        out
    }

    #[inline(never)]
    fn evaluate(&mut self, cursor: &FormulaRow) -> u64 {
        let value = self.compiled.eval(cursor);
        match self.role {
            PartRole::Filter => match value.as_bool() {
                Some(true) => KEEP,
                _ => SKIP,
            },
            PartRole::Present if value.is_null() => SKIP,
            PartRole::Present => KEEP,
            PartRole::Number => value
                .as_number()
                .filter(|n| n.is_finite())
                .map_or(SKIP, f64::to_bits),
            PartRole::Text => {
                let text = value.to_cell();
                let text = text.trim();
                if value.is_null() || text.is_empty() {
                    SKIP
                } else {
                    let next = self.ids.len() as u32;
                    u64::from(*self.ids.entry(text.to_string()).or_insert(next))
                }
            }
        }
    }
}

/// What one aggregate has seen of a set of rows.
#[derive(Clone)]
pub enum Accumulator {
    Count(u64),
    Sum {
        sum: f64,
        count: u64,
    },
    Min(Option<f64>),
    Max(Option<f64>),
    /// The numbers as `order_key`s: percentiles then share the selection the catalog's use.
    Values(Vec<u64>),
    Share {
        part: f64,
        whole: f64,
    },
}

impl Accumulator {
    pub fn new(function: Function) -> Accumulator {
        match function {
            Function::Count | Function::CountDistinct => Accumulator::Count(0),
            Function::Sum | Function::Avg => Accumulator::Sum { sum: 0.0, count: 0 },
            Function::Min => Accumulator::Min(None),
            Function::Max => Accumulator::Max(None),
            Function::Quantile(_) => Accumulator::Values(Vec::new()),
            Function::Share => Accumulator::Share {
                part: 0.0,
                whole: 0.0,
            },
        }
    }

    /// Adds a row's number (1 for a row counted); `kept`: the row passes the aggregate's
    /// filter (only `share` sees rows that do not).
    pub fn add(&mut self, number: f64, kept: bool) {
        match self {
            Accumulator::Count(n) => *n += 1,
            Accumulator::Sum { sum, count } => {
                *sum += number;
                *count += 1;
            }
            Accumulator::Min(v) => *v = Some(v.map_or(number, |v| v.min(number))),
            Accumulator::Max(v) => *v = Some(v.map_or(number, |v| v.max(number))),
            Accumulator::Values(values) => values.push(order_key(number)),
            Accumulator::Share { part, whole } => {
                *whole += number;
                if kept {
                    *part += number;
                }
            }
        }
    }

    /// Adds what `other` (of the same function) has seen: a streamed report's days merged
    /// into its periods.
    pub fn merge(&mut self, other: &Accumulator) {
        match (self, other) {
            (Accumulator::Count(n), Accumulator::Count(m)) => *n += m,
            (Accumulator::Sum { sum, count }, Accumulator::Sum { sum: s, count: c }) => {
                *sum += s;
                *count += c;
            }
            (Accumulator::Min(v), Accumulator::Min(Some(w))) => {
                *v = Some(v.map_or(*w, |v| v.min(*w)))
            }
            (Accumulator::Max(v), Accumulator::Max(Some(w))) => {
                *v = Some(v.map_or(*w, |v| v.max(*w)))
            }
            (Accumulator::Values(values), Accumulator::Values(more)) => values.extend(more),
            (Accumulator::Share { part, whole }, Accumulator::Share { part: p, whole: w }) => {
                *part += p;
                *whole += w;
            }
            _ => {}
        }
    }

    pub fn result(&mut self, function: Function) -> Option<f64> {
        match (self, function) {
            (Accumulator::Count(n), _) => Some(*n as f64),
            (Accumulator::Sum { sum, .. }, Function::Sum) => Some(*sum),
            (Accumulator::Sum { sum, count }, _) => (*count > 0).then(|| *sum / *count as f64),
            (Accumulator::Min(v) | Accumulator::Max(v), _) => *v,
            (Accumulator::Values(values), Function::Quantile(q)) => {
                key_percentiles(values, &[q]).into_iter().next().flatten()
            }
            (Accumulator::Values(_), _) => None,
            (Accumulator::Share { part, whole }, _) => (*whole != 0.0).then(|| *part / *whole),
        }
    }
}

/// What an aggregate makes of one row (`Evaluator::see`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Seen {
    /// A number to add (1 for a row counted); `kept`: the row passes the aggregate's filter.
    Number { value: f64, kept: bool },
    /// A distinct count's value, by its id among the evaluator's (`Evaluator::distinct_values`).
    Id(u32),
}

impl<'f, 'r> Evaluator<'f, 'r> {
    /// Compiles every metric's aggregates against `formulas`. `read_number` must be
    /// `formulas.read_number`, given by the caller so that the compiled formulas can borrow it;
    /// `codes(column)` is a table column's dictionary codes per typed row and its number of
    /// codes. On an error, says which metric (its index in `metrics`) it is in.
    pub fn new(
        metrics: &[&CustomMetric],
        formulas: &'f FormulaTable<'f>,
        read_number: &'r crate::expr::NumberReader<'r>,
        table_rows: &'f [u32],
        codes: &dyn Fn(usize) -> (&'f Codes, usize),
    ) -> Result<Evaluator<'f, 'r>, (usize, ParseError)> {
        let mut aggregates = Vec::new();
        let mut starts = Vec::with_capacity(metrics.len());
        let part = |expr: &Expr, role: PartRole| -> Result<Part<'f, 'r>, ParseError> {
            let expect = match role {
                PartRole::Filter => Expect::Condition,
                PartRole::Number => Expect::Number,
                PartRole::Present | PartRole::Text => Expect::Natural,
            };
            let compiled = compile_as(expr, &formulas.names, read_number, expect)?;
            let columns: Vec<(&'f Codes, usize)> = compiled
                .columns()
                .into_iter()
                .map(|column| codes(formulas.target(column)))
                .collect();
            let combinations = columns
                .iter()
                .try_fold(1usize, |n, (_, size)| n.checked_mul((*size).max(1)));
            let limit = MAX_KEPT.max(table_rows.len());
            let (key, memo) = match combinations {
                Some(n) if n <= limit => (Some(columns), vec![UNKNOWN; n]),
                _ => (None, Vec::new()),
            };
            Ok(Part {
                compiled,
                role,
                key,
                memo,
                ids: HashMap::new(),
            })
        };
        for (index, metric) in metrics.iter().enumerate() {
            starts.push(aggregates.len());
            for aggregate in &metric.aggregates {
                let role = match aggregate.function {
                    Function::Count => PartRole::Present,
                    Function::CountDistinct => PartRole::Text,
                    _ => PartRole::Number,
                };
                let value = aggregate
                    .value
                    .as_ref()
                    .map(|v| part(v, role))
                    .transpose()
                    .map_err(|e| (index, e))?;
                let filter = aggregate
                    .filter
                    .as_ref()
                    .map(|f| part(f, PartRole::Filter))
                    .transpose()
                    .map_err(|e| (index, e))?;
                aggregates.push(RowAggregate {
                    function: aggregate.function,
                    value,
                    filter,
                });
            }
        }
        Ok(Evaluator {
            formulas,
            table_rows,
            aggregates,
            starts,
        })
    }

    /// Each aggregate's function, in order (a metric's aggregates from `starts()[metric]`).
    pub fn functions(&self) -> Vec<Function> {
        self.aggregates.iter().map(|a| a.function).collect()
    }

    /// Where each metric's aggregates start among `functions()`.
    pub fn starts(&self) -> &[usize] {
        &self.starts
    }

    /// What aggregate `aggregate` makes of each of `rows` (typed rows): `each(i, seen)` for the
    /// `i`th row that it adds to (a row it skips is not given).
    ///
    /// Each part over every row first: tight loops let the memory reads of the memo tables
    /// overlap.
    pub fn see(&mut self, aggregate: usize, rows: &[u32], mut each: impl FnMut(usize, Seen)) {
        let mut cursor = self.formulas.row();
        let table_rows = self.table_rows;
        let aggregate = &mut self.aggregates[aggregate];
        let function = aggregate.function;
        let filter = aggregate
            .filter
            .as_mut()
            .map(|part| part.over(rows, &mut cursor, table_rows));
        let value = aggregate
            .value
            .as_mut()
            .map(|part| part.over(rows, &mut cursor, table_rows));
        if function == Function::CountDistinct {
            for (i, &slot) in value.iter().flatten().enumerate() {
                if slot == SKIP || filter.as_ref().is_some_and(|f| f[i] != KEEP) {
                    continue;
                }
                each(i, Seen::Id(slot as u32));
            }
            return;
        }
        for i in 0..rows.len() {
            let kept = filter.as_ref().is_none_or(|f| f[i] == KEEP);
            if !kept && function != Function::Share {
                continue;
            }
            let value = match value.as_ref().map(|v| v[i]) {
                None | Some(KEEP) => 1.0,
                Some(SKIP) => continue,
                Some(bits) => f64::from_bits(bits),
            };
            each(i, Seen::Number { value, kept });
        }
    }

    /// The values of distinct-count aggregate `aggregate` met so far, by their `Seen::Id`.
    pub fn distinct_values(&self, aggregate: usize) -> Vec<&str> {
        let ids = self.aggregates[aggregate]
            .value
            .as_ref()
            .map(|part| &part.ids);
        let mut values = vec![""; ids.map_or(0, HashMap::len)];
        for (text, &id) in ids.into_iter().flatten() {
            values[id as usize] = text;
        }
        values
    }

    /// The values of every aggregate over `rows` (typed rows in day order), in total and per
    /// bucket (`bucket_of(row)`, `buckets` of them, each bucket's rows together).
    pub fn tally(
        &mut self,
        rows: &[u32],
        bucket_of: &dyn Fn(u32) -> Option<usize>,
        buckets: usize,
    ) -> Tallies {
        let bucket: Vec<usize> = rows
            .iter()
            .map(|&row| {
                bucket_of(row)
                    .filter(|&b| b < buckets)
                    .unwrap_or(usize::MAX)
            })
            .collect();
        let mut totals = Vec::with_capacity(self.aggregates.len());
        let mut per_bucket = vec![Vec::with_capacity(self.aggregates.len()); buckets];
        for (index, function) in self.functions().into_iter().enumerate() {
            let mut total = Accumulator::new(function);
            let mut by_bucket = vec![Accumulator::new(function); buckets];
            // A distinct count: whether each id was seen in the period, and the last bucket
            // (+ 1) it was seen in: a bucket's rows come together, so that is enough to count
            // per bucket.
            let mut in_period: Vec<bool> = Vec::new();
            let mut last_bucket: Vec<usize> = Vec::new();
            self.see(index, rows, |i, seen| match seen {
                Seen::Id(id) => {
                    let id = id as usize;
                    if id >= in_period.len() {
                        in_period.resize(id + 1, false);
                        last_bucket.resize(id + 1, 0);
                    }
                    if !in_period[id] {
                        in_period[id] = true;
                        total.add(1.0, true);
                    }
                    let b = bucket[i];
                    if b != usize::MAX && last_bucket[id] != b + 1 {
                        last_bucket[id] = b + 1;
                        by_bucket[b].add(1.0, true);
                    }
                }
                Seen::Number { value, kept } => {
                    total.add(value, kept);
                    if let Some(acc) = by_bucket.get_mut(bucket[i]) {
                        acc.add(value, kept);
                    }
                }
            });
            totals.push(total.result(function));
            for (b, mut acc) in by_bucket.into_iter().enumerate() {
                per_bucket[b].push(acc.result(function));
            }
        }
        Tallies {
            totals,
            buckets: per_bucket,
            starts: self.starts.clone(),
        }
    }
}

/// The aggregates' values of a set of rows: in total and per bucket.
pub struct Tallies {
    pub totals: Vec<Option<f64>>,
    pub buckets: Vec<Vec<Option<f64>>>,
    starts: Vec<usize>,
}

impl Tallies {
    /// The aggregates' values found elsewhere (a streamed report's), with each metric's first
    /// aggregate's place (`Evaluator::starts`).
    pub fn new(
        totals: Vec<Option<f64>>,
        buckets: Vec<Vec<Option<f64>>>,
        starts: Vec<usize>,
    ) -> Tallies {
        Tallies {
            totals,
            buckets,
            starts,
        }
    }

    /// Metric `index`'s aggregates among `values` (the totals or a bucket's).
    pub fn of<'v>(&self, values: &'v [Option<f64>], index: usize) -> &'v [Option<f64>] {
        let start = self.starts[index];
        let end = self.starts.get(index + 1).copied().unwrap_or(values.len());
        &values[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 5] = ["amount", "status", "channel", "user_id", "latency_ms"];

    fn parse(definition: &str) -> Result<CustomMetric, ParseError> {
        let names: Vec<String> = NAMES.iter().map(|n| n.to_string()).collect();
        let roles = |index: usize| match index {
            0 => Some(Role::Amount),
            4 => Some(Role::LatencyMs),
            _ => None,
        };
        CustomMetric::parse(definition, &names, &roles, &["taken".to_string()])
    }

    #[test]
    fn valid_definitions_read_back_in_canonical_form_with_their_unit() {
        let cases = [
            ("a = count()", "count()", Unit::Count),
            (
                "a = count(where status = 'failed')",
                "count(where status = \"failed\")",
                Unit::Count,
            ),
            (
                "a = SUM(amount where channel in ('app', 'web'))",
                "SUM(amount where channel in (\"app\", \"web\"))",
                Unit::Currency,
            ),
            ("a = p95(latency_ms)", "p95(latency_ms)", Unit::Milliseconds),
            (
                "a = share(amount where not status = 'ok')",
                "share(amount where not (status = \"ok\"))",
                Unit::Ratio,
            ),
            (
                "a = sum(amount) / count_distinct(user_id)",
                "sum(amount) / count_distinct(user_id)",
                Unit::Currency,
            ),
            (
                "a = tpv / txn_count * 100",
                "(tpv / txn_count) * 100",
                Unit::Currency,
            ),
            (
                "a = success_rate * count()",
                "success_rate * count()",
                Unit::Number,
            ),
            (
                "a = round(avg(amount), 2)",
                "round(avg(amount), 2)",
                Unit::Currency,
            ),
            (
                "a = -median(amount * 2 where amount > 10)",
                "-median(amount * 2 where amount > 10)",
                Unit::Number,
            ),
        ];
        for (definition, formula, unit) in cases {
            let metric = parse(definition).unwrap_or_else(|e| panic!("{definition}: {e}"));
            assert_eq!(metric.formula, formula, "{definition}");
            assert_eq!(metric.unit, unit, "{definition}");
        }
    }

    #[test]
    fn invalid_definitions_give_exact_messages() {
        let cases = [
            ("tpv = count()", "at column 1: tpv is already a catalog metric; give the custom metric another name"),
            ("Taken = count()", "at column 1: there is already a custom metric named Taken"),
            ("bucket = count()", "at column 1: bucket names the time bucket in the series; give the metric another name"),
            ("a = amount", "at column 5: amount is a column: a metric reads it through an aggregate, as in sum(amount) or count_distinct(amount)"),
            ("a = tvp", "at column 5: unknown metric tvp: outside aggregates a name is a catalog metric id — did you mean tpv?"),
            ("a = count() where status = 'x'", "at column 12: a metric's filter goes inside its aggregates, as in sum(amount where status = \"success\")"),
            ("a = sum()", "at column 5: sum() needs a value, as in sum(amount)"),
            ("a = share(status = 'x')", "at column 5: share() needs a where: share(where channel = \"app\") is the share of rows, share(amount where …) the share of the amount"),
            ("a = sum(amount, 2)", "at column 17: sum() takes one value (with an optional where): combine several with and / or"),
            ("a = sum(max(amount))", "at column 9: an aggregate cannot be inside another: each one reads rows"),
            ("a = count() > 3", "at column 5: a comparison is not a metric: put it in an aggregate's where, as in count(where status = \"failed\"), or use share(where …)"),
            ("a = 'text'", "at column 5: a metric is a number: text, true, false and null only work inside an aggregate's where"),
            ("a = summ(amount)", "at column 5: summ() is not a metric function: use an aggregate (sum, count, count_distinct, avg, min, max, median, p1…p99, share), abs or round — did you mean sum?"),
            ("a = round(sum(amount), 2.5)", "at column 24: round()'s digits must be a whole number from -15 to 15"),
            ("a = count(", "at column 11: expected a value after '(' but found end of formula"),
        ];
        for (definition, message) in cases {
            match parse(definition) {
                Ok(metric) => panic!("{definition}: parsed as {}", metric.formula),
                Err(error) => assert_eq!(error.to_string(), message, "{definition}"),
            }
        }
    }

    #[test]
    fn values_follow_sql_for_missing_and_zero() {
        let metric = parse("a = sum(amount) / count()").unwrap();
        let catalog = |_: &'static str| None;
        assert_eq!(metric.value(&[Some(10.0), Some(4.0)], &catalog), Some(2.5));
        assert_eq!(
            metric.value(&[Some(10.0), Some(0.0)], &catalog),
            None,
            "division by zero"
        );
        assert_eq!(metric.value(&[None, Some(4.0)], &catalog), None);
        let with_catalog = parse("a = tpv - 1").unwrap();
        assert_eq!(
            with_catalog.value(&[], &|id| (id == "tpv").then_some(5.0)),
            Some(4.0)
        );
    }
}
