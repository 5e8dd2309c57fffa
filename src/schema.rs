//! Schema: the roles a transactions file's columns can play, how columns are matched to roles
//! (by header synonyms, then by content), and how raw status values are normalised.
use crate::error::{Error, ErrorKind, Result};
use crate::ingest::RawTable;
use crate::time::TimestampParser;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// What kind of values a role holds; decides how its cells are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Text,
    Time,
    Number,
    Status,
    /// Yes or no (1/0, true/false, 是/否).
    Flag,
}

/// A role a column of the transactions file can play.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    TxnId,
    CreatedAt,
    UserId,
    MerchantId,
    Amount,
    Currency,
    Status,
    Channel,
    FundingSource,
    Fee,
    LatencyMs,
    SettledAt,
    Type,
    Direction,
    DeclineReason,
    Fraud,
    DisputedAt,
    Region,
    Kyc,
}

impl Role {
    pub const ALL: [Role; 19] = [
        Role::TxnId,
        Role::CreatedAt,
        Role::UserId,
        Role::MerchantId,
        Role::Amount,
        Role::Currency,
        Role::Status,
        Role::Channel,
        Role::FundingSource,
        Role::Fee,
        Role::LatencyMs,
        Role::SettledAt,
        Role::Type,
        Role::Direction,
        Role::DeclineReason,
        Role::Fraud,
        Role::DisputedAt,
        Role::Region,
        Role::Kyc,
    ];

