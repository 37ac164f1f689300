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
pub const CHUNK_BYTES: usize = 256 * 1024;

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

/// Reads `len` bytes at `offset` (at most [`CHUNK_BYTES`]) into a pooled buffer.
fn read_chunk(file: &File, offset: u64, len: usize) -> io::Result<Bytes> {
    let mut buf = take_buffer();
    let filled = &mut buf[..len];
    if let Err(e) = read_exact_at(file, filled, offset) {
        return_buffer(buf);
        return Err(if e.kind() == io::ErrorKind::UnexpectedEof {
            io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the source became shorter during the upload",
            )
        } else {
            e
        });
    }
    Ok(Bytes::from_owner(Pooled { buf, len }))
}

/// The bytes `offset..offset + len` of `file` as a stream of chunks, read one ahead of the
/// consumer on the blocking pool. Needs a Tokio runtime when polled.
pub fn file_chunks(
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
pub fn md5_of_range(file: &File, offset: u64, len: u64) -> io::Result<[u8; 16]> {
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
pub fn read_range(file: &File, offset: u64, len: u64) -> io::Result<Bytes> {
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
