//! The directory and file upload calls: create a directory, begin a multipart or simple
//! upload (or an instant upload by hash), its status, renew, confirm and cancel.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use bytes::Bytes;
use serde_json::{json, Map, Value};

use super::auth::{self, Grant};
use super::calls::{iso8601, json_str, json_u64, Answer, SmhError};
use super::digest::{crc64, multipart_etag};
use super::{
    content_type, join, Conflict, IndexEntry, SmhSim, State, StoredFile, TaskState, Upload,
};
use crate::request::Query;
use crate::util::{md5_raw, random_hex};

pub(super) fn create_directory(
    sim: &SmhSim,
    query: &Query,
    space: &str,
    path: &[String],
) -> Result<Answer, SmhError> {
    let conflict = Conflict::parse(query.get("conflict_resolution_strategy"), Conflict::Ask)?;
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    if sim.config().create_parent_directories {
        for i in 1..path.len() {
            let ancestor = &path[..i];
            if !st.dir_exists(space, ancestor) {
                st.check_parent(space, ancestor)?;
                if st.file(space, ancestor).is_some() {
                    return Err(SmhError::new(
                        StatusCode::CONFLICT,
                        "SameNameDirectoryOrFileExists",
                        format!("/{} is a file", join(ancestor)),
                    ));
                }
                st.insert_dir(space, ancestor);
            }
        }
    }
    let placed = st.place(space, path, conflict, true)?;
    st.insert_dir(space, &placed.path);
    Ok((
        StatusCode::CREATED,
        Some(json!({ "path": placed.path, "creationTime": iso8601(now) })),
    ))
}

pub(super) fn quota_exceeded() -> SmhError {
    SmhError::new(
        StatusCode::BAD_REQUEST,
        "QuotaLimitReached",
        "the library's storage quota has been reached",
    )
}

pub(super) fn begin(
    sim: &SmhSim,
    query: &Query,
    space: &str,
    path: Vec<String>,
    body: Option<Map<String, Value>>,
    multipart: bool,
) -> Result<Answer, SmhError> {
    let config = sim.config();
    let conflict = Conflict::parse(query.get("conflict_resolution_strategy"), Conflict::Rename)?;
    let filesize = match query.non_empty("filesize") {
        None => None,
        Some(s) => Some(
            s.parse::<u64>()
                .map_err(|_| SmhError::invalid("filesize must be a non-negative integer"))?,
        ),
    };
    let body = body.unwrap_or_default();
    let (size, beginning, full) = if multipart {
        (
            json_u64(&body, "size")?,
            json_str(&body, "beginningHash")?.map(str::to_ascii_lowercase),
            json_str(&body, "fullHash")?.map(str::to_ascii_lowercase),
        )
    } else {
        (None, None, None)
    };
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    // Parent must exist; `ask` fails now if the name is taken.
    st.place(space, &path, conflict, false)?;
    let declared = filesize.or(size).unwrap_or(0);
    if st.used_bytes().saturating_add(declared) > config.capacity_bytes {
        return Err(quota_exceeded());
    }

    if let Some(size) =
        size.filter(|s| config.instant_upload && *s >= config.instant_upload_min_size)
    {
        if let Some(full) = &full {
            let hit = st
                .index
                .iter()
                .find(|e| {
                    e.size == size
                        && e.hashes().full_hash == *full
                        && beginning
                            .as_ref()
                            .is_none_or(|b| *b == e.hashes().beginning_hash)
                })
                .map(|e| (e.bytes.clone(), e.etag.clone(), e.crc64));
            if let Some((bytes, etag, crc)) = hit {
                let known = Some(Known {
                    crc64: crc,
                    indexed: true,
                });
                let info = store_file(
                    sim, &mut st, space, &path, conflict, bytes, etag, known, now,
                )?;
                return Ok((StatusCode::OK, Some(info)));
            }
        } else if let Some(beginning) = &beginning {
            if st
                .index
                .iter()
                .any(|e| e.size == size && e.hashes().beginning_hash == *beginning)
            {
                return Ok((StatusCode::ACCEPTED, None));
            }
        }
    }

    let confirm_key = random_hex(32);
    let upload_id = multipart.then(|| format!("{}{}", now / 1000, random_hex(24)));
    let storage_path = format!("/smhsim-{}/{}", config.library_id, random_hex(16));
    let upload = Upload {
        space_id: space.to_owned(),
        target: path,
        conflict,
        upload_id: upload_id.clone(),
        storage_path: storage_path.clone(),
        security_token: random_hex(24),
        parts: BTreeMap::new(),
        body: None,
        created_ms: now,
        task_expires_ms: now + config.upload_task_lifetime.as_millis() as i64,
        state: TaskState::Active,
    };
    let info = upload_info(sim, &st, &confirm_key, &upload, now);
    match &upload_id {
        Some(id) => st.by_upload_id.insert(id.clone(), confirm_key.clone()),
        None => st.by_simple_path.insert(storage_path, confirm_key.clone()),
    };
    st.uploads.insert(confirm_key, upload);
    Ok((StatusCode::CREATED, Some(info)))
}