    /// The role's stable id, used in the CLI (`--map amount=total`), the JSON and the page.
    pub fn id(self) -> &'static str {
        match self {
            Role::TxnId => "txn_id",
            Role::CreatedAt => "created_at",
            Role::UserId => "user_id",
            Role::MerchantId => "merchant_id",
            Role::Amount => "amount",
            Role::Currency => "currency",
            Role::Status => "status",
            Role::Channel => "channel",
            Role::FundingSource => "funding_source",
            Role::Fee => "fee",
            Role::LatencyMs => "latency_ms",
            Role::SettledAt => "settled_at",
            Role::Type => "type",
            Role::Direction => "direction",
            Role::DeclineReason => "decline_reason",
            Role::Fraud => "fraud",
            Role::DisputedAt => "disputed_at",
            Role::Region => "region",
            Role::Kyc => "kyc",
        }
    }

    pub fn from_id(id: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.id() == id)
    }

    pub fn kind(self) -> Kind {
        match self {
            Role::CreatedAt | Role::SettledAt | Role::DisputedAt => Kind::Time,
            Role::Fraud => Kind::Flag,
            Role::Amount | Role::Fee | Role::LatencyMs => Kind::Number,
            Role::Status => Kind::Status,
            _ => Kind::Text,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            Role::TxnId => "Transaction identifier",
            Role::CreatedAt => "When the payment was attempted",
            Role::UserId => "The paying user (payer)",
            Role::MerchantId => "The merchant paid",
            Role::Amount => "Payment amount, in major currency units",
            Role::Currency => "ISO currency code of the amount",
            Role::Status => "Outcome: success, failed, refunded, disputed, pending",
            Role::Channel => "Where the payment happened (QR, online, in-app...)",
            Role::FundingSource => "What funded it (balance, card, credit...)",
            Role::Fee => "Fee earned by the platform on this payment",
            Role::LatencyMs => "Authorisation latency in milliseconds",
            Role::SettledAt => "When the merchant was settled",
            Role::Type => "Kind of transaction (purchase, transfer, top-up...)",
            Role::Direction => "Money in or out (收入 / 支出, credit / debit)",
            Role::DeclineReason => "Why a failed payment was declined",
            Role::Fraud => "Flag: the payment was confirmed as fraud (1/0, true/false)",
            Role::DisputedAt => "When the payer opened a dispute (chargeback)",
            Role::Region => "Region, province or country of the payment",
            Role::Kyc => "The payer's KYC (identity verification) level or status",
        }
    }

    /// Header names (already normalised by `normalise_header`) that mean this role.
    fn synonyms(self) -> &'static [&'static str] {
        match self {
            Role::TxnId => &[
                "交易订单号",
                "交易单号",
                "交易号",
                "订单号",
                "流水号",
                "支付单号",
                "txn_id",
                "transaction_id",
                "id",
                "payment_id",
                "trade_no",
                "transaction",
                "txn",
                "reference",
                "ref",
                "order_ref",
                "payment_ref",
                "charge_id",
                "trade_id",
            ],
            Role::CreatedAt => &[
                "交易时间",
                "交易创建时间",
                "创建时间",
                "付款时间",
                "支付时间",
                "交易日期",
                "时间",
                "日期",
                "created_at",
                "created",
                "timestamp",
                "time",
                "date",
                "datetime",
                "date_time",
                "transaction_time",
                "transaction_date",
                "txn_time",
                "txn_date",
                "payment_time",
                "payment_date",
                "paid_at",
                "event_time",
                "created_time",
                "ts",
                "order_purchase_timestamp",
                "trade_time",
            ],
            Role::UserId => &[
                "用户",
                "用户id",
                "用户编号",
                "付款方",
                "买家",
                "客户",
                "客户id",
                "会员id",
                "user_id",
                "user",
                "customer_id",
                "customer",
                "payer",
                "payer_id",
                "buyer",
                "buyer_id",
                "account_id",
                "client_id",
                "member_id",
                "uid",
                "customer_unique_id",
            ],
            Role::MerchantId => &[
                "交易对方",
                "商户",
                "商户名称",
                "商户号",
                "商家",
                "收款方",
                "对方",
                "merchant_id",
                "merchant",
                "seller",
                "seller_id",
                "shop",
                "shop_id",
                "store",
                "store_id",
                "payee",
                "payee_id",
                "merchant_name",
                "counterparty",
            ],
            Role::Amount => &[
                "金额",
                "金额_元",
                "交易金额",
                "订单金额",
                "支付金额",
                "实付金额",
                "付款金额",
                "收_支金额",
                "amount",
                "value",
                "payment_value",
                "total",
                "amt",
                "total_amount",
                "sum",
                "gross_amount",
                "transaction_amount",
                "payment_amount",
                "price",
            ],
            Role::Currency => &[
                "币种",
                "货币",
                "币别",
                "currency",
                "ccy",
                "currency_code",
                "cur",
                "curr",
            ],
            Role::Status => &[
                "交易状态",
                "当前状态",
                "状态",
                "支付状态",
                "订单状态",
                "status",
                "state",
                "result",
                "outcome",
                "payment_status",
                "transaction_status",
                "txn_status",
                "trade_status",
            ],
            Role::Channel => &[
                "渠道",
                "支付渠道",
                "交易渠道",
                "支付场景",
                "channel",
                "payment_channel",
                "scene",
                "entry_mode",
                "terminal",
            ],
            Role::FundingSource => &[
                "收_付款方式",
                "支付方式",
                "付款方式",
                "资金渠道",
                "funding_source",
                "payment_method",
                "payment_type",
                "method",
                "funding",
                "instrument",
                "pay_method",
                "tender",
                "card_type",
            ],
            Role::Fee => &[
                "手续费",
                "服务费",
                "费用",
                "fee",
                "fees",
                "commission",
                "processing_fee",
                "merchant_fee",
                "mdr",
                "fee_amount",
            ],
            Role::LatencyMs => &[
                "耗时",
                "耗时_ms",
                "响应时间",
                "latency_ms",
                "latency",
                "response_time",
                "response_time_ms",
                "duration_ms",
                "processing_time_ms",
                "elapsed_ms",
            ],
            Role::Type => &[
                "type",
                "txn_type",
                "transaction_type",
                "交易分类",
                "交易类型",
                "类型",
                "分类",
            ],
            Role::Direction => &[
                "direction",
                "debit_credit",
                "dr_cr",
                "in_out",
                "flow",
                "sign",
                "收_支",
                "收支",
                "资金流向",
            ],
            Role::SettledAt => &[
                "结算时间",
                "到账时间",
                "清算时间",
                "settled_at",
                "settlement_date",
                "settlement_time",
                "settled",
                "settle_time",
                "payout_date",
            ],
            Role::DeclineReason => &[
                "decline_reason",
                "failure_reason",
                "decline_code",
                "error_code",
                "reason_code",
                "refusal_reason",
                "失败原因",
                "拒绝原因",
            ],
            Role::Fraud => &[
                "is_fraud",
                "fraud",
                "fraud_flag",
                "is_fraudulent",
                "fraudulent",
                "confirmed_fraud",
                "欺诈",
                "是否欺诈",
            ],
            Role::DisputedAt => &[
                "disputed_at",
                "dispute_date",
                "dispute_time",
                "dispute_created_at",
                "chargeback_date",
                "chargeback_at",
                "争议时间",
                "拒付时间",
            ],
            Role::Region => &[
                "region", "province", "country", "city", "area", "地区", "省份", "城市",
            ],
            Role::Kyc => &[
                "kyc_level",
                "kyc",
                "kyc_status",
                "verification_level",
                "verified",
                "实名认证",
                "认证等级",
            ],
        }
    }
}

