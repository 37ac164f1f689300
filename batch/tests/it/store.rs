//! The job store's contract, run on both back ends with real databases.

use crate::common;

use std::collections::BTreeMap;
use std::sync::Arc;

use marketmedia_batch::store::{
    self, Failure, JobStore, MediaKind, NewTask, TaskFilter, TaskState,
};
use marketmedia_core::raw::{PartPlan, PartSizeRule, UploadRules, UploadSession};
use marketmedia_core::AssetUrl;

fn task(sku: &str, media: &str, content: &str) -> NewTask {
    NewTask {
        batch: "b".into(),
        line: 2,
        sku: sku.into(),
        media: media.into(),
        kind: MediaKind::Video,
        marketplace: "shopee".into(),
        platform: "shopee".into(),
        account: "shop-1".into(),
        path: format!("/tmp/{sku}.mp4"),
        size: 100,
        content_key: content.into(),
        fields: BTreeMap::from([("title".to_owned(), "T".to_owned())]),
    }
}

async fn contract(store: Arc<dyn JobStore>) {
    let markets = vec!["shopee".to_owned()];
    let tasks = [
        task("A", "video", "k1"),
        task("B", "video", "k1"),
        task("C", "video", "k2"),
    ];
    assert_eq!(store.add_tasks(&tasks).await.unwrap(), 3);
    // Planning the same manifest again adds nothing.
    assert_eq!(store.add_tasks(&tasks).await.unwrap(), 0);

    let now = 1_000;
    let a = store
        .claim("w1", "shopee", now, now + 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a.spec.sku.as_str(), a.attempts), ("A", 1));
    assert_eq!(a.spec.fields.get("title").unwrap(), "T");
    // B shares A's content and account: it waits while A uploads; C goes.
    let c = store
        .claim("w2", "shopee", now, now + 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(c.spec.sku, "C");
    assert!(store
        .claim("w2", "shopee", now, now + 500)
        .await
        .unwrap()
        .is_none());
    assert!(store
        .claim("w2", "lazada", now, now + 500)
        .await
        .unwrap()
        .is_none());

    // A's worker dies: once its lease expires, another worker takes A over.
    let later = now + 501;
    let a2 = store
        .claim("w2", "shopee", later, later + 500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((a2.id, a2.attempts), (a.id, 2));
    // The dead worker's late writes are refused.
    assert!(!store.renew(a.id, "w1", later + 900).await.unwrap());
    assert!(store.renew(a.id, "w2", later + 900).await.unwrap());

    let urls = vec![AssetUrl {
        region: None,
        url: "https://cdn/a".into(),
    }];
    assert!(store
        .complete(&a2, "w2", "asset-1", &urls, 100, false)
        .await
        .unwrap());
    let found = store
        .find_asset("k1", "shopee", "shop-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (found.asset_id.as_str(), found.created_by),
        ("asset-1", a.id)
    );
    assert!(store
        .find_asset("k1", "shopee", "shop-2")
        .await
        .unwrap()
        .is_none());

    // C fails transiently (retry later), then for good.
    let retry = Failure {
        kind: "temporary failure".into(),
        message: "503".into(),
        retry_at: Some(5_000),
    };
    assert!(store.fail(c.id, "w2", &retry, false).await.unwrap());
    let b = store
        .claim("w3", "shopee", later, 10_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(b.spec.sku, "B");
    assert!(store
        .claim("w3", "shopee", later, later + 500)
        .await
        .unwrap()
        .is_none());
    let c2 = store
        .claim("w3", "shopee", 5_000, 5_500)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((c2.id, c2.attempts), (c.id, 2));
    let fatal = Failure {
        kind: "invalid input".into(),
        message: "too long".into(),
        retry_at: None,
    };
    assert!(store.fail(c2.id, "w3", &fatal, true).await.unwrap());

    let counts = store.counts(None).await.unwrap();
    let n = |s: TaskState| {
        counts
            .iter()
            .filter(|c| c.state == s)
            .map(|c| c.tasks)
            .sum::<u64>()
    };
    assert_eq!(
        (
            n(TaskState::Done),
            n(TaskState::Running),
            n(TaskState::Failed)
        ),
        (1, 1, 1)
    );
    let failed = store
        .tasks(0, 10, &TaskFilter::state(TaskState::Failed))
        .await
        .unwrap();
    assert_eq!(failed[0].error_message.as_deref(), Some("too long"));
    assert_eq!(store.outstanding(&markets).await.unwrap().tasks, 1);

    // A second batch in the same store: every filtered call sees only its own batch.
    let mut other = task("D", "video", "k3");
    other.batch = "other".into();
    assert_eq!(store.add_tasks(&[other]).await.unwrap(), 1);
    let of = |batch: &str| TaskFilter::all().in_batch(Some(batch));
    assert_eq!(store.tasks(0, 10, &of("other")).await.unwrap().len(), 1);
    assert_eq!(store.tasks(0, 10, &of("b")).await.unwrap().len(), 3);
    assert_eq!(
        store.tasks(0, 10, &TaskFilter::all()).await.unwrap().len(),
        4
    );
    let other_counts = store.counts(Some("other")).await.unwrap();
    assert_eq!(other_counts.len(), 1, "{other_counts:?}");
    assert_eq!(
        (other_counts[0].state, other_counts[0].tasks),
        (TaskState::Pending, 1)
    );
    assert_eq!(store.retry_failed(Some("other")).await.unwrap(), 0);
    assert_eq!(store.cancel(Some("other")).await.unwrap(), 1);
    assert_eq!(
        store.outstanding(&markets).await.unwrap().tasks,
        1,
        "batch b untouched"
    );

    assert_eq!(store.retry_failed(Some("b")).await.unwrap(), 1);
    // The running task (B) keeps its session when cancelled, until the platform's cancel
    // is confirmed; only a cancelled task's session can be forgotten.
    let rules = UploadRules::new("shopee", PartSizeRule::Exact(64), 1 << 20);
    let session = UploadSession {
        platform: "shopee".into(),
        upload_id: "up-b".into(),
        plan: PartPlan::new(100, &rules, None).unwrap(),
        expires_at: None,
        started_at_ms: 1,
        data: serde_json::Value::Null,
    };
    assert!(store.save_session(b.id, "w3", &session, &[]).await.unwrap());
    assert!(
        !store.forget_session(b.id).await.unwrap(),
        "B is not cancelled yet"
    );
    assert_eq!(store.cancel(None).await.unwrap(), 2);
    assert_eq!(store.outstanding(&markets).await.unwrap().tasks, 0);
    let cancelled = store
        .tasks(0, 10, &TaskFilter::state(TaskState::Cancelled))
        .await
        .unwrap();
    assert_eq!(cancelled.len(), 3, "{cancelled:#?}");
    let with_session: Vec<_> = cancelled.iter().filter(|t| t.session.is_some()).collect();
    assert_eq!(with_session.len(), 1, "{cancelled:#?}");
    assert_eq!(with_session[0].id, b.id);
    assert_eq!(with_session[0].session.as_ref().unwrap().upload_id, "up-b");
    assert!(store.forget_session(b.id).await.unwrap());
    let b_now = store
        .tasks(b.id - 1, 1, &TaskFilter::all())
        .await
        .unwrap()
        .remove(0);
    assert_eq!((b_now.id, b_now.session.is_none()), (b.id, true));
    assert_eq!(
        store.tasks(0, 10, &TaskFilter::all()).await.unwrap().len(),
        4
    );
}

#[tokio::test]
async fn sqlite_keeps_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/store.sqlite");
    let store = store::open(path.to_str().unwrap()).await.unwrap();
    contract(store).await;
    // Reopening runs no migration twice and keeps the tasks.
    let store = store::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(
        store.tasks(0, 10, &TaskFilter::all()).await.unwrap().len(),
        4
    );
}

/// Eight "processes" (each its own pool) creating the SQLite store at the same moment, as two
/// `batch work` started together on a new data directory do: each finds the migrations
/// applied or applies them, never twice, and every task each one adds is kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_opened_by_several_processes_at_once_is_migrated_once() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("batch.sqlite");
    let opens: Vec<_> = (0..8)
        .map(|i| {
            let path = path.clone();
            tokio::spawn(async move {
                let store = store::open(path.to_str().unwrap()).await?;
                let sku = format!("SKU-{i}");
                store
                    .add_tasks(&[task(&sku, "video", &format!("content-{i}"))])
                    .await
            })
        })
        .collect();
    for open in opens {
        assert_eq!(open.await.unwrap().unwrap(), 1);
    }
    let store = store::open(path.to_str().unwrap()).await.unwrap();
    assert_eq!(
        store.tasks(0, 100, &TaskFilter::all()).await.unwrap().len(),
        8
    );
}

