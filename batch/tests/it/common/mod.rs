//! Real databases for the tests: a fresh SQLite file, or a fresh PostgreSQL database on
//! 127.0.0.1:5432 (created here and dropped after). Under `CI=true` an unreachable
//! PostgreSQL fails the test; elsewhere the test is skipped with the reason printed.
#![allow(dead_code)]

use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

/// A PostgreSQL database made for one test.
pub struct PgDb {
    /// Its URL.
    pub url: String,
    admin: String,
    name: String,
}

static NEXT: AtomicU32 = AtomicU32::new(0);

fn admin_urls() -> Vec<String> {
    if let Ok(url) = std::env::var("MARKETMEDIA_TEST_PG") {
        return vec![url];
    }
    ["postgres", "root"]
        .iter()
        .map(|u| format!("postgres://{u}@127.0.0.1:5432/postgres"))
        .collect()
}

fn base(admin: &str) -> &str {
    admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin)
}

/// A fresh database, or `None` (skip) outside CI when PostgreSQL is unreachable.
pub async fn pg() -> Option<PgDb> {
    let mut why = String::new();
    for admin in admin_urls() {
        match sqlx::PgConnection::connect(&admin).await {
            Ok(mut conn) => {
                let name = format!(
                    "mm_test_{}_{}_{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::SeqCst),
                    std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .subsec_nanos()
                );
                sqlx::query(&format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .await
                    .expect("create the test database");
                let url = format!("{}/{name}", base(&admin));
                return Some(PgDb { url, admin, name });
            }
            Err(e) => why = format!("{why}; {e}"),
        }
    }
    if std::env::var("CI").map(|v| v == "true").unwrap_or(false) {
        panic!("PostgreSQL is unreachable on 127.0.0.1:5432 and CI=true: {why}");
    }
    eprintln!("skipped: PostgreSQL is unreachable on 127.0.0.1:5432 ({why})");
    None
}

impl PgDb {
    /// Drops the database (every connection to it is closed first).
    pub async fn drop_db(self) {
        let mut conn = sqlx::PgConnection::connect(&self.admin)
            .await
            .expect("reconnect to drop the test database");
        sqlx::query(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        ))
        .execute(&mut conn)
        .await
        .expect("drop the test database");
    }
}
