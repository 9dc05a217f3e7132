//! Assessments in the store: rubrics by version, panels (experts, rounds, sealed scores) and
//! verdicts. A panel action loads the whole panel under a lock, lets
//! [`Panel::apply`](crate::assessments::Panel::apply) decide, and writes its changes with their
//! audit events in one transaction. Reads return what the panel shows: a score leaves the store
//! only inside a closed round's summary or a verdict's report, both computed by the panel.

use chrono::{DateTime, Utc};
use ronghe_assessment::panel::RoundSummary;
use ronghe_assessment::report::Report;
use ronghe_assessment::risk::DataProfile;
use ronghe_assessment::rubric::Rubric;
use serde::Serialize;
use sqlx::AssertSqlSafe;
use sqlx::types::Json;

use super::systems::{COLUMNS as SYSTEM_COLUMNS, SystemRow, SystemWrites};
use super::{Guarded, Store, StoreError, audit, on_pool};
use crate::assessments::{
    self, Assessment, AssessmentError, AssessmentState, AssessmentView, Change, Command, Conflict, Expert,
    Outcome, Panel, Portfolio, Round, ScoreRow,
};
use crate::systems::System;

/// A rubric version as the store holds it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema, sqlx::FromRow)]
pub struct RubricRecord {
    pub id: String,
    pub version: i64,
    pub title: String,
    pub content_hash: String,
    pub registered_at: DateTime<Utc>,
    pub registered_by: String,
    /// Assessments that use it; a used version never changes.
    pub assessments: i64,
}

const ASSESSMENT_COLUMNS: &str =
    "id, system_id, seq, rubric_id, rubric_version, chair, state, round, opened_at, updated_at";

/// An assessment's row as read through `ASSESSMENT_COLUMNS`.
#[derive(sqlx::FromRow)]
struct AssessmentRow {
    id: String,
    system_id: String,
    seq: i64,
    rubric_id: String,
    rubric_version: i64,
    chair: String,
    state: String,
    round: i64,
    opened_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

/// A panel member's row.
#[derive(sqlx::FromRow)]
struct ExpertRow {
    expert_id: String,
    name: String,
    department: String,
    conflicts: Option<Json<Vec<Conflict>>>,
    declared_at: Option<DateTime<Utc>>,
    recusal: Option<String>,
    added_at: DateTime<Utc>,
}

/// A round's row.
#[derive(sqlx::FromRow)]
struct RoundRow {
    round: i64,
    criteria: Json<Vec<String>>,
    opened_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    closed_by: Option<String>,
}

/// A sealed score's row.
#[derive(sqlx::FromRow)]
struct ScoreDbRow {
    round: i64,
    expert_id: String,
    criterion: String,
    score: Option<i64>,
    reason: Option<String>,
    submitted_at: DateTime<Utc>,
}

impl TryFrom<AssessmentRow> for Assessment {
    type Error = StoreError;

    fn try_from(row: AssessmentRow) -> Result<Self, StoreError> {
        Ok(Assessment {
            state: AssessmentState::parse(&row.state)
                .ok_or_else(|| corrupt("assessment", format!("{}: unknown state {:?}", row.id, row.state)))?,
            id: row.id,
            system_id: row.system_id,
            seq: row.seq,
            rubric_id: row.rubric_id,
            rubric_version: row.rubric_version,
            chair: row.chair,
            round: row.round,
            opened_at: row.opened_at,
            updated_at: row.updated_at,
        })
    }
}

impl From<ExpertRow> for Expert {
    fn from(row: ExpertRow) -> Self {
        Expert {
            id: row.expert_id,
            name: row.name,
            department: row.department,
            conflicts: row.conflicts.map(|Json(c)| c),
            declared_at: row.declared_at,
            recusal: row.recusal,
            added_at: row.added_at,
        }
    }
}

impl From<RoundRow> for Round {
    fn from(row: RoundRow) -> Self {
        Round {
            number: row.round,
            criteria: row.criteria.0,
            opened_at: row.opened_at,
            closed_at: row.closed_at,
            closed_by: row.closed_by,
        }
    }
}

impl TryFrom<ScoreDbRow> for ScoreRow {
    type Error = StoreError;