/// `Payment Value ` -> `payment_value`: case, spaces and punctuation do not matter in headers.
/// Letters of any script are kept, so Chinese headers can have synonyms too.
pub fn normalise_header(header: &str) -> String {
    let mut out = String::with_capacity(header.len());
    for c in header.trim().chars() {
        if c.is_alphanumeric() {
            out.extend(c.to_lowercase());
        } else if !out.ends_with('_') && !out.is_empty() {
            out.push('_');
        }
    }
    while out.ends_with('_') {
        out.pop();
    }
    out
}

/// How a role came to be mapped: shown to the user next to the mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Header,
    Content,
    /// A derived column named after the role.
    Derived,
    User,
}

/// Which column (by index) plays each role.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Mapping {
    columns: BTreeMap<Role, (usize, Source)>,
}

impl Mapping {
    pub fn column(&self, role: Role) -> Option<usize> {
        self.columns.get(&role).map(|&(column, _)| column)
    }

    pub fn source(&self, role: Role) -> Option<Source> {
        self.columns.get(&role).map(|&(_, source)| source)
    }

    pub fn set(&mut self, role: Role, column: Option<usize>, source: Source) {
        match column {
            Some(column) => {
                self.columns.insert(role, (column, source));
            }
            None => {
                self.columns.remove(&role);
            }
        }
    }

    pub(crate) fn uses(&self, column: usize) -> bool {
        self.columns.values().any(|&(c, _)| c == column)
    }
}

/// Words that qualify rather than name a role (`Transaction Amount`, `payment_status`): ignored
/// when matching header words, so they do not make a header look like a transaction id.
const QUALIFIER_WORDS: [&str; 5] = ["transaction", "txn", "payment", "order", "trade"];

/// Header words that say a column holds a time.
const TIME_WORDS: [&str; 6] = ["at", "date", "time", "timestamp", "day", "datetime"];

/// The mapping in force: the automatic one, then derived columns named after a role (`derived`),
/// then the user's overrides (role id -> column name, or `None` to unmap). A column given to a
/// role by the user is taken away from any role that had it automatically.
pub fn resolve_mapping(
    table: &RawTable,
    overrides: &BTreeMap<String, Option<String>>,
    derived: &[(Role, usize)],
) -> Result<Mapping> {
    let mut mapping = auto_map(table);
    for &(role, column) in derived {
        for other in Role::ALL {
            if mapping.column(other) == Some(column) {
                mapping.set(other, None, Source::Derived);
            }
        }
        mapping.set(role, Some(column), Source::Derived);
    }
    for (role_id, column) in overrides {
        let role = Role::from_id(role_id).ok_or_else(|| {
            let known: Vec<&str> = Role::ALL.iter().map(|r| r.id()).collect();
            Error::new(ErrorKind::InvalidOption(format!(
                "unknown role {role_id:?}; roles are {}",
                known.join(", ")
            )))
        })?;
        let index = match column {
            Some(name) => Some(table.column_index(name).ok_or_else(|| {
                Error::new(ErrorKind::UnknownColumn {
                    role: role_id.clone(),
                    column: name.clone(),
                })
                .in_file(&table.file)
            })?),
            None => None,
        };
        if let Some(index) = index {
            for other in Role::ALL {
                if other != role
                    && mapping.column(other) == Some(index)
                    && mapping.source(other) != Some(Source::User)
                {
                    mapping.set(other, None, Source::User);
                }
            }
        }
        mapping.set(role, index, Source::User);
    }
    Ok(mapping)
}

/// How many non-empty cells the content sniffers look at per column.
const CONTENT_SAMPLE: usize = 200;