/// `{domain, path, uploadId?, headers, confirmKey, expiration, availableDomainNum}` with fresh
/// presigned headers.
pub(super) fn upload_info(
    sim: &SmhSim,
    st: &State,
    confirm_key: &str,
    upload: &Upload,
    now: i64,
) -> Value {
    let expires_ms = now + sim.config().upload_info_lifetime.as_millis() as i64;
    let headers = auth::headers(
        &st.secret,
        &Grant {
            storage_path: &upload.storage_path,
            upload_id: upload.upload_id.as_deref(),
            parts: upload
                .upload_id
                .as_ref()
                .map(|_| (1, sim.config().max_part_number)),
            issued_secs: now.div_euclid(1000),
            expires_secs: expires_ms.div_euclid(1000),
            security_token: &upload.security_token,
        },
    );
    let mut info = json!({
        "domain": st.storage_domain,
        "path": upload.storage_path,
        "headers": headers,
        "confirmKey": confirm_key,
        // Whole seconds, like the presigned expiry itself.
        "expiration": iso8601(expires_ms.div_euclid(1000) * 1000),
        "availableDomainNum": 1,
    });
    if let (Some(id), Some(obj)) = (&upload.upload_id, info.as_object_mut()) {
        obj.insert("uploadId".into(), Value::String(id.clone()));
    }
    info
}

/// What is already known of a file about to be stored.
pub(super) struct Known {
    /// Its CRC-64.
    pub(super) crc64: u64,
    /// Whether it came from the instant-upload index (then it is not indexed again).
    pub(super) indexed: bool,
}

/// Places and stores a file; returns the file info answer. Digests already `known` are not
/// computed again.
#[allow(clippy::too_many_arguments)]
pub(super) fn store_file(
    sim: &SmhSim,
    st: &mut State,
    space: &str,
    target: &[String],
    conflict: Conflict,
    bytes: Bytes,
    etag: String,
    known: Option<Known>,
    now: i64,
) -> Result<Value, SmhError> {
    let placed = st.place(space, target, conflict, false)?;
    let size = bytes.len() as u64;
    let used = st.used_bytes() - placed.overwrites.unwrap_or(0);
    if used.saturating_add(size) > sim.config().capacity_bytes {
        return Err(quota_exceeded());
    }
    let name = placed.path.last().cloned().unwrap_or_default();
    let created_ms = match (placed.overwrites, st.file(space, &placed.path)) {
        (Some(_), Some(old)) => old.created_ms,
        _ => now,
    };
    let crc = known.as_ref().map_or_else(|| crc64(&bytes), |k| k.crc64);
    let indexed = known.is_some_and(|k| k.indexed);
    let file = StoredFile {
        bytes: Some(bytes.clone()),
        size,
        seq: 0,
        etag: etag.clone(),
        crc64: crc,
        content_type: content_type(&name),
        created_ms,
        modified_ms: now,
    };
    let info = file_info(&placed.path, &file, placed.overwrites.is_some());
    st.insert_file(space, &placed.path, file);
    st.enforce_retention(sim.config().retention.max_assembled_bytes);
    if !indexed
        && size >= sim.config().instant_upload_min_size
        && !st.index.iter().any(|e| e.size == size && e.bytes == bytes)
    {
        st.index.push(IndexEntry::new(bytes, etag, crc));
    }
    Ok(info)
}

