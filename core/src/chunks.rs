//! Reading a part of the source file as a request body: fixed-size chunks read with positioned
//! reads on the blocking pool, one read ahead of the connection, into buffers recycled through
//! a process-wide pool.
//!
//! This is what keeps an upload's memory independent of its part size and of the file: a part
//! in flight holds at most the chunk being sent, the chunk read ahead and what the HTTP stack
//! has queued, never the whole part. A chunk's buffer goes from the read straight into the
//! request body as [`Bytes`] (no copy) and back to the pool when the connection has written
//! it. A failed attempt reads the part again from the file (the page cache, in practice)
//! instead of keeping every part in memory in case of a retry.

use std::fs::File;
use std::io;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures::stream::{self, Stream};
use md5::{Digest, Md5};
use tokio::task::JoinHandle;

/// Bytes per chunk read from the file.
pub(crate) const CHUNK_BYTES: usize = 256 * 1024;

/// Buffers kept for reuse at most (8 MiB); more in use at once are allocated and freed.
const POOL_MAX: usize = 32;

static POOL: Mutex<Vec<Vec<u8>>> = Mutex::new(Vec::new());

/// A buffer of [`CHUNK_BYTES`] from the pool, or a new one.
fn take_buffer() -> Vec<u8> {
    // Nothing panics while the pool is locked; a poisoned lock still holds plain buffers.
    let reused = POOL.lock().unwrap_or_else(|e| e.into_inner()).pop();
    reused.unwrap_or_else(|| vec![0u8; CHUNK_BYTES])
}

fn return_buffer(buf: Vec<u8>) {
    if buf.len() != CHUNK_BYTES {
        return;
    }
    let mut pool = POOL.lock().unwrap_or_else(|e| e.into_inner());
    if pool.len() < POOL_MAX {
        pool.push(buf);
    }
}

/// A pooled buffer holding `len` valid bytes; back to the pool when the last [`Bytes`] view of
/// it is dropped.
struct Pooled {
    buf: Vec<u8>,
    len: usize,
}

impl AsRef<[u8]> for Pooled {
    fn as_ref(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(test)]
static RETURNED: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

impl Drop for Pooled {
    fn drop(&mut self) {
        #[cfg(test)]
        RETURNED.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        return_buffer(std::mem::take(&mut self.buf));
    }
}

/// Why a part's body could not be read from the source file. It travels inside the
/// `io::Error` a body stream fails with, so that [`crate::http::HttpClient::send`] reports the failed
/// attempt as the source's fault ([`crate::ErrorKind::Io`], not retried) rather than as a
/// broken connection.
#[derive(Debug)]
pub(crate) struct SourceReadError {
    message: String,
}

impl std::fmt::Display for SourceReadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for SourceReadError {}

fn source_read_error(e: io::Error) -> io::Error {
    let message = if e.kind() == io::ErrorKind::UnexpectedEof {
        "the source became shorter during the upload".to_owned()
    } else {
        format!("could not read the source during the upload: {e}")
    };
    io::Error::new(e.kind(), SourceReadError { message })
}

/// Reads `len` bytes at `offset` (at most [`CHUNK_BYTES`]) into a pooled buffer.
fn read_chunk(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    let mut buf = take_buffer();
    let filled = &mut buf[..len];
    if let Err(e) = read_exact_at(file, filled, offset) {
        return_buffer(buf);
        return Err(source_read_error(e));
    }
    Ok(Bytes::from_owner(Pooled { buf, len }))
}

/// The bytes `offset..offset + len` of `file` as a stream of chunks, read one ahead of the
/// consumer on the blocking pool. Needs a Tokio runtime when polled.
pub(crate) fn file_chunks(
    file: Arc<File>,
    offset: u64,
    len: u64,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    struct State {
        file: Arc<File>,
        pos: u64,
        end: u64,
        ahead: Option<JoinHandle<io::Result<Bytes>>>,
    }
    impl State {
        fn spawn_next(&mut self) -> Option<JoinHandle<io::Result<Bytes>>> {
            if self.pos >= self.end {
                return None;
            }
            let n = (self.end - self.pos).min(CHUNK_BYTES as u64);
            let (file, at) = (Arc::clone(&self.file), self.pos);
            self.pos += n;
            // `n` is at most CHUNK_BYTES, so it fits a usize.
            Some(tokio::task::spawn_blocking(move || {
                read_chunk(&file, at, n as usize)
            }))
        }
    }
    let state = State {
        file,
        pos: offset,
        end: offset.saturating_add(len),
        ahead: None,
    };
    stream::unfold(state, |mut st| async move {
        let current = match st.ahead.take() {
            Some(handle) => handle,
            None => st.spawn_next()?,
        };
        // Read the next chunk while this one goes out.
        st.ahead = st.spawn_next();
        let chunk = match current.await {
            Ok(result) => result,
            Err(join) => Err(io::Error::other(format!("the read task failed: {join}"))),
        };
        if chunk.is_err() {
            // Nothing after a failed read.
            st.ahead = None;
            st.pos = st.end;
        }
        Some((chunk, st))
    })
}

/// MD5 of `offset..offset + len` of `file`, read in pooled chunks. Blocking: call it on the
/// blocking pool.
pub(crate) fn md5_of_range(file: &File, offset: u64, len: u64) -> io::Result<[u8; 16]> {
    let mut hasher = Md5::new();
    let mut pos = offset;
    let end = offset.saturating_add(len);
    let mut buf = take_buffer();
    let result = (|| {
        while pos < end {
            let n = (end - pos).min(CHUNK_BYTES as u64) as usize;
            read_exact_at(file, &mut buf[..n], pos)?;
            hasher.update(&buf[..n]);
            pos += n as u64;
        }
        Ok(())
    })();
    return_buffer(buf);
    result.map(|()| hasher.finalize().into())
}

/// Reads `offset..offset + len` of `file` into memory. Blocking.
pub(crate) fn read_range(file: &File, offset: u64, len: u64) -> io::Result<Bytes> {
    let len = usize::try_from(len)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "part too large"))?;
    let mut buf = vec![0u8; len];
    read_exact_at(file, &mut buf, offset)?;
    Ok(Bytes::from(buf))
}

