//! Fan-out: one source to several marketplaces at once.
//!
//! The source is probed once and read once for the digests every chosen marketplace needs
//! before `init`; each marketplace's preflight runs during that pass, and a marketplace that
//! needs no digest starts at once. Each marketplace's upload runs concurrently through the
//! driver, streaming its own parts from disk in pooled chunks, so memory stays bounded by the
//! parts in flight × a few chunks, whatever the part or file size. Each marketplace succeeds or fails on its own: the result is a report per
//! marketplace, never an all-or-nothing error, and a failed marketplace's session is cancelled
//! (unless the options say to keep it resumable).

use std::path::Path;

use futures::future::{join_all, FutureExt};
use serde::Serialize;

use crate::account::AccountRef;
use crate::driver::{UploadDriver, UploadOutcome};
use crate::error::{Error, Result};
use crate::image::{check_image, ImageRules, ImageSource, ImageUploader, UploadedImage};
use crate::journal::Journal;
use crate::meta::UploadMeta;
use crate::progress::Stage;
use crate::source::{digest_request, merge_requests, PreparedSource, SourceProbe};
use crate::uploader::ChunkedVideoUploader;
use crate::ProgressEvent;

/// One upload of a fan-out to accounts ([`UploadDriver::upload_to_accounts`]): the account,
/// its provider, and this upload's own fields.
#[derive(Clone)]
pub struct AccountUpload<'a> {
    /// The account: journal entries keyed by its identity, progress labelled by its name,
    /// requests counted against its limits.
    pub account: AccountRef,
    /// Its provider.
    pub provider: &'a dyn ChunkedVideoUploader,
    /// This upload's fields (a Lazada account's cover, an eBay description); the driver's
    /// own ([`crate::UploadOptions::meta`]) fill what it leaves out.
    pub meta: UploadMeta,
}

impl<'a> AccountUpload<'a> {
    /// An upload to `account` with `provider`, with the driver's fields only.
    pub fn new(account: AccountRef, provider: &'a dyn ChunkedVideoUploader) -> Self {
        AccountUpload {
            account,
            provider,
            meta: UploadMeta::default(),
        }
    }

    /// This upload with its own fields.
    pub fn with_meta(mut self, meta: UploadMeta) -> Self {
        self.meta = meta;
        self
    }
}

impl std::fmt::Debug for AccountUpload<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountUpload")
            .field("account", &self.account)
            .field("platform", &self.provider.rules().platform)
            .field("meta", &self.meta)
            .finish()
    }
}

/// One marketplace's (or one account's) result.
#[derive(Debug)]
pub struct MarketReport {
    /// Platform name.
    pub platform: String,
    /// The account's name, when the upload was for an account
    /// ([`UploadDriver::upload_to_accounts`]).
    pub account: Option<String>,
    /// The outcome, or why this marketplace failed.
    pub result: Result<UploadOutcome>,
}

/// The per-marketplace results of a fan-out, in the order the marketplaces were given.
#[derive(Debug)]
pub struct FanOutReport {
    /// One report per marketplace.
    pub reports: Vec<MarketReport>,
}

/// How a fan-out ended overall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Overall {
    /// Every marketplace succeeded.
    AllSucceeded,
    /// Some succeeded, some failed.
    Partial,
    /// Every marketplace failed.
    AllFailed,
}

impl FanOutReport {
    /// Whether all, some or none succeeded.
    pub fn overall(&self) -> Overall {
        overall(self.reports.iter().map(|r| r.result.is_ok()))
    }
}

fn overall(oks: impl Iterator<Item = bool>) -> Overall {
    let (mut ok, mut failed) = (0, 0);
    for o in oks {
        if o {
            ok += 1
        } else {
            failed += 1
        }
    }
    match (ok, failed) {
        (_, 0) => Overall::AllSucceeded,
        (0, _) => Overall::AllFailed,
        _ => Overall::Partial,
    }
}

impl UploadDriver {
    /// Uploads the video at `path` to every marketplace at once. See the [module docs](self).
    pub async fn upload_to_all(
        &self,
        providers: &[&dyn ChunkedVideoUploader],
        path: &Path,
    ) -> FanOutReport {
        self.fan_out(providers, path, None).await
    }

    /// [`UploadDriver::upload_to_all`] with a resume journal: each marketplace resumes its
    /// journaled session for this unchanged file (sending only the missing parts) and records
    /// every acknowledged part, as [`UploadDriver::upload_journaled`] does for one.
    pub async fn upload_to_all_journaled(
        &self,
        providers: &[&dyn ChunkedVideoUploader],
        path: &Path,
        journal: &Journal,
    ) -> FanOutReport {
        self.fan_out(providers, path, Some(journal)).await
    }

