//! bytetide's native hashing addon. Exports (all digests are SHA-256):
//!   hashChunks(bytes, chunkSize) -> Buffer             concatenated chunk digests
//!   hashChunksAsync(bytes, chunkSize) -> Promise<Buffer>
//!   merkleRoot(digests) -> Buffer                      32-byte package root
//!   merkleRootAsync(digests) -> Promise<Buffer>
//!   hashFileRangeAsync(path, offset, length, chunkSize) -> Promise<Buffer>
//!   hashAndWriteAsync(bytes, expected, fd, position) -> Promise<Buffer>
//!                                                      the digest of bytes; written at fd:position when it is `expected`
//! Async variants run on the N-API pool. The caller must not modify an input
//! array until its promise settles; the addon holds a reference so it stays alive.

mod hashing;
mod napi;

use napi::{Env, JsError, Value};
use std::ffi::c_void;
use std::ptr;

enum Task {
    HashChunks { data: *const u8, len: usize, chunk_size: usize },
    MerkleRoot { data: *const u8, len: usize },
    HashFileRange { path: String, offset: u64, length: u64, chunk_size: u64 },
    HashAndWrite { data: *const u8, len: usize, expected: [u8; hashing::DIGEST_LEN], fd: i32, position: u64 },
}

// The raw pointers refer to a JS-owned array pinned by `Job::input`; only the pool thread reads it.
unsafe impl Send for Task {}

impl Task {
    fn run(&self) -> Result<Vec<u8>, JsError> {
        match *self {
            Task::HashChunks { data, len, chunk_size } => {
                Ok(hashing::hash_chunks(unsafe { std::slice::from_raw_parts(data, len) }, chunk_size))
            }
            Task::MerkleRoot { data, len } => {
                hashing::merkle_root(unsafe { std::slice::from_raw_parts(data, len) }).map(|r| r.to_vec())
            }
            Task::HashFileRange { ref path, offset, length, chunk_size } => {
                hashing::hash_file_range(path, offset, length, chunk_size)
            }
            Task::HashAndWrite { data, len, ref expected, fd, position } => {
                hashing::hash_and_write(unsafe { std::slice::from_raw_parts(data, len) }, expected, fd, position)
            }
        }
    }
}

struct Job {
    task: Task,
    input: napi::Ref,
    deferred: napi::Deferred,
    work: napi::AsyncWork,
    result: Option<Result<Vec<u8>, JsError>>,
}

unsafe extern "C" fn execute(_env: Env, data: *mut c_void) {
    let job = &mut *(data as *mut Job);
    job.result = Some(job.task.run());
}

unsafe extern "C" fn complete(env: Env, status: napi::Status, data: *mut c_void) {
    let job = Box::from_raw(data as *mut Job);
    if !job.input.is_null() {
        napi::napi_delete_reference(env, job.input);
    }
    napi::napi_delete_async_work(env, job.work);
    let result = match (status, job.result) {
        (napi::OK, Some(r)) => r,
        _ => Err(JsError::new("BT_E_CANCELLED", "hashing job was cancelled")),
    };
    match result {
        Ok(bytes) => napi::napi_resolve_deferred(env, job.deferred, napi::buffer(env, &bytes)),
        Err(e) => napi::napi_reject_deferred(env, job.deferred, napi::error_value(env, &e)),
    };
}

/// Queues `task` on the N-API pool. `input` (possibly null) is kept alive until completion.
unsafe fn spawn(env: Env, task: Task, input: Value) -> Result<Value, JsError> {
    let mut promise = ptr::null_mut();
    let mut deferred = ptr::null_mut();
    if napi::napi_create_promise(env, &mut deferred, &mut promise) != napi::OK {
        return Err(JsError::new("BT_E_NAPI", "cannot create a promise"));
    }
    let mut input_ref = ptr::null_mut();
    if !input.is_null() {
        napi::napi_create_reference(env, input, 1, &mut input_ref);
    }
    let job = Box::into_raw(Box::new(Job { task, input: input_ref, deferred, work: ptr::null_mut(), result: None }));
    let name = napi::string(env, "bytetide:hash");
    let status = napi::napi_create_async_work(env, ptr::null_mut(), name, execute, complete, job as *mut c_void, &mut (*job).work);
    if status != napi::OK || napi::napi_queue_async_work(env, (*job).work) != napi::OK {
        let job = Box::from_raw(job);
        if !job.work.is_null() {
            napi::napi_delete_async_work(env, job.work);
        }
        if !job.input.is_null() {
            napi::napi_delete_reference(env, job.input);
        }
        let err = JsError::new("BT_E_NAPI", "cannot queue a hashing job");
        napi::napi_reject_deferred(env, job.deferred, napi::error_value(env, &err));
    }
    Ok(promise)
}

