//! The benchmarks' baseline client: one plain streaming POST of a file to a simulator's raw
//! sink (`/__sim/raw-sink`, which reads and discards a body and says how many bytes it read).

use std::path::Path;

use marketmedia_sim::RAW_SINK_PATH;

/// The scheme, host and port of `url`: the server, without the path an API adds.
pub fn origin(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let host = rest.split('/').next().unwrap_or(rest);
            format!("{scheme}://{host}")
        }
        None => url.to_owned(),
    }
}

/// The raw sink's URL on the server of the API at `base_url`.
pub fn sink_url(base_url: &str) -> String {
    format!("{}{RAW_SINK_PATH}", origin(base_url))
}

/// Sends `path` in one POST `request` (to a raw sink's URL), the file read in 256 KiB
/// chunks, and checks that the sink read every byte: the bytes sent.
pub async fn post_file(request: reqwest::RequestBuilder, path: &Path) -> Result<u64, String> {
    let len = std::fs::metadata(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .len();
    let file = tokio::fs::File::open(path)
        .await
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
        file,
        256 * 1024,
    ));
    let answer = request
        .header(reqwest::header::CONTENT_LENGTH, len)
        .body(body)
        .send()
        .await
        .map_err(|e| format!("raw POST failed: {e}"))?;
    let json: serde_json::Value = answer.json().await.map_err(|e| e.to_string())?;
    if json["bytes"].as_u64() != Some(len) {
        return Err(format!("the raw sink counted {json} of {len} bytes"));
    }
    Ok(len)
}
