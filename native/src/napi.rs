//! The few Node-API functions the addon uses, declared by hand: the napi-rs
//! crates are not reachable from the build machines. Signatures follow
//! `js_native_api.h` and `node_api.h` (Node-API version 1 unless noted).
//! The symbols are resolved at load time from the host process (Bun or Node).

use std::ffi::{c_char, c_void};
use std::ptr;

pub type Env = *mut c_void;
pub type Value = *mut c_void;
pub type CallbackInfo = *mut c_void;
pub type Deferred = *mut c_void;
pub type AsyncWork = *mut c_void;
pub type Ref = *mut c_void;
pub type Status = i32;

pub const OK: Status = 0;
pub const UINT8_ARRAY: i32 = 1;

pub type Callback = unsafe extern "C" fn(Env, CallbackInfo) -> Value;
pub type AsyncExecute = unsafe extern "C" fn(Env, *mut c_void);
pub type AsyncComplete = unsafe extern "C" fn(Env, Status, *mut c_void);

extern "C" {
    pub fn napi_create_function(
        env: Env,
        name: *const c_char,
        length: usize,
        cb: Callback,
        data: *mut c_void,
        result: *mut Value,
    ) -> Status;
    pub fn napi_set_named_property(env: Env, object: Value, name: *const c_char, value: Value) -> Status;
    pub fn napi_get_cb_info(
        env: Env,
        info: CallbackInfo,
        argc: *mut usize,
        argv: *mut Value,
        this_arg: *mut Value,
        data: *mut *mut c_void,
    ) -> Status;
    pub fn napi_get_typedarray_info(
        env: Env,
        typedarray: Value,
        kind: *mut i32,
        length: *mut usize,
        data: *mut *mut c_void,
        arraybuffer: *mut Value,
        byte_offset: *mut usize,
    ) -> Status;
    pub fn napi_is_typedarray(env: Env, value: Value, result: *mut bool) -> Status;
    pub fn napi_get_value_double(env: Env, value: Value, result: *mut f64) -> Status;
    pub fn napi_get_value_string_utf8(
        env: Env,
        value: Value,
        buf: *mut c_char,
        bufsize: usize,
        result: *mut usize,
    ) -> Status;
    pub fn napi_create_string_utf8(env: Env, s: *const c_char, length: usize, result: *mut Value) -> Status;
    pub fn napi_create_buffer_copy(
        env: Env,
        length: usize,
        data: *const c_void,
        result_data: *mut *mut c_void,
        result: *mut Value,
    ) -> Status;
    pub fn napi_create_error(env: Env, code: Value, msg: Value, result: *mut Value) -> Status;
    pub fn napi_throw_error(env: Env, code: *const c_char, msg: *const c_char) -> Status;
    pub fn napi_create_promise(env: Env, deferred: *mut Deferred, promise: *mut Value) -> Status;
    pub fn napi_resolve_deferred(env: Env, deferred: Deferred, resolution: Value) -> Status;
    pub fn napi_reject_deferred(env: Env, deferred: Deferred, rejection: Value) -> Status;
    pub fn napi_create_reference(env: Env, value: Value, initial_refcount: u32, result: *mut Ref) -> Status;
    pub fn napi_delete_reference(env: Env, reference: Ref) -> Status;
    pub fn napi_create_async_work(
        env: Env,
        async_resource: Value,
        async_resource_name: Value,
        execute: AsyncExecute,
        complete: AsyncComplete,
        data: *mut c_void,
        result: *mut AsyncWork,
    ) -> Status;
    pub fn napi_queue_async_work(env: Env, work: AsyncWork) -> Status;
    pub fn napi_delete_async_work(env: Env, work: AsyncWork) -> Status;
}

/// An error destined for JavaScript: a stable code (`BT_E_*`) and a message.
#[derive(Debug)]
pub struct JsError {
    pub code: &'static str,
    pub message: String,
}

impl JsError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        JsError { code, message: message.into() }
    }
}

fn c_string(s: &str) -> std::ffi::CString {
    // Interior NULs cannot cross into C; they never occur in our own messages.
    std::ffi::CString::new(s.replace('\0', "?")).unwrap_or_default()
}