/// Maps roles to columns automatically: first exact header synonyms, then headers whose words
/// name exactly one role (`Transaction Amount (CNY)`), then content (a column of dates is a time,
/// a column of status words is a status).
pub fn auto_map(table: &RawTable) -> Mapping {
    let mut mapping = Mapping::default();
    let normalised: Vec<String> = table.headers.iter().map(|h| normalise_header(h)).collect();

    for role in Role::ALL {
        if let Some(column) = (0..normalised.len())
            .find(|&c| !mapping.uses(c) && role.synonyms().contains(&normalised[c].as_str()))
        {
            mapping.set(role, Some(column), Source::Header);
        }
    }

    for (column, header) in normalised.iter().enumerate() {
        if mapping.uses(column) {
            continue;
        }
        let words: Vec<&str> = header
            .split('_')
            .filter(|word| !QUALIFIER_WORDS.contains(word))
            .collect();
        // `first_funding_at` is a time, not a funding source: a header that says it holds a
        // time only matches time roles.
        let says_time = words.iter().any(|w| TIME_WORDS.contains(w));
        let candidates: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|role| !says_time || role.kind() == Kind::Time)
            .filter(|role| {
                role.synonyms()
                    .iter()
                    .any(|s| !s.contains('_') && s.len() > 2 && words.contains(s))
            })
            .collect();
        if let [role] = candidates[..] {
            if mapping.column(role).is_none() {
                mapping.set(role, Some(column), Source::Header);
            }
        }
    }

    if mapping.column(Role::CreatedAt).is_none() {
        let found = (0..table.headers.len())
            .find(|&c| !mapping.uses(c) && mostly(table, c, looks_like_time));
        mapping.set(Role::CreatedAt, found, Source::Content);
    }
    if mapping.column(Role::Status).is_none() {
        let found = (0..table.headers.len()).find(|&c| {
            !mapping.uses(c) && mostly(table, c, |v| normalise_status(v) != Status::Unknown)
        });
        mapping.set(Role::Status, found, Source::Content);
    }
    mapping
}

fn looks_like_time(value: &str) -> bool {
    // A bare number could be an amount or an id: only formatted dates count as evidence here.
    !value.bytes().all(|b| b.is_ascii_digit() || b == b'.')
        && TimestampParser::default().parse(value).is_some()
}

/// True when at least 90% of the first non-empty cells of `column` satisfy `test`.
fn mostly(table: &RawTable, column: usize, test: impl Fn(&str) -> bool) -> bool {
    let mut seen = 0;
    let mut passed = 0;
    for value in table.columns[column].iter().filter(|v| !v.is_empty()) {
        seen += 1;
        passed += usize::from(test(&value));
        if seen == CONTENT_SAMPLE {
            break;
        }
    }
    seen > 0 && passed * 10 >= seen * 9
}

/// The normalised outcome of a payment attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Success,
    Failed,
    Refunded,
    Disputed,
    Pending,
    /// A value that is in no vocabulary: listed for the user, never silently called a failure.
    Unknown,
}