    fn try_from(row: ScoreDbRow) -> Result<Self, StoreError> {
        let score = row
            .score
            .map(|s| {
                u8::try_from(s)
                    .map_err(|_| corrupt("score", format!("{}/{}: {s}", row.expert_id, row.criterion)))
            })
            .transpose()?;
        Ok(ScoreRow {
            round: row.round,
            expert: row.expert_id,
            criterion: row.criterion,
            score,
            reason: row.reason,
            submitted_at: row.submitted_at,
        })
    }
}

/// Everything a panel is made of, as read.
struct PanelRows {
    assessment: AssessmentRow,
    system: SystemRow,
    rubric_source: String,
    experts: Vec<ExpertRow>,
    rounds: Vec<RoundRow>,
    scores: Vec<ScoreDbRow>,
}

fn corrupt(what: &'static str, detail: impl Into<String>) -> StoreError {
    StoreError::Corrupt {
        what,
        detail: detail.into(),
    }
}

fn parse_rubric(source: &str) -> Result<Rubric, StoreError> {
    Rubric::parse(source).map_err(|e| corrupt("rubric", e.to_string()))
}

fn panel_from_rows(rows: PanelRows) -> Result<Panel, StoreError> {
    let assessment = Assessment::try_from(rows.assessment)?;
    let experts = rows.experts.into_iter().map(Expert::from).collect();
    let rounds = rows.rounds.into_iter().map(Round::from).collect();
    let scores = rows
        .scores
        .into_iter()
        .map(ScoreRow::try_from)
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Panel::new(
        assessment,
        System::try_from(rows.system)?,
        parse_rubric(&rows.rubric_source)?,
        experts,
        rounds,
        scores,
    ))
}

/// A panel's reads and its round insert, inside the caller's connection or transaction: one
/// statement per method, stamped for SQLite's and PostgreSQL's connections by
/// `panel_statements!` (no logic), and `load_panel`, the provided method that reads a whole panel.
trait PanelRecords: Send {
    /// The assessment row, with `lock` appended (a row lock inside a write transaction).
    async fn assessment_row(&mut self, id: &str, lock: &str) -> Result<Option<AssessmentRow>, sqlx::Error>;
    /// The system row, with `lock` appended.
    async fn system_row(&mut self, id: &str, lock: &str) -> Result<Option<SystemRow>, sqlx::Error>;
    async fn rubric_source(&mut self, id: &str, version: i64) -> Result<Option<(String,)>, sqlx::Error>;
    async fn expert_rows(&mut self, id: &str) -> Result<Vec<ExpertRow>, sqlx::Error>;
    async fn round_rows(&mut self, id: &str) -> Result<Vec<RoundRow>, sqlx::Error>;
    async fn score_rows(&mut self, id: &str) -> Result<Vec<ScoreDbRow>, sqlx::Error>;
    async fn insert_round(&mut self, assessment: &str, round: &Round) -> Result<(), sqlx::Error>;

    /// Reads a whole panel; `lock` is appended to the reads of the assessment and system rows.
    async fn load_panel(&mut self, id: &str, lock: &str) -> Result<PanelRows, StoreError> {
        let assessment = self
            .assessment_row(id, lock)
            .await?
            .ok_or_else(|| StoreError::NotFound {
                what: "assessment",
                id: id.to_owned(),
            })?;
        let system = self
            .system_row(&assessment.system_id, lock)
            .await?
            .ok_or_else(|| {
                corrupt(
                    "assessment",
                    format!("{}: no system {}", assessment.id, assessment.system_id),
                )
            })?;
        let (rubric_source,) = self
            .rubric_source(&assessment.rubric_id, assessment.rubric_version)
            .await?
            .ok_or_else(|| {
                corrupt(
                    "assessment",
                    format!(
                        "{}: no rubric {}@{}",
                        assessment.id, assessment.rubric_id, assessment.rubric_version
                    ),
                )
            })?;
        Ok(PanelRows {
            experts: self.expert_rows(id).await?,
            rounds: self.round_rows(id).await?,
            scores: self.score_rows(id).await?,
            assessment,
            system,
            rubric_source,
        })
    }
}