#[tokio::test]
async fn postgres_keeps_the_contract() {
    let Some(db) = common::pg().await else { return };
    let store = store::open(&db.url).await.unwrap();
    contract(store.clone()).await;
    drop(store);
    db.drop_db().await;
}

/// Many workers claiming at once on PostgreSQL: each task goes to exactly one of them.
#[tokio::test]
async fn postgres_claims_each_task_once_under_contention() {
    let Some(db) = common::pg().await else { return };
    let store = store::open(&db.url).await.unwrap();
    let tasks: Vec<NewTask> = (0..40)
        .map(|i| task(&format!("S{i}"), "video", &format!("k{i}")))
        .collect();
    store.add_tasks(&tasks).await.unwrap();
    let mut handles = Vec::new();
    for w in 0..6 {
        let store = store.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            while let Some(t) = store
                .claim(&format!("w{w}"), "shopee", 1, i64::MAX / 2)
                .await
                .unwrap()
            {
                mine.push(t.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    all.sort();
    let before = all.len();
    all.dedup();
    assert_eq!((before, all.len()), (40, 40));
    drop(store);
    db.drop_db().await;
}

/// A stopped worker's release: the task is claimable at once by another worker (its lease
/// would still run), with its session kept and the stopped attempt not counted; the stopped
/// worker's late writes are refused.
async fn release_contract(store: Arc<dyn JobStore>) {
    assert_eq!(
        store.add_tasks(&[task("R", "video", "kr")]).await.unwrap(),
        1
    );
    let now = 1_000;
    let lease = now + 60_000;
    let r = store
        .claim("w1", "shopee", now, lease)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(r.attempts, 1);
    let rules = UploadRules::new("shopee", PartSizeRule::Exact(64), 1 << 20);
    let session = UploadSession {
        platform: "shopee".into(),
        upload_id: "up-r".into(),
        plan: PartPlan::new(100, &rules, None).unwrap(),
        expires_at: None,
        started_at_ms: 1,
        data: serde_json::Value::Null,
    };
    assert!(store.save_session(r.id, "w1", &session, &[]).await.unwrap());
    assert!(
        !store.release(r.id, "w2").await.unwrap(),
        "not w2's to release"
    );
    assert!(store.release(r.id, "w1").await.unwrap());
    assert!(!store.release(r.id, "w1").await.unwrap(), "released once");
    let listed = store.tasks(0, 10, &TaskFilter::all()).await.unwrap();
    assert_eq!(listed[0].state, TaskState::Pending);
    assert_eq!(listed[0].lease_owner, None);
    // Well within the first lease: another worker claims it now.
    let again = store
        .claim("w2", "shopee", now + 1, now + 1 + 60_000)
        .await
        .unwrap()
        .expect("claimable at once after the release");
    assert_eq!((again.id, again.attempts), (r.id, 1));
    assert_eq!(again.session.as_ref().unwrap().upload_id, "up-r");
    assert!(!store.renew(r.id, "w1", lease).await.unwrap());
}

#[tokio::test]
async fn sqlite_releases_a_stopped_workers_task() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    release_contract(store::open(path.to_str().unwrap()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_releases_a_stopped_workers_task() {
    let Some(db) = common::pg().await else { return };
    let store = store::open(&db.url).await.unwrap();
    release_contract(store.clone()).await;
    drop(store);
    db.drop_db().await;
}

/// A task whose credential must be authorized again waits: not failed, its attempt undone,
/// its session kept, counted as outstanding and waiting, not claimable before `next_at`,
/// claimable (and cancellable) after it.
async fn waiting_contract(store: Arc<dyn JobStore>) {
    store
        .add_tasks(&[task("W", "video", "kw"), task("X", "video", "kx")])
        .await
        .unwrap();
    let now = 1_000;
    let w = store
        .claim("w1", "shopee", now, now + 60_000)
        .await
        .unwrap()
        .unwrap();
    let message = "credential shopee/1/shop-1 must be authorized again: run `marketmedia accounts authorize shopee`";
    assert!(!store
        .wait_for_authorization(w.id, "w2", message, now + 5_000)
        .await
        .unwrap());
    assert!(store
        .wait_for_authorization(w.id, "w1", message, now + 5_000)
        .await
        .unwrap());
    let listed = store
        .tasks(0, 10, &TaskFilter::state(TaskState::Waiting))
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(
        (listed[0].attempts, listed[0].lease_owner.clone()),
        (0, None)
    );
    assert_eq!(listed[0].error_message.as_deref(), Some(message));
    let left = store.outstanding(&["shopee".to_owned()]).await.unwrap();
    assert_eq!((left.tasks, left.waiting), (2, 1));
    // Before next_at, only the other task is claimed.
    let x = store
        .claim("w1", "shopee", now + 1, now + 60_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(x.spec.sku, "X");
    assert!(store
        .claim("w1", "shopee", now + 2, now + 60_000)
        .await
        .unwrap()
        .is_none());
    let again = store
        .claim("w1", "shopee", now + 5_000, now + 65_000)
        .await
        .unwrap()
        .unwrap();
    assert_eq!((again.id, again.attempts), (w.id, 1));
    assert!(store
        .wait_for_authorization(w.id, "w1", message, now + 10_000)
        .await
        .unwrap());
    assert_eq!(store.cancel(None).await.unwrap(), 2);
}

#[tokio::test]
async fn sqlite_tasks_wait_for_authorization() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store.sqlite");
    waiting_contract(store::open(path.to_str().unwrap()).await.unwrap()).await;
}

#[tokio::test]
async fn postgres_tasks_wait_for_authorization() {
    let Some(db) = common::pg().await else { return };
    let store = store::open(&db.url).await.unwrap();
    waiting_contract(store.clone()).await;
    drop(store);
    db.drop_db().await;
}