pub(super) fn file_info(path: &[String], file: &StoredFile, overwritten: bool) -> Value {
    let kind = file.content_type.split('/').next().unwrap_or("");
    let file_type = match kind {
        "video" | "image" => kind,
        _ => "other",
    };
    json!({
        "path": path,
        "name": path.last(),
        "type": "file",
        "creationTime": iso8601(file.created_ms),
        "modificationTime": iso8601(file.modified_ms),
        "contentType": file.content_type,
        "size": file.size.to_string(),
        "eTag": file.etag,
        "crc64": file.crc64.to_string(),
        "metaData": {},
        "isOverwritten": overwritten,
        "previewByDoc": false,
        "previewByCI": file_type != "other",
        "previewAsIcon": false,
        "fileType": file_type,
    })
}

/// `GET /api/v1/directory/…/{FilePath}?info` for a file: its details (path, size, eTag,
/// CRC-64…), or 404 `FileNotFound`. Directories are not described (the clients ask for files).
pub(super) fn info(sim: &SmhSim, space: &str, path: &[String]) -> Result<Answer, SmhError> {
    let st = sim.state();
    let file = st.file(space, path).ok_or_else(|| {
        SmhError::new(
            StatusCode::NOT_FOUND,
            "FileNotFound",
            "the file does not exist",
        )
    })?;
    Ok((StatusCode::OK, Some(file_info(path, file, false))))
}

/// The active upload task with `key`, or the platform's answer for why there is none.
pub(super) fn active<'a>(
    st: &'a mut State,
    space: &str,
    key: &str,
    now: i64,
) -> Result<&'a mut Upload, SmhError> {
    let not_found = || {
        SmhError::new(
            StatusCode::NOT_FOUND,
            "ConfirmKeyNotFound",
            "the confirm key does not exist",
        )
    };
    let upload = st.uploads.get_mut(key).ok_or_else(not_found)?;
    if upload.space_id != space {
        return Err(not_found());
    }
    match upload.state {
        TaskState::Confirmed { .. } => Err(SmhError::new(
            StatusCode::CONFLICT,
            "UploadComplete",
            "the upload has already been confirmed",
        )),
        TaskState::Cancelled => Err(SmhError::new(
            StatusCode::NOT_FOUND,
            "UploadNotFound",
            "the upload has been cancelled",
        )),
        TaskState::Active if now > upload.task_expires_ms => {
            upload.state = TaskState::Cancelled;
            upload.parts.clear();
            upload.body = None;
            Err(SmhError::new(
                StatusCode::NOT_FOUND,
                "UploadNotFound",
                "the upload has expired",
            ))
        }
        TaskState::Active => Ok(upload),
    }
}

pub(super) fn status(sim: &SmhSim, space: &str, key: &str) -> Result<Answer, SmhError> {
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let upload = active(&mut st, space, key, now)?.clone();
    let parts: Vec<Value> = upload
        .parts
        .iter()
        .map(|(n, p)| {
            json!({
                "PartNumber": n.to_string(),
                "LastModified": iso8601(p.received_ms),
                "ETag": format!("\"{}\"", hex::encode(p.md5)),
                "Size": p.size.to_string(),
            })
        })
        .collect();
    let mut info = upload_info(sim, &st, key, &upload, now);
    if let Some(obj) = info.as_object_mut() {
        obj.remove("confirmKey");
        obj.remove("availableDomainNum");
    }
    Ok((
        StatusCode::OK,
        Some(json!({
            "confirmKey": key,
            "path": upload.target,
            "type": "file",
            "creationTime": iso8601(upload.created_ms),
            "parts": parts,
            "uploadPartInfo": info,
        })),
    ))
}

pub(super) fn renew(sim: &SmhSim, space: &str, key: &str) -> Result<Answer, SmhError> {
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let upload = active(&mut st, space, key, now)?.clone();
    let info = upload_info(sim, &st, key, &upload, now);
    Ok((StatusCode::OK, Some(info)))
}