pub unsafe fn throw(env: Env, err: &JsError) {
    let code = c_string(err.code);
    let msg = c_string(&err.message);
    napi_throw_error(env, code.as_ptr(), msg.as_ptr());
}

pub unsafe fn string(env: Env, s: &str) -> Value {
    let mut v = ptr::null_mut();
    napi_create_string_utf8(env, s.as_ptr() as *const c_char, s.len(), &mut v);
    v
}

pub unsafe fn error_value(env: Env, err: &JsError) -> Value {
    let mut v = ptr::null_mut();
    napi_create_error(env, string(env, err.code), string(env, &err.message), &mut v);
    v
}

pub unsafe fn buffer(env: Env, bytes: &[u8]) -> Value {
    let mut v = ptr::null_mut();
    let mut data = ptr::null_mut();
    napi_create_buffer_copy(env, bytes.len(), bytes.as_ptr() as *const c_void, &mut data, &mut v);
    v
}

/// Reads exactly `N` arguments; a missing argument is an error, extra ones are ignored.
pub unsafe fn args<const N: usize>(env: Env, info: CallbackInfo) -> Result<[Value; N], JsError> {
    let mut argv = [ptr::null_mut(); N];
    let mut argc = N;
    if napi_get_cb_info(env, info, &mut argc, argv.as_mut_ptr(), ptr::null_mut(), ptr::null_mut()) != OK {
        return Err(JsError::new("BT_E_ARG", "cannot read arguments"));
    }
    if argc < N {
        return Err(JsError::new("BT_E_ARG", format!("expected {N} arguments, got {argc}")));
    }
    Ok(argv)
}

/// A view of a Uint8Array's bytes. The caller keeps the array alive while the view is used.
pub unsafe fn bytes_of(env: Env, value: Value, what: &str) -> Result<(*const u8, usize), JsError> {
    let mut is_typed = false;
    napi_is_typedarray(env, value, &mut is_typed);
    if !is_typed {
        return Err(JsError::new("BT_E_ARG", format!("{what} must be a Uint8Array")));
    }
    let (mut kind, mut len, mut data, mut offset) = (0i32, 0usize, ptr::null_mut(), 0usize);
    let mut arraybuffer = ptr::null_mut();
    if napi_get_typedarray_info(env, value, &mut kind, &mut len, &mut data, &mut arraybuffer, &mut offset) != OK
        || kind != UINT8_ARRAY
    {
        return Err(JsError::new("BT_E_ARG", format!("{what} must be a Uint8Array")));
    }
    // An empty array may report a null data pointer; slices want a dangling non-null one.
    let ptr = if data.is_null() { ptr::NonNull::<u8>::dangling().as_ptr() } else { data as *const u8 };
    Ok((ptr, len))
}

/// A non-negative integer argument (JS numbers are exact up to 2^53).
pub unsafe fn integer(env: Env, value: Value, what: &str) -> Result<u64, JsError> {
    let mut d = f64::NAN;
    napi_get_value_double(env, value, &mut d);
    if !(d.is_finite() && d >= 0.0 && d.fract() == 0.0 && d <= 9_007_199_254_740_992.0) {
        return Err(JsError::new("BT_E_ARG", format!("{what} must be a non-negative integer")));
    }
    Ok(d as u64)
}

pub unsafe fn utf8(env: Env, value: Value, what: &str) -> Result<String, JsError> {
    let mut len = 0usize;
    if napi_get_value_string_utf8(env, value, ptr::null_mut(), 0, &mut len) != OK {
        return Err(JsError::new("BT_E_ARG", format!("{what} must be a string")));
    }
    let mut buf = vec![0u8; len + 1];
    napi_get_value_string_utf8(env, value, buf.as_mut_ptr() as *mut c_char, buf.len(), &mut len);
    buf.truncate(len);
    String::from_utf8(buf).map_err(|_| JsError::new("BT_E_ARG", format!("{what} is not valid UTF-8")))
}

pub unsafe fn export(env: Env, exports: Value, name: &str, cb: Callback) {
    let cname = c_string(name);
    let mut f = ptr::null_mut();
    napi_create_function(env, cname.as_ptr(), name.len(), cb, ptr::null_mut(), &mut f);
    napi_set_named_property(env, exports, cname.as_ptr(), f);
}
