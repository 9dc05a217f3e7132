//! What the scheduled jobs do, and the reminder rule they share: an overdue item gets one
//! reminder per Beijing day; once it has had `escalate_after_reminders` reminders on earlier days
//! and is still overdue, it is escalated once instead (Art. 33: 经多次督促仍整改不力的，通报批评
//! 或者约谈). Every notification is idempotent per tick through its dedup key.

use chrono::NaiveDate;

use super::{Done, Scheduler, SchedulerError};
use crate::corrections::Status;
use crate::intake::IntakeError;
use crate::plans::Rag;
use crate::pull::PullError;
use crate::store::{CorrectionFilter, Guarded, Level, NewNotification, SCHEDULER_ACTOR, StoreError};
use crate::visits::Month;

/// An item overdue on a day.
struct Overdue {
    kind: &'static str,
    id: String,
    /// zh-CN: what the item is (no personal values).
    what: String,
    working_days: i64,
}

impl Scheduler {
    /// Queues `new`; logs it when it is new (a repeated tick adds nothing).
    async fn queue(&self, new: NewNotification, run: i64, done: &mut Done) -> Result<(), SchedulerError> {
        // Created and due by the database's clock: the webhook's retry horizon runs from it.
        let now = self.store.clock().await?;
        if let Some(n) = self.store.add_notification(&new, Some(run), now).await? {
            tracing::info!(
                notification = n.id,
                level = %n.level,
                subject = %format!("{}/{}", n.subject_kind, n.subject_id),
                topic = %n.topic,
                reminder_count = n.reminder_count,
                message = %n.message,
                "notification queued"
            );
            done.notifications += 1;
        }
        Ok(())
    }

    /// A reminder for an overdue item, or its escalation after enough reminders.
    async fn remind_overdue(
        &self,
        item: Overdue,
        day: NaiveDate,
        run: i64,
        done: &mut Done,
    ) -> Result<(), SchedulerError> {
        let before = self
            .store
            .notifications_before(item.kind, &item.id, "overdue", Level::Reminder, day)
            .await?;
        let limit = i64::from(self.config.escalate_after_reminders);
        let Overdue {
            kind,
            id,
            what,
            working_days,
        } = item;
        let new = if before >= limit {
            NewNotification {
                subject_kind: kind,
                dedup_key: format!("{kind}/{id}/escalation"),
                subject_id: id,
                topic: "overdue",
                level: Level::Escalation,
                message: format!(
                    "督办升级（第三十三条）：{what}经 {before} 次提醒仍逾期 {working_days} 个工作日，\
                     建议通报批评或约谈 (escalated: still overdue after {before} reminders)"
                ),
                reminder_count: before,
                day,
            }
        } else {
            let count = before + 1;
            NewNotification {
                subject_kind: kind,
                dedup_key: format!("{kind}/{id}/overdue/{day}"),
                subject_id: id,
                topic: "overdue",
                level: Level::Reminder,
                message: format!(
                    "{what}已逾期 {working_days} 个工作日，第 {count} 次提醒 (overdue, reminder {count})"
                ),
                reminder_count: count,
                day,
            }
        };
        self.queue(new, run, done).await
    }

    /// Overdue milestones, plans turning amber or red (or back to green), notices taking effect.
    pub(super) async fn evaluate_plans(
        &self,
        day: NaiveDate,
        run: i64,
        done: &mut Done,
    ) -> Result<(), SchedulerError> {
        let systems = self.store.planned_systems().await?;
        done.note(format!("plans {}", systems.len()));
        for system in systems {
            let view = match crate::planning::show(&self.store, &system, day, &self.calendar).await {
                Ok(view) => view,
                Err(e) => {
                    done.failures.push(format!("plan of {system}: {e}"));
                    continue;
                }
            };
            for m in &view.milestones {
                let Some(due) = m
                    .status
                    .baseline_due
                    .filter(|due| !m.forecast.finished && day > *due)
                else {
                    continue;
                };
                let item = Overdue {
                    kind: "milestone",
                    id: format!("{system}/{}", m.id),
                    what: format!("{system} 迁移计划里程碑 {}「{}」（基线到期 {due}）", m.id, m.name),
                    working_days: self.calendar.working_days_between(due, day)?,
                };
                self.remind_overdue(item, day, run, done).await?;
            }
            let Some(rag) = view.rag else { continue };
            let topic = match rag {
                Rag::Green => "rag_green",
                Rag::Amber => "rag_amber",
                Rag::Red => "rag_red",
            };
            let last = self.store.latest_topic("plan", &system, "rag_").await?;
            let turned = match last.as_deref() {
                None => rag != Rag::Green,
                Some(last) => last != topic,
            };
            if turned {
                let slip = view
                    .end_slip_working_days
                    .map_or_else(String::new, |d| format!("，完成日较基线偏差 {d} 个工作日"));
                let new = NewNotification {
                    subject_kind: "plan",
                    subject_id: system.clone(),
                    topic,
                    level: Level::Reminder,
                    message: format!(
                        "{system} 迁移计划状态转为 {}（预计完成 {}{slip}）(plan status turned {topic})",
                        rag.label(),
                        view.end_forecast
                    ),
                    reminder_count: 0,
                    day,
                    dedup_key: format!("plan/{system}/{topic}/{day}"),
                };
                self.queue(new, run, done).await?;
            }
        }
        let notices = self.store.list_notices(None, Some(day)).await?;
        for notice in notices.into_iter().filter(|n| n.effective_on == day) {
            let new = NewNotification {
                subject_kind: "notice",
                subject_id: notice.id.to_string(),
                topic: "effective_today",
                level: Level::Reminder,
                message: format!(
                    "{} 变更公告 #{}「{}」（{}）今日 {day} 生效 (notice takes effect today)",
                    notice.system_id, notice.id, notice.title, notice.kind_label
                ),
                reminder_count: 0,
                day,
                dedup_key: format!("notice/{}/effective_today", notice.id),
            };
            self.queue(new, run, done).await?;
        }
        Ok(())
    }

