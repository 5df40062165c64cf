//! The one runtime of this VM: started by `start/1`, stopped (everything flushed) when the VM
//! exits normally.
//!
//! The library keeps itself loaded for the VM's lifetime (`RTLD_NODELETE`): its drain threads
//! and its exit hook run code from it, so it must never be unmapped, even if the NIF module is
//! purged. The exit hook is a C `atexit` handler: ERTS leaves through `exit()` on `halt/0,1`,
//! `init:stop/0` and SIGTERM (which calls `init:stop/0`), so normal stops flush. `halt/2` with
//! `{flush, false}`, `kill -9` and crashes skip it: then the last durable commit is what
//! remains.

use std::sync::OnceLock;
use std::time::Duration;

use runtime_core::{Pipeline, RuntimeError};

/// How long the exit hook waits for the drain.
pub const EXIT_TIMEOUT: Duration = Duration::from_secs(30);

static RUNTIME: OnceLock<Pipeline> = OnceLock::new();

/// The running runtime, if started.
pub fn get() -> Option<&'static Pipeline> {
    RUNTIME.get()
}

/// Installs a started pipeline; `false` if one was already running (the new one is stopped).
pub fn install(pipeline: Pipeline) -> bool {
    match RUNTIME.set(pipeline) {
        Ok(()) => true,
        Err(extra) => {
            let _ = extra.stop(EXIT_TIMEOUT);
            false
        }
    }
}

/// Stops the runtime (flushing everything) if it runs.
pub fn stop(timeout: Duration) -> Result<(), RuntimeError> {
    match RUNTIME.get() {
        Some(p) => p.stop(timeout),
        None => Ok(()),
    }
}

extern "C" fn at_exit() {
    let _ = stop(EXIT_TIMEOUT);
}

/// Pins the library in memory and installs the exit hook (once, from `load`).
pub fn install_exit_hook() {
    static DONE: OnceLock<()> = OnceLock::new();
    DONE.get_or_init(|| {
        pin_library();
        // SAFETY: registering a plain extern "C" function that lives as long as the process
        // (the library is pinned above).
        unsafe {
            libc::atexit(at_exit);
        }
    });
}

/// Opens this library again with `RTLD_NODELETE`, so that `dlclose` never unmaps it.
fn pin_library() {
    // SAFETY: dladdr reads the address of a function of this library; dlopen with NOLOAD only
    // bumps the reference count of an already loaded object.
    unsafe {
        let mut info = std::mem::MaybeUninit::<libc::Dl_info>::zeroed();
        if libc::dladdr(at_exit as *const libc::c_void, info.as_mut_ptr()) == 0 {
            return;
        }
        let info = info.assume_init();
        if info.dli_fname.is_null() {
            return;
        }
        libc::dlopen(
            info.dli_fname,
            libc::RTLD_NOW | libc::RTLD_NOLOAD | libc::RTLD_NODELETE,
        );
    }
}
