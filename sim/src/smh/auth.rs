//! SMH's authentication: access tokens (the token calls and the check of every API call)
//! and the storage's presigned headers.
//!
//! The presigned storage headers the API hands out and the storage server verifies.
//!
//! Real SMH returns COS headers (`Authorization: q-sign-algorithm=sha1&...`,
//! `x-cos-security-token`) signed with temporary credentials. The simulator keeps the shape but
//! signs with its own per-instance secret: `sig = hex(HMAC-SHA256(secret, canonical))` over
//!
//! ```text
//! PUT\n{storage path}\n{uploadId or ""}\n{part range "1-10000" or "-"}\n{expires, Unix s}\n{security token}
//! ```
//!
//! and repeats `sig` in `x-sim-signature` and in the `q-signature` of `Authorization`. The range
//! and the expiry travel in `x-sim-part-range` and `x-sim-expires`, so a client that drops or
//! alters any header is refused (403 `AccessDenied`).

use std::collections::{BTreeMap, BTreeSet};

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::json;
use sha2::Sha256;

use super::calls::{Answer, SmhError};
use super::{SmhSim, Token};
use crate::request::Query;
use crate::util::random_hex;

/// The access key id shown in the simulated `Authorization` header (`q-ak`).
pub const SIM_ACCESS_KEY_ID: &str = "AKIDsmhsimSTSTEMPORARYKEY";

/// Header names of the presigned set.
pub(crate) const H_AUTHORIZATION: &str = "authorization";

pub(crate) const H_TOKEN: &str = "x-cos-security-token";

pub(crate) const H_EXPIRES: &str = "x-sim-expires";

pub(crate) const H_RANGE: &str = "x-sim-part-range";

pub(crate) const H_SIGNATURE: &str = "x-sim-signature";

/// What a presigned header set grants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Grant<'a> {
    pub storage_path: &'a str,
    /// `None` for a simple (whole-object) upload.
    pub upload_id: Option<&'a str>,
    /// Inclusive part number range; `None` for a simple upload.
    pub parts: Option<(u32, u32)>,
    pub issued_secs: i64,
    pub expires_secs: i64,
    pub security_token: &'a str,
}

fn range_text(parts: Option<(u32, u32)>) -> String {
    match parts {
        Some((lo, hi)) => format!("{lo}-{hi}"),
        None => "-".to_owned(),
    }
}

fn signature(
    secret: &[u8],
    path: &str,
    upload_id: &str,
    range: &str,
    expires: &str,
    token: &str,
) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail here.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(format!("PUT\n{path}\n{upload_id}\n{range}\n{expires}\n{token}").as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// The headers the client must send with every storage PUT of this grant.
pub(crate) fn headers(secret: &[u8], grant: &Grant<'_>) -> BTreeMap<String, String> {
    let range = range_text(grant.parts);
    let expires = grant.expires_secs.to_string();
    let sig = signature(
        secret,
        grant.storage_path,
        grant.upload_id.unwrap_or(""),
        &range,
        &expires,
        grant.security_token,
    );
    let url_params = if grant.upload_id.is_some() {
        "partnumber;uploadid"
    } else {
        ""
    };
    let authorization = format!(
        "q-sign-algorithm=sha1&q-ak={SIM_ACCESS_KEY_ID}&q-sign-time={issued};{expires}&q-key-time={issued};{expires}&q-header-list={H_TOKEN};{H_RANGE};{H_EXPIRES}&q-url-param-list={url_params}&q-signature={sig}",
        issued = grant.issued_secs,
    );
    BTreeMap::from([
        ("Authorization".to_owned(), authorization),
        (
            "Content-Type".to_owned(),
            "application/octet-stream".to_owned(),
        ),
        (H_TOKEN.to_owned(), grant.security_token.to_owned()),
        (H_EXPIRES.to_owned(), expires),
        (H_RANGE.to_owned(), range),
        (H_SIGNATURE.to_owned(), sig),
    ])
}

/// Why a storage request's headers were refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// Missing, altered or forged headers.
    Denied,
    /// Valid signature, but the expiry has passed.
    Expired,
    /// Valid and current, but the part number is outside the signed range.
    OutOfRange,
}

/// What a verified header set says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verified {
    pub security_token: String,
}

