//! Formulas: the small expression language in which users define derived columns today
//! (`amount = quantity * unit_price`, `amount = -amount where direction = "收入"`) and custom
//! metrics later (`sum(amount where status = "success") / count_distinct(user_id)`).
//!
//! The users are product managers and analysts, so the error messages are the product: every
//! error says where (1-based column, counted in characters), what was expected, what was found,
//! and, when it can, what to write instead. That is why the parser is written by hand
//! (recursive descent with Pratt-style precedence climbing) rather than generated: each decision
//! point knows its context ("the '(' at column 4 is not closed", "'where' only works inside an
//! aggregate") and can say so.
//!
//! # Grammar
//!
//! ```text
//! definition  = name "=" expr [ "where" expr ] ;
//! expr        = or ;
//! or          = and { "or" and } ;
//! and         = not { "and" not } ;
//! not         = "not" not | comparison ;
//! comparison  = additive [ ( "=" | "==" | "!=" | "<>" | "<" | "<=" | ">" | ">=" ) additive
//!                        | [ "not" ] "in" "(" expr { "," expr } ")" ] ;   (no chaining: a < b < c)
//! additive    = multiplicative { ( "+" | "-" ) multiplicative } ;
//! multiplicative = unary { ( "*" | "/" | "%" ) unary } ;
//! unary       = "-" unary | primary ;
//! primary     = number | text | "true" | "false" | "null" | name
//!             | identifier "(" [ argument { "," argument } ] ")" | "(" expr ")" ;
//! argument    = expr [ "where" expr ] ;                  (a filter: meaningful in aggregates)
//! name        = identifier | "`" { any character | "``" } "`" ;     (`` is a backquote)
//! identifier  = ( letter | "_" ) { letter | digit | "_" } ;   (letters of any script: 收支)
//! number      = ( digits [ "." [ digits ] ] | "." digits ) [ "e" [ "+" | "-" ] digits ] ;
//! text        = '"' { character | escape } '"' | "'" { character | escape } "'" ;
//! escape      = '\"' | "\'" | "\\" | "\n" | "\t" ;
//! ```
//!
//! Keywords (`and or not in where true false null`) and the `e` of exponents are
//! case-insensitive, and so are function and column names. Binary operators are
//! left-associative.
//!
//! # Row-level meaning
//!
//! * A column is read as a number where a number is needed (arithmetic, `abs`, `round`, compared
//!   with a number), through the caller's `read_number(column, text)` so that the column's
//!   decimal convention and currency signs apply; as text otherwise. Two columns compared with
//!   each other compare as numbers when both cells read as numbers, else as text.
//! * An empty cell is `null`. Arithmetic with `null` is `null`; so is division (or `%`) by zero
//!   and any result that is not a finite number.
//! * Comparisons follow SQL: a comparison with `null` is unknown (`null`), `not` of unknown is
//!   unknown, `false and unknown` is false, `true or unknown` is true. A `where` condition holds
//!   only when it is true, so a row whose cell is empty is never selected by a comparison. To
//!   find empty cells write `is_null(x)`.
//! * Text compares exactly after trimming both sides; `<` and `>` on text compare characters
//!   (ISO dates like "2025-08-01" order correctly). A number column compared with a text literal
//!   (`amount = "12.50"`) compares the text as written.
//! * Row-level functions: `abs(x)`, `round(x[, digits])` (half away from zero, on the decimal
//!   digits the user sees), `lower`, `upper`, `trim`, `len` (characters), `contains(text, part)`,
//!   `starts_with(text, beginning)` (both case-sensitive), `coalesce(a, b, …)`,
//!   `if(condition, a, b)` (an unknown condition takes `b`, like SQL's CASE), `is_null(x)`.
//!   Where text is needed a number is written with `format_number`, a condition as true/false.
//! * Aggregates (`sum`, `count`, `count_distinct`, `avg`, `min`, `max`, `median`, `share`,
//!   `p1`…`p99`) and `where` inside a call parse, for custom metrics, but a row-level formula
//!   refuses them.
use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

/// Deepest nesting of a formula (parentheses, operators, calls) before it is refused. It keeps
/// the parser, the evaluator and the destructor of a pathological input far from the end of the
/// stack, including on wasm32 where the stack is small.
pub const MAX_NESTING: usize = 200;

/// The words of the formula language; a column with one of these names is written in backquotes.
pub const KEYWORDS: [&str; 8] = ["and", "or", "not", "in", "where", "true", "false", "null"];

/// Aggregate functions, for custom metrics. Percentiles `p1` to `p99` are aggregates too.
pub const AGGREGATE_FUNCTIONS: [&str; 8] = [
    "sum",
    "count",
    "count_distinct",
    "avg",
    "min",
    "max",
    "median",
    "share",
];

const AGGREGATES_ARE_FOR_METRICS: &str =
    "aggregate functions like sum() are for metrics, not for derived columns";

const WHERE_ONLY_IN_AGGREGATES: &str = "'where' filters only work inside an aggregate, as in \
     sum(amount where status = \"success\"), or at the end of a derived column: \
     name = formula where condition";

/// Longest piece of the formula quoted back in a message.
const EXCERPT_CHARS: usize = 40;

// ------------------------------------------------------------------------------------------------
// Errors
// ------------------------------------------------------------------------------------------------

/// A formula that cannot be read or does not fit the table. Parsing and compiling both report
/// with this type, so the page shows every problem the same way.
#[derive(Debug, Clone, PartialEq)]
pub struct ParseError {
    /// Where the problem starts: a 0-based offset in characters (not bytes) into the formula.
    pub position: usize,
    /// Where it ends (exclusive, in characters), so that a page can underline the whole part.
    pub end: usize,
    /// What is wrong, in words for the user, without the position.
    pub message: String,
    /// What would have fitted here: symbols like ")" or ",", or kinds like "value",
    /// "operator", "end of formula"; for an unknown column, the table's columns.
    pub expected: Vec<String>,
    /// Text to write instead, when there is one obvious fix (a column name, `is_null(x)`, …).
    pub suggestion: Option<String>,
}

impl ParseError {
    pub(crate) fn new(span: Span, message: impl Into<String>) -> Self {
        ParseError {
            position: span.start,
            end: span.end.max(span.start),
            message: message.into(),
            expected: Vec::new(),
            suggestion: None,
        }
    }

    pub(crate) fn expecting(mut self, expected: &[&str]) -> Self {
        self.expected = expected.iter().map(|item| item.to_string()).collect();
        self
    }

    pub(crate) fn suggesting(mut self, suggestion: impl Into<String>) -> Self {
        self.suggestion = Some(suggestion.into());
        self
    }

    /// The 1-based column shown to the user.
    pub fn column(&self) -> usize {
        self.position + 1
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "at column {}: {}", self.column(), self.message)
    }
}

impl std::error::Error for ParseError {}

#[cold]
#[inline(never)]
fn too_deep(span: Span) -> ParseError {
    ParseError::new(
        span,
        format!(
            "the formula is nested too deeply (more than {MAX_NESTING} levels); \
             split it into several derived columns"
        ),
    )
}

// ------------------------------------------------------------------------------------------------
// Syntax tree
// ------------------------------------------------------------------------------------------------

/// A range of the formula, in characters (0-based, end exclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Span {
    pub start: usize,
    pub end: usize,
}

impl Span {
    pub fn new(start: usize, end: usize) -> Self {
        Span { start, end }
    }

    /// The smallest span covering both.
    pub fn to(self, other: Span) -> Span {
        Span::new(self.start.min(other.start), self.end.max(other.end))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnaryOp {
    Negate,
    Not,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    Add,
    Subtract,
    Multiply,
    Divide,
    Remainder,
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
    And,
    Or,
}

impl BinaryOp {
    /// How the operator is written in the canonical form of a formula.
    pub fn symbol(self) -> &'static str {
        match self {
            BinaryOp::Add => "+",
            BinaryOp::Subtract => "-",
            BinaryOp::Multiply => "*",
            BinaryOp::Divide => "/",
            BinaryOp::Remainder => "%",
            BinaryOp::Equal => "=",
            BinaryOp::NotEqual => "!=",
            BinaryOp::Less => "<",
            BinaryOp::LessOrEqual => "<=",
            BinaryOp::Greater => ">",
            BinaryOp::GreaterOrEqual => ">=",
            BinaryOp::And => "and",
            BinaryOp::Or => "or",
        }
    }

    pub fn is_arithmetic(self) -> bool {
        matches!(
            self,
            BinaryOp::Add
                | BinaryOp::Subtract
                | BinaryOp::Multiply
                | BinaryOp::Divide
                | BinaryOp::Remainder
        )
    }

    pub fn is_comparison(self) -> bool {
        matches!(
            self,
            BinaryOp::Equal
                | BinaryOp::NotEqual
                | BinaryOp::Less
                | BinaryOp::LessOrEqual
                | BinaryOp::Greater
                | BinaryOp::GreaterOrEqual
        )
    }

    fn is_ordering(self) -> bool {
        self.is_comparison() && !matches!(self, BinaryOp::Equal | BinaryOp::NotEqual)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Number(f64),
    Text(String),
    Bool(bool),
    Null,
    /// A column reference. `quoted` records the backquotes, so that messages can tell the user
    /// how the name was written.
    Column {
        name: String,
        quoted: bool,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `operand in (list)`, or `operand not in (list)` when `negated`.
    In {
        operand: Box<Expr>,
        list: Vec<Expr>,
        negated: bool,
    },
    /// `name(args)`; the name is kept as written (functions are matched case-insensitively).
    Call {
        name: String,
        args: Vec<Expr>,
    },
    /// The value of `count(where …)` and `share(where …)`: each row, written as nothing.
    Rows,
    /// `value where condition`, a call argument filtered row by row: only aggregates give it a
    /// meaning (`sum(amount where status = "success")`). `keyword` is where `where` is written.
    Filter {
        value: Box<Expr>,
        condition: Box<Expr>,
        keyword: Span,
    },
}

/// A node of a parsed formula with the part of the text it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
    /// Levels of nodes below and including this one, kept at construction so that depth is
    /// checked in constant time (a chain `1+1+1…` is deep without any recursion in the parser).
    nesting: usize,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Self {
        let below = match &kind {
            ExprKind::Number(_)
            | ExprKind::Text(_)
            | ExprKind::Bool(_)
            | ExprKind::Null
            | ExprKind::Rows
            | ExprKind::Column { .. } => 0,
            ExprKind::Unary { operand, .. } => operand.nesting,
            ExprKind::Binary { left, right, .. } => left.nesting.max(right.nesting),
            ExprKind::In { operand, list, .. } => list
                .iter()
                .map(|item| item.nesting)
                .fold(operand.nesting, usize::max),
            ExprKind::Call { args, .. } => args.iter().map(|arg| arg.nesting).max().unwrap_or(0),
            ExprKind::Filter {
                value, condition, ..
            } => value.nesting.max(condition.nesting),
        };
        Expr {
            kind,
            span,
            nesting: below + 1,
        }
    }

    /// Levels of nodes from this one down to its deepest leaf (a leaf has 1).
    pub fn nesting(&self) -> usize {
        self.nesting
    }
}

/// `name = expr [where condition]`: the new value of column `name` where `condition` holds; on
/// the other rows the column keeps its value if it exists, else it is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Definition {
    pub name: String,
    pub name_span: Span,
    pub expr: Expr,
    pub condition: Option<Expr>,
}

/// The canonical form: every operation but the outermost in parentheses, so it shows exactly how
/// a formula was understood (`a + b * c` is written `a + (b * c)`), and it parses back to itself.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_expr(f, self, true)
    }
}

impl fmt::Display for Definition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}", written_name(&self.name), self.expr)?;
        if let Some(condition) = &self.condition {
            write!(f, " where {condition}")?;
        }
        Ok(())
    }
}

fn write_expr(f: &mut fmt::Formatter<'_>, expr: &Expr, outermost: bool) -> fmt::Result {
    let (open, close) = if outermost { ("", "") } else { ("(", ")") };
    match &expr.kind {
        ExprKind::Number(number) => f.write_str(&format_number(*number)),
        ExprKind::Text(text) => f.write_str(&text_literal(text)),
        ExprKind::Bool(value) => write!(f, "{value}"),
        ExprKind::Null => f.write_str("null"),
        ExprKind::Rows => Ok(()),
        ExprKind::Column { name, .. } => f.write_str(&written_name(name)),
        ExprKind::Unary { op, operand } => {
            f.write_str(open)?;
            f.write_str(match op {
                UnaryOp::Negate => "-",
                UnaryOp::Not => "not ",
            })?;
            write_expr(f, operand, false)?;
            f.write_str(close)
        }
        ExprKind::Binary { op, left, right } => {
            f.write_str(open)?;
            write_expr(f, left, false)?;
            write!(f, " {} ", op.symbol())?;
            write_expr(f, right, false)?;
            f.write_str(close)
        }
        ExprKind::In {
            operand,
            list,
            negated,
        } => {
            f.write_str(open)?;
            write_expr(f, operand, false)?;
            f.write_str(if *negated { " not in (" } else { " in (" })?;
            for (index, item) in list.iter().enumerate() {
                if index > 0 {
                    f.write_str(", ")?;
                }
                write_expr(f, item, true)?;
            }
            f.write_str(")")?;
            f.write_str(close)
        }
        ExprKind::Call { name, args } => {
            write!(f, "{name}(")?;
            for (index, arg) in args.iter().enumerate() {
                if index > 0 {
                    f.write_str(", ")?;
                }
                write_expr(f, arg, true)?;
            }
            f.write_str(")")
        }
        ExprKind::Filter {
            value, condition, ..
        } => {
            if value.kind != ExprKind::Rows {
                write_expr(f, value, true)?;
                f.write_str(" ")?;
            }
            f.write_str("where ")?;
            write_expr(f, condition, true)
        }
    }
}

/// A text literal that reads back as `text`.
fn text_literal(text: &str) -> String {
    let mut literal = String::with_capacity(text.len() + 2);
    literal.push('"');
    for c in text.chars() {
        match c {
            '"' => literal.push_str("\\\""),
            '\\' => literal.push_str("\\\\"),
            '\n' => literal.push_str("\\n"),
            '\t' => literal.push_str("\\t"),
            _ => literal.push(c),
        }
    }
    literal.push('"');
    literal
}

/// How to write a column name in a formula: bare when it is an identifier, else in backquotes.
pub fn written_name(name: &str) -> String {
    let bare = name.chars().next().is_some_and(is_name_start)
        && name.chars().all(is_name_char)
        && Keyword::from_word(name).is_none();
    if bare {
        name.to_string()
    } else {
        format!("`{}`", name.replace('`', "``"))
    }
}

fn is_name_start(c: char) -> bool {
    c.is_alphabetic() || c == '_'
}

fn is_name_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

// ------------------------------------------------------------------------------------------------
// Lexer
// ------------------------------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Keyword {
    And,
    Or,
    Not,
    In,
    Where,
    True,
    False,
    Null,
}

impl Keyword {
    fn from_word(word: &str) -> Option<Keyword> {
        // Keywords are ASCII, so an ASCII case-insensitive match is exact and allocation-free.
        let keywords = [
            ("and", Keyword::And),
            ("or", Keyword::Or),
            ("not", Keyword::Not),
            ("in", Keyword::In),
            ("where", Keyword::Where),
            ("true", Keyword::True),
            ("false", Keyword::False),
            ("null", Keyword::Null),
        ];
        keywords
            .iter()
            .find(|(text, _)| text.eq_ignore_ascii_case(word))
            .map(|&(_, keyword)| keyword)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Symbol {
    OpenParen,
    CloseParen,
    Comma,
    Plus,
    Minus,
    Star,
    Slash,
    Percent,
    Equals,
    DoubleEquals,
    NotEquals,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Debug, Clone, PartialEq)]
enum TokenKind {
    Number(f64),
    Text(String),
    Name {
        text: String,
        quoted: bool,
    },
    Keyword(Keyword),
    Symbol(Symbol),
    End,
    /// The lexer stopped here. The error is reported only when the parser reaches this token,
    /// so that the user always sees the leftmost problem of the formula first.
    Invalid(Box<ParseError>),
}

#[derive(Debug, Clone, PartialEq)]
struct Token {
    kind: TokenKind,
    span: Span,
}

/// Splits the formula into tokens, ending with `End` or with the first `Invalid` token.
fn tokenize(chars: &[char]) -> Vec<Token> {
    let mut lexer = Lexer { chars, position: 0 };
    let mut tokens = Vec::new();
    loop {
        match lexer.next_token() {
            Ok(token) => {
                let at_end = token.kind == TokenKind::End;
                tokens.push(token);
                if at_end {
                    return tokens;
                }
            }
            Err(error) => {
                let span = Span::new(error.position, error.end);
                tokens.push(Token {
                    kind: TokenKind::Invalid(Box::new(error)),
                    span,
                });
                return tokens;
            }
        }
    }
}

/// Works on characters, not bytes, so that positions are what the user counts and no slice can
/// split a character.
struct Lexer<'s> {
    chars: &'s [char],
    position: usize,
}

