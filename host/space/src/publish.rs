//! Publishing a space's changes: each change writes generation N+1 of
//! its manifest completely, then removes what it superseded.
//!
//! The generation a writer found when it opened the space is durable (the
//! session that wrote it closed its store, the backend's durability
//! barrier). It is kept, and everything it refers to, until this store's
//! close has made the new generations durable too: after a power loss the
//! space is at the newest durable generation, never without one. The next
//! writer's open removes it.

use crate::error::SpaceResult;
use crate::generation::next_generation;
use crate::handle::Space;
use crate::manifest::{encode, generations_of, ManifestName};
use crate::sync::locked;
use crate::temp::write_temp;
use crate::time::now_unix;
use crate::umask::with_private_umask;

impl Space {
    /// Publishes the in-memory manifest unless a publication since change
    /// `seq` already did (concurrent changes share one publication).
    pub(crate) fn commit(&self, seq: u64) -> SpaceResult<()> {
        let mut p = locked(&self.publish);
        if p.seq >= seq {
            return Ok(());
        }
        let (bytes, name, covered) = {
            let mut st = locked(&self.state);
            // An operation in flight when the handle was closed must not
            // publish after the close (nor resurrect a removed space); the
            // caller undoes its change.
            if st.closed {
                return Err(self.closed());
            }
            st.manifest.generation = p.next_generation;
            st.manifest.modified = now_unix();
            let (bytes, name) = encode(&st.manifest, &self.store.key)?;
            (bytes, name, st.seq)
        };
        let following = next_generation(&self.name, p.next_generation)?;
        let temp = write_temp(self.store.temp_dir(), &bytes)?;
        with_private_umask(|| self.store.backend.put(temp.path(), &name.object()))?;
        p.seq = covered;
        p.next_generation = following;
        if let Some(old) = p.current.replace(name) {
            // The generation this session started from stays until the
            // store's close (the backend's durability barrier) has made
            // this one durable; ones written since are not needed.
            if !self.store.is_pinned(&old) {
                p.stale.push(old);
            }
        }
        drop(p);
        self.remove_stale();
        Ok(())
    }

    /// Deletes superseded manifest generations (kept for later on errors).
    pub(crate) fn remove_stale(&self) {
        let mut p = locked(&self.publish);
        if p.stale.is_empty() {
            return;
        }
        let names: Vec<String> = p.stale.iter().map(ManifestName::object).collect();
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        match self.store.backend.delete_list(&refs) {
            Ok(()) => p.stale.clear(),
            Err(e) => log::warn!("space {:?}: old manifests not removed yet: {e}", self.name),
        }
    }

    /// Deletes every manifest of the space, oldest first, so an
    /// interruption leaves the space whole at its newest generation.
    pub(crate) fn remove_all(&self) -> SpaceResult<()> {
        let mut p = locked(&self.publish);
        let listing = self.store.backend.list()?;
        let mut all = generations_of(&self.name, &listing);
        all.reverse();
        for m in &all {
            self.store.unpin(m);
            match self.store.backend.delete(&m.object()) {
                Err(e) if e.code() == stowage_backend_api::ErrorCode::NOT_FOUND => {}
                other => other?,
            }
        }
        p.current = None;
        p.stale.clear();
        log::info!(
            "removed backup space {:?} from {}",
            self.name,
            self.store.url
        );
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_generation_counter_does_not_overflow() {
        assert_eq!(next_generation("s", 41).unwrap(), 42);
        let err = next_generation("s", u64::MAX).unwrap_err();
        assert!(err.to_string().contains("overflow"), "{err}");
    }
}