    /// Open correction requests: overdue ones reminded (then escalated), those due within
    /// `due_soon_working_days` reminded once a day.
    pub(super) async fn remind_corrections(
        &self,
        day: NaiveDate,
        run: i64,
        done: &mut Done,
    ) -> Result<(), SchedulerError> {
        let filter = CorrectionFilter {
            status: Some(Status::Open),
            ..Default::default()
        };
        let open = self
            .store
            .list_corrections(&filter)
            .await
            .map_err(|e| SchedulerError::Job(format!("cannot list correction requests: {e}")))?;
        done.note(format!("open requests {}", open.len()));
        for c in open {
            let what = format!(
                "校核纠错请求 #{}（{} · {}，应于 {} 前答复）",
                c.id, c.system_id, c.department, c.due_on
            );
            let overdue = c.working_days_overdue(&self.calendar, day)?;
            if overdue > 0 {
                let item = Overdue {
                    kind: "correction",
                    id: c.id.to_string(),
                    what,
                    working_days: overdue,
                };
                self.remind_overdue(item, day, run, done).await?;
                continue;
            }
            if c.due_on < day {
                continue; // past its day but no working day overdue yet (a weekend)
            }
            let left = self.calendar.working_days_between(day, c.due_on)?;
            if left <= i64::from(self.config.due_soon_working_days) {
                let when = if left == 0 {
                    "今日到期 (due today)".to_owned()
                } else {
                    format!("将于 {left} 个工作日内到期 (due in {left} working days)")
                };
                let new = NewNotification {
                    subject_kind: "correction",
                    subject_id: c.id.to_string(),
                    topic: "due_soon",
                    level: Level::Reminder,
                    message: format!("{what}{when}"),
                    reminder_count: 0,
                    day,
                    dedup_key: format!("correction/{}/due_soon/{day}", c.id),
                };
                self.queue(new, run, done).await?;
            }
        }
        Ok(())
    }

    /// Reconciles each system with an attached adapter for the day before `day` and saves it;
    /// a day with differences is a reminder. Systems without a mapping are skipped.
    /// On the first working day of `day`'s month: the previous month's return-visit plan of
    /// every system without one, `visits_sample_size` cases with a fresh seed (kept with the
    /// plan and in this run's detail). Other days: nothing.
    pub(super) async fn plan_visits(&self, day: NaiveDate, done: &mut Done) -> Result<(), SchedulerError> {
        let month = Month::of(day);
        let first_working = self
            .calendar
            .add_working_days(month.first_day().pred_opt().unwrap_or(day), 1)?;
        if day != first_working {
            done.note(format!(
                "{day} is not {month}'s first working day ({first_working}): no plan"
            ));
            return Ok(());
        }
        let previous = Month::of(month.first_day().pred_opt().unwrap_or(day));
        let seed = crate::visits::fresh_seed();
        match crate::monitoring::plan_visits(
            &self.store,
            previous,
            None,
            self.visits_sample_size,
            seed,
            SCHEDULER_ACTOR,
        )
        .await
        {
            Ok(planned) => {
                done.note(format!(
                    "planned {} return visits of {previous} (seed {seed})",
                    planned.len()
                ));
                Ok(())
            }
            Err(Guarded::Store(e)) => Err(e.into()),
            Err(Guarded::Refused(e)) => Err(SchedulerError::Job(e.to_string())),
        }
    }