pub(super) fn incomplete(message: String) -> SmhError {
    SmhError::new(
        StatusCode::BAD_REQUEST,
        "MultipartUploadIncomplete",
        message,
    )
}

pub(super) fn confirm(
    sim: &SmhSim,
    query: &Query,
    space: &str,
    key: &str,
    body: Option<Map<String, Value>>,
) -> Result<Answer, SmhError> {
    let config = sim.config();
    let body = body.unwrap_or_default();
    let expected_crc = match body.get("crc64") {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) => Some(
            s.parse::<u64>()
                .map_err(|_| SmhError::invalid("crc64 must be a decimal unsigned integer"))?,
        ),
        Some(Value::Number(n)) => Some(
            n.as_u64()
                .ok_or_else(|| SmhError::invalid("crc64 must be a decimal unsigned integer"))?,
        ),
        Some(_) => return Err(SmhError::invalid("crc64 must be a string")),
    };
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let upload = active(&mut st, space, key, now)?;
    let conflict = Conflict::parse(query.get("conflict_resolution_strategy"), upload.conflict)?;

    let (bytes, etag) = if upload.upload_id.is_some() {
        let n = upload.parts.len();
        if n == 0 {
            return Err(incomplete("no part has been uploaded".into()));
        }
        if let Some(missing) = (1..=n as u32).find(|i| !upload.parts.contains_key(i)) {
            return Err(incomplete(format!(
                "part {missing} is missing: parts must be numbered 1..N without gaps"
            )));
        }
        let last = n as u32;
        if let Some((num, p)) = upload
            .parts
            .iter()
            .find(|(num, p)| **num != last && p.size < config.min_part_size)
        {
            return Err(SmhError::new(
                StatusCode::BAD_REQUEST,
                "MultipartUploadPartTooSmall",
                format!(
                    "part {num} is {} bytes; every part but the last must be at least {} bytes",
                    p.size, config.min_part_size
                ),
            ));
        }
        let mut all = Vec::with_capacity(upload.parts.values().map(|p| p.bytes.len()).sum());
        for p in upload.parts.values() {
            all.extend_from_slice(&p.bytes);
        }
        let etag = format!(
            "\"{}\"",
            multipart_etag(upload.parts.values().map(|p| &p.md5))
        );
        (Bytes::from(all), etag)
    } else {
        let Some(body) = &upload.body else {
            return Err(incomplete("the file content has not been uploaded".into()));
        };
        (
            body.bytes.clone(),
            format!("\"{}\"", hex::encode(md5_raw(&body.bytes))),
        )
    };
    let actual = crc64(&bytes);
    if let Some(expected) = expected_crc {
        if actual != expected {
            return Err(SmhError::new(
                StatusCode::BAD_REQUEST,
                "BadCrc64",
                format!("crc64 {expected} does not match the uploaded data's {actual}"),
            ));
        }
    }
    let target = upload.target.clone();
    let stored_bytes = Some(bytes.clone());
    let info = store_file(
        sim,
        &mut st,
        space,
        &target,
        conflict,
        bytes,
        etag,
        Some(Known {
            crc64: actual,
            indexed: false,
        }),
        now,
    )?;
    let final_path: Vec<String> = info
        .get("path")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default();
    if let Some(upload) = st.uploads.get_mut(key) {
        upload.state = TaskState::Confirmed { path: final_path };
        // The parts stay listed (numbers, sizes, eTags), their bytes now slices of the stored
        // file instead of a second copy of it; the retention limit empties them with the file.
        if let Some(file) = stored_bytes {
            let mut at = 0usize;
            for p in upload.parts.values_mut() {
                let end = at.saturating_add(p.bytes.len()).min(file.len());
                p.bytes = file.slice(at..end);
                at = end;
            }
            if let Some(body) = upload.body.as_mut() {
                body.bytes = file;
            }
        }
    }
    Ok((StatusCode::OK, Some(info)))
}

pub(super) fn cancel(sim: &SmhSim, space: &str, key: &str) -> Result<Answer, SmhError> {
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let upload = active(&mut st, space, key, now)?;
    upload.state = TaskState::Cancelled;
    upload.parts.clear();
    upload.body = None;
    Ok((StatusCode::NO_CONTENT, None))
}
