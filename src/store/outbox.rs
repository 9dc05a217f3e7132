//! The exchange outbox (Art. 27): case versions waiting for, delivered to, or refused by the
//! provincial data-sharing exchange. `upsert_cases` enqueues in the case's transaction; workers
//! claim due items with a lease (PostgreSQL: `FOR UPDATE SKIP LOCKED`; SQLite: the write lock of
//! `BEGIN IMMEDIATE`), and settle each one only while the lease is still theirs. The claim, the
//! lease, the settlement and the replay are the store's one job queue's (`queue.rs`, [`OUTBOX`]:
//! a held lease, the head flag, a failing-since stamp); this module adds what only the outbox
//! does: the case versions a claim hands out, heads moved on delivery, the delivered counter and
//! the audit events.
//!
//! Only the head of a case is claimable: an item waits while an earlier version of the same case
//! is not delivered (pending, leased or dead). Versions therefore reach the exchange in order, two
//! nodes never deliver two versions of one case at once, and a dead item holds back the later
//! versions of its case until an operator replays it. The head is a marked row (`head`, issue
//! 22), set at enqueue and moved on delivery under the case's lock, so a claim reads due heads
//! through one partial index and its cost follows the batch, not the backlog.

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::types::Json;
use tokio::sync::Notify;

use super::case_writes::CaseLocks;
use super::queue::{JobQueue, Keyed, Lease, Leasing, QueueTable, Settle};
use super::{Backend, Store, StoreError, audit, on_pool, placeholders};
use crate::case::Case;

/// Woken whenever this process enqueues items, so that its workers deliver at once instead of
/// at their next poll (polling covers items other nodes enqueue).
static ENQUEUED: LazyLock<Notify> = LazyLock::new(Notify::new);

/// Wakes every worker of this process that waits for new items.
pub(crate) fn wake_workers() {
    ENQUEUED.notify_waiters();
}

/// What workers wait on for new items; see [`wake_workers`].
pub fn enqueued() -> &'static Notify {
    &ENQUEUED
}

/// Where an outbox item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[derive(strum::IntoStaticStr, strum::EnumString)]
#[strum(serialize_all = "snake_case")]
pub enum OutboxState {
    /// Waiting to be delivered (possibly leased by a worker right now, or backing off).
    Pending,
    /// The exchange acknowledged it.
    Delivered,
    /// Refused by the exchange or out of attempts: in the dead-letter queue until replayed.
    Dead,
}

impl OutboxState {
    /// The name stored and shown (`pending`, `delivered`, `dead`).
    pub fn name(self) -> &'static str {
        self.into()
    }

    fn parse(text: &str) -> Result<OutboxState, StoreError> {
        text.parse().map_err(|_| StoreError::Corrupt {
            what: "exchange outbox item",
            detail: format!("unknown state {text:?}"),
        })
    }
}

/// One outbox item as operators see it (no case content).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OutboxItem {
    pub id: i64,
    pub system_id: String,
    pub case_no: String,
    pub version: i64,
    pub state: OutboxState,
    pub attempts: i64,
    pub enqueued_at: DateTime<Utc>,
    pub next_attempt_at: DateTime<Utc>,
    pub last_error: Option<String>,
    pub delivered_at: Option<DateTime<Utc>>,
    /// Since when delivery has been failing with retriable answers (issue 22): retries end at
    /// the retry horizon counted from here. None before the first failure, once delivered, and
    /// after a replay.
    pub failing_since: Option<DateTime<Utc>>,
}

impl OutboxItem {
    /// `system/case_no/version`: the idempotency key the exchange sees, and the audit target.
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.system_id, self.case_no, self.version)
    }
}

/// A claimed item with the case version to deliver.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub item: OutboxItem,
    pub case: Case,
}

