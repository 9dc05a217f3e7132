//! The store suite on PostgreSQL. Needs `--features postgres-tests` and RONGHE_TEST_PG_URL
//! (`.ci/run` starts a server and sets it); fails, saying how, when the server is missing.
#![cfg(feature = "postgres-tests")]

mod common;
mod store_suite;

async fn open() -> (ronghe::store::Store, ()) {
    (common::pg_store().await, ())
}

store_suite!(open());
