//! What the drivers' tests check alike.

/// At least `sample_size` samples, and the probe counted `field`'s distinct values (more than
/// one), each of which some sample shows (issue 16: a generator sees every status code).
/// `field` is a JSON pointer or a column name.
pub(crate) fn assert_samples_show_every_value(
    entity: &ronghe_adapters::Entity,
    field: &str,
    sample_size: usize,
) {
    assert!(
        entity.samples.len() >= sample_size,
        "{} samples",
        entity.samples.len()
    );
    let distinct = &entity
        .fields
        .iter()
        .find(|f| f.name == field)
        .unwrap_or_else(|| panic!("{field} missing from the profile"))
        .distinct;
    assert!(distinct.len() > 1, "{field}: {distinct:?}");
    let text = |v: &serde_json::Value| match v {
        serde_json::Value::String(s) => s.trim().to_owned(),
        other => other.to_string(),
    };
    let pointer = match field.starts_with('/') {
        true => field.to_owned(),
        false => format!("/{field}"),
    };
    for value in distinct {
        assert!(
            entity
                .samples
                .iter()
                .any(|s| s.pointer(&pointer).map(text).as_deref() == Some(value.value.as_str())),
            "no sample shows {field} = {}",
            value.value
        );
    }
}
