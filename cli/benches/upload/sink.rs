//! A provider with no platform behind it: every part is PUT to a simulator's raw sink, which
//! discards it. An upload through the driver then measures the client's own transport —
//! parts streamed from disk in pooled chunks, parts in flight, the shared HTTP client and its
//! connection pool — with no server work per byte, against a single raw POST of the file.

use async_trait::async_trait;
use marketmedia_core::raw::http::{part_body, CallMeta, ClientOptions, HttpClient};
use marketmedia_core::raw::{
    CommitOutcome, InitOutcome, NumberingBase, Part, PartPlan, PartReceipt, PartSizeRule,
    SourceInfo, UploadRules, UploadSession,
};
use marketmedia_core::{
    Asset, ChunkedVideoUploader, Error, ProcessingHandle, ProcessingStatus, Result,
};
use marketmedia_sim::RAW_SINK_PATH;

use crate::MIB;

const PLATFORM: &str = "raw-sink";

/// Parts of `part_size` PUT to `base`'s raw sink.
pub struct SinkProvider {
    rules: UploadRules,
    http: HttpClient,
    url: String,
}

impl SinkProvider {
    /// A provider sending parts of `part_size` bytes (SMH's default here) to `base`.
    pub fn new(base: &str, part_size: u64) -> Result<SinkProvider> {
        Ok(SinkProvider {
            rules: UploadRules {
                part_numbering: NumberingBase::One,
                ..UploadRules::new(
                    PLATFORM,
                    PartSizeRule::Range {
                        min: MIB,
                        max: 5 * 1024 * MIB,
                        preferred: part_size,
                    },
                    u64::MAX,
                )
            },
            http: HttpClient::new(ClientOptions::default())?,
            url: format!("{base}{RAW_SINK_PATH}"),
        })
    }

    fn asset(&self) -> Asset {
        Asset {
            platform: PLATFORM.into(),
            id: "discarded".into(),
            urls: Vec::new(),
            thumbnails: Vec::new(),
            duration: None,
            size: None,
            details: serde_json::Value::Null,
        }
    }
}

#[async_trait]
impl ChunkedVideoUploader for SinkProvider {
    fn rules(&self) -> &UploadRules {
        &self.rules
    }

    async fn init(&self, _: &SourceInfo, plan: &PartPlan) -> Result<InitOutcome> {
        Ok(InitOutcome::Session(UploadSession {
            platform: PLATFORM.into(),
            upload_id: "sink".into(),
            plan: *plan,
            expires_at: None,
            started_at_ms: marketmedia_core::raw::http::unix_millis(),
            data: serde_json::Value::Null,
        }))
    }

    async fn put_part(&self, _: &UploadSession, part: &Part) -> Result<PartReceipt> {
        let meta = CallMeta {
            platform: PLATFORM,
            call: "raw-sink",
            part: Some(part.index),
        };
        let request = self
            .http
            .put(&self.url)
            .header(reqwest::header::CONTENT_LENGTH, part.len())
            .body(part_body(part));
        let raw = self.http.send(request, meta).await?;
        let counted: serde_json::Value = raw.json(&meta)?;
        if counted["bytes"].as_u64() != Some(part.len()) {
            return Err(Error::protocol(format!(
                "the sink counted {counted} of {} bytes",
                part.len()
            )));
        }
        Ok(PartReceipt {
            index: part.index,
            wire_number: part.index + 1,
            size: part.len(),
            etag: None,
        })
    }

    async fn commit(&self, _: &UploadSession, _: &[PartReceipt]) -> Result<CommitOutcome> {
        Ok(CommitOutcome::Ready(self.asset()))
    }

    async fn poll(&self, _: &ProcessingHandle) -> Result<ProcessingStatus> {
        Ok(ProcessingStatus::Ready(self.asset()))
    }

    async fn cancel(&self, _: &UploadSession) -> Result<()> {
        Ok(())
    }
}
