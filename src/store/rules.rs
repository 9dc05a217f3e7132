//! Published rules (Art. 29) in the store: added with an audit event, listed publicly.

use chrono::{NaiveDate, Utc};
use sqlx::types::Json;

use super::{Store, StoreError, audit, on_pool};
use crate::rules::{Check, NewRule, PublishedRule};

/// A published rule's row.
#[derive(sqlx::FromRow)]
struct RuleRow {
    id: i64,
    item_code: String,
    field: String,
    check_spec: Json<Check>,
    description: String,
    published_on: NaiveDate,
}

impl From<RuleRow> for PublishedRule {
    fn from(row: RuleRow) -> Self {
        PublishedRule {
            id: row.id,
            item_code: row.item_code,
            field: row.field,
            check: row.check_spec.0,
            description: row.description,
            published_on: row.published_on,
        }
    }
}

impl Store {
    /// Adds a validated rule and returns it with its id.
    pub async fn insert_rule(&self, rule: &NewRule, actor: &str) -> Result<PublishedRule, StoreError> {
        let id: i64 = on_pool!(self, pool => {
            let mut tx = pool.begin_with(self.backend().begin_write()).await?;
            let (id,): (i64,) = sqlx::query_as(
                "INSERT INTO published_rules (item_code, field, check_spec, description, published_on, created_at)
                 VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
            )
            .bind(&rule.item_code)
            .bind(&rule.field)
            .bind(Json(&rule.check))
            .bind(&rule.description)
            .bind(rule.published_on)
            .bind(Utc::now())
            .fetch_one(&mut *tx)
            .await?;
            audit!(tx, actor, "rule.publish", &format!("rule/{id}"), serde_json::json!({ "item_code": rule.item_code, "field": rule.field, "check": rule.check, "published_on": rule.published_on }))?;
            tx.commit().await?;
            id
        });
        self.settings_changed();
        Ok(PublishedRule {
            id,
            item_code: rule.item_code.clone(),
            field: rule.field.clone(),
            check: rule.check.clone(),
            description: rule.description.clone(),
            published_on: rule.published_on,
        })
    }

    /// Every rule, or those of one item (with the rules for every item), by publication date.
    pub async fn list_rules(&self, item_code: Option<&str>) -> Result<Vec<PublishedRule>, StoreError> {
        let rows: Vec<RuleRow> = on_pool!(self, pool => {
            sqlx::query_as(
                "SELECT id, item_code, field, check_spec, description, published_on FROM published_rules
                 WHERE ($1 IS NULL OR item_code = $1 OR item_code = '*') ORDER BY published_on, id",
            )
            .bind(item_code)
            .fetch_all(pool)
            .await?
        });
        Ok(rows.into_iter().map(PublishedRule::from).collect())
    }
}