/// The outbox at a glance.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct OutboxStatus {
    /// Items not delivered yet (pending, leased or backing off).
    pub backlog: i64,
    /// Items in the dead-letter queue.
    pub dead: i64,
    /// Items delivered so far. A counter maintained in the settle's transaction
    /// (`exchange_outbox_counts`), not a count of rows: exact at every commit, as cheap to read
    /// at ten million deliveries as at ten, and still right once delivered rows are purged. An
    /// estimate (planner statistics, or the highest id less the open items) would be cheaper
    /// still but wrong on PostgreSQL, whose sequence skips values on every conflict and rollback.
    pub delivered: i64,
    /// When the oldest pending item was enqueued.
    pub oldest_pending_at: Option<DateTime<Utc>>,
}

/// How a delivery attempt ended, as the worker settles it.
#[derive(Debug, Clone, PartialEq)]
pub enum Settlement {
    /// The exchange acknowledged the item.
    Delivered,
    /// Try again after `delay`; the item is failing from now on if it was not already.
    Retry { delay: chrono::Duration, error: String },
    /// Into the dead-letter queue.
    Dead { error: String },
}

/// Which dead items a replay puts back.
#[derive(Debug, Clone, PartialEq)]
pub enum Replay {
    /// These item ids (each must be dead).
    Ids(Vec<i64>),
    /// Every dead item, or every dead item of one system.
    All { system_id: Option<String> },
}

/// An outbox row as read through `ITEM_COLUMNS`.
#[derive(sqlx::FromRow)]
struct ItemRow {
    id: i64,
    system_id: String,
    case_no: String,
    version: i64,
    state: String,
    attempts: i64,
    enqueued_at: DateTime<Utc>,
    next_attempt_at: DateTime<Utc>,
    last_error: Option<String>,
    delivered_at: Option<DateTime<Utc>>,
    failing_since: Option<DateTime<Utc>>,
}

/// A claimed row with the case version's body.
#[derive(sqlx::FromRow)]
struct ClaimRow {
    #[sqlx(flatten)]
    item: ItemRow,
    body: Json<Case>,
    sealed_by: Option<String>,
}

const ITEM_COLUMNS: &str = "o.id, o.system_id, o.case_no, o.version, o.state, o.attempts, o.enqueued_at, \
                            o.next_attempt_at, o.last_error, o.delivered_at, o.failing_since";

fn item(row: ItemRow) -> Result<OutboxItem, StoreError> {
    Ok(OutboxItem {
        state: OutboxState::parse(&row.state)?,
        id: row.id,
        system_id: row.system_id,
        case_no: row.case_no,
        version: row.version,
        attempts: row.attempts,
        enqueued_at: row.enqueued_at,
        next_attempt_at: row.next_attempt_at,
        last_error: row.last_error,
        delivered_at: row.delivered_at,
        failing_since: row.failing_since,
    })
}

/// The status page's statement: pending and dead items counted through the indexes that hold
/// only them (`exchange_outbox_pending_age`, `exchange_outbox_dead`), the delivered counter summed
/// over its slots, and the oldest pending item by the same partial index.
const OUTBOX_STATUS: &str = "SELECT
     (SELECT COUNT(*) FROM exchange_outbox WHERE state = 'pending'),
     (SELECT COUNT(*) FROM exchange_outbox WHERE state = 'dead'),
     (SELECT CAST(COALESCE(SUM(delivered), 0) AS BIGINT) FROM exchange_outbox_counts),
     (SELECT enqueued_at FROM exchange_outbox WHERE state = 'pending' ORDER BY enqueued_at LIMIT 1)";

/// [`OUTBOX_STATUS`], for the tests that check its plan.
#[doc(hidden)]
pub fn outbox_status_sql() -> &'static str {
    OUTBOX_STATUS
}

/// How many rows the delivered counter is spread over: a settle adds to one at random, so that
/// nodes settling at once rarely wait on each other's row lock.
const COUNT_SLOTS: i64 = 16;

/// The planner settings the claim runs with. PostgreSQL without sorting: with statistics taken
/// before a backlog formed it would otherwise fetch every due head through a bitmap and sort
/// them, a cost that grows with the backlog; the index scan in the statement's order stops after
/// the batch whatever the statistics say. SQLite keeps no statistics and needs none.
pub fn claim_setup(backend: Backend) -> &'static [&'static str] {
    match backend {
        Backend::Sqlite => &[],
        Backend::Postgres => &["SET LOCAL enable_sort = off"],
    }
}