/// Stamps out `PanelRecords`' statements for a backend's connection (no logic: one statement
/// each, its binds).
macro_rules! panel_statements {
    ($conn:ty) => {
        impl PanelRecords for $conn {
            async fn assessment_row(&mut self, id: &str, lock: &str) -> Result<Option<AssessmentRow>, sqlx::Error> {
                let sql = AssertSqlSafe(format!("SELECT {ASSESSMENT_COLUMNS} FROM assessments WHERE id = $1{lock}"));
                sqlx::query_as(sql).bind(id).fetch_optional(&mut *self).await
            }

            async fn system_row(&mut self, id: &str, lock: &str) -> Result<Option<SystemRow>, sqlx::Error> {
                let sql = AssertSqlSafe(format!("SELECT {SYSTEM_COLUMNS} FROM systems WHERE id = $1{lock}"));
                sqlx::query_as(sql).bind(id).fetch_optional(&mut *self).await
            }

            async fn rubric_source(&mut self, id: &str, version: i64) -> Result<Option<(String,)>, sqlx::Error> {
                sqlx::query_as("SELECT source FROM rubrics WHERE id = $1 AND version = $2")
                    .bind(id)
                    .bind(version)
                    .fetch_optional(&mut *self)
                    .await
            }

            async fn expert_rows(&mut self, id: &str) -> Result<Vec<ExpertRow>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT expert_id, name, department, conflicts, declared_at, recusal, added_at
                     FROM assessment_experts WHERE assessment_id = $1 ORDER BY added_at, expert_id",
                )
                .bind(id)
                .fetch_all(&mut *self)
                .await
            }

            async fn round_rows(&mut self, id: &str) -> Result<Vec<RoundRow>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT round, criteria, opened_at, closed_at, closed_by FROM assessment_rounds
                     WHERE assessment_id = $1 ORDER BY round",
                )
                .bind(id)
                .fetch_all(&mut *self)
                .await
            }

            async fn score_rows(&mut self, id: &str) -> Result<Vec<ScoreDbRow>, sqlx::Error> {
                sqlx::query_as(
                    "SELECT round, expert_id, criterion, score, reason, submitted_at FROM assessment_scores
                     WHERE assessment_id = $1 ORDER BY round, expert_id, criterion",
                )
                .bind(id)
                .fetch_all(&mut *self)
                .await
            }

            async fn insert_round(&mut self, assessment: &str, round: &Round) -> Result<(), sqlx::Error> {
                sqlx::query(
                    "INSERT INTO assessment_rounds (assessment_id, round, criteria, opened_at, closed_at, closed_by)
                     VALUES ($1, $2, $3, $4, $5, $6)",
                )
                .bind(assessment)
                .bind(round.number)
                .bind(Json(&round.criteria))
                .bind(round.opened_at)
                .bind(round.closed_at)
                .bind(&round.closed_by)
                .execute(&mut *self)
                .await
                .map(|_| ())
            }
        }
    };
}
panel_statements!(sqlx::SqliteConnection);
panel_statements!(sqlx::PgConnection);

/// A system's latest decided assessment and the mode its verdict chose (`Store::latest_verdict`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatestVerdict {
    pub assessment_id: String,
    pub mode: ronghe_assessment::IntegrationMode,
}