/// Verifies the presigned headers of a storage PUT of `path` with the query's `uploadId`
/// (`None` for a simple upload) and `part_number`, at `now_secs`.
pub(crate) fn verify(
    secret: &[u8],
    headers: &HeaderMap,
    path: &str,
    upload_id: Option<&str>,
    part_number: Option<u32>,
    now_secs: i64,
) -> Result<Verified, Refusal> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let (Some(auth), Some(token), Some(expires), Some(range), Some(sig)) = (
        get(H_AUTHORIZATION),
        get(H_TOKEN),
        get(H_EXPIRES),
        get(H_RANGE),
        get(H_SIGNATURE),
    ) else {
        return Err(Refusal::Denied);
    };
    let q_signature = auth
        .split('&')
        .find_map(|kv| kv.strip_prefix("q-signature="))
        .unwrap_or("");
    let expected = signature(secret, path, upload_id.unwrap_or(""), range, expires, token);
    if expected.is_empty() || !constant_eq(sig, &expected) || !constant_eq(q_signature, &expected) {
        return Err(Refusal::Denied);
    }
    let expires: i64 = expires.parse().map_err(|_| Refusal::Denied)?;
    if now_secs > expires {
        return Err(Refusal::Expired);
    }
    match (parse_range(range), part_number) {
        (Some((lo, hi)), Some(n)) if (lo..=hi).contains(&n) => {}
        (None, None) if range == "-" => {}
        _ => return Err(Refusal::OutOfRange),
    }
    Ok(Verified {
        security_token: token.to_owned(),
    })
}

fn parse_range(range: &str) -> Option<(u32, u32)> {
    let (lo, hi) = range.split_once('-')?;
    Some((lo.parse().ok()?, hi.parse().ok()?))
}

fn constant_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

pub(super) fn invalid_token() -> SmhError {
    SmhError::new(
        StatusCode::FORBIDDEN,
        "InvalidAccessToken",
        "the access token is invalid",
    )
}

pub(super) fn expired_token(sim: &SmhSim) -> SmhError {
    SmhError::new(
        StatusCode::FORBIDDEN,
        sim.config().expired_token_code.code(),
        "the access token has expired",
    )
}

pub(super) fn no_permission(message: &str) -> SmhError {
    SmhError::new(StatusCode::FORBIDDEN, "NoPermission", message)
}

/// The shortest `period` SMH gives a token, in seconds ("Input less than 300 will
/// automatically use minimum value 300").
pub const MIN_PERIOD_SECS: i64 = 300;
/// The longest `period`, in seconds (10 years).
pub const MAX_PERIOD_SECS: i64 = 315_360_000;

/// The grants that allow beginning an upload (Tencent, "Upload a file in parts": "Required
/// permissions: admin, space_admin, or upload_file/upload_file_force/begin_upload/
/// begin_upload_force"). Status, renew, confirm and cancel need the same here: Tencent
/// publishes no separate list for them (`docs/simulators/smh.md`).
pub const UPLOAD_GRANTS: &[&str] = &[
    "admin",
    "space_admin",
    "upload_file",
    "upload_file_force",
    "begin_upload",
    "begin_upload_force",
];
/// The grants that allow creating a directory (`create_directory`, as in the token page's
/// example `grant=upload_file,create_directory`, or an administrator).
pub const DIRECTORY_GRANTS: &[&str] = &["admin", "space_admin", "create_directory"];

/// What a call needs from its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Needs {
    /// One of [`UPLOAD_GRANTS`].
    Upload,
    /// One of [`DIRECTORY_GRANTS`].
    Directory,
    /// Reading only: any token of the library and space (an empty `grant` is read
    /// permission, Tencent's token page says).
    Read,
}

impl Needs {
    fn grants(self) -> &'static [&'static str] {
        match self {
            Needs::Upload => UPLOAD_GRANTS,
            Needs::Directory => DIRECTORY_GRANTS,
            Needs::Read => &[],
        }
    }
}

/// `period` as Tencent's token page reads it: a positive integer is kept within
/// 300 s – 315,360,000 s; absent, empty, zero, negative or not a number is the default. A
/// number too large for a signed 64-bit integer is refused (400 `InvalidParameter`): clamping
/// it would hide a client bug, and the simulator never computes with it.
pub(super) fn period_secs(value: Option<&str>, default_secs: i64) -> Result<i64, SmhError> {
    let Some(v) = value.map(str::trim) else {
        return Ok(default_secs);
    };
    let digits = v.strip_prefix(['+', '-']).unwrap_or(v);
    let numeric = !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit());
    match v.parse::<i64>() {
        Ok(p) if p > 0 => Ok(p.clamp(MIN_PERIOD_SECS, MAX_PERIOD_SECS)),
        Ok(_) => Ok(default_secs),
        Err(_) if numeric => Err(SmhError::invalid(
            "period is out of range (at most 315360000 seconds)",
        )),
        Err(_) => Ok(default_secs),
    }
}

