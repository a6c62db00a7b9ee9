//! The utility functions of libzmq's API: Z85 (`zmq_z85_encode`,
//! `zmq_z85_decode`), CURVE keys (`zmq_curve_keypair`, `zmq_curve_public`),
//! `zmq_sleep`, the stopwatch, and the atomic counter.

use std::ffi::{c_char, c_int, c_ulong, c_void};
use std::sync::atomic::{AtomicI32, Ordering};
use std::time::{Duration, Instant};

use monocoque_zmtp::mechanism::{CurvePublicKey, CurveSecretKey};
use monocoque_zmtp::z85;

use crate::boundary::{c_str, guarded};

/// Writes `text` and a NUL at `dest`, which has room for `room` bytes.
///
/// # Safety
/// `dest` points to `room` writable bytes.
unsafe fn write_c_string(dest: *mut c_char, room: usize, text: &str) -> Result<(), i32> {
    if dest.is_null() || room < text.len() + 1 {
        return Err(libc::EINVAL);
    }
    // SAFETY: `room` writable bytes at `dest`, at least the text and its NUL.
    unsafe {
        std::ptr::copy_nonoverlapping(text.as_ptr(), dest.cast::<u8>(), text.len());
        *dest.add(text.len()) = 0;
    }
    Ok(())
}

/// `zmq_z85_encode`: `size` bytes (a multiple of 4) from `data` into
/// `dest`, which holds `size * 5 / 4 + 1` characters; returns `dest`, or NULL
/// (EINVAL) for a size that is not a multiple of 4.
#[no_mangle]
pub unsafe extern "C" fn zmq_z85_encode(
    dest: *mut c_char,
    data: *const u8,
    size: usize,
) -> *mut c_char {
    guarded(std::ptr::null_mut(), || {
        if data.is_null() && size != 0 {
            return Err(libc::EINVAL);
        }
        let input = if size == 0 {
            &[][..]
        } else {
            // SAFETY: the caller gives `size` readable bytes at `data`.
            unsafe { std::slice::from_raw_parts(data, size) }
        };
        let text = z85::encode(input).map_err(|_| libc::EINVAL)?;
        // SAFETY: the caller gives room for size * 5 / 4 + 1 characters,
        // which is the text's length and its NUL.
        unsafe { write_c_string(dest, text.len() + 1, &text) }?;
        Ok(dest)
    })
}

/// `zmq_z85_decode`: a Z85 string (its length a multiple of 5) into `dest`,
/// which holds `strlen * 4 / 5` bytes; returns `dest`, or NULL (EINVAL).
#[no_mangle]
pub unsafe extern "C" fn zmq_z85_decode(dest: *mut u8, string: *const c_char) -> *mut u8 {
    guarded(std::ptr::null_mut(), || {
        // SAFETY: the caller passes a C string.
        let text = unsafe { c_str(string) }?;
        let bytes = z85::decode(text).map_err(|_| libc::EINVAL)?;
        if dest.is_null() {
            return Err(libc::EINVAL);
        }
        // SAFETY: the caller gives room for strlen * 4 / 5 bytes, the
        // decoded length.
        unsafe { std::ptr::copy_nonoverlapping(bytes.as_ptr(), dest, bytes.len()) };
        Ok(dest)
    })
}

/// `zmq_curve_keypair`: a new key pair as two 40-character Z85 strings
/// (each buffer holds 41 bytes).
#[no_mangle]
pub unsafe extern "C" fn zmq_curve_keypair(
    z85_public: *mut c_char,
    z85_secret: *mut c_char,
) -> c_int {
    guarded(-1, || {
        let secret = CurveSecretKey::generate();
        // SAFETY: the caller gives two 41-byte buffers.
        unsafe {
            write_c_string(z85_public, 41, &secret.public_key().to_z85())?;
            write_c_string(z85_secret, 41, &secret.to_z85())?;
        }
        Ok(0)
    })
}

/// `zmq_curve_public`: the Z85 public key of a Z85 secret key.
#[no_mangle]
pub unsafe extern "C" fn zmq_curve_public(
    z85_public: *mut c_char,
    z85_secret: *const c_char,
) -> c_int {
    guarded(-1, || {
        // SAFETY: the caller passes a C string.
        let text = unsafe { c_str(z85_secret) }?;
        let secret = CurveSecretKey::parse(text.as_bytes()).map_err(|_| libc::EINVAL)?;
        let public: CurvePublicKey = secret.public_key();
        // SAFETY: the caller gives a 41-byte buffer.
        unsafe { write_c_string(z85_public, 41, &public.to_z85()) }?;
        Ok(0)
    })
}

/// `zmq_sleep`: sleeps `seconds`.
#[no_mangle]
pub extern "C" fn zmq_sleep(seconds: c_int) {
    std::thread::sleep(Duration::from_secs(seconds.max(0) as u64));
}

/// `zmq_stopwatch_start`: a stopwatch to read with
/// `zmq_stopwatch_intermediate` and free with `zmq_stopwatch_stop`.
#[no_mangle]
pub extern "C" fn zmq_stopwatch_start() -> *mut c_void {
    Box::into_raw(Box::new(Instant::now())).cast()
}

/// Microseconds since `watch` started.
///
/// # Safety
/// `watch` came from `zmq_stopwatch_start` and was not stopped.
unsafe fn elapsed_us(watch: *mut c_void) -> c_ulong {
    // SAFETY: per the contract, a live Instant from zmq_stopwatch_start.
    let started = unsafe { &*watch.cast::<Instant>() };
    started.elapsed().as_micros().min(c_ulong::MAX as u128) as c_ulong
}