/// Maps a raw status value to its normal form, ignoring case, spaces, hyphens and underscores.
pub fn normalise_status(raw: &str) -> Status {
    let key: String = raw
        .trim()
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '_'))
        .flat_map(char::to_lowercase)
        .collect();
    match key.as_str() {
        "success" | "succeeded" | "successful" | "succeed" | "completed" | "complete" | "paid"
        | "approved" | "captured" | "settled" | "ok" | "done" | "交易成功" | "支付成功"
        | "成功" | "已支付" | "已付款" | "已完成" | "交易完成" | "已收钱" | "朋友已收钱"
        | "已收款" | "已存入零钱" | "已转账" | "已到账" | "提现已到账" | "充值完成"
        | "充值成功" | "还款成功" | "已入账" | "delivered" | "shipped" | "invoiced" => {
            Status::Success
        }
        "failed" | "failure" | "fail" | "declined" | "decline" | "rejected" | "error"
        | "cancelled" | "canceled" | "voided" | "void" | "expired" | "denied" | "unavailable"
        | "交易失败" | "支付失败" | "失败" | "交易关闭" | "已关闭" | "已取消" | "已撤销"
        | "已拒绝" => Status::Failed,
        "refunded" | "refund" | "reversed" | "partiallyrefunded" | "退款成功" | "已退款"
        | "已全额退款" | "全额退款" | "部分退款" | "已部分退款" | "退款完成" => {
            Status::Refunded
        }
        "disputed" | "dispute" | "chargeback" | "chargedback" | "争议中" | "拒付" | "已拒付"
        | "投诉处理中" => Status::Disputed,
        "pending"
        | "processing"
        | "created"
        | "initiated"
        | "authorized"
        | "authorised"
        | "inprogress"
        | "waiting"
        | "等待确认收货"
        | "等待付款"
        | "等待对方付款"
        | "待支付"
        | "处理中"
        | "支付中"
        | "退款中"
        | "等待发货"
        | "待收货"
        | "对方已收钱待确认" => Status::Pending,
        _ => Status::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ingest::read_csv;

    fn mapped(csv: &str) -> Vec<(&'static str, String, Source)> {
        let table = read_csv("t.csv", csv.as_bytes()).unwrap();
        let mapping = auto_map(&table);
        Role::ALL
            .into_iter()
            .filter_map(|role| {
                let column = mapping.column(role)?;
                Some((
                    role.id(),
                    table.headers[column].clone(),
                    mapping.source(role)?,
                ))
            })
            .collect()
    }

    #[test]
    fn headers_map_by_synonym() {
        let roles = mapped(
            "order_ref,Timestamp,Customer ID,shop,payment_value,state\nA,2024-01-01,u,m,1,ok\n",
        );
        assert_eq!(
            roles,
            vec![
                ("txn_id", "order_ref".into(), Source::Header),
                ("created_at", "Timestamp".into(), Source::Header),
                ("user_id", "Customer ID".into(), Source::Header),
                ("merchant_id", "shop".into(), Source::Header),
                ("amount", "payment_value".into(), Source::Header),
                ("status", "state".into(), Source::Header),
            ]
        );
    }

    #[test]
    fn header_words_and_content_map_the_rest() {
        let roles = mapped("Transaction Amount (CNY),when,outcome_code\n1.5,2024-01-01 10:00:00,SUCCESS\n2,2024-01-02 11:00:00,declined\n");
        assert_eq!(
            roles,
            vec![
                ("created_at", "when".into(), Source::Content),
                ("amount", "Transaction Amount (CNY)".into(), Source::Header),
                ("status", "outcome_code".into(), Source::Header),
            ]
        );
    }

    #[test]
    fn chinese_wallet_headers_map() {
        let roles = mapped("交易时间,交易分类,交易对方,商品说明,收/支,金额(元),收/付款方式,交易状态,交易订单号\n2023-02-12 21:32:14,餐饮,x,y,支出,¥1,余额,交易成功,1\n");
        let ids: Vec<(&str, &str)> = roles.iter().map(|(r, c, _)| (*r, c.as_str())).collect();
        assert_eq!(
            ids,
            vec![
                ("txn_id", "交易订单号"),
                ("created_at", "交易时间"),
                ("merchant_id", "交易对方"),
                ("amount", "金额(元)"),
                ("status", "交易状态"),
                ("funding_source", "收/付款方式"),
                ("type", "交易分类"),
                ("direction", "收/支"),
            ]
        );
    }

    #[test]
    fn a_word_shared_by_two_roles_maps_neither() {
        let roles = mapped("service_fee_amount\n1\n");
        assert!(roles.is_empty(), "{roles:?}");
    }

    #[test]
    fn statuses_normalise() {
        assert_eq!(normalise_status(" SUCCESS "), Status::Success);
        assert_eq!(normalise_status("Declined"), Status::Failed);
        assert_eq!(normalise_status("charge-back"), Status::Disputed);
        assert_eq!(normalise_status("REFUNDED"), Status::Refunded);
        assert_eq!(normalise_status("in_progress"), Status::Pending);
        assert_eq!(normalise_status("weird_state"), Status::Unknown);
        assert_eq!(normalise_status("交易成功"), Status::Success);
        assert_eq!(normalise_status("支付成功"), Status::Success);
        assert_eq!(normalise_status("退款成功"), Status::Refunded);
        assert_eq!(normalise_status("等待确认收货"), Status::Pending);
        assert_eq!(normalise_status("交易关闭"), Status::Failed);
    }
}
