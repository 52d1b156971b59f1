//! Pure hashing: chunk digests and the package Merkle root (docs/format.md).

use crate::napi::JsError;
use sha2::{Digest, Sha256};
use std::fs::File;
use std::mem::ManuallyDrop;
use std::os::unix::fs::FileExt;
use std::os::unix::io::FromRawFd;

pub const DIGEST_LEN: usize = 32;

/// Large enough to amortise the syscall, small enough to stay in L2 while it is hashed.
const READ_BLOCK: usize = 512 * 1024;

/// SHA-256 of each `chunk_size` piece of `data`; the last piece may be short.
pub fn hash_chunks(data: &[u8], chunk_size: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(data.len().div_ceil(chunk_size) * DIGEST_LEN);
    for chunk in data.chunks(chunk_size) {
        out.extend_from_slice(&Sha256::digest(chunk));
    }
    out
}

fn leaf(h: &[u8]) -> [u8; DIGEST_LEN] {
    Sha256::new().chain_update([0u8]).chain_update(h).finalize().into()
}

fn inner(left: &[u8; DIGEST_LEN], right: &[u8; DIGEST_LEN]) -> [u8; DIGEST_LEN] {
    Sha256::new().chain_update([1u8]).chain_update(left).chain_update(right).finalize().into()
}

/// RFC 6962 tree over the chunk digests: split at the largest power of two below n.
fn subtree(digests: &[[u8; DIGEST_LEN]]) -> [u8; DIGEST_LEN] {
    match digests.len() {
        1 => leaf(&digests[0]),
        n => {
            let k = 1usize << (usize::BITS - 1 - (n - 1).leading_zeros());
            inner(&subtree(&digests[..k]), &subtree(&digests[k..]))
        }
    }
}

/// The package root over concatenated chunk digests. No chunks: SHA-256 of nothing, as in RFC 6962.
pub fn merkle_root(concatenated: &[u8]) -> Result<[u8; DIGEST_LEN], JsError> {
    if concatenated.len() % DIGEST_LEN != 0 {
        return Err(JsError::new("BT_E_ARG", "digest list length is not a multiple of 32"));
    }
    if concatenated.is_empty() {
        return Ok(Sha256::digest([]).into());
    }
    let digests: Vec<[u8; DIGEST_LEN]> =
        concatenated.chunks_exact(DIGEST_LEN).map(|d| d.try_into().expect("exact chunk")).collect();
    Ok(subtree(&digests))
}

/// Digests of the chunks in `[offset, offset + length)` of a file, read here so that
/// file data never passes through JavaScript. `offset` is the start of a chunk.
pub fn hash_file_range(path: &str, offset: u64, length: u64, chunk_size: u64) -> Result<Vec<u8>, JsError> {
    let file = File::open(path).map_err(|e| io_error(path, e))?;
    let mut block = vec![0u8; READ_BLOCK.min(chunk_size as usize).max(1)];
    let mut out = Vec::with_capacity((length.div_ceil(chunk_size) as usize) * DIGEST_LEN);
    let end = offset + length;
    let mut chunk_start = offset;
    while chunk_start < end {
        let chunk_end = (chunk_start + chunk_size).min(end);
        let mut hasher = Sha256::new();
        let mut pos = chunk_start;
        while pos < chunk_end {
            let want = ((chunk_end - pos) as usize).min(block.len());
            let got = file
                .read_at(&mut block[..want], pos)
                .map_err(|e| io_error(path, e))?;
            if got == 0 {
                return Err(JsError::new(
                    "BT_E_SHORT_READ",
                    format!("{path}: file ended at byte {pos}, expected {end} bytes"),
                ));
            }
            hasher.update(&block[..got]);
            pos += got as u64;
        }
        out.extend_from_slice(&hasher.finalize());
        chunk_start = chunk_end;
    }
    Ok(out)
}

/// The SHA-256 of one chunk, written at `position` of the open file `fd` only when it is
/// `expected`: one trip to the pool for both, where a hash job and then a write job took two.
/// The descriptor stays the caller's (it keeps it open until this settles).
pub fn hash_and_write(data: &[u8], expected: &[u8; DIGEST_LEN], fd: i32, position: u64) -> Result<Vec<u8>, JsError> {
    let digest: [u8; DIGEST_LEN] = Sha256::digest(data).into();
    if &digest == expected {
        let file = ManuallyDrop::new(unsafe { File::from_raw_fd(fd) });
        // No path here: the caller names the file.
        file.write_all_at(data, position).map_err(|e| JsError::new(errno_code(&e), e.to_string()))?;
    }
    Ok(digest.to_vec())
}

/// Carries the errno name as the error code, as Node's fs errors do, so callers can word it.
fn io_error(path: &str, e: std::io::Error) -> JsError {
    JsError::new(errno_code(&e), format!("{path}: {e}"))
}

fn errno_code(e: &std::io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(1) => "EPERM",
        Some(2) => "ENOENT",
        Some(5) => "EIO",
        Some(13) => "EACCES",
        Some(20) => "ENOTDIR",
        Some(21) => "EISDIR",
        Some(28) => "ENOSPC",
        Some(30) => "EROFS",
        _ => "BT_E_IO",
    }
}
