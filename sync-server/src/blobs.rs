//! Photos as files beside the database: `blobs/ab/abcdef...`, named by
//! their SHA-256 and written once (renamed into place after an fsync, so a
//! file there is always whole); uploads under way in `blobs/partial/`;
//! thumbnails in `blobs/thumbs/{width}/`, made on first request.
//!
//! Files rather than SQLite rows: a photo is written once and read whole,
//! and in the practice database every one would pass through its WAL and
//! grow its backups tenfold; a file is streamed and cached by the kernel.

use std::fs::{self, File, OpenOptions};
use std::io::{Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use fieldvisit_shared::photo;

use crate::error::{Error, Result};

#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

fn io(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Storage(format!("{what} {}: {e}", path.display()))
}

impl BlobStore {
    pub fn open(dir: &Path) -> Result<Self> {
        for sub in ["partial", "thumbs"] {
            let path = dir.join(sub);
            fs::create_dir_all(&path).map_err(|e| io("cannot create", &path, e))?;
        }
        Ok(BlobStore {
            dir: dir.to_owned(),
        })
    }

    /// Where a stored blob lives; `sha256` has been checked to be hex.
    fn path(&self, sha256: &str) -> PathBuf {
        self.dir.join(&sha256[..2]).join(sha256)
    }

    fn partial(&self, sha256: &str, device_id: &str) -> PathBuf {
        self.dir
            .join("partial")
            .join(format!("{sha256}.{device_id}"))
    }

    pub fn exists(&self, sha256: &str) -> bool {
        self.path(sha256).is_file()
    }

    /// Writes a chunk of an upload at `offset` (the first truncates), and
    /// syncs it: what the server says it has received, it has.
    pub fn write_chunk(
        &self,
        sha256: &str,
        device_id: &str,
        offset: u64,
        bytes: &[u8],
    ) -> Result<()> {
        let path = self.partial(sha256, device_id);
        let mut file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(offset == 0)
            .open(&path)
            .map_err(|e| io("cannot open", &path, e))?;
        file.set_len(offset)
            .and_then(|()| file.seek(SeekFrom::Start(offset)))
            .and_then(|_| file.write_all(bytes))
            .and_then(|()| file.sync_data())
            .map_err(|e| io("cannot write", &path, e))
    }

    pub fn uploaded(&self, sha256: &str, device_id: &str) -> Result<Vec<u8>> {
        let path = self.partial(sha256, device_id);
        fs::read(&path).map_err(|e| io("cannot read", &path, e))
    }

    /// Forgets an upload's bytes (refused, or started again).
    pub fn discard(&self, sha256: &str, device_id: &str) {
        let _ = fs::remove_file(self.partial(sha256, device_id));
    }

    /// Moves a complete, checked upload into place.
    pub fn keep(&self, sha256: &str, device_id: &str) -> Result<()> {
        let to = self.path(sha256);
        let dir = to.parent().unwrap_or(&self.dir).to_owned();
        fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
        let from = self.partial(sha256, device_id);
        fs::rename(&from, &to).map_err(|e| io("cannot move into place", &to, e))?;
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(|e| io("cannot sync", &dir, e))
    }

    pub fn read(&self, sha256: &str) -> Result<Vec<u8>> {
        let path = self.path(sha256);
        fs::read(&path).map_err(|e| io("cannot read", &path, e))
    }

    /// A thumbnail `width` wide (one of [`photo::THUMBNAIL_WIDTHS`]), made
    /// and kept on first request.
    pub fn thumbnail(&self, sha256: &str, width: u32) -> Result<Vec<u8>> {
        let path = self.dir.join("thumbs").join(width.to_string()).join(sha256);
        if let Ok(bytes) = fs::read(&path) {
            return Ok(bytes);
        }
        let small = photo::thumbnail(&self.read(sha256)?, width)
            .map_err(|e| Error::Storage(format!("thumbnail of {sha256}: {e}")))?;
        let dir = path.parent().unwrap_or(&self.dir).to_owned();
        fs::create_dir_all(&dir).map_err(|e| io("cannot create", &dir, e))?;
        // Written aside and renamed: two requests at once both succeed.
        let aside = dir.join(format!(
            "{sha256}.{}",
            crate::secrets::token()[..8].to_owned()
        ));
        fs::write(&aside, &small)
            .and_then(|()| fs::rename(&aside, &path))
            .map_err(|e| io("cannot write", &path, e))?;
        Ok(small)
    }

    /// Forgets uploads left unfinished for a day, and their bytes.
    pub fn sweep(&self, db: &crate::db::Db) -> Result<usize> {
        let before = (chrono::Utc::now() - chrono::Duration::days(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let stale = db.drop_stale_uploads(&before)?;
        for (sha256, device_id) in &stale {
            self.discard(sha256, device_id);
        }
        Ok(stale.len())
    }
}