impl Lexer<'_> {
    fn peek(&self, ahead: usize) -> Option<char> {
        self.chars.get(self.position + ahead).copied()
    }

    fn text_between(&self, start: usize, end: usize) -> String {
        self.chars
            .get(start..end)
            .map(|chars| chars.iter().collect())
            .unwrap_or_default()
    }

    fn next_token(&mut self) -> Result<Token, ParseError> {
        while self.peek(0).is_some_and(char::is_whitespace) {
            self.position += 1;
        }
        let start = self.position;
        let Some(c) = self.peek(0) else {
            return Ok(Token {
                kind: TokenKind::End,
                span: Span::new(start, start),
            });
        };
        let kind = match c {
            '0'..='9' => self.number()?,
            '.' if self.peek(1).is_some_and(|next| next.is_ascii_digit()) => self.number()?,
            '"' | '\'' => self.text(c)?,
            '`' => self.quoted_name()?,
            c if is_name_start(c) => self.word(),
            _ => TokenKind::Symbol(self.symbol(c)?),
        };
        Ok(Token {
            kind,
            span: Span::new(start, self.position),
        })
    }

    fn skip_digits(&mut self) {
        while self.peek(0).is_some_and(|c| c.is_ascii_digit()) {
            self.position += 1;
        }
    }

    fn number(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.position;
        // Dots are taken greedily so that `1.2.3` is reported as one bad number.
        while self.peek(0).is_some_and(|c| c.is_ascii_digit() || c == '.') {
            self.position += 1;
        }
        if matches!(self.peek(0), Some('e' | 'E')) {
            let digits_at = if matches!(self.peek(1), Some('+' | '-')) {
                2
            } else {
                1
            };
            if self.peek(digits_at).is_some_and(|c| c.is_ascii_digit()) {
                self.position += digits_at;
                self.skip_digits();
            }
        }
        if self.peek(0).is_some_and(is_name_char) {
            // `12abc`, `3日`: names cannot start with a digit, but such headers exist.
            while self.peek(0).is_some_and(is_name_char) {
                self.position += 1;
            }
            let word = self.text_between(start, self.position);
            return Err(ParseError::new(
                Span::new(start, self.position),
                format!(
                    "{word} is not a number, and a name cannot start with a digit; \
                     for a column with this name write `{word}`"
                ),
            )
            .suggesting(format!("`{word}`")));
        }
        let text = self.text_between(start, self.position);
        let span = Span::new(start, self.position);
        match text.parse::<f64>() {
            Ok(number) if number.is_finite() => Ok(TokenKind::Number(number)),
            Ok(_) => Err(ParseError::new(
                span,
                format!("the number {text} is too large"),
            )),
            Err(_) => Err(ParseError::new(span, format!("{text} is not a number"))),
        }
    }

    fn text(&mut self, quote: char) -> Result<TokenKind, ParseError> {
        let start = self.position;
        let unclosed = || {
            ParseError::new(
                Span::new(start, start + 1),
                format!("this text has no closing {quote}: add {quote} at its end"),
            )
            .expecting(&[&quote.to_string()])
        };
        self.position += 1;
        let mut value = String::new();
        loop {
            match self.peek(0) {
                None => return Err(unclosed()),
                Some('\\') => {
                    let escaped = match self.peek(1) {
                        None => return Err(unclosed()),
                        Some(c @ ('"' | '\'' | '\\' | '`')) => c,
                        Some('n') => '\n',
                        Some('t') => '\t',
                        Some(other) => {
                            return Err(ParseError::new(
                                Span::new(self.position, self.position + 2),
                                format!(
                                    "unknown escape \\{} in text; write \\\\ for a backslash \
                                     and \\{quote} for a quote",
                                    other.escape_debug()
                                ),
                            ))
                        }
                    };
                    value.push(escaped);
                    self.position += 2;
                }
                Some(c) if c == quote => {
                    self.position += 1;
                    return Ok(TokenKind::Text(value));
                }
                Some(c) => {
                    value.push(c);
                    self.position += 1;
                }
            }
        }
    }

    /// A backquoted column name: any header text, with `` for a backquote (as in SQL).
    fn quoted_name(&mut self) -> Result<TokenKind, ParseError> {
        let start = self.position;
        self.position += 1;
        let mut name = String::new();
        loop {
            match self.peek(0) {
                None => {
                    return Err(ParseError::new(
                        Span::new(start, start + 1),
                        "this column name has no closing backquote: add ` at its end",
                    )
                    .expecting(&["`"]))
                }
                Some('`') if self.peek(1) == Some('`') => {
                    name.push('`');
                    self.position += 2;
                }
                Some('`') => {
                    self.position += 1;
                    break;
                }
                Some(c) => {
                    name.push(c);
                    self.position += 1;
                }
            }
        }
        if name.trim().is_empty() {
            return Err(ParseError::new(
                Span::new(start, self.position),
                "empty column name: write the header between the backquotes, like `Payment Value`",
            ));
        }
        Ok(TokenKind::Name {
            text: name,
            quoted: true,
        })
    }

    fn word(&mut self) -> TokenKind {
        let start = self.position;
        while self.peek(0).is_some_and(is_name_char) {
            self.position += 1;
        }
        let text = self.text_between(start, self.position);
        match Keyword::from_word(&text) {
            Some(keyword) => TokenKind::Keyword(keyword),
            None => TokenKind::Name {
                text,
                quoted: false,
            },
        }
    }

    fn symbol(&mut self, c: char) -> Result<Symbol, ParseError> {
        let (symbol, width) = match (c, self.peek(1)) {
            ('(', _) => (Symbol::OpenParen, 1),
            (')', _) => (Symbol::CloseParen, 1),
            (',', _) => (Symbol::Comma, 1),
            ('+', _) => (Symbol::Plus, 1),
            ('-', _) => (Symbol::Minus, 1),
            ('*', _) => (Symbol::Star, 1),
            ('/', _) => (Symbol::Slash, 1),
            ('%', _) => (Symbol::Percent, 1),
            ('=', Some('=')) => (Symbol::DoubleEquals, 2),
            ('=', _) => (Symbol::Equals, 1),
            ('!', Some('=')) => (Symbol::NotEquals, 2),
            ('<', Some('=')) => (Symbol::LessOrEqual, 2),
            ('<', Some('>')) => (Symbol::NotEquals, 2),
            ('<', _) => (Symbol::Less, 1),
            ('>', Some('=')) => (Symbol::GreaterOrEqual, 2),
            ('>', _) => (Symbol::Greater, 1),
            _ => return Err(self.unexpected_character(c)),
        };
        self.position += width;
        Ok(symbol)
    }

    /// Names the fix for the characters people type from other languages or input methods.
    fn unexpected_character(&self, c: char) -> ParseError {
        let doubled = matches!(c, '&' | '|') && self.peek(1) == Some(c);
        let width = if doubled { 2 } else { 1 };
        let span = Span::new(self.position, self.position + width);
        let written = if doubled {
            format!("{c}{c}")
        } else {
            c.escape_debug().to_string()
        };
        let operator = match c {
            '!' => Some("not"),
            '&' => Some("and"),
            '|' => Some("or"),
            '≠' => Some("!="),
            '≤' => Some("<="),
            '≥' => Some(">="),
            '×' => Some("*"),
            '÷' => Some("/"),
            '−' => Some("-"),
            _ => None,
        };
        if let Some(operator) = operator {
            return ParseError::new(span, format!("write {operator} instead of '{written}'"))
                .suggesting(operator);
        }
        // Full-width forms (Chinese and Japanese input methods) and typographic quotes.
        let plain = match c {
            '“' | '”' | '„' | '″' => Some('"'),
            '‘' | '’' | '′' => Some('\''),
            '、' => Some(','),
            '。' => Some('.'),
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
            _ => None,
        };
        if let Some(plain) = plain {
            return ParseError::new(
                span,
                format!("'{written}' is a full-width or typographic character; write '{plain}'"),
            )
            .suggesting(plain.to_string());
        }
        ParseError::new(
            span,
            format!(
                "unexpected character '{written}'; if it is part of a column name, write the \
                 whole name in backquotes, like `price ($)`"
            ),
        )
    }
}

// ------------------------------------------------------------------------------------------------
// Parser
// ------------------------------------------------------------------------------------------------

/// Binding powers of the Pratt parser: a higher number binds tighter.
const OR_POWER: (u8, u8) = (1, 2);
const AND_POWER: (u8, u8) = (3, 4);
/// The operand of `not` is parsed at this power: comparisons bind tighter, `and` looser.
const NOT_OPERAND: u8 = 5;
const COMPARISON_POWER: (u8, u8) = (7, 8);
const ADDITIVE_POWER: (u8, u8) = (9, 10);
const MULTIPLICATIVE_POWER: (u8, u8) = (11, 12);
/// The operand of a unary minus: tighter than `*`, so `-a * b` is `(-a) * b`.
const NEGATE_OPERAND: u8 = 13;

#[derive(Debug, Clone, Copy)]
enum InfixOp {
    Binary(BinaryOp),
    In { negated: bool },
}

#[derive(Debug, Clone, Copy)]
struct Infix {
    op: InfixOp,
    left_power: u8,
    right_power: u8,
}

impl Infix {
    fn is_comparison(&self) -> bool {
        match self.op {
            InfixOp::Binary(op) => op.is_comparison(),
            InfixOp::In { .. } => true,
        }
    }
}

/// Where a complete value was just read; decides what may follow it and how to say so.
#[derive(Debug, Clone, Copy)]
enum Context {
    /// The whole of `parse_expr`.
    Formula,
    /// The formula of a definition, which may be followed by its `where`.
    DefinitionValue,
    /// The condition of a definition.
    DefinitionCondition,
    Parenthesis {
        open: Span,
    },
    Arguments {
        open: Span,
        filtered: bool,
    },
    List {
        open: Span,
    },
}

struct Parser {
    source: Vec<char>,
    tokens: Vec<Token>,
    next: usize,
    /// Current recursion depth of `expression`, bounded by `MAX_NESTING`.
    depth: usize,
    end: Token,
}

/// Parser results box their error: an error is rare, and a large `Err` would be carried in
/// every frame of the recursive descent.
type Parsed<T> = Result<T, Box<ParseError>>;

/// Parses a formula such as `sum(amount where status = "success") / count(txn_id)`.
pub fn parse_expr(text: &str) -> Result<Expr, ParseError> {
    parse_formula(text).map_err(|error| *error)
}

fn parse_formula(text: &str) -> Parsed<Expr> {
    let mut parser = Parser::new(text);
    let expr = parser.expression(0)?;
    let token = parser.peek()?.clone();
    if token.kind != TokenKind::End {
        return Err(parser.after_value_error(&token, Context::Formula).into());
    }
    Ok(expr)
}

/// Parses a derived column: `name = formula`, optionally followed by `where condition`.
pub fn parse_definition(text: &str) -> Result<Definition, ParseError> {
    parse_definition_text(text).map_err(|error| *error)
}

fn parse_definition_text(text: &str) -> Parsed<Definition> {
    let mut parser = Parser::new(text);
    let first = parser.peek()?.clone();
    let name = match &first.kind {
        TokenKind::Name { text, .. } => text.clone(),
        TokenKind::End => return Err(ParseError::new(
            first.span,
            "the definition is empty: write name = formula, as in amount = quantity * unit_price",
        )
        .expecting(&["column name"])
        .into()),
        TokenKind::Keyword(_) => {
            let word = parser.source_text(first.span);
            return Err(ParseError::new(
                first.span,
                format!(
                    "'{word}' is a word of the formula language; \
                     for a column with this name write `{word}`"
                ),
            )
            .expecting(&["column name"])
            .suggesting(format!("`{word}`"))
            .into());
        }
        _ => {
            return Err(ParseError::new(
                first.span,
                format!(
                    "expected the new column's name but found {}; a derived column is written \
                     name = formula, as in amount = quantity * unit_price",
                    parser.describe(&first)
                ),
            )
            .expecting(&["column name"])
            .into())
        }
    };
    parser.bump();
    let equals = parser.peek()?.clone();
    if equals.kind != TokenKind::Symbol(Symbol::Equals) {
        if let Some(error) = parser.adjacent_names(&equals) {
            return Err(error.into());
        }
        return Err(ParseError::new(
            equals.span,
            format!(
                "expected '=' after the column name {} but found {}; a derived column is written \
                 name = formula, as in amount = quantity * unit_price",
                parser.excerpt(first.span),
                parser.describe(&equals)
            ),
        )
        .expecting(&["="])
        .into());
    }
    parser.bump();
    let expr = parser.expression(0)?;
    let token = parser.peek()?.clone();
    let condition = match token.kind {
        TokenKind::End => None,
        TokenKind::Keyword(Keyword::Where) => {
            parser.bump();
            let condition = parser.expression(0)?;
            let token = parser.peek()?.clone();
            if token.kind != TokenKind::End {
                return Err(parser
                    .after_value_error(&token, Context::DefinitionCondition)
                    .into());
            }
            Some(condition)
        }
        _ => {
            return Err(parser
                .after_value_error(&token, Context::DefinitionValue)
                .into())
        }
    };
    Ok(Definition {
        name,
        name_span: first.span,
        expr,
        condition,
    })
}

impl Parser {
    fn new(text: &str) -> Self {
        let source: Vec<char> = text.chars().collect();
        let tokens = tokenize(&source);
        let end = Token {
            kind: TokenKind::End,
            span: Span::new(source.len(), source.len()),
        };
        Parser {
            source,
            tokens,
            next: 0,
            depth: 0,
            end,
        }
    }

    fn peek(&self) -> Parsed<&Token> {
        self.peek_at(0)
    }

    fn peek_at(&self, ahead: usize) -> Parsed<&Token> {
        let token = self.tokens.get(self.next + ahead).unwrap_or(&self.end);
        match &token.kind {
            TokenKind::Invalid(error) => Err(error.clone()),
            _ => Ok(token),
        }
    }

    fn previous(&self) -> Option<&Token> {
        self.next
            .checked_sub(1)
            .and_then(|index| self.tokens.get(index))
    }

    fn bump(&mut self) -> Token {
        let token = self.tokens.get(self.next).unwrap_or(&self.end).clone();
        if self.next < self.tokens.len() {
            self.next += 1;
        }
        token
    }

    fn source_text(&self, span: Span) -> String {
        self.source
            .get(span.start..span.end)
            .map(|chars| chars.iter().collect())
            .unwrap_or_default()
    }

    /// The text of a span, shortened for a message.
    fn excerpt(&self, span: Span) -> String {
        let text = self.source_text(span);
        if text.chars().count() <= EXCERPT_CHARS {
            text
        } else {
            let mut short: String = text.chars().take(EXCERPT_CHARS).collect();
            short.push('…');
            short
        }
    }

    /// The token as the user wrote it, for "… but found X".
    #[inline(never)]
    fn describe(&self, token: &Token) -> String {
        let text = self.excerpt(token.span);
        match &token.kind {
            TokenKind::End => "end of formula".to_string(),
            TokenKind::Number(_) => format!("the number {text}"),
            TokenKind::Text(_) => format!("the text {text}"),
            TokenKind::Name { .. } => format!("the name {text}"),
            TokenKind::Keyword(_) | TokenKind::Symbol(_) | TokenKind::Invalid(_) => {
                format!("'{text}'")
            }
        }
    }

    fn enter(&mut self) -> Parsed<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            return Err(Box::new(too_deep(self.peek()?.span)));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    /// Builds a node, refusing one nested deeper than `MAX_NESTING`; `at` is what to point at.
    fn node(&self, kind: ExprKind, span: Span, at: Span) -> Parsed<Expr> {
        let expr = Expr::new(kind, span);
        if expr.nesting > MAX_NESTING {
            return Err(Box::new(too_deep(at)));
        }
        Ok(expr)
    }

    /// Pratt loop: a prefix value, then infix operators that bind at least as tight as
    /// `min_power`.
    ///
    /// `expression`, `prefix` and the functions they recurse through are kept small, with
    /// leaves and messages built in functions off the recursive path: in a debug build each
    /// local costs stack on every level, and on wasm32 the stack is 1 MiB.
    #[inline(never)]
    fn expression(&mut self, min_power: u8) -> Parsed<Expr> {
        self.enter()?;
        let mut left = self.prefix()?;
        let mut left_is_comparison = false;
        while let Some(infix) = self.next_infix(min_power)? {
            if infix.is_comparison() && left_is_comparison {
                return Err(Box::new(self.chained_comparison(&left)));
            }
            left = match infix.op {
                InfixOp::Binary(op) => self.binary(left, op, infix.right_power)?,
                InfixOp::In { negated } => self.membership(left, negated)?,
            };
            left_is_comparison = infix.is_comparison();
        }
        self.leave();
        Ok(left)
    }

    /// The infix operator at the current token, if it binds at least as tight as `min_power`.
    #[inline(never)]
    fn next_infix(&self, min_power: u8) -> Parsed<Option<Infix>> {
        let infix = self.infix(self.peek()?)?;
        Ok(infix.filter(|infix| infix.left_power >= min_power))
    }

    /// `left op right`; the operator is the current token.
    #[inline(never)]
    fn binary(&mut self, left: Expr, op: BinaryOp, right_power: u8) -> Parsed<Expr> {
        let operator = self.bump().span;
        let right = self.expression(right_power)?;
        let span = left.span.to(right.span);
        let kind = ExprKind::Binary {
            op,
            left: Box::new(left),
            right: Box::new(right),
        };
        self.node(kind, span, operator)
    }

