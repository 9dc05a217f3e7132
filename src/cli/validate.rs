//! `ronghe validate id|uscc|division VALUE`: checks one identifier; exit 0 when valid, 1 when
//! invalid, with the rule and the reason. Personal values are echoed masked.

use chrono::Local;
use clap::ValueEnum;
use serde_json::json;

use super::{Context, Failure};
use crate::validate::{self, mask_certificate};

#[derive(Debug, Clone, Copy, ValueEnum)]
pub(super) enum Kind {
    /// Resident ID number 居民身份证号码 (GB 11643).
    Id,
    /// Unified social credit code 统一社会信用代码 (GB 32100).
    Uscc,
    /// Division code 行政区划代码 (GB/T 2260; nine digits for Guizhou townships).
    Division,
}

pub(super) fn run(ctx: &Context, kind: Kind, value: &str) -> Result<(), Failure> {
    let checked = match kind {
        Kind::Id => validate::parse_resident_id(value, Local::now().date_naive()).map(|id| {
            let region = region_names(&id.region);
            let mut warnings = Vec::new();
            if !id.region_known() {
                warnings.push(json!({ "rule": "resident_id.region_unknown", "message": format!("region {} is not in today's division list (old IDs keep old codes)", id.region) }));
            }
            let sex = match id.sex {
                validate::Sex::Male => "男 male",
                validate::Sex::Female => "女 female",
            };
            let human = format!(
                "有效 valid: 居民身份证 {}\n  区划 region: {} {}\n  出生 born:   {}\n  性别 sex:    {sex}{}",
                mask_certificate(&id.number),
                id.region,
                if region.is_empty() { "(不在现行区划中 not in today's list)".to_owned() } else { region },
                id.birth_date,
                if warnings.is_empty() { String::new() } else { "\n  警告 warning: 区划代码已变更或撤销 the region code is no longer current".to_owned() },
            );
            let value = json!({ "kind": "resident_id", "valid": true, "value": mask_certificate(&id.number), "region": id.region, "birth_date": id.birth_date, "sex": id.sex, "warnings": warnings });
            (human, value)
        }),
        Kind::Uscc => validate::parse_uscc(value).map(|code| {
            let human = format!(
                "有效 valid: 统一社会信用代码 {}\n  登记管理部门 registration department: {}\n  机构类别 organisation type: {}\n  区划 region: {} {}",
                code.code, code.registration_department, code.organisation_type, code.region, region_names(&code.region),
            );
            let value = json!({ "kind": "uscc", "valid": true, "value": code.code, "registration_department": code.registration_department.to_string(), "organisation_type": code.organisation_type.to_string(), "region": code.region });
            (human, value)
        }),
        Kind::Division => validate::division(value).map(|d| {
            let human = format!("有效 valid: {} {}", d.code, region_names(d.code));
            let value = json!({ "kind": "division", "valid": true, "value": d.code, "name": d.name, "level": d.level, "path": validate::division_path(d.code).iter().map(|p| p.name).collect::<Vec<_>>() });
            (human, value)
        }),
    };
    match checked {
        Ok((human, value)) => {
            ctx.out.show(human, &value);
            Ok(())
        }
        Err(v) => {
            let shown = match kind {
                Kind::Id => mask_certificate(value),
                _ => value.to_owned(),
            };
            ctx.out.show(
                format!(
                    "无效 invalid: {shown}\n  规则 rule:   {}\n  原因 reason: {}",
                    v.rule, v.message
                ),
                &json!({ "valid": false, "value": shown, "rule": v.rule, "message": v.message }),
            );
            Err(Failure::No)
        }
    }
}

/// "贵州省 贵阳市 南明区" for a division code, empty when unknown.
fn region_names(code: &str) -> String {
    validate::division_path(code)
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(" ")
}
