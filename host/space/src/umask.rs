//! A private umask while the backend writes: a space store holds raw file
//! contents, so what its backend creates (objects 0600, directories 0700
//! on a local store) must not be readable by others, whatever umask the
//! process runs with.
//!
//! The umask is per process. While any thread of this crate is inside
//! [`with_private_umask`] it is `077` for the whole process; the caller's
//! umask is restored when the last one leaves. The only effect on other
//! threads is that files they create meanwhile get fewer permissions,
//! never more.

use rustix::fs::Mode;
use rustix::process::umask;

use crate::sync::locked;

/// (threads inside, the umask to restore)
static PRIVATE: std::sync::Mutex<(usize, Option<Mode>)> = std::sync::Mutex::new((0, None));

/// Runs `f` with the process umask at `077`.
pub(crate) fn with_private_umask<T>(f: impl FnOnce() -> T) -> T {
    {
        let mut state = locked(&PRIVATE);
        if state.0 == 0 {
            state.1 = Some(umask(Mode::from_raw_mode(0o077)));
        }
        state.0 += 1;
    }
    struct Leave;
    impl Drop for Leave {
        fn drop(&mut self) {
            let mut state = locked(&PRIVATE);
            state.0 -= 1;
            if state.0 == 0 {
                if let Some(old) = state.1.take() {
                    umask(old);
                }
            }
        }
    }
    let _leave = Leave;
    f()
}