    fn infix(&self, token: &Token) -> Parsed<Option<Infix>> {
        let binary = |op, (left_power, right_power): (u8, u8)| {
            Some(Infix {
                op: InfixOp::Binary(op),
                left_power,
                right_power,
            })
        };
        let membership = |negated| {
            Some(Infix {
                op: InfixOp::In { negated },
                left_power: COMPARISON_POWER.0,
                right_power: COMPARISON_POWER.1,
            })
        };
        Ok(match &token.kind {
            TokenKind::Keyword(Keyword::Or) => binary(BinaryOp::Or, OR_POWER),
            TokenKind::Keyword(Keyword::And) => binary(BinaryOp::And, AND_POWER),
            TokenKind::Keyword(Keyword::In) => membership(false),
            TokenKind::Keyword(Keyword::Not) => {
                if self.peek_at(1)?.kind == TokenKind::Keyword(Keyword::In) {
                    membership(true)
                } else {
                    None
                }
            }
            TokenKind::Symbol(symbol) => match symbol {
                Symbol::Equals | Symbol::DoubleEquals => binary(BinaryOp::Equal, COMPARISON_POWER),
                Symbol::NotEquals => binary(BinaryOp::NotEqual, COMPARISON_POWER),
                Symbol::Less => binary(BinaryOp::Less, COMPARISON_POWER),
                Symbol::LessOrEqual => binary(BinaryOp::LessOrEqual, COMPARISON_POWER),
                Symbol::Greater => binary(BinaryOp::Greater, COMPARISON_POWER),
                Symbol::GreaterOrEqual => binary(BinaryOp::GreaterOrEqual, COMPARISON_POWER),
                Symbol::Plus => binary(BinaryOp::Add, ADDITIVE_POWER),
                Symbol::Minus => binary(BinaryOp::Subtract, ADDITIVE_POWER),
                Symbol::Star => binary(BinaryOp::Multiply, MULTIPLICATIVE_POWER),
                Symbol::Slash => binary(BinaryOp::Divide, MULTIPLICATIVE_POWER),
                Symbol::Percent => binary(BinaryOp::Remainder, MULTIPLICATIVE_POWER),
                Symbol::OpenParen | Symbol::CloseParen | Symbol::Comma => None,
            },
            _ => None,
        })
    }

    #[inline(never)]
    fn prefix(&mut self) -> Parsed<Expr> {
        let token = self.peek()?;
        let span = token.span;
        match &token.kind {
            TokenKind::Symbol(Symbol::Minus) => self.unary(UnaryOp::Negate, NEGATE_OPERAND),
            TokenKind::Keyword(Keyword::Not) => self.unary(UnaryOp::Not, NOT_OPERAND),
            TokenKind::Symbol(Symbol::OpenParen) => self.parenthesized(span),
            TokenKind::Name { quoted: false, .. }
                if self.peek_at(1)?.kind == TokenKind::Symbol(Symbol::OpenParen) =>
            {
                self.call()
            }
            _ => self.leaf(),
        }
    }

    /// `-x` or `not x`; the operator is the current token.
    #[inline(never)]
    fn unary(&mut self, op: UnaryOp, operand_power: u8) -> Parsed<Expr> {
        let operator = self.bump().span;
        let operand = self.expression(operand_power)?;
        let span = operator.to(operand.span);
        let kind = ExprKind::Unary {
            op,
            operand: Box::new(operand),
        };
        self.node(kind, span, operator)
    }

    /// `( expr )`; the '(' is the current token.
    #[inline(never)]
    fn parenthesized(&mut self, open: Span) -> Parsed<Expr> {
        self.bump();
        let mut inner = self.expression(0)?;
        let close = self.peek()?;
        if close.kind != TokenKind::Symbol(Symbol::CloseParen) {
            return Err(Box::new(
                self.after_value_error(close, Context::Parenthesis { open }),
            ));
        }
        // The parentheses belong to the value, so that messages underline them too.
        inner.span = open.to(close.span);
        self.bump();
        Ok(inner)
    }

    /// A literal or a column name, or the error of a value that is missing.
    #[inline(never)]
    fn leaf(&mut self) -> Parsed<Expr> {
        let token = self.peek()?;
        let kind = match &token.kind {
            TokenKind::Number(number) => ExprKind::Number(*number),
            TokenKind::Text(text) => ExprKind::Text(text.clone()),
            TokenKind::Keyword(Keyword::True) => ExprKind::Bool(true),
            TokenKind::Keyword(Keyword::False) => ExprKind::Bool(false),
            TokenKind::Keyword(Keyword::Null) => ExprKind::Null,
            TokenKind::Name { text, quoted } => ExprKind::Column {
                name: text.clone(),
                quoted: *quoted,
            },
            _ => return Err(Box::new(self.value_expected(token))),
        };
        let span = token.span;
        self.bump();
        Ok(Expr::new(kind, span))
    }

    #[inline(never)]
    fn value_expected(&self, found: &Token) -> ParseError {
        let previous = self.previous();
        if previous.is_none() && found.kind == TokenKind::End {
            return ParseError::new(found.span, "the formula is empty").expecting(&["value"]);
        }
        let (wanted, after) = match previous {
            Some(
                token @ Token {
                    kind: TokenKind::Keyword(Keyword::Where),
                    ..
                },
            ) => (
                "a condition",
                format!(" after '{}'", self.excerpt(token.span)),
            ),
            Some(
                token @ Token {
                    kind: TokenKind::Symbol(_) | TokenKind::Keyword(_),
                    ..
                },
            ) => ("a value", format!(" after '{}'", self.excerpt(token.span))),
            _ => ("a value", String::new()),
        };
        if found.kind == TokenKind::Symbol(Symbol::CloseParen) && after.is_empty() {
            return ParseError::new(found.span, "found ')' with no matching '('");
        }
        ParseError::new(
            found.span,
            format!(
                "expected {wanted}{after} but found {}",
                self.describe(found)
            ),
        )
        .expecting(&["value"])
    }

    /// `name(arg, arg where condition, …)`; the name is the current token, '(' the next.
    #[inline(never)]
    fn call(&mut self) -> Parsed<Expr> {
        let (name, name_span) = self.call_name()?;
        let open = self.bump().span;
        let mut args = Vec::new();
        if self.peek()?.kind != TokenKind::Symbol(Symbol::CloseParen) {
            loop {
                let argument = self.argument()?;
                let filtered = matches!(argument.kind, ExprKind::Filter { .. });
                args.push(argument);
                if !self.more_items(Context::Arguments { open, filtered })? {
                    break;
                }
            }
        }
        let close = self.bump().span;
        self.node(
            ExprKind::Call { name, args },
            name_span.to(close),
            name_span,
        )
    }

    #[inline(never)]
    fn call_name(&mut self) -> Parsed<(String, Span)> {
        let token = self.bump();
        match token.kind {
            TokenKind::Name { text, .. } => Ok((text, token.span)),
            _ => Err(Box::new(self.value_expected(&token))),
        }
    }

    /// A call argument: `value` or `value where condition`.
    #[inline(never)]
    fn argument(&mut self) -> Parsed<Expr> {
        // `count(where …)`: no value, each row counts.
        let next = self.peek()?;
        let value = match next.kind {
            TokenKind::Keyword(Keyword::Where) => {
                Expr::new(ExprKind::Rows, Span::new(next.span.start, next.span.start))
            }
            _ => self.expression(0)?,
        };
        if self.peek()?.kind != TokenKind::Keyword(Keyword::Where) {
            return Ok(value);
        }
        let keyword = self.bump().span;
        let condition = self.expression(0)?;
        let span = value.span.to(condition.span);
        let kind = ExprKind::Filter {
            value: Box::new(value),
            condition: Box::new(condition),
            keyword,
        };
        self.node(kind, span, keyword)
    }

    /// After an item of a list in parentheses: consumes ',' and says whether another item
    /// follows; at ')' leaves it for the caller and says no; anything else is an error.
    #[inline(never)]
    fn more_items(&mut self, context: Context) -> Parsed<bool> {
        let token = self.peek()?;
        match token.kind {
            TokenKind::Symbol(Symbol::Comma) => {
                self.bump();
                Ok(true)
            }
            TokenKind::Symbol(Symbol::CloseParen) => Ok(false),
            _ => Err(Box::new(self.after_value_error(token, context))),
        }
    }

    /// `operand [not] in (item, …)`; the current token is `not` or `in`.
    #[inline(never)]
    fn membership(&mut self, operand: Expr, negated: bool) -> Parsed<Expr> {
        if negated {
            self.bump();
        }
        let keyword = self.bump().span;
        let open = self.list_start()?;
        let mut list = Vec::new();
        loop {
            list.push(self.expression(0)?);
            if !self.more_items(Context::List { open })? {
                break;
            }
        }
        let close = self.bump().span;
        let span = operand.span.to(close);
        let kind = ExprKind::In {
            operand: Box::new(operand),
            list,
            negated,
        };
        self.node(kind, span, keyword)
    }

    /// The '(' of an `in` list, followed by at least one item.
    #[inline(never)]
    fn list_start(&mut self) -> Parsed<Span> {
        let open = self.peek()?.clone();
        if open.kind != TokenKind::Symbol(Symbol::OpenParen) {
            return Err(ParseError::new(
                open.span,
                format!(
                    "expected '(' after 'in' but found {}; write a list like in (\"a\", \"b\")",
                    self.describe(&open)
                ),
            )
            .expecting(&["("])
            .into());
        }
        self.bump();
        let first = self.peek()?;
        if first.kind == TokenKind::Symbol(Symbol::CloseParen) {
            return Err(ParseError::new(
                first.span,
                "an 'in' list needs at least one value, like in (\"a\", \"b\")",
            )
            .expecting(&["value"])
            .into());
        }
        Ok(open.span)
    }

    /// `a < b < c`: says how to write it, quoting the user's own operands.
    #[inline(never)]
    fn chained_comparison(&mut self, first: &Expr) -> ParseError {
        let operator = self.bump();
        let rewrite = match &first.kind {
            ExprKind::Binary { right, .. } => {
                let middle = right.span;
                self.expression(COMPARISON_POWER.1).ok().map(|third| {
                    format!(
                        "{} and {} {} {}",
                        self.source_text(first.span),
                        self.source_text(middle),
                        self.source_text(operator.span),
                        self.source_text(third.span)
                    )
                })
            }
            _ => None,
        };
        let error = ParseError::new(operator.span, "comparisons cannot be chained");
        match rewrite {
            Some(rewrite) => ParseError {
                message: format!("comparisons cannot be chained: write {rewrite}"),
                ..error.suggesting(rewrite)
            },
            None => ParseError {
                message: "comparisons cannot be chained; join them with and".to_string(),
                ..error
            },
        }
    }

    /// `Payment Value`: two bare names in a row are most often one header with a space.
    #[inline(never)]
    fn adjacent_names(&self, found: &Token) -> Option<ParseError> {
        let previous = self.previous()?;
        let bare_name = |token: &Token| matches!(token.kind, TokenKind::Name { quoted: false, .. });
        if !bare_name(previous) || !bare_name(found) {
            return None;
        }
        let mut end = found.span.end;
        let mut index = self.next + 1;
        while let Some(token) = self.tokens.get(index).filter(|token| bare_name(token)) {
            end = token.span.end;
            index += 1;
        }
        let whole = Span::new(previous.span.start, end);
        let header = self.source_text(whole);
        Some(
            ParseError::new(
                whole,
                format!(
                    "expected an operator between {} and {}; if \"{header}\" is one column name, \
                     write it in backquotes: {}",
                    self.excerpt(previous.span),
                    self.excerpt(found.span),
                    written_name(&header)
                ),
            )
            .expecting(&["operator"])
            .suggesting(written_name(&header)),
        )
    }

    /// A complete value was read and `found` cannot follow it here.
    #[inline(never)]
    fn after_value_error(&self, found: &Token, context: Context) -> ParseError {
        if let Some(error) = self.adjacent_names(found) {
            return error;
        }
        let (mut expected, open): (Vec<&str>, Option<Span>) = match context {
            Context::Formula | Context::DefinitionCondition => {
                (vec!["operator", "end of formula"], None)
            }
            Context::DefinitionValue => (vec!["operator", "where", "end of formula"], None),
            Context::Parenthesis { open } => (vec!["operator", ")"], Some(open)),
            Context::Arguments { open, filtered } => {
                let mut expected = vec!["operator", ",", ")"];
                if !filtered {
                    expected.insert(1, "where");
                }
                (expected, Some(open))
            }
            Context::List { open } => (vec!["operator", ",", ")"], Some(open)),
        };
        match &found.kind {
            TokenKind::Keyword(Keyword::Where) => {
                let message = match context {
                    Context::Arguments { filtered: true, .. } => {
                        "an argument can have only one 'where'; join the conditions with and"
                    }
                    Context::DefinitionCondition => {
                        "a definition can have only one 'where'; join the conditions with and"
                    }
                    _ => WHERE_ONLY_IN_AGGREGATES,
                };
                return ParseError::new(found.span, message).expecting(&expected);
            }
            TokenKind::Symbol(Symbol::CloseParen) if open.is_none() => {
                return ParseError::new(found.span, "found ')' with no matching '('")
                    .expecting(&expected);
            }
            TokenKind::Keyword(Keyword::Not) => {
                return ParseError::new(
                    found.span,
                    "'not' cannot follow a value: write it before a condition, as in \
                     not (status = \"failed\"), or use not in (…)",
                )
                .expecting(&expected);
            }
            _ => {}
        }
        let mut message = String::new();
        if let (TokenKind::End, Some(open)) = (&found.kind, open) {
            // At the end of the formula an operator is possible but not the likely fix.
            expected.retain(|item| *item == ")" || *item == ",");
            message = format!(
                "expected {} but found end of formula; the '(' at column {} is not closed",
                expected_list(&expected),
                open.start + 1
            );
        }
        if message.is_empty() {
            message = format!(
                "expected {} but found {}",
                expected_list(&expected),
                self.describe(found)
            );
        }
        ParseError::new(found.span, message).expecting(&expected)
    }
}

/// "an operator, ',' or ')'".
fn expected_list(expected: &[&str]) -> String {
    let words: Vec<String> = expected
        .iter()
        .map(|item| match *item {
            "operator" => "an operator".to_string(),
            "value" => "a value".to_string(),
            "end of formula" => "end of formula".to_string(),
            other => format!("'{other}'"),
        })
        .collect();
    match words.split_last() {
        None => "something else".to_string(),
        Some((last, [])) => last.clone(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
    }
}

// ------------------------------------------------------------------------------------------------
// Values and rows
// ------------------------------------------------------------------------------------------------

/// The value of a formula on one row. Text borrows from the row or the formula when it can.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    Number(f64),
    Text(Cow<'a, str>),
    Bool(bool),
}

impl Value<'_> {
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    pub fn as_number(&self) -> Option<f64> {
        match self {
            Value::Number(number) => Some(*number),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(value) => Some(*value),
            _ => None,
        }
    }

    pub fn as_text(&self) -> Option<&str> {
        match self {
            Value::Text(text) => Some(text),
            _ => None,
        }
    }

    /// The value as a table cell: null is empty, numbers are written by `format_number` so
    /// that they read back exactly, conditions are "true" or "false".
    pub fn to_cell(&self) -> Cow<'_, str> {
        match self {
            Value::Null => Cow::Borrowed(""),
            Value::Number(number) => Cow::Owned(format_number(*number)),
            Value::Text(text) => Cow::Borrowed(text),
            Value::Bool(true) => Cow::Borrowed("true"),
            Value::Bool(false) => Cow::Borrowed("false"),
        }
    }

    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Number(number) => Value::Number(number),
            Value::Text(text) => Value::Text(Cow::Owned(text.into_owned())),
            Value::Bool(value) => Value::Bool(value),
        }
    }

    /// The same value borrowing from `self`, so that a constant is not copied on every row.
    fn reborrow(&self) -> Value<'_> {
        match self {
            Value::Text(text) => Value::Text(Cow::Borrowed(text)),
            Value::Null => Value::Null,
            Value::Number(number) => Value::Number(*number),
            Value::Bool(value) => Value::Bool(*value),
        }
    }
}

/// Writes a number so that `str::parse::<f64>` gives back the same number: derived columns are
/// stored as text cells and read again. Rust's `Display` for `f64` is the shortest text that
/// round-trips and never uses an exponent. Negative zero is written "0", as users expect.
pub fn format_number(value: f64) -> String {
    if value == 0.0 {
        return "0".to_string();
    }
    format!("{value}")
}

/// The raw text cells of one row, by column index. A missing cell reads as empty.
pub trait Row {
    fn column(&self, index: usize) -> &str;

    /// The cell as a number, when the row holds it as one read under its column's conventions
    /// (`Some(None)`: empty); `None` to read its text. A column of decimals stored as numbers
    /// (`ingest::decimals`) is then not written out as text to be parsed again.
    fn stored_number(&self, _index: usize) -> Option<Option<f64>> {
        None
    }
}

impl<S: AsRef<str>> Row for Vec<S> {
    fn column(&self, index: usize) -> &str {
        self.get(index).map_or("", AsRef::as_ref)
    }
}

impl<S: AsRef<str>> Row for &[S] {
    fn column(&self, index: usize) -> &str {
        self.get(index).map_or("", AsRef::as_ref)
    }
}

impl<S: AsRef<str>, const N: usize> Row for [S; N] {
    fn column(&self, index: usize) -> &str {
        self.get(index).map_or("", AsRef::as_ref)
    }
}

/// Reads a cell of a column as a number, with that column's conventions (decimal comma,
/// currency signs); `None` when the text is not a number.
pub type NumberReader<'r> = dyn Fn(usize, &str) -> Option<f64> + 'r;

// ------------------------------------------------------------------------------------------------
// Compiling: names resolved to columns, every column read as the kind its place needs
// ------------------------------------------------------------------------------------------------

/// The kind of value an expression gives, known before any row is read. `Cell` is a column (or
/// a choice among columns), whose kind is decided by where it is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Number,
    Text,
    Bool,
    Null,
    Cell,
}

/// The kind of value a place in the formula needs; `Natural` takes what the expression gives
/// (a bare column is then its text, unchanged).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Number,
    Text,
    Bool,
    Natural,
}

/// How the two sides of a comparison are compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Number,
    Text,
    Bool,
    /// Two columns: as numbers when both cells read as numbers, else as text.
    Cells,
    /// One side is always null: the comparison is unknown.
    Unknown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RowFunction {
    Abs,
    Round,
    Lower,
    Upper,
    Trim,
    Len,
    Contains,
    StartsWith,
    Coalesce,
    If,
    IsNull,
}

