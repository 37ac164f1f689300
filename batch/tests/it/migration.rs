//! A store written by the release before accounts (migration 1 only) is migrated in place by
//! the next open: every task and asset kept, each task's `platform` filled from its
//! `marketplace`; then the old account keys move to the accounts' identities
//! (`adopt_account`), so its unfinished tasks are claimed again (resumed) and its assets are
//! reused.

use std::borrow::Cow;

use marketmedia_batch::store::{open, JobStore, TaskFilter};
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::common::pg;

const IDENTITY: &str = "shopee:2001887:600001";

/// The previous release's migrator: migration 1 only.
fn previous_release(sql: &'static str) -> Migrator {
    Migrator {
        migrations: Cow::Owned(vec![Migration::new(
            1,
            Cow::Borrowed("tasks"),
            MigrationType::Simple,
            Cow::Borrowed(sql),
            false,
        )]),
        ..Migrator::DEFAULT
    }
}

/// What the previous release wrote: a task done (with its asset) and one to retry, under the
/// account key it derived (the shop id).
const ROWS: &[&str] = &[
    "INSERT INTO tasks (batch, line, sku, media, kind, marketplace, account, path, size, \
     content_key, state, asset_id, urls) VALUES ('b', 2, 'K1', 'video', 'video', 'shopee', \
     '600001', '/tmp/k1.mp4', 10, 'sha256:aa', 'done', 'vid-1', '[]')",
    "INSERT INTO tasks (batch, line, sku, media, kind, marketplace, account, path, size, \
     content_key, state) VALUES ('b', 3, 'K2', 'video', 'video', 'shopee', '600001', \
     '/tmp/k2.mp4', 20, 'sha256:bb', 'retry')",
    "INSERT INTO assets (content_key, marketplace, account, asset_id, urls, created_by, \
     created_at) VALUES ('sha256:aa', 'shopee', '600001', 'vid-1', '[]', 1, 1)",
];

async fn check_migrated(store: &dyn JobStore) {
    let tasks = store.tasks(0, 10, &TaskFilter::default()).await.unwrap();
    assert_eq!(tasks.len(), 2, "every task kept");
    assert!(tasks
        .iter()
        .all(|t| t.spec.platform == "shopee" && t.spec.marketplace == "shopee"));
    // Before adoption the identity finds nothing; after, the asset and the tasks are its.
    assert!(store
        .find_asset("sha256:aa", "shopee", IDENTITY)
        .await
        .unwrap()
        .is_none());
    let moved = store
        .adopt_account("shopee", "600001", IDENTITY)
        .await
        .unwrap();
    assert_eq!(moved, 3, "two tasks and one asset");
    let asset = store
        .find_asset("sha256:aa", "shopee", IDENTITY)
        .await
        .unwrap()
        .expect("the asset made before the upgrade is reused");
    assert_eq!(asset.asset_id, "vid-1");
    // Adopting again changes nothing.
    assert_eq!(
        store
            .adopt_account("shopee", "600001", IDENTITY)
            .await
            .unwrap(),
        0
    );
    // The unfinished task resumes: claimed under its market, with its identity.
    let now = i64::MAX / 4;
    let claimed = store
        .claim("w", "shopee", now, now + 1000)
        .await
        .unwrap()
        .expect("the task to retry is claimed");
    assert_eq!(claimed.spec.sku, "K2");
    assert_eq!(claimed.spec.account, IDENTITY);
}

#[tokio::test]
async fn a_sqlite_store_of_the_previous_release_is_migrated_and_resumed() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("jobs.db");
    {
        use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true);
        let pool = SqlitePoolOptions::new()
            .connect_with(options)
            .await
            .unwrap();
        previous_release(include_str!("../../migrations/sqlite/0001_tasks.sql"))
            .run(&pool)
            .await
            .unwrap();
        for row in ROWS {
            sqlx::query(row).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let store = open(path.to_str().unwrap()).await.unwrap();
    check_migrated(store.as_ref()).await;
}

#[tokio::test]
async fn a_postgres_store_of_the_previous_release_is_migrated_and_resumed() {
    let Some(db) = pg().await else { return };
    {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect(&db.url)
            .await
            .unwrap();
        previous_release(include_str!("../../migrations/postgres/0001_tasks.sql"))
            .run(&pool)
            .await
            .unwrap();
        for row in ROWS {
            sqlx::query(row).execute(&pool).await.unwrap();
        }
        pool.close().await;
    }
    let store = open(&db.url).await.unwrap();
    check_migrated(store.as_ref()).await;
    drop(store);
    db.drop_db().await;
}