#[cfg(unix)]
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> io::Result<()> {
    std::os::unix::fs::FileExt::read_exact_at(file, buf, offset)
}

#[cfg(windows)]
fn read_exact_at(file: &File, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
    use std::os::windows::fs::FileExt;
    while !buf.is_empty() {
        match file.seek_read(buf, offset) {
            Ok(0) => return Err(io::ErrorKind::UnexpectedEof.into()),
            Ok(n) => {
                buf = &mut buf[n..];
                offset += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures::TryStreamExt;
    use std::io::Write;

    fn sample(len: usize) -> (tempfile::NamedTempFile, Vec<u8>) {
        let data: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        f.flush().unwrap();
        (f, data)
    }

    #[tokio::test]
    async fn chunks_cover_the_range_exactly() {
        let (f, data) = sample(3 * CHUNK_BYTES + 123);
        let file = Arc::new(File::open(f.path()).unwrap());
        for (offset, len) in [
            (0u64, data.len() as u64),
            (7, CHUNK_BYTES as u64),
            (CHUNK_BYTES as u64 - 1, CHUNK_BYTES as u64 + 2),
            (100, 0),
            (data.len() as u64 - 5, 5),
        ] {
            let chunks: Vec<Bytes> = file_chunks(Arc::clone(&file), offset, len)
                .try_collect()
                .await
                .unwrap();
            assert!(chunks.iter().all(|c| c.len() <= CHUNK_BYTES));
            let joined: Vec<u8> = chunks.concat();
            let (a, b) = (offset as usize, (offset + len) as usize);
            assert_eq!(joined, &data[a..b], "offset {offset} len {len}");
        }
    }

    #[tokio::test]
    async fn a_range_past_the_end_fails_with_a_clear_error() {
        let (f, data) = sample(1000);
        let file = Arc::new(File::open(f.path()).unwrap());
        let err = file_chunks(file, 500, data.len() as u64)
            .try_collect::<Vec<Bytes>>()
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::UnexpectedEof);
        assert!(err.to_string().contains("shorter"), "{err}");
    }

    #[test]
    fn range_md5_matches_the_bytes() {
        let (f, data) = sample(2 * CHUNK_BYTES + 9);
        let file = File::open(f.path()).unwrap();
        let got = md5_of_range(&file, 3, data.len() as u64 - 3).unwrap();
        assert_eq!(got, crate::digest::md5(&data[3..]));
        assert_eq!(
            read_range(&file, 10, 20).unwrap(),
            Bytes::copy_from_slice(&data[10..30])
        );
    }

    #[test]
    fn buffers_return_to_the_pool() {
        let (f, _) = sample(CHUNK_BYTES);
        let file = File::open(f.path()).unwrap();
        let chunk = read_chunk(&file, 0, CHUNK_BYTES).unwrap();
        let view = chunk.slice(10..20);
        drop(chunk);
        // Other tests share the pool and the counter, which only grows: compare, don't equate.
        let before = RETURNED.load(std::sync::atomic::Ordering::SeqCst);
        drop(view);
        assert!(RETURNED.load(std::sync::atomic::Ordering::SeqCst) > before);
    }
}

#[cfg(test)]
mod part_tests {
    use super::*;
    use crate::uploader::Part;
    use futures::TryStreamExt;
    use std::io::Write;

    /// A part read from the file and the same bytes in memory are the same part: same
    /// length, chunks, whole bytes and MD5 (computed when not given, or taken as given).
    #[tokio::test]
    async fn file_parts_match_memory_parts() {
        let data: Vec<u8> = (0..(CHUNK_BYTES * 2 + 77))
            .map(|i| (i % 253) as u8)
            .collect();
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(&data).unwrap();
        let file = Arc::new(File::open(f.path()).unwrap());
        let (offset, len) = (5u64, CHUNK_BYTES as u64 + 1000);
        let range = &data[offset as usize..(offset + len) as usize];
        let from_file = Part::from_file(3, Arc::clone(&file), offset, len, None);
        let in_memory = Part::new(3, offset, Bytes::copy_from_slice(range), None);
        assert_eq!(from_file.len(), in_memory.len());
        assert!(from_file.in_memory().is_none());
        assert_eq!(in_memory.in_memory().map(|b| b.len() as u64), Some(len));
        for part in [&from_file, &in_memory] {
            let joined: Vec<u8> = part
                .chunks()
                .try_collect::<Vec<Bytes>>()
                .await
                .unwrap()
                .concat();
            assert_eq!(joined, range);
            assert_eq!(part.read_all().await.unwrap(), range);
            assert_eq!(
                part.md5_hex().await.unwrap(),
                hex::encode(crate::digest::md5(range))
            );
        }
        let given = Part::from_file(3, file, offset, len, Some([7; 16]));
        assert_eq!(given.md5_hex().await.unwrap(), hex::encode([7u8; 16]));
    }
}