struct FunctionInfo {
    function: RowFunction,
    name: &'static str,
    min_args: usize,
    max_args: usize,
    usage: &'static str,
}

const ROW_FUNCTIONS: [FunctionInfo; 11] = [
    FunctionInfo {
        function: RowFunction::Abs,
        name: "abs",
        min_args: 1,
        max_args: 1,
        usage: "abs(number)",
    },
    FunctionInfo {
        function: RowFunction::Round,
        name: "round",
        min_args: 1,
        max_args: 2,
        usage: "round(number, digits)",
    },
    FunctionInfo {
        function: RowFunction::Lower,
        name: "lower",
        min_args: 1,
        max_args: 1,
        usage: "lower(text)",
    },
    FunctionInfo {
        function: RowFunction::Upper,
        name: "upper",
        min_args: 1,
        max_args: 1,
        usage: "upper(text)",
    },
    FunctionInfo {
        function: RowFunction::Trim,
        name: "trim",
        min_args: 1,
        max_args: 1,
        usage: "trim(text)",
    },
    FunctionInfo {
        function: RowFunction::Len,
        name: "len",
        min_args: 1,
        max_args: 1,
        usage: "len(text)",
    },
    FunctionInfo {
        function: RowFunction::Contains,
        name: "contains",
        min_args: 2,
        max_args: 2,
        usage: "contains(text, part)",
    },
    FunctionInfo {
        function: RowFunction::StartsWith,
        name: "starts_with",
        min_args: 2,
        max_args: 2,
        usage: "starts_with(text, beginning)",
    },
    FunctionInfo {
        function: RowFunction::Coalesce,
        name: "coalesce",
        min_args: 2,
        max_args: usize::MAX,
        usage: "coalesce(value, fallback, …)",
    },
    FunctionInfo {
        function: RowFunction::If,
        name: "if",
        min_args: 3,
        max_args: 3,
        usage: "if(condition, value if true, value otherwise)",
    },
    FunctionInfo {
        function: RowFunction::IsNull,
        name: "is_null",
        min_args: 1,
        max_args: 1,
        usage: "is_null(value)",
    },
];

/// The names of the row-level functions, for help and completion.
pub fn row_function_names() -> impl Iterator<Item = &'static str> {
    ROW_FUNCTIONS.iter().map(|info| info.name)
}

/// Whether `name` (any case) is an aggregate: those of `AGGREGATE_FUNCTIONS`, or `p1`…`p99`.
pub fn is_aggregate(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    if AGGREGATE_FUNCTIONS.contains(&name.as_str()) {
        return true;
    }
    name.strip_prefix('p').is_some_and(|digits| {
        (1..=2).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && digits.parse::<u8>().is_ok_and(|p| (1..=99).contains(&p))
    })
}

/// One step of the evaluation. Columns are already resolved and typed, so evaluating a row
/// never looks up a name or decides how to read a cell.
#[derive(Debug)]
enum Node {
    Constant(Value<'static>),
    NumberCell(usize),
    TextCell(usize),
    BoolCell(usize),
    Negate(Box<Node>),
    Arithmetic {
        op: BinaryOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    Compare {
        op: BinaryOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    /// Two columns: compared as numbers when both read as numbers, else as text.
    CompareCells {
        op: BinaryOp,
        as_numbers: Box<(Node, Node)>,
        as_text: Box<(Node, Node)>,
    },
    Member {
        operand: Box<Node>,
        list: Vec<Node>,
    },
    MemberCells {
        operand: Box<(Node, Node)>,
        list: Vec<(Node, Node)>,
    },
    Not(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    ToText(Box<Node>),
    Call {
        function: RowFunction,
        args: Vec<Node>,
    },
}

fn node_columns(node: &Node, out: &mut Vec<usize>) {
    match node {
        Node::Constant(_) => {}
        Node::NumberCell(index) | Node::TextCell(index) | Node::BoolCell(index) => out.push(*index),
        Node::Negate(inner) | Node::Not(inner) | Node::ToText(inner) => node_columns(inner, out),
        Node::Arithmetic { left, right, .. }
        | Node::Compare { left, right, .. }
        | Node::And(left, right)
        | Node::Or(left, right) => {
            node_columns(left, out);
            node_columns(right, out);
        }
        Node::CompareCells {
            as_numbers,
            as_text,
            ..
        } => {
            for (a, b) in [as_numbers.as_ref(), as_text.as_ref()] {
                node_columns(a, out);
                node_columns(b, out);
            }
        }
        Node::Member { operand, list } => {
            node_columns(operand, out);
            list.iter().for_each(|item| node_columns(item, out));
        }
        Node::MemberCells { operand, list } => {
            node_columns(&operand.0, out);
            node_columns(&operand.1, out);
            for (a, b) in list {
                node_columns(a, out);
                node_columns(b, out);
            }
        }
        Node::Call { args, .. } => args.iter().for_each(|arg| node_columns(arg, out)),
    }
}

/// A formula ready to evaluate on rows of one table.
pub struct Compiled<'r> {
    root: Node,
    read_number: &'r NumberReader<'r>,
}

impl fmt::Debug for Compiled<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Compiled")
            .field("root", &self.root)
            .finish_non_exhaustive()
    }
}

/// Resolves the column names of a row-level formula against `columns` (the table's headers)
/// and checks that every part gets the kind of value it needs.
pub fn compile<'r>(
    expr: &Expr,
    columns: &[String],
    read_number: &'r NumberReader<'r>,
) -> Result<Compiled<'r>, ParseError> {
    let root = Compiler { columns }.compile(expr, Want::Natural)?;
    Ok(Compiled { root, read_number })
}

/// What a compiled formula is read as: its natural kind, or a number or condition as an
/// aggregate needs (`sum(x)`, `count(where x)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    Natural,
    Number,
    Condition,
}

/// Like `compile`, with the result read as `expect` says.
pub fn compile_as<'r>(
    expr: &Expr,
    columns: &[String],
    read_number: &'r NumberReader<'r>,
    expect: Expect,
) -> Result<Compiled<'r>, ParseError> {
    let want = match expect {
        Expect::Natural => Want::Natural,
        Expect::Number => Want::Number,
        Expect::Condition => Want::Bool,
    };
    let root = Compiler { columns }.compile(expr, want)?;
    Ok(Compiled { root, read_number })
}

impl Compiled<'_> {
    /// The columns (formula indices) the formula reads: its value on a row depends on those
    /// cells only, so a caller may keep it per distinct combination of them.
    pub fn columns(&self) -> Vec<usize> {
        let mut columns = Vec::new();
        node_columns(&self.root, &mut columns);
        columns.sort_unstable();
        columns.dedup();
        columns
    }

    pub fn eval<'v>(&'v self, row: &'v dyn Row) -> Value<'v> {
        evaluate(&self.root, row, self.read_number)
    }
}

/// A definition ready to evaluate: the new value where the condition holds, else the column's
/// current value (or null for a new column).
pub struct CompiledDefinition<'r> {
    value: Node,
    condition: Option<Node>,
    replaces: Option<usize>,
    read_number: &'r NumberReader<'r>,
}

impl fmt::Debug for CompiledDefinition<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledDefinition")
            .field("value", &self.value)
            .field("condition", &self.condition)
            .field("replaces", &self.replaces)
            .finish_non_exhaustive()
    }
}

pub fn compile_definition<'r>(
    definition: &Definition,
    columns: &[String],
    read_number: &'r NumberReader<'r>,
) -> Result<CompiledDefinition<'r>, ParseError> {
    let compiler = Compiler { columns };
    // An existing column (same rules as a reference) is rewritten; any other name is new.
    let replaces = compiler.find_column(&definition.name, definition.name_span)?;
    let value = compiler.compile(&definition.expr, Want::Natural)?;
    let condition = definition
        .condition
        .as_ref()
        .map(|condition| compiler.compile(condition, Want::Bool))
        .transpose()?;
    Ok(CompiledDefinition {
        value,
        condition,
        replaces,
        read_number,
    })
}

impl CompiledDefinition<'_> {
    /// The index of the existing column that the definition rewrites, if any.
    pub fn replaces(&self) -> Option<usize> {
        self.replaces
    }

    pub fn eval<'v>(&'v self, row: &'v dyn Row) -> Value<'v> {
        let applies = match &self.condition {
            None => true,
            Some(condition) => evaluate(condition, row, self.read_number).as_bool() == Some(true),
        };
        if applies {
            return evaluate(&self.value, row, self.read_number);
        }
        match self.replaces {
            Some(index) => text_cell(row.column(index)),
            None => Value::Null,
        }
    }
}

struct Compiler<'c> {
    columns: &'c [String],
}

impl Compiler<'_> {
    #[inline(never)]
    fn compile(&self, expr: &Expr, want: Want) -> Result<Node, ParseError> {
        let (node, produced) = self.build(expr, want)?;
        self.adapt(node, produced, want, expr)
    }

    /// The node for `expr` and the kind of value it gives; columns are read as `want` asks.
    /// Like the parser, the recursive path is a dispatch plus one small function per kind of
    /// node, to keep the stack used per level of nesting small.
    #[inline(never)]
    fn build(&self, expr: &Expr, want: Want) -> Result<(Node, Kind), ParseError> {
        match &expr.kind {
            ExprKind::Unary { op, operand } => self.unary(*op, operand),
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right),
            ExprKind::In {
                operand,
                list,
                negated,
            } => self.membership(operand, list, *negated),
            ExprKind::Call { name, args } => self.call(name, args, expr, want),
            _ => self.leaf(expr, want),
        }
    }

    #[inline(never)]
    fn leaf(&self, expr: &Expr, want: Want) -> Result<(Node, Kind), ParseError> {
        Ok(match &expr.kind {
            ExprKind::Number(number) => (Node::Constant(Value::Number(*number)), Kind::Number),
            ExprKind::Text(text) => (
                Node::Constant(Value::Text(Cow::Owned(text.clone()))),
                Kind::Text,
            ),
            ExprKind::Bool(value) => (Node::Constant(Value::Bool(*value)), Kind::Bool),
            ExprKind::Column { name, .. } => {
                let index = self.resolve(name, expr.span)?;
                match want {
                    Want::Number => (Node::NumberCell(index), Kind::Number),
                    Want::Bool => (Node::BoolCell(index), Kind::Bool),
                    Want::Text | Want::Natural => (Node::TextCell(index), Kind::Text),
                }
            }
            ExprKind::Filter { keyword, .. } => {
                return Err(ParseError::new(*keyword, WHERE_ONLY_IN_AGGREGATES))
            }
            _ => (Node::Constant(Value::Null), Kind::Null),
        })
    }

    #[inline(never)]
    fn unary(&self, op: UnaryOp, operand: &Expr) -> Result<(Node, Kind), ParseError> {
        Ok(match op {
            UnaryOp::Negate => (
                Node::Negate(Box::new(self.compile(operand, Want::Number)?)),
                Kind::Number,
            ),
            UnaryOp::Not => (
                Node::Not(Box::new(self.compile(operand, Want::Bool)?)),
                Kind::Bool,
            ),
        })
    }

    #[inline(never)]
    fn binary(&self, op: BinaryOp, left: &Expr, right: &Expr) -> Result<(Node, Kind), ParseError> {
        if op.is_comparison() {
            return Ok((self.comparison(op, left, right)?, Kind::Bool));
        }
        let want = if op.is_arithmetic() {
            Want::Number
        } else {
            Want::Bool
        };
        let left = Box::new(self.compile(left, want)?);
        let right = Box::new(self.compile(right, want)?);
        Ok(match op {
            BinaryOp::And => (Node::And(left, right), Kind::Bool),
            BinaryOp::Or => (Node::Or(left, right), Kind::Bool),
            op => (Node::Arithmetic { op, left, right }, Kind::Number),
        })
    }

    /// Converts what an expression gives into what its place needs, or says why it cannot.
    #[inline(never)]
    fn adapt(
        &self,
        node: Node,
        produced: Kind,
        want: Want,
        expr: &Expr,
    ) -> Result<Node, ParseError> {
        match (want, produced) {
            (Want::Natural, _) | (_, Kind::Null) | (_, Kind::Cell) => Ok(node),
            (Want::Number, Kind::Number) | (Want::Text, Kind::Text) | (Want::Bool, Kind::Bool) => {
                Ok(node)
            }
            (Want::Text, Kind::Number | Kind::Bool) => Ok(Node::ToText(Box::new(node))),
            (Want::Number, _) => Err(self.not_a_number(expr, produced)),
            (Want::Bool, _) => Err(not_a_condition(expr, produced)),
        }
    }

    #[inline(never)]
    fn not_a_number(&self, expr: &Expr, produced: Kind) -> ParseError {
        if let ExprKind::Text(text) = &expr.kind {
            if let Ok(Some(index)) = self.find_column(text, expr.span) {
                let column = self
                    .columns
                    .get(index)
                    .map_or(text.as_str(), String::as_str);
                let written = written_name(column);
                return ParseError::new(
                    expr.span,
                    format!(
                        "{} in quotes is text, not a number; to use the column, write {written} \
                         without quotes",
                        text_literal(text)
                    ),
                )
                .suggesting(written);
            }
        }
        let (subject, verb) = subject(expr);
        ParseError::new(
            expr.span,
            format!(
                "expected a number here, but {subject} {verb} {}",
                kind_words(produced)
            ),
        )
    }

    /// The index of the column `name` refers to: the exact header, else the one header equal to
    /// it ignoring case and surrounding spaces. `Ok(None)` when there is none.
    fn find_column(&self, name: &str, span: Span) -> Result<Option<usize>, ParseError> {
        if let Some(index) = self.columns.iter().position(|column| column == name) {
            return Ok(Some(index));
        }
        let key = name.trim().to_lowercase();
        let mut matches = self
            .columns
            .iter()
            .enumerate()
            .filter(|(_, column)| column.trim().to_lowercase() == key);
        match (matches.next(), matches.next()) {
            (None, _) => Ok(None),
            (Some((index, _)), None) => Ok(Some(index)),
            (Some((_, first)), Some((_, second))) => Err(ParseError::new(
                span,
                format!(
                    "the name {} matches both {} and {}; write it exactly as in the header",
                    text_literal(name),
                    written_name(first),
                    written_name(second)
                ),
            )),
        }
    }

    fn resolve(&self, name: &str, span: Span) -> Result<usize, ParseError> {
        match self.find_column(name, span)? {
            Some(index) => Ok(index),
            None => Err(self.unknown_column(name, span)),
        }
    }

    #[inline(never)]
    fn unknown_column(&self, name: &str, span: Span) -> ParseError {
        let closest = closest_name(name, self.columns.iter().map(String::as_str));
        let mut error = ParseError::new(span, format!("unknown column {}", text_literal(name)));
        error.expected = self.columns.to_vec();
        if let Some(column) = closest {
            let written = written_name(column);
            let shown = if written == column {
                text_literal(column)
            } else {
                written.clone()
            };
            error.message = format!("{} — did you mean {shown}?", error.message);
            error.suggestion = Some(written);
        }
        error
    }

    /// A bare name that is no column, compared with a column or text: most likely text without
    /// quotes (`direction = 收入`). Checked before anything else on that side.
    #[inline(never)]
    fn check_compared_name(&self, side: &Expr, other: &Expr) -> Result<(), ParseError> {
        let ExprKind::Column {
            name,
            quoted: false,
        } = &side.kind
        else {
            return Ok(());
        };
        if self.find_column(name, side.span)?.is_some() {
            return Ok(());
        }
        let error = self.unknown_column(name, side.span);
        if !matches!(infer(other), Kind::Cell | Kind::Text) {
            return Err(error);
        }
        let literal = text_literal(name);
        let hint = format!("compare with the text {name}, put it in quotes: {literal}");
        Err(match error.suggestion {
            // A close column name stays the first suggestion: a typo is the likelier mistake.
            Some(_) => ParseError {
                message: format!("{} To {hint}", error.message),
                ..error
            },
            None => ParseError {
                message: format!("{} — to {hint}", error.message),
                suggestion: Some(literal),
                ..error
            },
        })
    }

    #[inline(never)]
    fn comparison_mode(&self, op: BinaryOp, left: &Expr, right: &Expr) -> Result<Mode, ParseError> {
        self.check_compared_name(left, right)?;
        self.check_compared_name(right, left)?;
        for (side, other) in [(left, right), (right, left)] {
            let fix = if op == BinaryOp::NotEqual {
                format!("not is_null({other})")
            } else {
                format!("is_null({other})")
            };
            if side.kind == ExprKind::Null {
                return Err(ParseError::new(
                    side.span,
                    format!(
                        "a comparison with null is never true (null means unknown); \
                         to find empty cells write {fix}"
                    ),
                )
                .suggesting(fix));
            }
            if let ExprKind::Text(text) = &side.kind {
                if op == BinaryOp::Equal && text.trim().is_empty() {
                    return Err(ParseError::new(
                        side.span,
                        format!(
                            "an empty cell is null, not \"\", so this is never true; \
                             to find empty cells write {fix}"
                        ),
                    )
                    .suggesting(fix));
                }
            }
        }
        let kinds = (infer(left), infer(right));
        let mode = match kinds {
            (Kind::Null, _) | (_, Kind::Null) => Mode::Unknown,
            (Kind::Number, Kind::Number | Kind::Cell) | (Kind::Cell, Kind::Number) => Mode::Number,
            (Kind::Text, Kind::Text | Kind::Cell) | (Kind::Cell, Kind::Text) => Mode::Text,
            (Kind::Bool, Kind::Bool | Kind::Cell) | (Kind::Cell, Kind::Bool) => Mode::Bool,
            (Kind::Cell, Kind::Cell) => Mode::Cells,
            (left_kind, right_kind) => {
                return Err(mismatch(left, left_kind, right, right_kind));
            }
        };
        if mode == Mode::Bool && op.is_ordering() {
            return Err(ParseError::new(
                left.span.to(right.span),
                "conditions (true or false) can only be compared with = or !=",
            ));
        }
        if mode == Mode::Text && op.is_ordering() {
            // `amount > "100"` compares text, where "9" comes after "100": never what was meant.
            for side in [left, right] {
                if let ExprKind::Text(text) = &side.kind {
                    if text.trim().parse::<f64>().is_ok() {
                        let number = text.trim().to_string();
                        return Err(ParseError::new(
                            side.span,
                            format!(
                                "{} in quotes is text, so {} would compare text \
                                 (\"9\" comes after \"10\"); to compare numbers write {number} \
                                 without quotes",
                                text_literal(text),
                                op.symbol()
                            ),
                        )
                        .suggesting(number));
                    }
                }
            }
        }
        Ok(mode)
    }

    #[inline(never)]
    fn comparison(&self, op: BinaryOp, left: &Expr, right: &Expr) -> Result<Node, ParseError> {
        let want = match self.comparison_mode(op, left, right)? {
            Mode::Number => Want::Number,
            Mode::Text => Want::Text,
            Mode::Bool => Want::Bool,
            Mode::Cells => return self.compare_cells_node(op, left, right),
            Mode::Unknown => return Ok(Node::Constant(Value::Null)),
        };
        let left = Box::new(self.compile(left, want)?);
        let right = Box::new(self.compile(right, want)?);
        Ok(Node::Compare { op, left, right })
    }

    #[inline(never)]
    fn compare_cells_node(
        &self,
        op: BinaryOp,
        left: &Expr,
        right: &Expr,
    ) -> Result<Node, ParseError> {
        let as_numbers = (
            self.compile(left, Want::Number)?,
            self.compile(right, Want::Number)?,
        );
        let as_text = (
            self.compile(left, Want::Text)?,
            self.compile(right, Want::Text)?,
        );
        Ok(Node::CompareCells {
            op,
            as_numbers: Box::new(as_numbers),
            as_text: Box::new(as_text),
        })
    }

    /// `operand in (list)`: one way of comparing for the whole list, so the operand is read
    /// once per row. Items of different kinds compare as text.
    #[inline(never)]
    fn membership(
        &self,
        operand: &Expr,
        list: &[Expr],
        negated: bool,
    ) -> Result<(Node, Kind), ParseError> {
        let member = self.member_node(operand, list)?;
        let node = if negated {
            Node::Not(Box::new(member))
        } else {
            member
        };
        Ok((node, Kind::Bool))
    }

    #[inline(never)]
    fn member_node(&self, operand: &Expr, list: &[Expr]) -> Result<Node, ParseError> {
        let mut mode = None;
        for item in list {
            let item_mode = self.comparison_mode(BinaryOp::Equal, operand, item)?;
            // Column items follow the list's literals (`x in (other, 12.5)` compares numbers);
            // literals of different kinds compare as text.
            mode = Some(match (mode.unwrap_or(Mode::Unknown), item_mode) {
                (Mode::Unknown, mode) | (mode, Mode::Unknown) => mode,
                (previous, mode) if previous == mode => mode,
                (Mode::Cells, mode) | (mode, Mode::Cells) => mode,
                _ => Mode::Text,
            });
        }
        let want = match mode {
            Some(Mode::Number) => Want::Number,
            Some(Mode::Bool) => Want::Bool,
            Some(Mode::Cells) => {
                let operand = (
                    self.compile(operand, Want::Number)?,
                    self.compile(operand, Want::Text)?,
                );
                let mut pairs = Vec::with_capacity(list.len());
                for item in list {
                    pairs.push((
                        self.compile(item, Want::Number)?,
                        self.compile(item, Want::Text)?,
                    ));
                }
                return Ok(Node::MemberCells {
                    operand: Box::new(operand),
                    list: pairs,
                });
            }
            Some(Mode::Unknown) | None => return Ok(Node::Constant(Value::Null)),
            Some(Mode::Text) => Want::Text,
        };
        let operand = Box::new(self.compile(operand, want)?);
        let mut items = Vec::with_capacity(list.len());
        for item in list {
            items.push(self.compile(item, want)?);
        }
        Ok(Node::Member {
            operand,
            list: items,
        })
    }

    #[inline(never)]
    fn call(
        &self,
        name: &str,
        args: &[Expr],
        expr: &Expr,
        want: Want,
    ) -> Result<(Node, Kind), ParseError> {
        let function = self.row_function(name, args, expr)?;
        let (first_want, rest_want, produced) = argument_wants(function, args, want);
        let mut nodes = Vec::with_capacity(args.len());
        for (index, arg) in args.iter().enumerate() {
            let want = if index == 0 { first_want } else { rest_want };
            nodes.push(self.compile(arg, want)?);
        }
        Ok((
            Node::Call {
                function,
                args: nodes,
            },
            produced,
        ))
    }

    /// The row-level function a call names, checked for aggregates, filters and arguments.
    #[inline(never)]
    fn row_function(
        &self,
        name: &str,
        args: &[Expr],
        expr: &Expr,
    ) -> Result<RowFunction, ParseError> {
        let name_span = Span::new(expr.span.start, expr.span.start + name.chars().count());
        if is_aggregate(name) {
            return Err(ParseError::new(name_span, AGGREGATES_ARE_FOR_METRICS));
        }
        let lower = name.to_lowercase();
        let Some(info) = ROW_FUNCTIONS.iter().find(|info| info.name == lower) else {
            return Err(unknown_function(name, name_span));
        };
        for arg in args {
            if let ExprKind::Filter { keyword, .. } = &arg.kind {
                return Err(ParseError::new(*keyword, WHERE_ONLY_IN_AGGREGATES));
            }
        }
        if args.len() < info.min_args || args.len() > info.max_args {
            return Err(arity_error(info, args, expr));
        }
        Ok(info.function)
    }
}