    pub(super) async fn reconcile_systems(
        &self,
        day: NaiveDate,
        run: i64,
        done: &mut Done,
    ) -> Result<(), SchedulerError> {
        let Some(date) = day.pred_opt() else {
            return Err(SchedulerError::Job(format!("no day before {day}")));
        };
        let (mut reconciled, mut skipped) = (0, 0);
        for system in self.store.adapter_systems().await? {
            let result = crate::monitoring::reconcile(&self.store, &self.intake, &system, date).await;
            let report = match result {
                Ok(report) => report,
                Err(PullError::Intake(IntakeError::MappingMissing { .. })) => {
                    tracing::debug!(system = %system, "no mapping: not reconciled");
                    skipped += 1;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(system = %system, %date, error = %e, "reconciliation failed");
                    done.failures.push(format!("{system}: {e}"));
                    continue;
                }
            };
            self.store
                .save_reconciliation(&report, self.store.clock().await?)
                .await?;
            reconciled += 1;
            if !report.clean {
                let count = |kind: &str| report.differences.iter().filter(|d| d.kind == kind).count();
                let new = NewNotification {
                    subject_kind: "reconciliation",
                    subject_id: format!("{system}/{date}"),
                    topic: "differs",
                    level: Level::Reminder,
                    message: format!(
                        "{system} {date} 对账发现 {} 处差异：缺失 {}、落后 {}、不一致 {}、多出 {} \
                         (reconciliation differs)",
                        report.differences.len(),
                        count("missing"),
                        count("behind"),
                        count("altered"),
                        count("extra")
                    ),
                    reminder_count: 0,
                    day,
                    dedup_key: format!("reconciliation/{system}/{date}/differs"),
                };
                self.queue(new, run, done).await?;
            }
        }
        done.note(format!("reconciled {reconciled} ({date}), skipped {skipped}"));
        Ok(())
    }

    /// Checks each system with an attached adapter and a stored probe profile (`monitoring::check`,
    /// as the scheduler): an unreachable system, or drift that breaks its mapping, is a reminder
    /// (once a day each; escalated once after `escalate_after_reminders` of them, as overdue items
    /// are), unannounced drift said so. Systems never probed are skipped.
    pub(super) async fn check_systems(
        &self,
        day: NaiveDate,
        run: i64,
        done: &mut Done,
    ) -> Result<(), SchedulerError> {
        let (mut checked, mut skipped) = (0, 0);
        for system in self.store.adapter_systems().await? {
            let result = crate::monitoring::check(
                &self.store,
                self.secrets.as_ref(),
                self.intake.mappings_dir(),
                &system,
                "scheduler",
                None,
            )
            .await;
            let check = match result {
                Ok(check) => check,
                Err(PullError::Store(StoreError::NotFound { .. })) => {
                    tracing::debug!(system = %system, "never probed: not checked");
                    skipped += 1;
                    continue;
                }
                Err(e) => {
                    tracing::warn!(system = %system, error = %e, "system check failed");
                    done.failures.push(format!("{system}: {e}"));
                    continue;
                }
            };
            checked += 1;
            let (topic, message) = match &check.error {
                Some(error) => (
                    "unreachable",
                    format!("{system} 系统不可达 (unreachable): {error}"),
                ),
                None if check.breaking => {
                    let breaking: Vec<String> = check
                        .drifts
                        .iter()
                        .filter(|d| d.breaking)
                        .map(|d| format!("{}.{} ({})", d.entity, d.field, d.rules.join(", ")))
                        .collect();
                    (
                        "drift",
                        format!(
                            "{system} 结构变化破坏映射规则 {} 处{}：{} (schema drift breaks the mapping; ronghe check {system})",
                            breaking.len(),
                            if check.unannounced {
                                "，未按第三十条公告"
                            } else {
                                ""
                            },
                            breaking.join("; ")
                        ),
                    )
                }
                None => continue,
            };
            // Still so after `escalate_after_reminders` earlier days' reminders: escalated once (Art. 33).
            let before = self
                .store
                .notifications_before("system_check", &system, topic, Level::Reminder, day)
                .await?;
            let new = if before >= i64::from(self.config.escalate_after_reminders) {
                NewNotification {
                    subject_kind: "system_check",
                    subject_id: system.clone(),
                    topic,
                    level: Level::Escalation,
                    message: format!(
                        "督办升级（第三十三条）：经 {before} 次提醒仍未处理 (escalated): {message}"
                    ),
                    reminder_count: before,
                    day,
                    dedup_key: format!("system_check/{system}/{topic}/escalation"),
                }
            } else {
                NewNotification {
                    subject_kind: "system_check",
                    subject_id: system.clone(),
                    topic,
                    level: Level::Reminder,
                    message,
                    reminder_count: before + 1,
                    day,
                    dedup_key: format!("system_check/{system}/{day}/{topic}"),
                }
            };
            self.queue(new, run, done).await?;
        }
        done.note(format!("checked {checked}, skipped {skipped}"));
        Ok(())
    }
}