    /// The fan-out to several accounts, of one marketplace or several, at once: each upload
    /// is labelled by its account's name (reports, progress), journaled under its identity
    /// (two shops uploading one file keep two sessions), its requests count against its
    /// account's limits ([`AccountRef::scope`]), and it carries its own fields
    /// ([`AccountUpload::meta`] over the driver's).
    pub async fn upload_to_accounts(
        &self,
        uploads: &[AccountUpload<'_>],
        path: &Path,
        journal: Option<&Journal>,
    ) -> FanOutReport {
        let pairs: Vec<Target<'_>> = uploads
            .iter()
            .map(|u| (Some(&u.account), u.provider, Some(&u.meta)))
            .collect();
        self.fan_out_accounts(&pairs, path, journal).await
    }

    async fn fan_out(
        &self,
        providers: &[&dyn ChunkedVideoUploader],
        path: &Path,
        journal: Option<&Journal>,
    ) -> FanOutReport {
        let pairs: Vec<Target<'_>> = providers.iter().map(|p| (None, *p, None)).collect();
        self.fan_out_accounts(&pairs, path, journal).await
    }

    async fn fan_out_accounts(
        &self,
        pairs: &[Target<'_>],
        path: &Path,
        journal: Option<&Journal>,
    ) -> FanOutReport {
        let providers: Vec<&dyn ChunkedVideoUploader> = pairs.iter().map(|(_, p, _)| *p).collect();
        // Each upload's driver: labelled by its account, carrying its own fields.
        let drivers: Vec<UploadDriver> = pairs
            .iter()
            .map(|(account, _, meta)| {
                let this = match account {
                    Some(a) => self.for_account(a),
                    None => self.clone(),
                };
                match meta {
                    Some(meta) => this.with_meta((*meta).clone().or(&self.options().meta)),
                    None => this,
                }
            })
            .collect();
        let labels: Vec<String> = pairs
            .iter()
            .map(|(a, p, _)| match a {
                Some(a) => a.name.clone(),
                None => p.rules().platform.clone(),
            })
            .collect();
        let fail_all = |err: Error| FanOutReport {
            reports: pairs
                .iter()
                .map(|(account, p, _)| MarketReport {
                    platform: p.rules().platform.clone(),
                    account: account.map(|a| a.name.clone()),
                    result: Err(err.detached().with_platform(&p.rules().platform)),
                })
                .collect(),
        };
        for label in &labels {
            self.emit_stage(label, Stage::Preflight);
        }
        // A stop ends the probe and the digest pass at once: nothing is in flight yet.
        let first = labels.first().map(String::as_str).unwrap_or_default();
        let probe = match self.unless_stopped(first, SourceProbe::open(path)).await {
            Ok(p) => p,
            Err(e) => return fail_all(e),
        };

        // Each marketplace's own rules, and the fields each upload carries, checked before any
        // request or any full read.
        let checked: Vec<Result<crate::DigestRequest>> = providers
            .iter()
            .zip(&drivers)
            .map(|(p, driver)| {
                let rules = p.rules();
                probe.check(rules)?;
                driver.options().meta.check(rules)?;
                let plan = self.plan(&probe, rules)?;
                Ok(digest_request(rules, &plan))
            })
            .collect();
        // One pass over the file for every marketplace that needs a digest before `init`,
        // shared; a marketplace that needs none (Lazada) starts at once. Each marketplace's
        // preflight runs while the pass reads.
        let requests: Vec<&crate::DigestRequest> = checked
            .iter()
            .filter_map(|c| c.as_ref().ok())
            .filter(|r| !r.is_empty())
            .collect();
        let merged = merge_requests(requests);
        let pass = {
            let probe = probe.clone();
            async move {
                PreparedSource::digest(probe, &merged)
                    .await
                    .map_err(std::sync::Arc::new)
            }
            .shared()
        };
        let undigested = PreparedSource::undigested(probe.clone());

        let uploads = pairs.iter().zip(checked).zip(drivers).map(
            |(((account, provider, _), check), this)| {
                let (pass, undigested, probe) = (pass.clone(), undigested.clone(), &probe);
                let upload = async move {
                    let platform = provider.rules().platform.clone();
                    // Events of this upload name its account (the driver's sink is relabelled).
                    let request = match check {
                        Ok(request) => request,
                        Err(e) => {
                            this.emit_stage(&platform, Stage::Failed(e.to_string()));
                            return MarketReport {
                                platform,
                                account: account.map(|a| a.name.clone()),
                                result: Err(e),
                            };
                        }
                    };
                    let digest = async {
                        if request.is_empty() {
                            Ok(undigested)
                        } else {
                            this.emit_stage(&platform, Stage::Digesting);
                            let pass = async {
                                pass.await
                                    .map_err(|e| e.detached().with_platform(&platform))
                            };
                            this.unless_stopped(&platform, pass).await
                        }
                    };
                    let result = match this.preflight_while(*provider, probe, digest).await {
                        Err(e) => {
                            this.emit_stage(&platform, Stage::Failed(e.to_string()));
                            Err(e)
                        }
                        Ok(source) => {
                            let driver = this.preflighted();
                            match journal {
                                Some(journal) => {
                                    driver.upload_journaled(*provider, &source, journal).await
                                }
                                None => driver.upload_prepared(*provider, &source).await,
                            }
                        }
                    };
                    MarketReport {
                        platform,
                        account: account.map(|a| a.name.clone()),
                        result,
                    }
                };
                async move {
                    match account {
                        Some(a) => a.scope(upload).await,
                        None => upload.await,
                    }
                }
            },
        );
        FanOutReport {
            reports: join_all(uploads).await,
        }
    }

    fn emit_stage(&self, platform: &str, stage: Stage) {
        if let Some(sink) = &self.options().progress {
            sink(ProgressEvent::Stage {
                platform: platform.to_owned(),
                stage,
            });
        }
    }
}

/// One upload of a fan-out: its account (if any), its provider, its own fields (if any).
type Target<'a> = (
    Option<&'a AccountRef>,
    &'a dyn ChunkedVideoUploader,
    Option<&'a UploadMeta>,
);

/// One marketplace's image results.
#[derive(Debug)]
pub struct ImageReport {
    /// Platform name.
    pub platform: String,
    /// The call's failure, or a result per image.
    pub result: Result<Vec<Result<UploadedImage>>>,
}

/// Uploads the same images to every marketplace at once, each image checked up front against
/// each platform's own rules ([`check_image`]): an image a platform refuses gets no request
/// there and its own error, and the images it accepts still go (in batches of the platform's
/// `max_images`).
pub async fn upload_images_to_all(
    uploaders: &[&dyn ImageUploader],
    images: &[ImageSource],
) -> Vec<ImageReport> {
    upload_images_to_all_checked(uploaders, images, &check_image).await
}

/// An image check run before any request: the platform's rules and the image.
pub type ImageCheck = dyn Fn(&ImageRules, &ImageSource) -> Result<()> + Send + Sync;

/// [`upload_images_to_all`] with the caller's check of each image (for instance
/// [`check_image`], then decoding it and checking the platform's documented dimensions).
pub async fn upload_images_to_all_checked(
    uploaders: &[&dyn ImageUploader],
    images: &[ImageSource],
    check: &ImageCheck,
) -> Vec<ImageReport> {
    join_all(uploaders.iter().map(|u| async move {
        let rules = u.image_rules();
        let platform = rules.platform.clone();
        if images.is_empty() {
            return ImageReport {
                platform: platform.clone(),
                result: Err(Error::invalid_input("no image given").with_platform(&platform)),
            };
        }
        let mut results: Vec<Option<Result<UploadedImage>>> = images
            .iter()
            .map(|img| {
                check(rules, img)
                    .err()
                    .map(|e| Err(e.with_platform(&platform)))
            })
            .collect();
        let good: Vec<usize> = (0..images.len())
            .filter(|&i| results[i].is_none())
            .collect();
        let batch = rules
            .max_images
            .map_or(good.len(), |m| m.max(1) as usize)
            .max(1);
        for indices in good.chunks(batch) {
            let sent: Vec<ImageSource> = indices.iter().map(|&i| images[i].clone()).collect();
            match u.upload_images(&sent).await {
                Ok(list) => {
                    let mut list = list.into_iter();
                    for &i in indices {
                        results[i] = Some(list.next().unwrap_or_else(|| {
                            Err(Error::protocol("no result for this image")
                                .with_platform(&platform))
                        }));
                    }
                }
                Err(e) if indices.len() == images.len() => {
                    // The call as a whole failed for every image.
                    return ImageReport {
                        platform,
                        result: Err(e),
                    };
                }
                Err(e) => {
                    for &i in indices {
                        results[i] = Some(Err(e.detached().with_platform(&platform)));
                    }
                }
            }
        }
        let result = Ok(results
            .into_iter()
            .map(|r| r.unwrap_or_else(|| Err(Error::protocol("not sent").with_platform(&platform))))
            .collect());
        ImageReport { platform, result }
    }))
    .await
}

/// Whether all, some or none of the image uploads succeeded (an image refused inside a
/// successful call counts as a failure of that marketplace).
pub fn images_overall(reports: &[ImageReport]) -> Overall {
    overall(reports.iter().map(|r| match &r.result {
        Ok(list) => list.iter().all(|i| i.is_ok()),
        Err(_) => false,
    }))
}