/// Runs a callback body, turning an error into a thrown JS exception.
unsafe fn guard(env: Env, body: impl FnOnce() -> Result<Value, JsError>) -> Value {
    match body() {
        Ok(v) => v,
        Err(e) => {
            napi::throw(env, &e);
            ptr::null_mut()
        }
    }
}

unsafe fn chunk_task(env: Env, info: napi::CallbackInfo) -> Result<(Task, Value), JsError> {
    let [bytes, size] = napi::args::<2>(env, info)?;
    let (data, len) = napi::bytes_of(env, bytes, "bytes")?;
    let chunk_size = napi::integer(env, size, "chunkSize")?;
    if chunk_size == 0 {
        return Err(JsError::new("BT_E_ARG", "chunkSize must be positive"));
    }
    Ok((Task::HashChunks { data, len, chunk_size: chunk_size as usize }, bytes))
}

unsafe fn merkle_task(env: Env, info: napi::CallbackInfo) -> Result<(Task, Value), JsError> {
    let [digests] = napi::args::<1>(env, info)?;
    let (data, len) = napi::bytes_of(env, digests, "digests")?;
    Ok((Task::MerkleRoot { data, len }, digests))
}

unsafe extern "C" fn hash_chunks(env: Env, info: napi::CallbackInfo) -> Value {
    guard(env, || {
        let (task, _) = chunk_task(env, info)?;
        Ok(napi::buffer(env, &task.run()?))
    })
}

unsafe extern "C" fn hash_chunks_async(env: Env, info: napi::CallbackInfo) -> Value {
    guard(env, || {
        let (task, input) = chunk_task(env, info)?;
        spawn(env, task, input)
    })
}

unsafe extern "C" fn merkle_root(env: Env, info: napi::CallbackInfo) -> Value {
    guard(env, || {
        let (task, _) = merkle_task(env, info)?;
        Ok(napi::buffer(env, &task.run()?))
    })
}

unsafe extern "C" fn merkle_root_async(env: Env, info: napi::CallbackInfo) -> Value {
    guard(env, || {
        let (task, input) = merkle_task(env, info)?;
        spawn(env, task, input)
    })
}

unsafe extern "C" fn hash_file_range_async(env: Env, info: napi::CallbackInfo) -> Value {
    guard(env, || {
        let [path, offset, length, size] = napi::args::<4>(env, info)?;
        let chunk_size = napi::integer(env, size, "chunkSize")?;
        if chunk_size == 0 {
            return Err(JsError::new("BT_E_ARG", "chunkSize must be positive"));
        }
        let task = Task::HashFileRange {
            path: napi::utf8(env, path, "path")?,
            offset: napi::integer(env, offset, "offset")?,
            length: napi::integer(env, length, "length")?,
            chunk_size,
        };
        spawn(env, task, ptr::null_mut())
    })
}

unsafe extern "C" fn hash_and_write_async(env: Env, info: napi::CallbackInfo) -> Value {
    guard(env, || {
        let [bytes, expected, fd, position] = napi::args::<4>(env, info)?;
        let (data, len) = napi::bytes_of(env, bytes, "bytes")?;
        let (digest, digest_len) = napi::bytes_of(env, expected, "expected")?;
        let expected: [u8; hashing::DIGEST_LEN] = std::slice::from_raw_parts(digest, digest_len)
            .try_into()
            .map_err(|_| JsError::new("BT_E_ARG", "expected must be a 32-byte digest"))?;
        let fd = napi::integer(env, fd, "fd")?;
        let fd = i32::try_from(fd).map_err(|_| JsError::new("BT_E_ARG", "fd is out of range"))?;
        let task = Task::HashAndWrite { data, len, expected, fd, position: napi::integer(env, position, "position")? };
        spawn(env, task, bytes)
    })
}

#[no_mangle]
pub unsafe extern "C" fn napi_register_module_v1(env: Env, exports: Value) -> Value {
    napi::export(env, exports, "hashChunks", hash_chunks);
    napi::export(env, exports, "hashChunksAsync", hash_chunks_async);
    napi::export(env, exports, "merkleRoot", merkle_root);
    napi::export(env, exports, "merkleRootAsync", merkle_root_async);
    napi::export(env, exports, "hashFileRangeAsync", hash_file_range_async);
    napi::export(env, exports, "hashAndWriteAsync", hash_and_write_async);
    exports
}