/// What the first argument and the others of a function are read as, and what it gives.
fn argument_wants(function: RowFunction, args: &[Expr], want: Want) -> (Want, Want, Kind) {
    match function {
        RowFunction::Abs | RowFunction::Round => (Want::Number, Want::Number, Kind::Number),
        RowFunction::Lower | RowFunction::Upper | RowFunction::Trim => {
            (Want::Text, Want::Text, Kind::Text)
        }
        RowFunction::Len => (Want::Text, Want::Text, Kind::Number),
        RowFunction::Contains | RowFunction::StartsWith => (Want::Text, Want::Text, Kind::Bool),
        RowFunction::IsNull => (Want::Natural, Want::Natural, Kind::Bool),
        RowFunction::Coalesce => {
            let want = choice_want(want, args);
            (want, want, want_kind(want))
        }
        RowFunction::If => {
            let want = choice_want(want, args.get(1..).unwrap_or_default());
            (Want::Bool, want, want_kind(want))
        }
    }
}

/// What the branches of `if` or the arguments of `coalesce` are read as.
fn choice_want(want: Want, choices: &[Expr]) -> Want {
    if want != Want::Natural {
        return want;
    }
    match unify(choices.iter().map(infer)) {
        Kind::Number => Want::Number,
        Kind::Bool => Want::Bool,
        Kind::Text | Kind::Cell => Want::Text,
        Kind::Null => Want::Natural,
    }
}

fn want_kind(want: Want) -> Kind {
    match want {
        Want::Number => Kind::Number,
        Want::Text => Kind::Text,
        Want::Bool => Kind::Bool,
        Want::Natural => Kind::Null,
    }
}

/// The kind of a choice among values: their common kind, text when they differ (every value
/// can be written as text), a column's kind when only columns decide.
fn unify(kinds: impl Iterator<Item = Kind>) -> Kind {
    let mut result = Kind::Null;
    let mut saw_cell = false;
    for kind in kinds {
        match kind {
            Kind::Null => {}
            Kind::Cell => saw_cell = true,
            kind if result == Kind::Null || result == kind => result = kind,
            _ => result = Kind::Text,
        }
    }
    if result == Kind::Null && saw_cell {
        Kind::Cell
    } else {
        result
    }
}

/// The kind an expression gives, without resolving names (they are checked when compiled).
fn infer(expr: &Expr) -> Kind {
    match &expr.kind {
        ExprKind::Number(_) => Kind::Number,
        ExprKind::Text(_) => Kind::Text,
        ExprKind::Bool(_) => Kind::Bool,
        ExprKind::Null => Kind::Null,
        ExprKind::Column { .. } => Kind::Cell,
        ExprKind::Unary {
            op: UnaryOp::Negate,
            ..
        } => Kind::Number,
        ExprKind::Unary {
            op: UnaryOp::Not, ..
        }
        | ExprKind::In { .. } => Kind::Bool,
        ExprKind::Binary { op, .. } => {
            if op.is_arithmetic() {
                Kind::Number
            } else {
                Kind::Bool
            }
        }
        ExprKind::Call { name, args } => {
            let lower = name.to_lowercase();
            match ROW_FUNCTIONS.iter().find(|info| info.name == lower) {
                Some(info) => match info.function {
                    RowFunction::Abs | RowFunction::Round | RowFunction::Len => Kind::Number,
                    RowFunction::Lower | RowFunction::Upper | RowFunction::Trim => Kind::Text,
                    RowFunction::Contains | RowFunction::StartsWith | RowFunction::IsNull => {
                        Kind::Bool
                    }
                    RowFunction::Coalesce => unify(args.iter().map(infer)),
                    RowFunction::If => unify(args.iter().skip(1).map(infer)),
                },
                None if is_aggregate(name) => Kind::Number,
                None => Kind::Cell,
            }
        }
        ExprKind::Filter { value, .. } => infer(value),
        ExprKind::Rows => Kind::Null,
    }
}

#[inline(never)]
fn not_a_condition(expr: &Expr, produced: Kind) -> ParseError {
    let (subject, verb) = subject(expr);
    ParseError::new(
        expr.span,
        format!(
            "expected a condition (like amount > 0) here, but {subject} {verb} {}",
            kind_words(produced)
        ),
    )
}

fn kind_words(kind: Kind) -> &'static str {
    match kind {
        Kind::Number => "a number",
        Kind::Text => "text",
        Kind::Bool => "a condition (true or false)",
        Kind::Null => "null",
        Kind::Cell => "a column",
    }
}

/// How to name an expression in a message, and the verb that goes with it ("lower() gives").
fn subject(expr: &Expr) -> (String, &'static str) {
    let shown = excerpt_of(expr);
    match &expr.kind {
        ExprKind::Number(_) | ExprKind::Text(_) | ExprKind::Bool(_) | ExprKind::Null => {
            (shown, "is")
        }
        ExprKind::Column { .. } => (format!("the column {shown}"), "is"),
        ExprKind::Call { name, .. } => (format!("{name}()"), "gives"),
        ExprKind::Unary {
            op: UnaryOp::Negate,
            ..
        } => (format!("the calculation {shown}"), "is"),
        ExprKind::Binary { op, .. } if op.is_arithmetic() => {
            (format!("the calculation {shown}"), "is")
        }
        ExprKind::Binary { op, .. } if op.is_comparison() => {
            (format!("the comparison {shown}"), "is")
        }
        ExprKind::In { .. } => (format!("the comparison {shown}"), "is"),
        _ => (format!("the condition {shown}"), "is"),
    }
}

#[inline(never)]
fn mismatch(left: &Expr, left_kind: Kind, right: &Expr, right_kind: Kind) -> ParseError {
    let span = left.span.to(right.span);
    let message = format!(
        "cannot compare {} with {}",
        short_kind_words(left_kind),
        short_kind_words(right_kind)
    );
    // A number compared with a quoted number: the quotes are the mistake.
    for (side, other_kind) in [(left, right_kind), (right, left_kind)] {
        if let ExprKind::Text(text) = &side.kind {
            if other_kind == Kind::Number && text.trim().parse::<f64>().is_ok() {
                let number = text.trim().to_string();
                return ParseError::new(
                    side.span,
                    format!("{message}; to compare numbers write {number} without quotes"),
                )
                .suggesting(number);
            }
        }
    }
    ParseError::new(
        span,
        format!(
            "cannot compare {} ({}) with {} ({})",
            short_kind_words(left_kind),
            excerpt_of(left),
            short_kind_words(right_kind),
            excerpt_of(right)
        ),
    )
}

fn short_kind_words(kind: Kind) -> &'static str {
    match kind {
        Kind::Bool => "a condition",
        kind => kind_words(kind),
    }
}

/// The canonical text of an expression, shortened for a message.
fn excerpt_of(expr: &Expr) -> String {
    let text = expr.to_string();
    if text.chars().count() <= EXCERPT_CHARS {
        text
    } else {
        let mut short: String = text.chars().take(EXCERPT_CHARS).collect();
        short.push('…');
        short
    }
}

#[inline(never)]
fn arity_error(info: &FunctionInfo, args: &[Expr], call: &Expr) -> ParseError {
    let count = match (info.min_args, info.max_args) {
        (min, max) if min == max && min == 1 => "1 argument".to_string(),
        (min, max) if min == max => format!("{min} arguments"),
        (min, usize::MAX) => format!("at least {min} arguments"),
        (min, max) => format!("{min} or {max} arguments"),
    };
    // Point at the first argument too many, or at the closing parenthesis when one is missing.
    let span = match args.get(info.max_args) {
        Some(extra) => extra.span,
        None => Span::new(call.span.end.saturating_sub(1), call.span.end),
    };
    ParseError::new(
        span,
        format!(
            "{}() takes {count} but was given {}; write {}",
            info.name,
            args.len(),
            info.usage
        ),
    )
    .suggesting(info.usage)
}

#[inline(never)]
fn unknown_function(name: &str, span: Span) -> ParseError {
    let percentiles = ["p50", "p90", "p95", "p99"];
    let known = row_function_names()
        .chain(AGGREGATE_FUNCTIONS)
        .chain(percentiles);
    let mut error = ParseError::new(span, format!("unknown function {}", text_literal(name)));
    error.expected = row_function_names().map(str::to_string).collect();
    match closest_name(name, known) {
        Some(function) => {
            error.message = format!("{} — did you mean \"{function}\"?", error.message);
            error.suggestion = Some(function.to_string());
        }
        None => {
            error.message = format!(
                "{}; the functions for derived columns are {}",
                error.message,
                row_function_names().collect::<Vec<_>>().join(", ")
            );
        }
    }
    error
}

/// The candidate most likely meant by `typed`: equal once case, spaces, `_` and `-` are ignored;
/// else the nearest within two edits (fewer than the typed length, so that `x` does not suggest
/// `y`); else one that starts with it, ignoring case.
pub(crate) fn closest_name<'a>(
    typed: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    /// Longer names are not compared: the distance is quadratic and nobody misspells a paragraph.
    const LONGEST_COMPARED: usize = 64;
    let squeeze = |text: &str| -> Vec<char> {
        text.chars()
            .filter(|c| !c.is_whitespace() && *c != '_' && *c != '-')
            .flat_map(char::to_lowercase)
            .collect()
    };
    let typed_lower: Vec<char> = typed.trim().chars().flat_map(char::to_lowercase).collect();
    if typed_lower.is_empty() || typed_lower.len() > LONGEST_COMPARED {
        return None;
    }
    let typed_squeezed = squeeze(typed);
    let mut best: Option<(usize, &str)> = None;
    let mut prefix_match = None;
    for candidate in candidates {
        let lower: Vec<char> = candidate
            .trim()
            .chars()
            .flat_map(char::to_lowercase)
            .collect();
        if lower.len() > LONGEST_COMPARED {
            continue;
        }
        let distance = if !typed_squeezed.is_empty() && squeeze(candidate) == typed_squeezed {
            0
        } else {
            edit_distance(&typed_lower, &lower)
        };
        if distance <= 2 && distance < typed_lower.len() && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, candidate));
        }
        if prefix_match.is_none() && lower.starts_with(&typed_lower) {
            prefix_match = Some(candidate);
        }
    }
    best.map(|(_, candidate)| candidate).or(prefix_match)
}

/// Damerau-Levenshtein distance (optimal string alignment: a swap of two neighbours is one edit).
fn edit_distance(a: &[char], b: &[char]) -> usize {
    let width = b.len() + 1;
    let mut table = vec![0usize; (a.len() + 1) * width];
    let at = |i: usize, j: usize| i * width + j;
    for i in 0..=a.len() {
        table[at(i, 0)] = i;
    }
    for j in 0..=b.len() {
        table[at(0, j)] = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[at(i - 1, j)] + 1)
                .min(table[at(i, j - 1)] + 1)
                .min(table[at(i - 1, j - 1)] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[at(i - 2, j - 2)] + 1);
            }
            table[at(i, j)] = best;
        }
    }
    table[at(a.len(), b.len())]
}

// ------------------------------------------------------------------------------------------------
// Evaluation
// ------------------------------------------------------------------------------------------------

fn text_cell(text: &str) -> Value<'_> {
    let text = text.trim();
    if text.is_empty() {
        Value::Null
    } else {
        Value::Text(Cow::Borrowed(text))
    }
}