/// The outbox as a job queue: pending heads due soonest first, a lease held by the claiming
/// worker (`lease_owner`), delivered and dead items kept, since when an item has been failing.
/// Its claim reads `exchange_outbox_heads`, whose order is the claim's, so the scan stops after
/// the batch. The lease and the settlement find their items by primary key alone: saying
/// `state = 'pending'` again would let PostgreSQL, with statistics taken before a backlog formed,
/// read them through the partial index of pending items and filter the whole backlog (29 ms per
/// claim and 24 ms per settled item at a 100,000 backlog, against 0.1 ms by key).
const OUTBOX: QueueTable = QueueTable {
    table: "exchange_outbox",
    key: "id",
    claimed: "id",
    order: "next_attempt_at, id",
    due: "next_attempt_at",
    state: "state",
    queued: "pending",
    delivered: "delivered",
    dead: "dead",
    attempts: "attempts",
    last_error: "last_error",
    delivered_at: "delivered_at",
    receipt: None,
    leasing: Leasing::Held("lease_owner"),
    head: Some("head"),
    failing_since: Some("failing_since"),
};

/// A claimed item's key.
#[derive(sqlx::FromRow)]
struct ClaimedId {
    id: i64,
}

impl Keyed for ClaimedId {
    fn key(&self) -> i64 {
        self.id
    }
}

/// A settled item's case, to move its head on.
#[derive(sqlx::FromRow)]
struct CaseKey {
    system_id: String,
    case_no: String,
}

/// The claim's selection (`$1` now, `$2` the batch; run after [`claim_setup`]), for the tests
/// that check its plan.
#[doc(hidden)]
pub fn claim_sql(backend: Backend) -> String {
    OUTBOX.due_sql(backend, true)
}

/// The claim's lease of `count` items (`$1` the lease's end, `$2` its holder, then the ids), for
/// the tests that check its plan.
#[doc(hidden)]
pub fn claim_lease_sql(count: usize) -> String {
    let lease = Lease {
        until: DateTime::UNIX_EPOCH,
        holder: Some(""),
    };
    OUTBOX.lease_statement(&vec![0; count], &lease).sql
}

/// A delivery's settlement (`$1` the id, `$2` now, `$3` the lease's holder), for the tests that
/// check its plan.
#[doc(hidden)]
pub fn settle_sql() -> String {
    let delivered = Settle::Delivered { receipt: None };
    OUTBOX
        .settle_statement(&[0], Some(""), DateTime::UNIX_EPOCH, &delivered)
        .sql
}

/// Which of `count` cases (`$2`, …) of system `$1` have an open item (pending or dead): the
/// enqueue's question whether a new version heads its case. Probed one key at a time through
/// the outbox's unique index on (system, case, version); as `case_no IN (…)`, PostgreSQL with statistics taken before the
/// system had items reads every open item of the system and filters (82 ms per 500 keys at a
/// 100,000 backlog, against 8 ms).
pub fn open_cases_sql(count: usize) -> String {
    format!(
        "SELECT k.column1 FROM (VALUES {keys}) AS k
         WHERE (SELECT o.version FROM exchange_outbox o
                WHERE o.system_id = $1 AND o.case_no = k.column1 AND o.state <> 'delivered' LIMIT 1) IS NOT NULL",
        keys = super::value_rows(2, count),
    )
}

/// Makes the lowest open version of each of `count` cases (`$2`, …) of system `$1` its head,
/// after its head was delivered, in one statement: each case's version found through the
/// outbox's unique index by the case's key, each row updated by its primary key (PostgreSQL
/// `= ANY` of an array; SQLite a rowid lookup per value of the `IN` list).
pub fn move_heads_sql(backend: Backend, count: usize) -> String {
    let lowest = format!(
        "SELECT (SELECT e.id FROM exchange_outbox e
                 WHERE e.system_id = $1 AND e.case_no = k.column1 AND e.state <> 'delivered'
                 ORDER BY e.version LIMIT 1)
         FROM (VALUES {}) AS k",
        super::value_rows(2, count)
    );
    match backend {
        Backend::Sqlite => format!("UPDATE exchange_outbox SET head = TRUE WHERE id IN ({lowest})"),
        Backend::Postgres => {
            format!("UPDATE exchange_outbox SET head = TRUE WHERE id = ANY (ARRAY({lowest}))")
        }
    }
}

