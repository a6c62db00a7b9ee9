//! Buffers registered with the ring (`register_buffers`), for WRITE_FIXED sends:
//! a small message is copied into one and written without the kernel importing
//! user memory for it.
//!
//! Registered memory is locked memory: the pool is sized to fit in half of
//! RLIMIT_MEMLOCK. If the limit is too small or registration fails (ENOMEM,
//! EPERM), the reactor logs one line and sends from unregistered memory.

use std::alloc::{alloc, dealloc, Layout};
use std::cell::RefCell;
use std::io;
use std::rc::Rc;

use io_uring::IoUring;

/// The registered memory and its free list (reactor-thread only).
pub(crate) struct FixedPool {
    base: *mut u8,
    layout: Layout,
    size: usize,
    count: u16,
    free: RefCell<Vec<u16>>,
}

impl std::fmt::Debug for FixedPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FixedPool")
            .field("size", &self.size)
            .field("count", &self.count)
            .finish()
    }
}

/// The soft RLIMIT_MEMLOCK, or `None` when unlimited.
fn memlock_limit() -> Option<u64> {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes into the struct we pass.
    if unsafe { libc::getrlimit(libc::RLIMIT_MEMLOCK, &mut lim) } != 0
        || lim.rlim_cur == libc::RLIM_INFINITY
    {
        return None;
    }
    Some(lim.rlim_cur)
}

impl FixedPool {
    /// Registers up to `count` buffers of `size` bytes, fewer if RLIMIT_MEMLOCK
    /// says so; `Err` with the reason when none can be registered.
    pub(crate) fn register(
        ring: &IoUring,
        count: u16,
        size: usize,
    ) -> Result<Rc<FixedPool>, String> {
        let mut count = count as usize;
        if let Some(limit) = memlock_limit() {
            count = count.min((limit / 2) as usize / size);
        }
        if count == 0 {
            return Err(format!(
                "RLIMIT_MEMLOCK ({} bytes) leaves no room for a {size}-byte buffer",
                memlock_limit().unwrap_or(0)
            ));
        }
        let layout = Layout::from_size_align(count * size, 4096).map_err(|e| e.to_string())?;
        // SAFETY: non-zero size.
        let base = unsafe { alloc(layout) };
        if base.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        let iovecs: Vec<libc::iovec> = (0..count)
            .map(|i| libc::iovec {
                // SAFETY: i < count, inside the allocation.
                iov_base: unsafe { base.add(i * size) }.cast(),
                iov_len: size,
            })
            .collect();
        // SAFETY: the iovecs describe memory owned by the pool, which outlives the
        // registration (the pool is dropped after the ring; see UringDriver's fields).
        if let Err(e) = unsafe { ring.submitter().register_buffers(&iovecs) } {
            // SAFETY: allocated just above, never shared.
            unsafe { dealloc(base, layout) };
            return Err(describe(e));
        }
        Ok(Rc::new(FixedPool {
            base,
            layout,
            size,
            count: count as u16,
            free: RefCell::new((0..count as u16).rev().collect()),
        }))
    }

    pub(crate) fn size(&self) -> usize {
        self.size
    }

    pub(crate) fn count(&self) -> u16 {
        self.count
    }

    /// Copies `data` (at most `size` bytes) into a free buffer.
    pub(crate) fn copy_in(self: &Rc<Self>, data: &[u8]) -> Option<FixedBuf> {
        assert!(data.len() <= self.size);
        let id = self.free.borrow_mut().pop()?;
        // SAFETY: `id` was free, so nothing else reads or writes its memory; the
        // copy stays within the buffer.
        unsafe {
            std::ptr::copy_nonoverlapping(
                data.as_ptr(),
                self.base.add(id as usize * self.size),
                data.len(),
            )
        };
        Some(FixedBuf {
            pool: self.clone(),
            id,
            len: data.len(),
        })
    }
}

fn describe(e: io::Error) -> String {
    match e.raw_os_error() {
        Some(libc::ENOMEM) => {
            format!("{e} (raise RLIMIT_MEMLOCK, e.g. LimitMEMLOCK= in the systemd unit)")
        }
        Some(libc::EPERM) => format!("{e} (not permitted here)"),
        _ => e.to_string(),
    }
}

impl Drop for FixedPool {
    fn drop(&mut self) {
        // SAFETY: allocated in `register` with this layout; every FixedBuf (which the
        // kernel may be reading) holds an Rc, so none is alive.
        unsafe { dealloc(self.base, self.layout) };
    }
}

/// A registered buffer holding one message, owned by a WRITE_FIXED operation.
pub(crate) struct FixedBuf {
    pool: Rc<FixedPool>,
    id: u16,
    len: usize,
}

impl FixedBuf {
    pub(crate) fn ptr(&self) -> *const u8 {
        // SAFETY: id < count.
        unsafe { self.pool.base.add(self.id as usize * self.pool.size) }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn index(&self) -> u16 {
        self.id
    }
}

impl Drop for FixedBuf {
    fn drop(&mut self) {
        self.pool.free.borrow_mut().push(self.id);
    }
}