/// Evaluates a node on a row. As in the parser, each kind of node has its own small function
/// so that the stack used per level of nesting stays small.
#[inline(never)]
fn evaluate<'v>(node: &'v Node, row: &'v dyn Row, read: &NumberReader<'_>) -> Value<'v> {
    match node {
        Node::Constant(value) => value.reborrow(),
        Node::NumberCell(index) => number_cell(*index, row, read),
        Node::TextCell(index) => text_cell(row.column(*index)),
        Node::BoolCell(index) => bool_cell(row.column(*index)),
        Node::Negate(operand) => match evaluate(operand, row, read) {
            Value::Number(number) => finite(-number),
            _ => Value::Null,
        },
        Node::Arithmetic { op, left, right } => {
            match (evaluate(left, row, read), evaluate(right, row, read)) {
                (Value::Number(a), Value::Number(b)) => arithmetic(*op, a, b),
                _ => Value::Null,
            }
        }
        Node::Compare { op, left, right } => {
            compare(*op, &evaluate(left, row, read), &evaluate(right, row, read))
        }
        Node::CompareCells {
            op,
            as_numbers,
            as_text,
        } => compare_cells(*op, as_numbers, as_text, row, read),
        Node::Member { operand, list } => member(operand, list, row, read),
        Node::MemberCells { operand, list } => member_cells(operand, list, row, read),
        Node::Not(operand) => match evaluate(operand, row, read) {
            Value::Bool(value) => Value::Bool(!value),
            _ => Value::Null,
        },
        Node::And(left, right) => and(left, right, row, read),
        Node::Or(left, right) => or(left, right, row, read),
        Node::ToText(operand) => to_text(evaluate(operand, row, read)),
        Node::Call { function, args } => call_function(*function, args, row, read),
    }
}

#[inline(never)]
fn number_cell<'v>(index: usize, row: &'v dyn Row, read: &NumberReader<'_>) -> Value<'v> {
    if let Some(number) = row.stored_number(index) {
        return number.map_or(Value::Null, Value::Number);
    }
    let text = row.column(index).trim();
    if text.is_empty() {
        return Value::Null;
    }
    read(index, text)
        .filter(|number| number.is_finite())
        .map_or(Value::Null, Value::Number)
}

fn bool_cell(text: &str) -> Value<'static> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("true") {
        Value::Bool(true)
    } else if text.eq_ignore_ascii_case("false") {
        Value::Bool(false)
    } else {
        Value::Null
    }
}

#[inline(never)]
fn to_text(value: Value<'_>) -> Value<'_> {
    match value {
        Value::Number(number) => Value::Text(Cow::Owned(format_number(number))),
        Value::Bool(value) => Value::Text(Cow::Borrowed(if value { "true" } else { "false" })),
        other => other,
    }
}

#[inline(never)]
fn compare_cells<'v>(
    op: BinaryOp,
    as_numbers: &'v (Node, Node),
    as_text: &'v (Node, Node),
    row: &'v dyn Row,
    read: &NumberReader<'_>,
) -> Value<'v> {
    let left = evaluate(&as_numbers.0, row, read);
    let right = evaluate(&as_numbers.1, row, read);
    if left.as_number().is_some() && right.as_number().is_some() {
        return compare(op, &left, &right);
    }
    compare(
        op,
        &evaluate(&as_text.0, row, read),
        &evaluate(&as_text.1, row, read),
    )
}

#[inline(never)]
fn member<'v>(
    operand: &'v Node,
    list: &'v [Node],
    row: &'v dyn Row,
    read: &NumberReader<'_>,
) -> Value<'v> {
    let value = evaluate(operand, row, read);
    any_true(
        list.iter()
            .map(|item| compare(BinaryOp::Equal, &value, &evaluate(item, row, read))),
    )
}

#[inline(never)]
fn member_cells<'v>(
    operand: &'v (Node, Node),
    list: &'v [(Node, Node)],
    row: &'v dyn Row,
    read: &NumberReader<'_>,
) -> Value<'v> {
    let as_number = evaluate(&operand.0, row, read).as_number();
    let as_text = evaluate(&operand.1, row, read);
    any_true(list.iter().map(|(item_number, item_text)| {
        match (as_number, evaluate(item_number, row, read).as_number()) {
            (Some(a), Some(b)) => Value::Bool(a == b),
            _ => compare(BinaryOp::Equal, &as_text, &evaluate(item_text, row, read)),
        }
    }))
}

/// SQL's three-valued `and`: false decides, else unknown if either is unknown.
#[inline(never)]
fn and<'v>(
    left: &'v Node,
    right: &'v Node,
    row: &'v dyn Row,
    read: &NumberReader<'_>,
) -> Value<'v> {
    let left = evaluate(left, row, read).as_bool();
    if left == Some(false) {
        return Value::Bool(false);
    }
    match (left, evaluate(right, row, read).as_bool()) {
        (_, Some(false)) => Value::Bool(false),
        (Some(true), Some(true)) => Value::Bool(true),
        _ => Value::Null,
    }
}

/// SQL's three-valued `or`: true decides, else unknown if either is unknown.
#[inline(never)]
fn or<'v>(left: &'v Node, right: &'v Node, row: &'v dyn Row, read: &NumberReader<'_>) -> Value<'v> {
    let left = evaluate(left, row, read).as_bool();
    if left == Some(true) {
        return Value::Bool(true);
    }
    match (left, evaluate(right, row, read).as_bool()) {
        (_, Some(true)) => Value::Bool(true),
        (Some(false), Some(false)) => Value::Bool(false),
        _ => Value::Null,
    }
}

/// `in`: true if any comparison is true, else unknown if any is unknown, else false.
fn any_true<'v>(comparisons: impl Iterator<Item = Value<'v>>) -> Value<'v> {
    let mut unknown = false;
    for comparison in comparisons {
        match comparison {
            Value::Bool(true) => return Value::Bool(true),
            Value::Bool(false) => {}
            _ => unknown = true,
        }
    }
    if unknown {
        Value::Null
    } else {
        Value::Bool(false)
    }
}

/// Results that are not finite (overflow) are null: they could not be stored or summed.
fn finite<'v>(number: f64) -> Value<'v> {
    if number.is_finite() {
        Value::Number(number)
    } else {
        Value::Null
    }
}

fn arithmetic<'v>(op: BinaryOp, a: f64, b: f64) -> Value<'v> {
    match op {
        BinaryOp::Add => finite(a + b),
        BinaryOp::Subtract => finite(a - b),
        BinaryOp::Multiply => finite(a * b),
        BinaryOp::Divide | BinaryOp::Remainder if b == 0.0 => Value::Null,
        BinaryOp::Divide => finite(a / b),
        BinaryOp::Remainder => finite(a % b),
        _ => Value::Null,
    }
}

#[inline(never)]
fn compare<'v>(op: BinaryOp, left: &Value<'_>, right: &Value<'_>) -> Value<'v> {
    let ordering = match (left, right) {
        (Value::Number(a), Value::Number(b)) => a.partial_cmp(b),
        (Value::Text(a), Value::Text(b)) => Some(a.trim().cmp(b.trim())),
        (Value::Bool(a), Value::Bool(b)) => Some(a.cmp(b)),
        _ => None,
    };
    let Some(ordering) = ordering else {
        return Value::Null;
    };
    Value::Bool(match op {
        BinaryOp::Equal => ordering == Ordering::Equal,
        BinaryOp::NotEqual => ordering != Ordering::Equal,
        BinaryOp::Less => ordering == Ordering::Less,
        BinaryOp::LessOrEqual => ordering != Ordering::Greater,
        BinaryOp::Greater => ordering == Ordering::Greater,
        BinaryOp::GreaterOrEqual => ordering != Ordering::Less,
        _ => return Value::Null,
    })
}

#[inline(never)]
fn call_function<'v>(
    function: RowFunction,
    args: &'v [Node],
    row: &'v dyn Row,
    read: &NumberReader<'_>,
) -> Value<'v> {
    // The argument counts were checked when compiling; other shapes cannot occur.
    match (function, args) {
        (RowFunction::Coalesce, choices) => {
            for choice in choices {
                let value = evaluate(choice, row, read);
                if !value.is_null() {
                    return value;
                }
            }
            Value::Null
        }
        // Like SQL's CASE WHEN: an unknown condition takes the second branch.
        (RowFunction::If, [condition, when_true, otherwise]) => {
            if evaluate(condition, row, read).as_bool() == Some(true) {
                evaluate(when_true, row, read)
            } else {
                evaluate(otherwise, row, read)
            }
        }
        (RowFunction::IsNull, [value]) => Value::Bool(evaluate(value, row, read).is_null()),
        (function, [value]) => one_argument(function, evaluate(value, row, read)),
        (function, [first, second]) => two_arguments(
            function,
            evaluate(first, row, read),
            evaluate(second, row, read),
        ),
        _ => Value::Null,
    }
}

