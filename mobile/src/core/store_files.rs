//! The store's files: where they are, how a store is made ready, and how it
//! is deleted (a wipe, a new enrolment over an old store). One place, so
//! what a wipe deletes is what an enrolment creates.

use std::path::{Path, PathBuf};

use super::{CoreError, platform};

/// The device's own database (enrolment, settings, drafts) and samod's
/// document store.
pub(super) fn paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("device.sqlite"), dir.join("documents.sqlite"))
}

/// Natively the store is a folder of SQLite files; in the browser the files
/// live in IndexedDB through SQLite's VFS, which must be registered first.
pub(super) async fn prepare_store(dir: &Path) -> Result<(), CoreError> {
    #[cfg(not(target_arch = "wasm32"))]
    std::fs::create_dir_all(dir)
        .map_err(|e| CoreError::Files(format!("cannot create {}: {e}", dir.display())))?;
    #[cfg(target_arch = "wasm32")]
    {
        let _ = dir;
        super::browser::install_store().await?;
    }
    Ok(())
}

/// The keys first (from that moment nothing left behind, a wipe cut short
/// or a copy of the files taken later, opens): the platform's, then the
/// PIN-wrapped one; then the drafts and the store. Needs no PIN: five wrong
/// PINs end here too, where the server cannot be told (the token is sealed
/// with the rest).
pub(super) async fn delete_everything(
    dir: &Path,
    local: &super::local::Local,
) -> Result<(), CoreError> {
    if let Err(e) = super::keystore::forget().await {
        tracing::error!(error = %e, "the platform's key could not be deleted; the rest is anyway");
    }
    if let Err(e) = local.forget_key() {
        tracing::error!(error = %e, "the key could not be forgotten; the store is deleted anyway");
    }
    platform::store_durable().await;
    platform::journal::clear();
    delete_store(dir).await
}

/// Natively the store's files (and SQLite's journals beside them); in the
/// browser every file the IndexedDB VFS holds.
pub(super) async fn delete_store(dir: &Path) -> Result<(), CoreError> {
    #[cfg(not(target_arch = "wasm32"))]
    {
        // The records first, the enrolment last: a wipe cut short leaves
        // an enrolled store to wipe again, never records without one (which
        // `open` would take for a store never enrolled). SQLite's side
        // files go before the file they belong to.
        let (local, documents) = paths(dir);
        for db in [documents, local] {
            for suffix in ["-wal", "-shm", "-journal", ""] {
                let mut name = db.clone().into_os_string();
                name.push(suffix);
                match std::fs::remove_file(&name) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                    Err(e) => {
                        return Err(CoreError::Files(format!(
                            "could not delete {}: {e}",
                            Path::new(&name).display()
                        )));
                    }
                }
            }
        }
        Ok(())
    }
    #[cfg(target_arch = "wasm32")]
    {
        let _ = (dir, paths);
        super::browser::delete_store().await
    }
}