/// `zmq_stopwatch_intermediate`: microseconds since the start.
#[no_mangle]
pub unsafe extern "C" fn zmq_stopwatch_intermediate(watch: *mut c_void) -> c_ulong {
    if watch.is_null() {
        return 0;
    }
    // SAFETY: the caller passes a running stopwatch.
    unsafe { elapsed_us(watch) }
}

/// `zmq_stopwatch_stop`: microseconds since the start; frees the stopwatch.
#[no_mangle]
pub unsafe extern "C" fn zmq_stopwatch_stop(watch: *mut c_void) -> c_ulong {
    if watch.is_null() {
        return 0;
    }
    // SAFETY: the caller passes a running stopwatch and gives it up.
    let us = unsafe { elapsed_us(watch) };
    // SAFETY: it came from Box::into_raw in zmq_stopwatch_start.
    drop(unsafe { Box::from_raw(watch.cast::<Instant>()) });
    us
}

/// `zmq_atomic_counter_new`: a counter at 0, for any thread.
#[no_mangle]
pub extern "C" fn zmq_atomic_counter_new() -> *mut c_void {
    Box::into_raw(Box::new(AtomicI32::new(0))).cast()
}

/// The counter behind `counter`.
///
/// # Safety
/// `counter` came from `zmq_atomic_counter_new` and was not destroyed.
unsafe fn counter<'a>(counter: *mut c_void) -> &'a AtomicI32 {
    // SAFETY: per the contract, a live AtomicI32, shared between threads.
    unsafe { &*counter.cast::<AtomicI32>() }
}

/// `zmq_atomic_counter_set`.
#[no_mangle]
pub unsafe extern "C" fn zmq_atomic_counter_set(c: *mut c_void, value: c_int) {
    // SAFETY: the caller passes a live counter.
    unsafe { counter(c) }.store(value, Ordering::SeqCst);
}

/// `zmq_atomic_counter_inc`: returns the value before.
#[no_mangle]
pub unsafe extern "C" fn zmq_atomic_counter_inc(c: *mut c_void) -> c_int {
    // SAFETY: the caller passes a live counter.
    unsafe { counter(c) }.fetch_add(1, Ordering::SeqCst)
}

/// `zmq_atomic_counter_dec`: returns 1 if the value after is not zero, 0
/// if it is (libzmq's convention).
#[no_mangle]
pub unsafe extern "C" fn zmq_atomic_counter_dec(c: *mut c_void) -> c_int {
    // SAFETY: the caller passes a live counter.
    (unsafe { counter(c) }.fetch_sub(1, Ordering::SeqCst) - 1 != 0) as c_int
}

/// `zmq_atomic_counter_value`.
#[no_mangle]
pub unsafe extern "C" fn zmq_atomic_counter_value(c: *mut c_void) -> c_int {
    // SAFETY: the caller passes a live counter.
    unsafe { counter(c) }.load(Ordering::SeqCst)
}

/// `zmq_atomic_counter_destroy`: frees the counter and clears the pointer.
#[no_mangle]
pub unsafe extern "C" fn zmq_atomic_counter_destroy(c: *mut *mut c_void) {
    if c.is_null() {
        return;
    }
    // SAFETY: the caller passes the address of a counter pointer.
    let p = unsafe { *c };
    if !p.is_null() {
        // SAFETY: it came from Box::into_raw in zmq_atomic_counter_new.
        drop(unsafe { Box::from_raw(p.cast::<AtomicI32>()) });
        // SAFETY: as above.
        unsafe { *c = std::ptr::null_mut() };
    }
}

/// A thread `zmq_threadstart` started, for `zmq_threadclose` to join.
struct StartedThread(std::thread::JoinHandle<()>);

/// The C function and argument a thread runs.
struct ThreadStart {
    func: unsafe extern "C" fn(*mut c_void),
    arg: *mut c_void,
}

// SAFETY: zmq_threadstart's contract: the argument is handed to the new
// thread, as with pthread_create.
unsafe impl Send for ThreadStart {}

/// `zmq_threadstart`: runs `func(arg)` on a new thread; NULL if it cannot
/// start.
#[no_mangle]
pub unsafe extern "C" fn zmq_threadstart(
    func: Option<unsafe extern "C" fn(*mut c_void)>,
    arg: *mut c_void,
) -> *mut c_void {
    let Some(func) = func else {
        crate::errno::set_errno(libc::EINVAL);
        return std::ptr::null_mut();
    };
    let start = ThreadStart { func, arg };
    let spawned = std::thread::Builder::new().spawn(move || {
        let start = start;
        // SAFETY: the caller's function with the caller's argument, as
        // pthread_create would run it.
        unsafe { (start.func)(start.arg) }
    });
    match spawned {
        Ok(handle) => Box::into_raw(Box::new(StartedThread(handle))).cast(),
        Err(_) => {
            crate::errno::set_errno(libc::EAGAIN);
            std::ptr::null_mut()
        }
    }
}

/// `zmq_threadclose`: waits for the thread to end and frees it.
#[no_mangle]
pub unsafe extern "C" fn zmq_threadclose(thread: *mut c_void) {
    if thread.is_null() {
        return;
    }
    // SAFETY: it came from Box::into_raw in zmq_threadstart; the caller
    // gives it up.
    let started = unsafe { Box::from_raw(thread.cast::<StartedThread>()) };
    let _ = started.0.join();
}