#[inline(never)]
fn one_argument(function: RowFunction, value: Value<'_>) -> Value<'_> {
    match (function, value) {
        (RowFunction::Abs, Value::Number(number)) => Value::Number(number.abs()),
        (RowFunction::Round, Value::Number(number)) => round_to(number, 0.0),
        (RowFunction::Lower, Value::Text(text)) => Value::Text(Cow::Owned(text.to_lowercase())),
        (RowFunction::Upper, Value::Text(text)) => Value::Text(Cow::Owned(text.to_uppercase())),
        (RowFunction::Trim, Value::Text(Cow::Borrowed(text))) => {
            Value::Text(Cow::Borrowed(text.trim()))
        }
        (RowFunction::Trim, Value::Text(Cow::Owned(text))) => {
            Value::Text(Cow::Owned(text.trim().to_string()))
        }
        (RowFunction::Len, Value::Text(text)) => Value::Number(text.chars().count() as f64),
        _ => Value::Null,
    }
}

#[inline(never)]
fn two_arguments<'v>(function: RowFunction, first: Value<'v>, second: Value<'v>) -> Value<'v> {
    match (function, first, second) {
        (RowFunction::Round, Value::Number(number), Value::Number(digits)) => {
            round_to(number, digits)
        }
        (RowFunction::Contains, Value::Text(whole), Value::Text(part)) => {
            Value::Bool(whole.contains(part.as_ref()))
        }
        (RowFunction::StartsWith, Value::Text(whole), Value::Text(beginning)) => {
            Value::Bool(whole.starts_with(beginning.as_ref()))
        }
        _ => Value::Null,
    }
}

/// Rounds half away from zero at `digits` decimals (negative: tens, hundreds…), on the shortest
/// decimal text of the number rather than on its binary value, so that round(1.005, 2) is 1.01
/// as the user reads it, not 1.00 as `(1.005 * 100).round() / 100` gives.
fn round_to<'v>(value: f64, digits: f64) -> Value<'v> {
    if !value.is_finite() || !digits.is_finite() {
        return Value::Null;
    }
    let digits = digits.round().clamp(-400.0, 400.0) as i64;
    // "1.005e0": the shortest digits that read back as `value`, and the power of ten.
    let scientific = format!("{:e}", value.abs());
    let Some((mantissa, exponent)) = scientific.split_once('e') else {
        return Value::Null;
    };
    let Ok(exponent) = exponent.parse::<i64>() else {
        return Value::Null;
    };
    let significant: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    // The number is 0.<significant> × 10^(exponent + 1); keep this many leading digits.
    let keep = exponent + 1 + digits;
    if keep >= significant.len() as i64 {
        return Value::Number(value);
    }
    if keep < 0 {
        return Value::Number(0.0);
    }
    // `significant` is ASCII digits, so splitting at a digit count is a char boundary.
    let (kept, dropped) = significant.split_at(keep as usize);
    let round_up = dropped.bytes().next().is_some_and(|digit| digit >= b'5');
    let kept: u64 = if kept.is_empty() {
        0
    } else {
        match kept.parse() {
            Ok(kept) => kept,
            Err(_) => return Value::Null,
        }
    };
    let rounded = kept + u64::from(round_up);
    match format!("{rounded}e{}", -digits).parse::<f64>() {
        Ok(magnitude) => finite(magnitude.copysign(value)),
        Err(_) => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The canonical form of a formula that must parse.
    fn shape(formula: &str) -> String {
        match parse_expr(formula) {
            Ok(expr) => expr.to_string(),
            Err(error) => panic!("{formula:?} should parse: {error}"),
        }
    }

    fn parse_failure(formula: &str) -> ParseError {
        match parse_expr(formula) {
            Ok(expr) => panic!("{formula:?} should not parse, got {expr}"),
            Err(error) => error,
        }
    }

    fn definition(text: &str) -> Definition {
        parse_definition(text).unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    fn headers(names: &[&str]) -> Vec<String> {
        names.iter().map(|name| name.to_string()).collect()
    }

    /// The columns of the compile-error examples.
    fn sample_columns() -> Vec<String> {
        headers(&[
            "amount",
            "quantity",
            "unit_price",
            "status",
            "direction",
            "收/支",
            "Payment Value",
            "created_at",
        ])
    }

    fn plain_number(_column: usize, text: &str) -> Option<f64> {
        text.parse().ok()
    }

    fn compile_failure(formula: &str, columns: &[String]) -> ParseError {
        let expr = parse_expr(formula).unwrap_or_else(|error| panic!("{formula:?}: {error}"));
        match compile(&expr, columns, &plain_number) {
            Ok(compiled) => panic!("{formula:?} should not compile, got {compiled:?}"),
            Err(error) => error,
        }
    }

    /// Evaluates a formula on one row of `headers`.
    fn eval_on(formula: &str, names: &[&str], row: &[&str]) -> Value<'static> {
        let expr = parse_expr(formula).unwrap_or_else(|error| panic!("{formula:?}: {error}"));
        let compiled = compile(&expr, &headers(names), &plain_number)
            .unwrap_or_else(|error| panic!("{formula:?}: {error}"));
        let row: Vec<&str> = row.to_vec();
        compiled.eval(&row).into_owned()
    }

    fn number(value: f64) -> Value<'static> {
        Value::Number(value)
    }

    // Whole-column evaluation, as ingestion does it (dataset.rs evaluates rows the same way,
    // with role names added), for testing definitions over many rows.
    /// One row of a loaded table.
    #[derive(Debug, Clone, Copy)]
    struct TableRow<'t> {
        table: &'t crate::ingest::RawTable,
        row: usize,
    }

    impl Row for TableRow<'_> {
        fn column(&self, index: usize) -> &str {
            match self.table.columns.get(index) {
                // The tests' tables are small: no column of them is stored as times.
                Some(column) if self.row < column.len() => {
                    column.stored_text(self.row).expect("a column of text")
                }
                _ => "",
            }
        }
    }

    /// Evaluates a definition on every row and returns the new column's cells: null is empty,
    /// numbers are written with `format_number`, conditions as "true" / "false". `cell(row, column)`
    /// gives the raw text of a cell.
    fn derive_column<'t>(
        definition: &Definition,
        headers: &[String],
        rows: usize,
        cell: &dyn Fn(usize, usize) -> &'t str,
        read_number: &NumberReader<'_>,
    ) -> Result<Vec<String>, ParseError> {
        let compiled = compile_definition(definition, headers, read_number)?;
        Ok((0..rows)
            .map(|row| compiled.eval(&CellsOf { row, cell }).to_cell().into_owned())
            .collect())
    }

    /// `derive_column` over a loaded table.
    fn derive_table_column(
        definition: &Definition,
        table: &crate::ingest::RawTable,
        read_number: &NumberReader<'_>,
    ) -> Result<Vec<String>, ParseError> {
        let compiled = compile_definition(definition, &table.headers, read_number)?;
        Ok((0..table.row_count())
            .map(|row| {
                compiled
                    .eval(&TableRow { table, row })
                    .to_cell()
                    .into_owned()
            })
            .collect())
    }

    struct CellsOf<'c, 't> {
        row: usize,
        cell: &'c dyn Fn(usize, usize) -> &'t str,
    }

    impl Row for CellsOf<'_, '_> {
        fn column(&self, index: usize) -> &str {
            (self.cell)(self.row, index)
        }
    }

    fn text(value: &str) -> Value<'static> {
        Value::Text(Cow::Owned(value.to_string()))
    }

    /// The cells `derive_column` gives for `text` on `rows` of a table with `names`.
    fn derive(text: &str, names: &[&str], rows: &[&[&str]]) -> Vec<String> {
        let cell = |row: usize, column: usize| -> &str {
            rows.get(row)
                .and_then(|cells| cells.get(column))
                .copied()
                .unwrap_or("")
        };
        derive_column(
            &definition(text),
            &headers(names),
            rows.len(),
            &cell,
            &plain_number,
        )
        .unwrap_or_else(|error| panic!("{text:?}: {error}"))
    }

    // --- Parsing valid formulas -----------------------------------------------------------------

    #[test]
    fn precedence_and_associativity() {
        let cases = [
            ("a + b * c", "a + (b * c)"),
            ("(a + b) * c", "(a + b) * c"),
            ("a - b - c", "(a - b) - c"),
            ("a / b / c", "(a / b) / c"),
            ("a * b % c", "(a * b) % c"),
            ("a - b + c * d / e", "(a - b) + ((c * d) / e)"),
            ("-a * b", "(-a) * b"),
            ("a * -b", "a * (-b)"),
            ("- -a", "-(-a)"),
            ("2 - -3", "2 - (-3)"),
            ("-(a + b)", "-(a + b)"),
            ("a + b > c * 2", "(a + b) > (c * 2)"),
            ("a or b and c", "a or (b and c)"),
            ("a and b or c and d", "(a and b) or (c and d)"),
            ("a or b or c", "(a or b) or c"),
            ("not a = b and c", "(not (a = b)) and c"),
            ("not not a", "not (not a)"),
            (
                "a = 1 or b = 2 and c = 3",
                "(a = 1) or ((b = 2) and (c = 3))",
            ),
            ("a == b", "a = b"),
            ("a <> b", "a != b"),
            ("a != b", "a != b"),
            ("a <= b", "a <= b"),
            ("a >= b", "a >= b"),
            ("a < b", "a < b"),
            ("a > b", "a > b"),
            ("(a < b) = true", "(a < b) = true"),
            ("((((a))))", "a"),
            ("a AND b Or NOT c", "(a and b) or (not c)"),
        ];
        for (formula, canonical) in cases {
            assert_eq!(shape(formula), canonical, "{formula}");
        }
    }

    #[test]
    fn literals() {
        let cases = [
            ("12", "12"),
            ("0.5", "0.5"),
            (".5", "0.5"),
            ("1e3", "1000"),
            ("1.5E-2", "0.015"),
            ("2e+2", "200"),
            ("\"say \\\"hi\\\"\"", "\"say \\\"hi\\\"\""),
            ("'it\\'s'", "\"it's\""),
            ("'double \" inside single'", "\"double \\\" inside single\""),
            ("\"back\\\\slash\"", "\"back\\\\slash\""),
            ("\"收入\"", "\"收入\""),
            ("\"\"", "\"\""),
            ("true", "true"),
            ("FALSE", "false"),
            ("Null", "null"),
        ];
        for (formula, canonical) in cases {
            assert_eq!(shape(formula), canonical, "{formula}");
        }
        let expr = parse_expr("'tab\\there'").unwrap();
        assert_eq!(expr.kind, ExprKind::Text("tab\there".to_string()));
    }

    #[test]
    fn names_of_any_script_and_backquoted_headers() {
        let cases = [
            ("收支 = \"收入\"", "收支 = \"收入\""),
            ("`收/支` = \"支出\"", "`收/支` = \"支出\""),
            ("`金额(元)` * 2", "`金额(元)` * 2"),
            ("`Payment Value` + fee", "`Payment Value` + fee"),
            ("`a``b`", "`a``b`"),
            ("`where` = 1", "`where` = 1"),
            ("_private2", "_private2"),
            ("montant_é", "montant_é"),
            ("Сумма * 2", "Сумма * 2"),
        ];
        for (formula, canonical) in cases {
            assert_eq!(shape(formula), canonical, "{formula}");
        }
        let expr = parse_expr("`a``b`").unwrap();
        assert_eq!(
            expr.kind,
            ExprKind::Column {
                name: "a`b".to_string(),
                quoted: true
            }
        );
        // Spans count characters, not bytes.
        let expr = parse_expr("`收/支` + 收入").unwrap();
        let ExprKind::Binary { right, .. } = expr.kind else {
            panic!("not binary")
        };
        assert_eq!(right.span, Span::new(8, 10));
    }

    #[test]
    fn in_lists() {
        let cases = [
            ("x in (1, 2, 3)", "x in (1, 2, 3)"),
            ("x not in (\"a\", 'b')", "x not in (\"a\", \"b\")"),
            ("x NOT IN (\"a\")", "x not in (\"a\")"),
            ("x + 1 in (2)", "(x + 1) in (2)"),
            ("x in (1) and y", "(x in (1)) and y"),
            ("not x in (1)", "not (x in (1))"),
            ("x in (a + 1, lower(b))", "x in (a + 1, lower(b))"),
        ];
        for (formula, canonical) in cases {
            assert_eq!(shape(formula), canonical, "{formula}");
        }
    }

    #[test]
    fn calls_and_where_filters_inside_them() {
        let cases = [
            ("round(amount, 2)", "round(amount, 2)"),
            ("COALESCE(a, b, 0)", "COALESCE(a, b, 0)"),
            ("if(a > 0, \"in\", \"out\")", "if(a > 0, \"in\", \"out\")"),
            ("count()", "count()"),
            ("count(where x = 1)", "count(where x = 1)"),
            ("share( where a in (1,2))", "share(where a in (1, 2))"),
            ("abs (x)", "abs(x)"),
            (
                "sum(amount where status = \"success\" and channel = \"app_qr\") / count_distinct(user_id)",
                "sum(amount where (status = \"success\") and (channel = \"app_qr\")) / count_distinct(user_id)",
            ),
            (
                "p95(latency_ms where funding_source = \"bank_card\")",
                "p95(latency_ms where funding_source = \"bank_card\")",
            ),
            (
                "sum(amount Where a, b)",
                "sum(amount where a, b)",
            ),
            ("share(amount where x in (1, 2))", "share(amount where x in (1, 2))"),
        ];
        for (formula, canonical) in cases {
            assert_eq!(shape(formula), canonical, "{formula}");
        }
        let expr = parse_expr("sum(amount where ok)").unwrap();
        let ExprKind::Call { name, args } = &expr.kind else {
            panic!("not a call")
        };
        assert_eq!(name, "sum");
        assert!(matches!(
            &args[0].kind,
            ExprKind::Filter { keyword, .. } if *keyword == Span::new(11, 16)
        ));
    }

    #[test]
    fn definitions() {
        let quantity = definition("amount = quantity * unit_price");
        assert_eq!(quantity.name, "amount");
        assert_eq!(quantity.name_span, Span::new(0, 6));
        assert_eq!(quantity.expr.to_string(), "quantity * unit_price");
        assert_eq!(quantity.condition, None);

        let flip = definition("amount = -amount where direction = \"收入\"");
        assert_eq!(flip.expr.to_string(), "-amount");
        assert_eq!(
            flip.condition.as_ref().map(ToString::to_string).as_deref(),
            Some("direction = \"收入\"")
        );
        assert_eq!(
            flip.to_string(),
            "amount = -amount where direction = \"收入\""
        );

        let quoted = definition("`金额(元)` = amount * 7.1 WHERE currency = 'USD' or x");
        assert_eq!(quoted.name, "金额(元)");
        assert_eq!(
            quoted.to_string(),
            "`金额(元)` = amount * 7.1 where (currency = \"USD\") or x"
        );
        // The first '=' names the column; later ones compare.
        assert_eq!(definition("flag = a = b").expr.to_string(), "a = b");
    }

    #[test]
    fn the_canonical_form_parses_back_to_itself() {
        let formulas = [
            "a + b * c - -d / (e % f)",
            "not (a or b) and c in (1, 'x', null)",
            "sum(amount where status = \"成功\" and `收/支` = '支出') / count(`Payment Value`)",
            "\"quote \\\" backslash \\\\ newline \\n\"",
            "1e300 * 0.000001 + 5e-324",
            "x not in (true, false) or a <> b",
            "`where` + `a``b` + `1abc` + `two words`",
        ];
        for formula in formulas {
            let once = shape(formula);
            assert_eq!(shape(&once), once, "{formula}");
        }
    }

    // --- Errors -------------------------------------------------------------------------------

    #[test]
    fn invalid_formulas_give_these_exact_messages() {
        let cases = [
            ("", "at column 1: the formula is empty"),
            (
                "quantity *",
                "at column 11: expected a value after '*' but found end of formula",
            ),
            (
                "sum(amount",
                "at column 11: expected ',' or ')' but found end of formula; \
                 the '(' at column 4 is not closed",
            ),
            (
                "(a + b",
                "at column 7: expected ')' but found end of formula; \
                 the '(' at column 1 is not closed",
            ),
            ("a + b)", "at column 6: found ')' with no matching '('"),
            (
                "\"abc",
                "at column 1: this text has no closing \": add \" at its end",
            ),
            (
                "'收入",
                "at column 1: this text has no closing ': add ' at its end",
            ),
            (
                "`abc",
                "at column 1: this column name has no closing backquote: add ` at its end",
            ),
            (
                "``",
                "at column 1: empty column name: write the header between the backquotes, \
                 like `Payment Value`",
            ),
            (
                "a $ b",
                "at column 3: unexpected character '$'; if it is part of a column name, \
                 write the whole name in backquotes, like `price ($)`",
            ),
            (
                "sum（amount）",
                "at column 4: '（' is a full-width or typographic character; write '('",
            ),
            (
                "x = “收入”",
                "at column 5: '“' is a full-width or typographic character; write '\"'",
            ),
            ("a && b", "at column 3: write and instead of '&&'"),
            ("a || b", "at column 3: write or instead of '||'"),
            ("!a", "at column 1: write not instead of '!'"),
            ("a ≠ b", "at column 3: write != instead of '≠'"),
            (
                "a = = b",
                "at column 5: expected a value after '=' but found '='",
            ),
            (
                "a +* b",
                "at column 4: expected a value after '+' but found '*'",
            ),
            ("and b", "at column 1: expected a value but found 'and'"),
            (
                "not",
                "at column 4: expected a value after 'not' but found end of formula",
            ),
            (
                "Payment Value * 2",
                "at column 1: expected an operator between Payment and Value; \
                 if \"Payment Value\" is one column name, write it in backquotes: `Payment Value`",
            ),
            (
                "a < b < c",
                "at column 7: comparisons cannot be chained: write a < b and b < c",
            ),
            (
                "1 < x <= 5",
                "at column 7: comparisons cannot be chained: write 1 < x and x <= 5",
            ),
            (
                "x in 1, 2",
                "at column 6: expected '(' after 'in' but found the number 1; \
                 write a list like in (\"a\", \"b\")",
            ),
            (
                "x in ()",
                "at column 7: an 'in' list needs at least one value, like in (\"a\", \"b\")",
            ),
            (
                "x in (1 2)",
                "at column 9: expected an operator, ',' or ')' but found the number 2",
            ),
            ("1.2.3", "at column 1: 1.2.3 is not a number"),
            (
                "12abc * 2",
                "at column 1: 12abc is not a number, and a name cannot start with a digit; \
                 for a column with this name write `12abc`",
            ),
            ("1e999", "at column 1: the number 1e999 is too large"),
            (
                "amount where status = \"success\"",
                "at column 8: 'where' filters only work inside an aggregate, as in \
                 sum(amount where status = \"success\"), or at the end of a derived column: \
                 name = formula where condition",
            ),
            (
                "(a where b)",
                "at column 4: 'where' filters only work inside an aggregate, as in \
                 sum(amount where status = \"success\"), or at the end of a derived column: \
                 name = formula where condition",
            ),
            (
                "sum(a where b where c)",
                "at column 15: an argument can have only one 'where'; join the conditions with and",
            ),
            (
                "sum(amount where)",
                "at column 17: expected a condition after 'where' but found ')'",
            ),
            (
                "f(a,)",
                "at column 5: expected a value after ',' but found ')'",
            ),
            (
                "\"a\" \"b\"",
                "at column 5: expected an operator or end of formula but found the text \"b\"",
            ),
            (
                "\"a\\qb\"",
                "at column 3: unknown escape \\q in text; write \\\\ for a backslash \
                 and \\\" for a quote",
            ),
            (
                "a not b",
                "at column 3: 'not' cannot follow a value: write it before a condition, \
                 as in not (status = \"failed\"), or use not in (…)",
            ),
            (
                "a;",
                "at column 2: unexpected character ';'; if it is part of a column name, \
                 write the whole name in backquotes, like `price ($)`",
            ),
            (
                "收入 😀",
                "at column 4: unexpected character '😀'; if it is part of a column name, \
                 write the whole name in backquotes, like `price ($)`",
            ),
        ];
        for (formula, message) in cases {
            assert_eq!(parse_failure(formula).to_string(), message, "{formula}");
        }
    }

    #[test]
    fn invalid_definitions_give_these_exact_messages() {
        let cases = [
            (
                "",
                "at column 1: the definition is empty: write name = formula, \
                 as in amount = quantity * unit_price",
            ),
            (
                "quantity * unit_price",
                "at column 10: expected '=' after the column name quantity but found '*'; \
                 a derived column is written name = formula, as in amount = quantity * unit_price",
            ),
            (
                "= x",
                "at column 1: expected the new column's name but found '='; \
                 a derived column is written name = formula, as in amount = quantity * unit_price",
            ),
            ("amount =", "at column 9: expected a value after '=' but found end of formula"),
            (
                "amount = x where",
                "at column 17: expected a condition after 'where' but found end of formula",
            ),
            (
                "amount = x where y where z",
                "at column 20: a definition can have only one 'where'; join the conditions with and",
            ),
            (
                "where = 1",
                "at column 1: 'where' is a word of the formula language; \
                 for a column with this name write `where`",
            ),
            (
                "Payment Value = 1",
                "at column 1: expected an operator between Payment and Value; \
                 if \"Payment Value\" is one column name, write it in backquotes: `Payment Value`",
            ),
            (
                "amount = x )",
                "at column 12: found ')' with no matching '('",
            ),
            (
                "amount = x y",
                "at column 10: expected an operator between x and y; \
                 if \"x y\" is one column name, write it in backquotes: `x y`",
            ),
        ];
        for (text, message) in cases {
            let error = parse_definition(text).expect_err(text);
            assert_eq!(error.to_string(), message, "{text}");
        }
    }

    #[test]
    fn compile_errors_give_these_exact_messages() {
        let columns = sample_columns();
        let cases = [
            (
                "ammount * 2",
                "at column 1: unknown column \"ammount\" — did you mean \"amount\"?",
            ),
            (
                "quantity * unit_prcie",
                "at column 12: unknown column \"unit_prcie\" — did you mean \"unit_price\"?",
            ),
            ("qty * 2", "at column 1: unknown column \"qty\""),
            (
                "收支 * 2",
                "at column 1: unknown column \"收支\" — did you mean `收/支`?",
            ),
            (
                "收支 = \"支出\"",
                "at column 1: unknown column \"收支\" — did you mean `收/支`? \
                 To compare with the text 收支, put it in quotes: \"收支\"",
            ),
            (
                "payment_value * 2",
                "at column 1: unknown column \"payment_value\" — did you mean `Payment Value`?",
            ),
            (
                "direction = 收入",
                "at column 13: unknown column \"收入\" — to compare with the text 收入, \
                 put it in quotes: \"收入\"",
            ),
            (
                "statu = 'ok'",
                "at column 1: unknown column \"statu\" — did you mean \"status\"? \
                 To compare with the text statu, put it in quotes: \"statu\"",
            ),
            ("sum(amount)", "at column 1: aggregate functions like sum() are for metrics, not for derived columns"),
            ("1 + P95(amount)", "at column 5: aggregate functions like sum() are for metrics, not for derived columns"),
            ("sume(amount)", "at column 1: unknown function \"sume\" — did you mean \"sum\"?"),
            ("rond(amount, 2)", "at column 1: unknown function \"rond\" — did you mean \"round\"?"),
            (
                "foo(amount)",
                "at column 1: unknown function \"foo\"; the functions for derived columns are \
                 abs, round, lower, upper, trim, len, contains, starts_with, coalesce, if, is_null",
            ),
            (
                "abs(amount where status = 'x')",
                "at column 12: 'where' filters only work inside an aggregate, as in \
                 sum(amount where status = \"success\"), or at the end of a derived column: \
                 name = formula where condition",
            ),
            (
                "round(amount, 1, 2)",
                "at column 18: round() takes 1 or 2 arguments but was given 3; \
                 write round(number, digits)",
            ),
            ("abs()", "at column 5: abs() takes 1 argument but was given 0; write abs(number)"),
            (
                "coalesce(amount)",
                "at column 16: coalesce() takes at least 2 arguments but was given 1; \
                 write coalesce(value, fallback, …)",
            ),
            (
                "\"amount\" * 2",
                "at column 1: \"amount\" in quotes is text, not a number; \
                 to use the column, write amount without quotes",
            ),
            ("\"abc\" + 1", "at column 1: expected a number here, but \"abc\" is text"),
            ("lower(status) * 2", "at column 1: expected a number here, but lower() gives text"),
            (
                "status = 'ok' and 5",
                "at column 19: expected a condition (like amount > 0) here, but 5 is a number",
            ),
            (
                "amount = null",
                "at column 10: a comparison with null is never true (null means unknown); \
                 to find empty cells write is_null(amount)",
            ),
            (
                "amount != null",
                "at column 11: a comparison with null is never true (null means unknown); \
                 to find empty cells write not is_null(amount)",
            ),
            (
                "status = \"\"",
                "at column 10: an empty cell is null, not \"\", so this is never true; \
                 to find empty cells write is_null(status)",
            ),
            (
                "amount > \"100\"",
                "at column 10: \"100\" in quotes is text, so > would compare text \
                 (\"9\" comes after \"10\"); to compare numbers write 100 without quotes",
            ),
            (
                "amount * 2 = \"24\"",
                "at column 14: cannot compare a number with text; \
                 to compare numbers write 24 without quotes",
            ),
            (
                "amount * 2 = 'abc'",
                "at column 1: cannot compare a number (amount * 2) with text (\"abc\")",
            ),
            (
                "(amount > 1) > (amount < 2)",
                "at column 1: conditions (true or false) can only be compared with = or !=",
            ),
        ];
        for (formula, message) in cases {
            assert_eq!(
                compile_failure(formula, &columns).to_string(),
                message,
                "{formula}"
            );
        }
        let ambiguous = compile_failure("AMOUNT", &headers(&["amount", "Amount "]));
        assert_eq!(
            ambiguous.to_string(),
            "at column 1: the name \"AMOUNT\" matches both amount and `Amount `; \
             write it exactly as in the header"
        );
    }

    #[test]
    fn errors_carry_what_was_expected_and_what_to_write() {
        let error = parse_failure("sum(amount");
        assert_eq!(error.position, 10);
        assert_eq!(error.column(), 11);
        assert_eq!(error.expected, vec![",", ")"]);

        let error = parse_failure("Payment Value * 2");
        assert_eq!((error.position, error.end), (0, 13));
        assert_eq!(error.suggestion.as_deref(), Some("`Payment Value`"));

        let error = parse_failure("a < b < c");
        assert_eq!(error.suggestion.as_deref(), Some("a < b and b < c"));

        let columns = sample_columns();
        let error = compile_failure("ammount", &columns);
        assert_eq!(error.suggestion.as_deref(), Some("amount"));
        assert_eq!(error.expected, columns, "the columns, for completion");
        assert_eq!((error.position, error.end), (0, 7));

        let error = compile_failure("`收/支` = 'x' and 收 = 'y'", &columns);
        assert_eq!(error.suggestion.as_deref(), Some("`收/支`"));
        assert_eq!(error.position, 16, "counted in characters");

        let error = compile_failure("direction = 收入", &columns);
        assert_eq!(error.suggestion.as_deref(), Some("\"收入\""));

        let error = compile_failure("amount = null", &columns);
        assert_eq!(error.suggestion.as_deref(), Some("is_null(amount)"));
    }

    #[test]
    fn names_resolve_ignoring_case_and_surrounding_spaces() {
        let names = ["Amount ", "收/支"];
        assert_eq!(eval_on("amount * 2", &names, &["3"]), number(6.0));
        assert_eq!(eval_on("`  AMOUNT`", &names, &["3"]), text("3"));
        assert_eq!(eval_on("`收/支`", &names, &["1", "支出"]), text("支出"));
        assert_eq!(eval_on("ABS(-amount)", &names, &["3"]), number(3.0));
    }

    #[test]
    fn close_names_are_suggested() {
        let columns = ["amount", "user_id", "Payment Value", "收/支", "created_at"];
        let suggest = |typed: &str| closest_name(typed, columns.iter().copied());
        assert_eq!(suggest("amout"), Some("amount"));
        assert_eq!(suggest("amuont"), Some("amount"), "a swap is one edit");
        assert_eq!(suggest("AMOUNTS"), Some("amount"));
        assert_eq!(suggest("userid"), Some("user_id"));
        assert_eq!(suggest("payment value"), Some("Payment Value"));
        assert_eq!(suggest("created"), Some("created_at"), "a prefix");
        assert_eq!(suggest("收"), Some("收/支"));
        assert_eq!(suggest("x"), None, "one letter is not a typo of anything");
        assert_eq!(suggest("merchant"), None);
    }

    // --- Evaluation -----------------------------------------------------------------------------

    #[test]
    fn derived_column_from_a_product() {
        let cells = derive(
            "amount = quantity * unit_price",
            &["quantity", "unit_price"],
            &[&["2", "3.5"], &["", "4"], &["x", "1"], &["0.1", "3"]],
        );
        assert_eq!(cells, vec!["7", "", "", "0.30000000000000004"]);
    }

    #[test]
    fn rewriting_a_column_where_a_condition_holds_keeps_the_other_rows() {
        let names = ["direction", "amount"];
        let rows: [&[&str]; 4] = [
            &["收入", "12.50"],
            &["支出", "8.00"],
            &["", "5"],
            &["收入", ""],
        ];
        let cells = derive("amount = -amount where direction = \"收入\"", &names, &rows);
        assert_eq!(cells, vec!["-12.5", "8.00", "5", ""]);

        // A new column is empty where the condition does not hold.
        let cells = derive("income = amount where `DIRECTION` = '收入'", &names, &rows);
        assert_eq!(cells, vec!["12.50", "", "", ""]);

        let expr = definition("Amount = 1");
        let compiled = compile_definition(&expr, &headers(&names), &plain_number).unwrap();
        assert_eq!(compiled.replaces(), Some(1));
        let new = definition("total = 1");
        let compiled = compile_definition(&new, &headers(&names), &plain_number).unwrap();
        assert_eq!(compiled.replaces(), None);
    }

    #[test]
    fn null_propagates_and_division_by_zero_is_null() {
        let names = ["a", "b"];
        assert_eq!(eval_on("a + b", &names, &["1", ""]), Value::Null);
        assert_eq!(eval_on("-a", &names, &[""]), Value::Null);
        assert_eq!(eval_on("a / b", &names, &["1", "0"]), Value::Null);
        assert_eq!(eval_on("a % b", &names, &["1", "0"]), Value::Null);
        assert_eq!(eval_on("a / b", &names, &["1", "4"]), number(0.25));
        assert_eq!(eval_on("a % b", &names, &["-7", "3"]), number(-1.0));
        assert_eq!(
            eval_on("a * b", &names, &["1e200", "1e200"]),
            Value::Null,
            "overflow"
        );
        assert_eq!(eval_on("a", &names, &["  "]), Value::Null, "blank is empty");
        assert_eq!(
            eval_on("a", &names, &[]),
            Value::Null,
            "missing cell is empty"
        );
        let cells = derive(
            "c = a / b",
            &names,
            &[&["1", "0"], &["6", "3"], &["-0", "5"]],
        );
        assert_eq!(cells, vec!["", "2", "0"]);
    }

    #[test]
    fn comparisons_with_null_are_unknown_as_in_sql() {
        let names = ["x", "flag"];
        assert_eq!(eval_on("x > 1", &names, &[""]), Value::Null);
        assert_eq!(eval_on("not (x > 1)", &names, &[""]), Value::Null);
        assert_eq!(
            eval_on("x > 1 and false", &names, &[""]),
            Value::Bool(false)
        );
        assert_eq!(eval_on("x > 1 or true", &names, &[""]), Value::Bool(true));
        assert_eq!(eval_on("x > 1 or false", &names, &[""]), Value::Null);
        assert_eq!(eval_on("x in (1, 2)", &names, &[""]), Value::Null);
        assert_eq!(eval_on("x not in (1, 2)", &names, &[""]), Value::Null);
        assert_eq!(
            eval_on("x not in (1, 2)", &names, &["3"]),
            Value::Bool(true)
        );
        assert_eq!(eval_on("is_null(x)", &names, &[""]), Value::Bool(true));
        assert_eq!(eval_on("is_null(x)", &names, &["0"]), Value::Bool(false));
        // A where condition holds only when true: unknown rows keep their value.
        let cells = derive("x = 0 where not (x > 1)", &names, &[&[""], &["5"], &["1"]]);
        assert_eq!(cells, vec!["", "5", "0"]);
        // Condition columns read "true" / "false".
        assert_eq!(
            eval_on("not flag", &names, &["", "TRUE"]),
            Value::Bool(false)
        );
        assert_eq!(eval_on("not flag", &names, &["", "maybe"]), Value::Null);
    }

    #[test]
    fn text_and_number_comparisons() {
        let names = ["status", "amount", "other"];
        let row = ["success", "12.50", "9"];
        assert_eq!(
            eval_on("status = ' success '", &names, &row),
            Value::Bool(true)
        );
        assert_eq!(
            eval_on("status = 'Success'", &names, &row),
            Value::Bool(false)
        );
        assert_eq!(eval_on("amount = 12.5", &names, &row), Value::Bool(true));
        // Against a text literal, a number column compares its text as written.
        assert_eq!(
            eval_on("amount = \"12.50\"", &names, &row),
            Value::Bool(true)
        );
        assert_eq!(
            eval_on("amount = \"12.5\"", &names, &row),
            Value::Bool(false)
        );
        // Two columns compare as numbers when both are numbers (9 < 12.5, though "9" > "12.50").
        assert_eq!(eval_on("other < amount", &names, &row), Value::Bool(true));
        assert_eq!(eval_on("status > other", &names, &row), Value::Bool(true));
        assert_eq!(
            eval_on("amount in (other, 12.5)", &names, &row),
            Value::Bool(true)
        );
        assert_eq!(
            eval_on("other in (amount, status)", &names, &row),
            Value::Bool(false)
        );
        assert_eq!(
            eval_on("status in ('failed', 'success')", &names, &row),
            Value::Bool(true)
        );
        assert_eq!(
            eval_on("amount in (1, 'x')", &names, &row),
            Value::Bool(false)
        );
        assert_eq!(
            eval_on("amount >= 12.5 and amount < 13", &names, &row),
            Value::Bool(true)
        );
        // ISO dates order as text.
        let dates = ["created_at"];
        assert_eq!(
            eval_on(
                "created_at >= '2025-08-01'",
                &dates,
                &["2025-08-15T10:00:00+08:00"]
            ),
            Value::Bool(true)
        );
    }

    #[test]
    fn row_functions() {
        let names = ["x", "name", "empty"];
        let row = ["-2.5", "  Alipay QR ", ""];
        let cases = [
            ("abs(x)", number(2.5)),
            ("round(x)", number(-3.0)),
            ("round(2.5)", number(3.0)),
            ("round(1.005, 2)", number(1.01)),
            ("round(0.125, 2)", number(0.13)),
            ("round(1234.5678, -2)", number(1200.0)),
            ("round(0.4, -3)", number(0.0)),
            ("round(1.5, 1)", number(1.5)),
            ("round(x, empty)", Value::Null),
            ("lower(name)", text("alipay qr")),
            ("upper(name)", text("ALIPAY QR")),
            ("trim('  a ')", text("a")),
            ("len(name)", number(9.0)),
            ("len('收/支')", number(3.0)),
            ("contains(name, 'pay')", Value::Bool(true)),
            ("contains(lower(name), 'alipay')", Value::Bool(true)),
            ("starts_with(name, 'Ali')", Value::Bool(true)),
            ("starts_with(name, 'QR')", Value::Bool(false)),
            ("contains(empty, 'a')", Value::Null),
            ("coalesce(empty, name)", text("Alipay QR")),
            ("coalesce(empty, 0) + 1", number(1.0)),
            ("coalesce(empty, empty)", Value::Null),
            ("if(x < 0, 'out', 'in')", text("out")),
            ("if(empty > 0, 'out', 'in')", text("in")),
            ("if(x < 0, -x, x)", number(2.5)),
            ("if(x < 0, x, 'n/a')", text("-2.5")),
            ("contains(x, '.')", Value::Bool(true)),
            ("lower(x * 2)", text("-5")),
            ("lower(x > 0)", text("false")),
        ];
        for (formula, expected) in cases {
            assert_eq!(eval_on(formula, &names, &row), expected, "{formula}");
        }
    }

    #[test]
    fn numbers_are_read_with_the_callers_convention_for_each_column() {
        // Column 1 writes "¥1.234,50" (decimal comma); column 0 is plain.
        let read = |column: usize, text: &str| -> Option<f64> {
            if column == 1 {
                text.trim_start_matches('¥')
                    .replace('.', "")
                    .replace(',', ".")
                    .parse()
                    .ok()
            } else {
                text.parse().ok()
            }
        };
        let expr = parse_expr("quantity * price").unwrap();
        let compiled = compile(&expr, &headers(&["quantity", "price"]), &read).unwrap();
        let row = ["2", "¥1.234,50"];
        assert_eq!(compiled.eval(&row), number(2469.0));
        // As text, the cell is what was written.
        let expr = parse_expr("price").unwrap();
        let compiled = compile(&expr, &headers(&["quantity", "price"]), &read).unwrap();
        assert_eq!(compiled.eval(&row), text("¥1.234,50"));
    }

    #[test]
    fn derived_cells_of_each_kind() {
        let names = ["a"];
        let rows: [&[&str]; 2] = [&["3"], &[""]];
        assert_eq!(derive("big = a > 2", &names, &rows), vec!["true", ""]);
        assert_eq!(derive("label = 'x'", &names, &rows), vec!["x", "x"]);
        assert_eq!(derive("copy = a", &names, &rows), vec!["3", ""]);
        assert_eq!(derive("nothing = null", &names, &rows), vec!["", ""]);
        assert_eq!(derive("half = a / 2", &names, &rows), vec!["1.5", ""]);
    }

    #[test]
    fn derives_a_column_of_a_loaded_table() {
        let csv = "收/支,金额(元),状态\n收入,12.50,成功\n支出,8,成功\n收入,3,失败\n";
        let table = crate::ingest::read_csv("t.csv", csv.as_bytes()).unwrap();
        let flip = definition("`金额(元)` = -`金额(元)` where `收/支` = '收入' and 状态 = '成功'");
        let cells = derive_table_column(&flip, &table, &plain_number).unwrap();
        assert_eq!(cells, vec!["-12.5", "8", "3"]);
    }

    #[test]
    fn format_number_round_trips() {
        let values = [
            0.0,
            1.0,
            -12.5,
            0.1 + 0.2,
            1e21,
            1e-7,
            123456789.123,
            f64::MAX,
            f64::MIN_POSITIVE,
            5e-324,
            -1234.5678e-10,
        ];
        for value in values {
            let written = format_number(value);
            assert_eq!(written.parse::<f64>().unwrap(), value, "{written}");
        }
        assert_eq!(format_number(-0.0), "0");
        assert_eq!(format_number(12.5), "12.5");
        assert_eq!(format_number(1e3), "1000");
    }

    // --- Robustness -----------------------------------------------------------------------------

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let deep_message = "the formula is nested too deeply (more than 200 levels); \
                            split it into several derived columns";
        let inputs = [
            "(".repeat(100_000) + "a",
            "-".repeat(100_000) + "a",
            "not ".repeat(50_000) + "a",
            "f(".repeat(50_000),
            "x in (".repeat(50_000),
            "1+".repeat(100_000) + "1",
            "a and ".repeat(50_000) + "b",
        ];
        for input in &inputs {
            let error = parse_expr(input).expect_err("too deep");
            assert_eq!(error.message, deep_message, "{}", &input[..20]);
        }
        // 200 levels are fine.
        let ok = "(".repeat(150) + "a" + &")".repeat(150);
        assert_eq!(shape(&ok), "a");
        let chain = "1+".repeat(150) + "1";
        let expr = parse_expr(&chain).unwrap();
        let compiled = compile(&expr, &[], &plain_number).unwrap();
        assert_eq!(compiled.eval(&Vec::<String>::new()), number(151.0));
        // Long flat lists and argument lists are not deep.
        let list = format!("x in ({})", vec!["1"; 20_000].join(", "));
        assert_eq!(parse_expr(&list).unwrap().nesting(), 2);
    }

    /// The deepest formulas accepted, parsed, compiled, evaluated and printed on a small stack.
    /// Release frames are what ships (wasm32 has a 1 MiB stack): 200 levels of calls take about
    /// 210 KiB there, so 512 KiB keeps a margin; debug frames are about four times larger.
    #[test]
    fn the_deepest_accepted_formulas_fit_a_small_stack() {
        let stack = if cfg!(debug_assertions) {
            2 << 20
        } else {
            512 << 10
        };
        let levels = MAX_NESTING - 1;
        let shapes = [
            "-".repeat(levels) + "x",
            "not ".repeat(levels) + "x",
            "abs(".repeat(levels) + "x" + &")".repeat(levels),
            "coalesce(".repeat(levels) + "x" + &", 1)".repeat(levels),
            "if(x > 0, ".repeat(levels / 2) + "x" + &", 0)".repeat(levels / 2),
            "x in (".repeat(levels / 2) + "1" + &")".repeat(levels / 2),
            "x + ".repeat(levels) + "1",
            "(".repeat(levels) + "x" + &")".repeat(levels),
            "sum(x where ".repeat(levels / 2) + "x" + &")".repeat(levels / 2),
        ];
        let worker = std::thread::Builder::new()
            .stack_size(stack)
            .spawn(move || {
                let columns = vec!["x".to_string()];
                for formula in &shapes {
                    let expr = parse_expr(formula).unwrap_or_else(|e| panic!("{e}"));
                    let _ = expr.to_string();
                    if let Ok(compiled) = compile(&expr, &columns, &plain_number) {
                        let _ = compiled.eval(&["2"]);
                    }
                }
            });
        worker.expect("spawn").join().expect("no stack overflow");
    }

    /// Random formulas built from tricky pieces: nothing may panic, every error points inside
    /// the formula, and whatever parses reads back from its canonical form.
    #[test]
    fn random_formulas_never_panic() {
        let pieces = [
            "a",
            "amount",
            "`收/支`",
            "收支",
            "`",
            "\"",
            "'",
            "\\",
            "(",
            ")",
            ",",
            "+",
            "-",
            "*",
            "/",
            "%",
            "=",
            "==",
            "!=",
            "<>",
            "<",
            "<=",
            ">",
            ">=",
            " ",
            "and",
            "or",
            "not",
            "in",
            "where",
            "true",
            "null",
            "1",
            "0",
            "1e3",
            ".5",
            "e",
            "sum",
            "round",
            "if",
            "coalesce",
            "lower",
            "is_null",
            "（",
            "“",
            "😀",
            "\u{0}",
            "\n",
            "收入",
            "_",
            "1e999",
            "é",
            "\u{301}",
            "'x'",
            "\"y\"",
            "`Payment Value`",
            "len",
            "x",
            "&",
            "!",
            "9.",
            "..",
        ];
        let columns = headers(&["a", "amount", "收/支", "收支", "x", "Payment Value"]);
        let rows: [[&str; 6]; 3] = [
            ["1", "2.5", "收入", "", "0", "x"],
            ["", "", "", "", "", ""],
            ["-3", "abc", "支出", "true", "1e308", "  "],
        ];
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let length = (next() % 24) as usize;
            let formula: String = (0..length)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            let chars = formula.chars().count();
            match parse_expr(&formula) {
                Ok(expr) => {
                    let canonical = expr.to_string();
                    let again = parse_expr(&canonical)
                        .unwrap_or_else(|e| panic!("{formula:?} -> {canonical:?}: {e}"));
                    assert_eq!(again.to_string(), canonical, "{formula:?}");
                    if let Ok(compiled) = compile(&expr, &columns, &plain_number) {
                        for row in &rows {
                            let _ = compiled.eval(row).to_cell();
                        }
                    }
                }
                Err(error) => {
                    assert!(error.position <= chars, "{formula:?}: {error}");
                    assert!(error.end <= chars, "{formula:?}: {error}");
                }
            }
            let text = format!("x = {formula}");
            if let Ok(definition) = parse_definition(&text) {
                if let Ok(compiled) = compile_definition(&definition, &columns, &plain_number) {
                    for row in &rows {
                        let _ = compiled.eval(row).to_cell();
                    }
                }
            }
        }
    }
}