impl Store {
    /// Claims up to `limit` due items for `owner` for `lease` (by the database's clock): pending
    /// heads of their case whose next attempt is due, soonest due first (a claim moves
    /// `next_attempt_at` to the end of its lease, so a leased item is not due until the lease
    /// runs out). Each claim counts as an attempt. Returns them in enqueue order with the case
    /// versions to deliver.
    pub async fn claim_outbox(
        &self,
        owner: &str,
        limit: u32,
        lease: chrono::Duration,
    ) -> Result<Vec<Claimed>, StoreError> {
        let backend = self.backend();
        let rows: Vec<ClaimRow> = on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            for statement in claim_setup(backend) {
                sqlx::query(sqlx::AssertSqlSafe(*statement)).execute(&mut *tx).await?;
            }
            let now = tx.clock().await?;
            let lease = Lease { until: now + lease, holder: Some(owner) };
            let ids: Vec<ClaimedId> = tx.claim(&OUTBOX, now, i64::from(limit), Some(lease)).await?;
            if ids.is_empty() {
                tx.rollback().await?;
                return Ok(Vec::new());
            }
            let sql = sqlx::AssertSqlSafe(format!(
                "SELECT {ITEM_COLUMNS}, v.body, v.sealed_by FROM exchange_outbox o
                 JOIN case_versions v ON v.system_id = o.system_id AND v.case_no = o.case_no AND v.version = o.version
                 WHERE o.id IN ({}) ORDER BY o.id",
                placeholders(1, ids.len())
            ));
            let mut query = sqlx::query_as::<_, ClaimRow>(sql);
            for ClaimedId { id } in &ids {
                query = query.bind(*id);
            }
            let rows = query.fetch_all(&mut *tx).await?;
            tx.commit().await?;
            rows
        });
        rows.into_iter()
            .map(|row| {
                // The exchange gets the Art. 27 fields in clear over its authenticated channel.
                let case =
                    self.sealing
                        .open_case(&row.item.system_id, row.body.0, row.sealed_by.as_deref())?;
                Ok(Claimed {
                    item: item(row.item)?,
                    case,
                })
            })
            .collect()
    }

    /// Settles a claimed item, only while `owner` still holds its lease. Returns false when the
    /// lease was lost (another worker took the item over; it will deliver it again, under the
    /// same idempotency key). A dead item leaves an audit event under `owner`.
    pub async fn settle_outbox(
        &self,
        id: i64,
        owner: &str,
        settlement: &Settlement,
    ) -> Result<bool, StoreError> {
        let settled = self
            .settle_outbox_many(owner, &[(id, settlement.clone())])
            .await?;
        Ok(settled.first().copied().unwrap_or(false))
    }

    /// Settles a worker's batch in one transaction (one commit, not one per item); one answer
    /// per item, as `settle_outbox`. Times are the database's.
    pub async fn settle_outbox_many(
        &self,
        owner: &str,
        settlements: &[(i64, Settlement)],
    ) -> Result<Vec<bool>, StoreError> {
        if settlements.is_empty() {
            return Ok(Vec::new());
        }
        let backend = self.backend();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let now = tx.clock().await?;
            // One statement per distinct settlement: a batch delivered is one update.
            let mut groups: Vec<(&Settlement, Vec<i64>)> = Vec::new();
            for (id, settlement) in settlements {
                match groups.iter_mut().find(|(s, _)| *s == settlement) {
                    Some((_, ids)) => ids.push(*id),
                    None => groups.push((settlement, vec![*id])),
                }
            }
            let mut done = std::collections::HashSet::new();
            let mut delivered_ids = Vec::new();
            for (settlement, ids) in &groups {
                let settle = match settlement {
                    Settlement::Delivered => Settle::Delivered { receipt: None },
                    Settlement::Retry { delay, error } => Settle::RetryAt { error, at: now + *delay },
                    Settlement::Dead { error } => Settle::Dead { error },
                };
                let settled = tx.settle(&OUTBOX, ids, Some(owner), now, &settle).await?;
                if let Settlement::Dead { error } = settlement {
                    for id in &settled {
                        audit!(tx, owner, "exchange.dead", &id.to_string(), serde_json::json!({ "error": error }))?;
                    }
                }
                if **settlement == Settlement::Delivered {
                    delivered_ids.extend_from_slice(&settled);
                }
                done.extend(settled);
            }
            // The next open version of each delivered case becomes its head, under the case's
            // lock (the one enqueueing takes), so a version enqueued meanwhile is not passed over.
            let mut moved_on = std::collections::BTreeMap::<String, Vec<String>>::new();
            if !delivered_ids.is_empty() {
                let sql = sqlx::AssertSqlSafe(format!(
                    "SELECT system_id, case_no FROM exchange_outbox WHERE id IN ({})",
                    placeholders(1, delivered_ids.len())
                ));
                let mut query = sqlx::query_as::<_, CaseKey>(sql);
                for id in &delivered_ids {
                    query = query.bind(*id);
                }
                for CaseKey { system_id, case_no } in query.fetch_all(&mut *tx).await? {
                    moved_on.entry(system_id).or_default().push(case_no);
                }
            }
            for (system_id, cases) in &moved_on {
                let keys: Vec<&str> = cases.iter().map(String::as_str).collect();
                CaseLocks::lock_cases(&mut *tx, system_id, &keys).await?;
                let sql = sqlx::AssertSqlSafe(move_heads_sql(backend, keys.len()));
                let mut query = sqlx::query(sql).bind(system_id);
                for key in &keys {
                    query = query.bind(*key);
                }
                query.execute(&mut *tx).await?;
            }
            let delivered = delivered_ids.len();
            if delivered > 0 {
                sqlx::query(
                    "INSERT INTO exchange_outbox_counts (slot, delivered) VALUES ($1, $2)
                     ON CONFLICT (slot) DO UPDATE SET delivered = exchange_outbox_counts.delivered + excluded.delivered",
                )
                .bind(fastrand::i64(0..COUNT_SLOTS))
                .bind(i64::try_from(delivered).unwrap_or(i64::MAX))
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(settlements.iter().map(|(id, _)| done.contains(id)).collect())
        })
    }

    /// The outbox at a glance, in one statement ([`OUTBOX_STATUS`]) that reads no delivered
    /// item: the backlog and the dead are counted through indexes that hold only them, and the
    /// delivered count is the maintained counter (see [`OutboxStatus::delivered`]).
    pub async fn outbox_status(&self) -> Result<OutboxStatus, StoreError> {
        let (backlog, dead, delivered, oldest_pending_at): (i64, i64, i64, Option<DateTime<Utc>>) =
            on_pool!(self, pool => sqlx::query_as(OUTBOX_STATUS).fetch_one(pool).await?);
        Ok(OutboxStatus {
            backlog,
            dead,
            delivered,
            oldest_pending_at,
        })
    }

    /// Since when the longest-failing pending item has been failing (through the partial index
    /// `exchange_outbox_failing`): how long the exchange has been unreachable, or None.
    pub async fn outbox_failing_since(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let (since,): (Option<DateTime<Utc>>,) = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT MIN(failing_since) FROM exchange_outbox WHERE state = 'pending' AND failing_since IS NOT NULL",
            )
            .fetch_one(pool)
            .await?
        });
        Ok(since)
    }

    /// Items of a case or of the whole outbox in one state, oldest first (at most `limit`).
    pub async fn outbox_items(
        &self,
        state: OutboxState,
        system_id: Option<&str>,
        limit: u32,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let name = state.name();
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM exchange_outbox o
             WHERE o.state = $1 AND (CAST($2 AS TEXT) IS NULL OR o.system_id = $2) ORDER BY o.id LIMIT $3"
        ));
        let rows: Vec<ItemRow> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(name).bind(system_id).bind(i64::from(limit)).fetch_all(pool).await?
        });
        rows.into_iter().map(item).collect()
    }

    /// The dead items among `ids`, in id order (ids not dead or unknown are left out): what a
    /// replay by id would touch, for the caller's scope check.
    pub async fn dead_outbox_items(&self, ids: &[i64]) -> Result<Vec<OutboxItem>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM exchange_outbox o WHERE o.state = 'dead' AND o.id IN ({}) ORDER BY o.id",
            super::placeholders(1, ids.len())
        ));
        let rows: Vec<ItemRow> = on_pool!(self, pool => {
            let mut query = sqlx::query_as(sql);
            for id in ids {
                query = query.bind(*id);
            }
            query.fetch_all(pool).await?
        });
        rows.into_iter().map(item).collect()
    }

    /// Every outbox item of one case, by version.
    pub async fn outbox_of_case(
        &self,
        system_id: &str,
        case_no: &str,
    ) -> Result<Vec<OutboxItem>, StoreError> {
        let sql = sqlx::AssertSqlSafe(format!(
            "SELECT {ITEM_COLUMNS} FROM exchange_outbox o WHERE o.system_id = $1 AND o.case_no = $2 ORDER BY o.version"
        ));
        let rows: Vec<ItemRow> = on_pool!(self, pool => {
            sqlx::query_as(sql).bind(system_id).bind(case_no).fetch_all(pool).await?
        });
        rows.into_iter().map(item).collect()
    }

    /// Puts dead items back in the queue (attempts reset, due now), each with an audit event under
    /// `actor`. Naming an id that is not a dead item refuses the whole replay and changes nothing.
    pub async fn replay_outbox(&self, which: &Replay, actor: &str) -> Result<Vec<OutboxItem>, StoreError> {
        let backend = self.backend();
        let (rows, now): (Vec<ItemRow>, DateTime<Utc>) = on_pool!(self, pool => {
            let mut tx = pool.begin_with(backend.begin_write()).await?;
            let now = tx.clock().await?;
            let rows: Vec<ItemRow> = match which {
                Replay::Ids(ids) => {
                    let mut ids = ids.clone();
                    ids.sort_unstable();
                    ids.dedup();
                    let mut found = Vec::with_capacity(ids.len());
                    for id in &ids {
                        let sql = sqlx::AssertSqlSafe(format!(
                            "SELECT {ITEM_COLUMNS} FROM exchange_outbox o WHERE o.id = $1 AND o.state = 'dead'{}",
                            backend.row_lock()
                        ));
                        let row: Option<ItemRow> = sqlx::query_as(sql).bind(*id).fetch_optional(&mut *tx).await?;
                        match row {
                            Some(row) => found.push(row),
                            None => {
                                return Err(StoreError::NotFound { what: "dead exchange item", id: id.to_string() });
                            }
                        }
                    }
                    found
                }
                Replay::All { system_id } => {
                    let sql = sqlx::AssertSqlSafe(format!(
                        "SELECT {ITEM_COLUMNS} FROM exchange_outbox o
                         WHERE o.state = 'dead' AND (CAST($1 AS TEXT) IS NULL OR o.system_id = $1) ORDER BY o.id{}",
                        backend.row_lock()
                    ));
                    sqlx::query_as(sql).bind(system_id.as_deref()).fetch_all(&mut *tx).await?
                }
            };
            for row in &rows {
                tx.replay(&OUTBOX, row.id, now).await?;
                let key = format!("{}/{}/{}", row.system_id, row.case_no, row.version);
                audit!(tx, actor, "exchange.replay", &row.id.to_string(), serde_json::json!({ "item": key, "last_error": row.last_error }))?;
            }
            tx.commit().await?;
            (rows, now)
        });
        if !rows.is_empty() {
            wake_workers();
        }
        rows.into_iter()
            .map(|row| {
                let mut replayed = item(row)?;
                replayed.state = OutboxState::Pending;
                replayed.attempts = 0;
                replayed.next_attempt_at = now;
                replayed.failing_since = None;
                Ok(replayed)
            })
            .collect()
    }
}