impl Store {
    /// Registers a rubric version. The same content again is a no-op; other content under a
    /// version no assessment has used replaces it; under a used version it is refused.
    pub async fn register_rubric(
        &self,
        rubric: &Rubric,
        source: &str,
        actor: &str,
    ) -> Result<RubricRecord, Guarded<AssessmentError>> {
        let spec = &rubric.spec;
        let version = i64::from(spec.version);
        let now = crate::systems::stamp(Utc::now());
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            /// The stored version's hash and how many assessments used it.
            #[derive(sqlx::FromRow)]
            struct Stored {
                content_hash: String,
                used: i64,
            }
            let stored: Option<Stored> = sqlx::query_as(
                "SELECT content_hash, (SELECT COUNT(*) FROM assessments a WHERE a.rubric_id = r.id AND a.rubric_version = r.version) AS used
                 FROM rubrics r WHERE id = $1 AND version = $2",
            )
            .bind(&spec.id)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await?;
            let action = match stored {
                Some(Stored { content_hash, .. }) if content_hash == rubric.content_hash => None,
                Some(Stored { used, .. }) if used > 0 => {
                    return Err(Guarded::Refused(AssessmentError::State {
                        code: "rubric_version_used",
                        message: format!(
                            "rubric {}@{version} has been used by {used} assessment(s) and never changes; raise `version` for the changed rubric",
                            spec.id
                        ),
                    }));
                }
                Some(_) => Some("rubric.replace"),
                None => Some("rubric.register"),
            };
            if let Some(action) = action {
                sqlx::query(
                    "INSERT INTO rubrics (id, version, content_hash, title, source, registered_at, registered_by)
                     VALUES ($1, $2, $3, $4, $5, $6, $7)
                     ON CONFLICT (id, version) DO UPDATE SET content_hash = excluded.content_hash, title = excluded.title,
                       source = excluded.source, registered_at = excluded.registered_at, registered_by = excluded.registered_by",
                )
                .bind(&spec.id)
                .bind(version)
                .bind(&rubric.content_hash)
                .bind(&spec.title)
                .bind(source)
                .bind(now)
                .bind(actor)
                .execute(&mut *tx)
                .await?;
                audit!(tx, actor, action, &format!("{}@{version}", spec.id), serde_json::json!({ "content_hash": rubric.content_hash }))?;
            }
            tx.commit().await?;
        });
        Ok(self.rubric_record(&spec.id, version).await?)
    }

    async fn rubric_record(&self, id: &str, version: i64) -> Result<RubricRecord, StoreError> {
        self.rubric_records(Some((id, version)))
            .await?
            .into_iter()
            .next()
            .ok_or_else(|| StoreError::NotFound {
                what: "rubric",
                id: format!("{id}@{version}"),
            })
    }

    async fn rubric_records(&self, only: Option<(&str, i64)>) -> Result<Vec<RubricRecord>, StoreError> {
        let rows: Vec<RubricRecord> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, version, title, content_hash, registered_at, registered_by,
                        (SELECT COUNT(*) FROM assessments a WHERE a.rubric_id = r.id AND a.rubric_version = r.version) AS assessments
                 FROM rubrics r WHERE ($1 IS NULL OR (id = $1 AND version = $2)) ORDER BY id, version",
            )
            .bind(only.map(|(id, _)| id))
            .bind(only.map(|(_, v)| v))
            .fetch_all(pool)
            .await?
        });
        Ok(rows)
    }

    /// Every registered rubric version.
    pub async fn list_rubrics(&self) -> Result<Vec<RubricRecord>, StoreError> {
        self.rubric_records(None).await
    }

    /// A registered rubric version, parsed.
    pub async fn rubric(&self, id: &str, version: i64) -> Result<Rubric, StoreError> {
        let row: Option<(String,)> = on_pool!(self, pool => {
            sqlx::query_as("SELECT source FROM rubrics WHERE id = $1 AND version = $2")
                .bind(id)
                .bind(version)
                .fetch_optional(pool)
                .await?
        });
        let (source,) = row.ok_or_else(|| StoreError::NotFound {
            what: "rubric",
            id: format!("{id}@{version}"),
        })?;
        parse_rubric(&source)
    }

    /// Opens an assessment of a system with a registered rubric version, chaired by `chair`
    /// (an expert); `actor` is who opens it.
    /// Refused while another assessment of the system is in progress.
    pub async fn open_assessment(
        &self,
        system_id: &str,
        (rubric_id, rubric_version): (&str, i64),
        chair: &str,
        actor: &str,
    ) -> Result<AssessmentView, Guarded<AssessmentError>> {
        let rubric = self.rubric(rubric_id, rubric_version).await?;
        let lock = self.backend().row_lock();
        let id = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let sql = AssertSqlSafe(format!("SELECT {SYSTEM_COLUMNS} FROM systems WHERE id = $1{lock}"));
            let row: Option<SystemRow> = sqlx::query_as(sql).bind(system_id).fetch_optional(&mut *tx).await?;
            let system = System::try_from(row.ok_or_else(|| StoreError::NotFound { what: "system", id: system_id.to_owned() })?)?;
            let running: Option<(String,)> = sqlx::query_as("SELECT id FROM assessments WHERE system_id = $1 AND state <> 'decided'")
                .bind(system_id)
                .fetch_optional(&mut *tx)
                .await?;
            if let Some((running,)) = running {
                return Err(Guarded::Refused(AssessmentError::State {
                    code: "assessment_in_progress",
                    message: format!("assessment {running} of {system_id} is in progress; finish it first"),
                }));
            }
            let (seq,): (i64,) = sqlx::query_as("SELECT COALESCE(MAX(seq), 0) FROM assessments WHERE system_id = $1")
                .bind(system_id)
                .fetch_one(&mut *tx)
                .await?;
            let (assessment, round) =
                assessments::open(&system, &rubric, seq + 1, chair, Utc::now()).map_err(Guarded::Refused)?;
            sqlx::query(
                "INSERT INTO assessments (id, system_id, seq, rubric_id, rubric_version, chair, state, round, opened_at, updated_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(&assessment.id)
            .bind(&assessment.system_id)
            .bind(assessment.seq)
            .bind(&assessment.rubric_id)
            .bind(assessment.rubric_version)
            .bind(&assessment.chair)
            .bind(assessment.state.name())
            .bind(assessment.round)
            .bind(assessment.opened_at)
            .bind(assessment.updated_at)
            .execute(&mut *tx)
            .await?;
            PanelRecords::insert_round(&mut *tx, &assessment.id, &round).await?;
            audit!(tx, actor, "assessment.open", &assessment.id, serde_json::json!({
                "system": system_id, "rubric": rubric_id, "version": rubric_version, "chair": chair,
            }))?;
            tx.commit().await?;
            assessment.id
        });
        Ok(self.assessment(&id).await?)
    }

    /// Runs a panel action by `actor`: loads the panel under a lock, applies the action, and
    /// writes its changes and audit events in one transaction.
    pub async fn act_on_assessment(
        &self,
        id: &str,
        actor: &str,
        command: Command,
    ) -> Result<Outcome, Guarded<AssessmentError>> {
        let lock = self.backend().row_lock();
        on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let panel = panel_from_rows(PanelRecords::load_panel(&mut *tx, id, lock).await?)?;
            let effect = panel.apply(actor, command, Utc::now()).map_err(Guarded::Refused)?;
            for change in &effect.changes {
                match change {
                    Change::InsertExpert(e) => {
                        sqlx::query(
                            "INSERT INTO assessment_experts (assessment_id, expert_id, name, department, conflicts, declared_at, recusal, added_at)
                             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                        )
                        .bind(id)
                        .bind(&e.id)
                        .bind(&e.name)
                        .bind(&e.department)
                        .bind(e.conflicts.as_ref().map(Json))
                        .bind(e.declared_at)
                        .bind(&e.recusal)
                        .bind(e.added_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Change::UpdateExpert(e) => {
                        sqlx::query(
                            "UPDATE assessment_experts SET conflicts = $3, declared_at = $4, recusal = $5
                             WHERE assessment_id = $1 AND expert_id = $2",
                        )
                        .bind(id)
                        .bind(&e.id)
                        .bind(e.conflicts.as_ref().map(Json))
                        .bind(e.declared_at)
                        .bind(&e.recusal)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Change::ReplaceScores { round, expert, rows } => {
                        sqlx::query("DELETE FROM assessment_scores WHERE assessment_id = $1 AND round = $2 AND expert_id = $3")
                            .bind(id)
                            .bind(round)
                            .bind(expert)
                            .execute(&mut *tx)
                            .await?;
                        if !rows.is_empty() {
                            let mut insert = sqlx::QueryBuilder::new(
                                "INSERT INTO assessment_scores (assessment_id, round, expert_id, criterion, score, reason, submitted_at) ",
                            );
                            insert.push_values(rows, |mut row, s| {
                                row.push_bind(id.to_owned())
                                    .push_bind(s.round)
                                    .push_bind(s.expert.clone())
                                    .push_bind(s.criterion.clone())
                                    .push_bind(s.score.map(i64::from))
                                    .push_bind(s.reason.clone())
                                    .push_bind(s.submitted_at);
                            });
                            insert.build().execute(&mut *tx).await?;
                        }
                    }
                    Change::CloseRound { round, closed_at, closed_by } => {
                        sqlx::query("UPDATE assessment_rounds SET closed_at = $3, closed_by = $4 WHERE assessment_id = $1 AND round = $2")
                            .bind(id)
                            .bind(round)
                            .bind(closed_at)
                            .bind(closed_by)
                            .execute(&mut *tx)
                            .await?;
                    }
                    Change::OpenRound(round) => {
                        PanelRecords::insert_round(&mut *tx, id, round).await?;
                    }
                    Change::UpdateAssessment(a) => {
                        sqlx::query("UPDATE assessments SET state = $2, round = $3, updated_at = $4 WHERE id = $1")
                            .bind(&a.id)
                            .bind(a.state.name())
                            .bind(a.round)
                            .bind(a.updated_at)
                            .execute(&mut *tx)
                            .await?;
                    }
                    Change::InsertVerdict { report, decided_at, decided_by } => {
                        sqlx::query(
                            "INSERT INTO assessment_verdicts (assessment_id, mode, confidence, report, decided_at, decided_by)
                             VALUES ($1, $2, $3, $4, $5, $6)",
                        )
                        .bind(id)
                        .bind(report.verdict.mode.name())
                        .bind(report.verdict.confidence.as_ref().map(|c| c.label.clone()))
                        .bind(Json(report.as_ref()))
                        .bind(decided_at)
                        .bind(decided_by)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Change::UpdateSystem(system) => {
                        SystemWrites::update_system(&mut *tx, system).await?;
                    }
                }
            }
            for event in &effect.audit {
                audit!(tx, actor, event.action, &event.target, event.detail.clone())?;
            }
            tx.commit().await?;
            self.settings_changed();
            Ok(effect.outcome)
        })
    }

    /// Gives the verdict (the chair, as `actor`). Without a data profile, the system's latest
    /// probe profile stands in for one, when the system has been probed.
    pub async fn decide_assessment(
        &self,
        id: &str,
        actor: &str,
        secrecy_justification: Option<String>,
        profile: Option<DataProfile>,
    ) -> Result<Outcome, Guarded<AssessmentError>> {
        let profile = match profile {
            Some(profile) => Some(profile),
            None => {
                let system: Option<(String,)> = self
                    .row_by_key("SELECT system_id FROM assessments WHERE id = $1", id)
                    .await?;
                match system {
                    Some((system,)) => match self.profile(&system).await {
                        Ok(probed) => Some(assessments::data_profile(&probed.profile, probed.probed_at)),
                        Err(StoreError::NotFound { .. }) => None,
                        Err(e) => return Err(e.into()),
                    },
                    None => None,
                }
            }
        };
        let command = Command::Decide {
            secrecy_justification,
            profile,
        };
        self.act_on_assessment(id, actor, command).await
    }

    async fn panel(&self, id: &str) -> Result<Panel, StoreError> {
        let rows = on_pool!(self, pool => {
            let mut conn = pool.acquire().await?;
            PanelRecords::load_panel(&mut *conn, id, "").await?
        });
        panel_from_rows(rows)
    }

    /// An assessment with its experts and rounds: who submitted, never what.
    pub async fn assessment(&self, id: &str) -> Result<AssessmentView, StoreError> {
        Ok(self.panel(id).await?.view())
    }

    /// Assessments, newest first per system, optionally of one system only.
    pub async fn list_assessments(&self, system: Option<&str>) -> Result<Vec<Assessment>, StoreError> {
        let rows: Vec<AssessmentRow> = on_pool!(self, pool => {
            let sql = AssertSqlSafe(format!(
                "SELECT {ASSESSMENT_COLUMNS} FROM assessments WHERE ($1 IS NULL OR system_id = $1) ORDER BY system_id, seq DESC"
            ));
            sqlx::query_as(sql).bind(system).fetch_all(pool).await?
        });
        rows.into_iter().map(Assessment::try_from).collect()
    }

    /// A closed round's Delphi summary; refused while the round is open (sealed).
    pub async fn round_summary(
        &self,
        id: &str,
        round: i64,
    ) -> Result<RoundSummary, Guarded<AssessmentError>> {
        self.panel(id)
            .await?
            .round_summary(round)
            .map_err(Guarded::Refused)
    }

    /// The report recorded with an assessment's verdict.
    pub async fn verdict_report(&self, id: &str) -> Result<Report, Guarded<AssessmentError>> {
        match self.stored_report(id).await? {
            Some(report) => Ok(report),
            None => {
                let view = self.assessment(id).await?;
                Err(Guarded::Refused(AssessmentError::State {
                    code: "no_verdict",
                    message: format!(
                        "assessment {id} has no verdict yet ({}); the report follows the verdict",
                        view.assessment.state.name()
                    ),
                }))
            }
        }
    }

    /// The system's latest verdict, or `None` when no assessment of the system has been decided.
    pub async fn latest_verdict(&self, system_id: &str) -> Result<Option<LatestVerdict>, StoreError> {
        let decided = self
            .list_assessments(Some(system_id))
            .await?
            .into_iter()
            .filter(|a| a.state == AssessmentState::Decided)
            .max_by_key(|a| a.seq);
        let Some(assessment) = decided else {
            return Ok(None);
        };
        let report = self
            .stored_report(&assessment.id)
            .await?
            .ok_or_else(|| undecided_report(&assessment.id))?;
        Ok(Some(LatestVerdict {
            assessment_id: assessment.id,
            mode: report.verdict.mode,
        }))
    }

    async fn stored_report(&self, id: &str) -> Result<Option<Report>, StoreError> {
        let row: Option<(Json<Report>,)> = self
            .row_by_key(
                "SELECT report FROM assessment_verdicts WHERE assessment_id = $1",
                id,
            )
            .await?;
        Ok(row.map(|(Json(report),)| report))
    }

    /// Every system with its latest assessment and latest verdict, and Kendall's W across the
    /// systems the same experts scored.
    pub async fn portfolio(&self) -> Result<Portfolio, StoreError> {
        let systems = self.list_systems(None).await?;
        let all = self.list_assessments(None).await?;
        // Newest first per system: the first of each system is its latest.
        let mut latest: Vec<Assessment> = Vec::new();
        for a in &all {
            if latest.last().is_none_or(|l| l.system_id != a.system_id) {
                latest.push(a.clone());
            }
        }
        let mut verdicts = Vec::new();
        let mut panels = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for a in all.iter().filter(|a| a.state == AssessmentState::Decided) {
            if seen.insert(a.system_id.clone()) {
                let report = self
                    .stored_report(&a.id)
                    .await?
                    .ok_or_else(|| undecided_report(&a.id))?;
                verdicts.push((a.id.clone(), report));
                panels.push(self.panel(&a.id).await?);
            }
        }
        Ok(assessments::portfolio(&systems, &latest, &verdicts, &panels))
    }
}

/// A decided assessment without its verdict's report: the store was altered outside ronghe.
fn undecided_report(id: &str) -> StoreError {
    StoreError::Corrupt {
        what: "assessment",
        detail: format!("assessment {id} is decided but has no verdict report"),
    }
}
