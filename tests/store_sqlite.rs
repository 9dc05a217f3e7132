//! The store suite on SQLite (always runs).

mod common;
mod store_suite;

async fn open() -> (ronghe::store::Store, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("temp dir");
    (common::sqlite_store(&dir).await, dir)
}

store_suite!(open());
