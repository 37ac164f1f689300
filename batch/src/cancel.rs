//! Cancelling a batch: its unfinished tasks in the store, then the upload sessions they
//! left open on the platforms.

use serde::Serialize;

use crate::error::Result;
use crate::market::Market;
use crate::store::{JobStore, MediaKind, TaskFilter, TaskState};

/// How many tasks are read from the store at a time.
const PAGE: u32 = 200;

/// What [`cancel_batch`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CancelReport {
    /// Unfinished tasks cancelled in the store by this call.
    pub tasks_cancelled: u64,
    /// Open upload sessions the platforms confirmed cancelled (their sessions are dropped
    /// from the store).
    pub sessions_closed: u64,
    /// Sessions left recorded: the platform's cancel failed, or no marketplace of this
    /// process serves the task's account. A later call tries them again.
    pub sessions_left: Vec<SessionLeft>,
    /// Sessions the store records as committed (the completion answered, a handle or an
    /// asset kept): nothing to cancel, the platform holds the video. Each says which
    /// ([`marketmedia_core::committed_conflict`]); no request is sent for them.
    pub committed: Vec<SessionLeft>,
}

/// An upload session [`cancel_batch`] could not close.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SessionLeft {
    /// The task's id.
    pub task: i64,
    /// Its product.
    pub sku: String,
    /// Its marketplace.
    pub marketplace: String,
    /// Why it is still open.
    pub reason: String,
}

/// Cancels every unfinished task (of `batch`, or of every batch), then cancels on the
/// platforms the upload sessions cancelled tasks still hold — from this call or from an
/// earlier one whose platform cancel failed. A session is dropped from the store only once
/// its platform confirmed the cancel, so nothing open is forgotten.
///
/// `markets` are the marketplaces (and accounts) this process can reach; a task of another
/// account keeps its session and is listed in [`CancelReport::sessions_left`].
pub async fn cancel_batch(
    store: &dyn JobStore,
    markets: &[Market],
    batch: Option<&str>,
) -> Result<CancelReport> {
    let mut report = CancelReport {
        tasks_cancelled: store.cancel(batch).await?,
        ..CancelReport::default()
    };
    let filter = TaskFilter::state(TaskState::Cancelled).in_batch(batch);
    let mut after = 0;
    loop {
        let page = store.tasks(after, PAGE, &filter).await?;
        let Some(last) = page.last() else { break };
        after = last.id;
        for task in page {
            let Some(session) = task.session.as_ref() else {
                continue;
            };
            let left = |reason: String| SessionLeft {
                task: task.id,
                sku: task.spec.sku.clone(),
                marketplace: task.spec.marketplace.clone(),
                reason,
            };
            // The record decides first, never a process's memory: a committed upload has
            // nothing to cancel.
            let recorded = task
                .handle
                .as_ref()
                .map(|h| h.id.as_str())
                .or(task.asset_id.as_deref());
            if let Some(id) = recorded {
                let conflict = marketmedia_core::committed_conflict(&session.platform, id);
                report.committed.push(left(conflict.to_string()));
                continue;
            }
            let market = markets.iter().find(|m| {
                m.name == task.spec.marketplace
                    && m.account == task.spec.account
                    && task.spec.kind == MediaKind::Video
            });
            let Some(market) = market else {
                report.sessions_left.push(left(format!(
                    "no configured marketplace serves account {}",
                    task.spec.account
                )));
                continue;
            };
            let uploader = match market.video() {
                Some(uploader) => uploader,
                None => {
                    report
                        .sessions_left
                        .push(left("the marketplace takes no videos here".into()));
                    continue;
                }
            };
            match uploader.cancel(session).await {
                Ok(()) => {
                    store.forget_session(task.id).await?;
                    report.sessions_closed += 1;
                }
                Err(e) => report.sessions_left.push(left(e.to_string())),
            }
        }
    }
    Ok(report)
}