/// `grant=perm1,perm2` as a set; empty (or absent) = read permission only.
pub(super) fn parse_grants(value: Option<&str>) -> BTreeSet<String> {
    value
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|g| !g.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Checks `access_token` against the library and space of the request and the grants the
/// call `needs`; a token that is used (valid, for this library) has its lifetime renewed to
/// its full `period` from now, as Tencent's token page says.
pub(super) fn authorize(
    sim: &SmhSim,
    query: &Query,
    lib: &str,
    space: &str,
    needs: Needs,
) -> Result<(), SmhError> {
    let token = query.non_empty("access_token").ok_or_else(invalid_token)?;
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let token = st.tokens.get_mut(token).ok_or_else(invalid_token)?;
    if now >= token.expires_ms {
        return Err(expired_token(sim));
    }
    if token.library_id == lib {
        token.expires_ms = now + token.period_secs * 1000;
    }
    if token.library_id != lib {
        return Err(no_permission(
            "the access token is not valid for this library",
        ));
    }
    if !sim.config().space_ids.iter().any(|s| s == space) {
        return Err(SmhError::new(
            StatusCode::NOT_FOUND,
            "SpaceNotFound",
            format!("space {space:?} does not exist"),
        ));
    }
    if token.space_id != space {
        return Err(no_permission(
            "the access token is not valid for this space",
        ));
    }
    let allowed = needs.grants();
    if needs != Needs::Read && !token.grants.iter().any(|g| allowed.contains(&g.as_str())) {
        return Err(no_permission(&format!(
            "the access token has no permission for this operation (needs one of: {})",
            allowed.join(", ")
        )));
    }
    Ok(())
}

pub(super) fn token(sim: &SmhSim, query: &Query) -> Result<Answer, SmhError> {
    let config = sim.config();
    let lib = query
        .non_empty("library_id")
        .ok_or_else(|| SmhError::invalid("library_id is required"))?;
    let secret = query
        .non_empty("library_secret")
        .ok_or_else(|| SmhError::invalid("library_secret is required"))?;
    if lib != config.library_id || secret != config.library_secret {
        return Err(no_permission(
            "the library does not exist or the library secret is incorrect",
        ));
    }
    let space_id = match query.non_empty("space_id") {
        Some(space) if !config.space_ids.iter().any(|s| s == space) => {
            return Err(SmhError::new(
                StatusCode::NOT_FOUND,
                "SpaceNotFound",
                format!("space {space:?} does not exist"),
            ))
        }
        Some(space) => space.to_owned(),
        None => sim.credentials().space_id,
    };
    let period = period_secs(
        query.non_empty("period"),
        config.token_lifetime.as_secs() as i64,
    )?;
    let grants = parse_grants(query.get("grant"));
    let access_token = format!("acctk{}", random_hex(32));
    let now = sim.clock().now_millis();
    sim.state().tokens.insert(
        access_token.clone(),
        Token {
            library_id: lib.to_owned(),
            space_id,
            period_secs: period,
            expires_ms: now + period * 1000,
            grants,
        },
    );
    Ok((
        StatusCode::OK,
        Some(json!({ "accessToken": access_token, "expiresIn": period })),
    ))
}

pub(super) fn token_renew(sim: &SmhSim, lib: &str, token: &str) -> Result<Answer, SmhError> {
    let now = sim.clock().now_millis();
    let mut st = sim.state();
    let t = st.tokens.get_mut(token).ok_or_else(invalid_token)?;
    if t.library_id != lib {
        return Err(no_permission(
            "the access token is not valid for this library",
        ));
    }
    if now >= t.expires_ms {
        return Err(expired_token(sim));
    }
    t.expires_ms = now + t.period_secs * 1000;
    Ok((
        StatusCode::OK,
        Some(json!({ "accessToken": token, "expiresIn": t.period_secs })),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderName, HeaderValue};

    fn to_map(h: &BTreeMap<String, String>) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in h {
            map.insert(
                HeaderName::from_bytes(k.to_ascii_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        map
    }

    #[test]
    fn round_trip_and_refusals() {
        let secret = b"s3cr3t";
        let grant = Grant {
            storage_path: "/lib/obj",
            upload_id: Some("up1"),
            parts: Some((1, 10_000)),
            issued_secs: 100,
            expires_secs: 200,
            security_token: "tok",
        };
        let h = to_map(&headers(secret, &grant));
        assert!(verify(secret, &h, "/lib/obj", Some("up1"), Some(3), 150).is_ok());
        assert_eq!(
            verify(secret, &h, "/lib/obj", Some("up1"), Some(3), 201),
            Err(Refusal::Expired)
        );
        assert_eq!(
            verify(secret, &h, "/lib/obj", Some("up2"), Some(3), 150),
            Err(Refusal::Denied)
        );
        assert_eq!(
            verify(secret, &h, "/lib/other", Some("up1"), Some(3), 150),
            Err(Refusal::Denied)
        );
        assert_eq!(
            verify(b"other", &h, "/lib/obj", Some("up1"), Some(3), 150),
            Err(Refusal::Denied)
        );
        assert_eq!(
            verify(secret, &h, "/lib/obj", Some("up1"), None, 150),
            Err(Refusal::OutOfRange)
        );
        let mut missing = h.clone();
        missing.remove(H_TOKEN);
        assert_eq!(
            verify(secret, &missing, "/lib/obj", Some("up1"), Some(1), 150),
            Err(Refusal::Denied)
        );
    }
}
