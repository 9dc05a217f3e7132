//! A plan as the store keeps it: the imported file, the progress recorded per milestone and the
//! approved baselines.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use super::{PlanFile, Progress};

/// A plan as stored, ready to forecast.
#[derive(Debug, Clone)]
pub struct StoredPlan {
    pub file: PlanFile,
    pub source: String,
    pub imported_at: DateTime<Utc>,
    pub imported_by: String,
    pub progress: HashMap<String, Progress>,
    pub baselines: Vec<Baseline>,
}

/// One baseline: the due dates forecast when it was approved.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Baseline {
    pub version: i64,
    #[schema(value_type = Object)]
    pub dues: BTreeMap<String, NaiveDate>,
    pub approved_by: String,
    pub reason: String,
    pub created_at: DateTime<Utc>,
}
