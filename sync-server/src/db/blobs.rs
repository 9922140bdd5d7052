//! Photos: what is stored, uploads under way, and which records refer to
//! which blobs (the access rule for a blob follows the records).

use rusqlite::{OptionalExtension, params};

use super::cases::VISIBLE_CASES;
use super::{Audit, Db, audit_tx, now};
use crate::error::Result;

/// A stored blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BlobRow {
    pub sha256: String,
    pub size: u64,
    pub width: u32,
    pub height: u32,
}

/// Sizes are far below `i64::MAX` (a blob is at most a few MB).
fn sql_int(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Db {
    pub fn blob(&self, sha256: &str) -> Result<Option<BlobRow>> {
        self.reading(|c| {
            Ok(c.query_row(
                "SELECT sha256, size, width, height FROM blobs WHERE sha256 = ?1",
                [sha256],
                |r| {
                    Ok(BlobRow {
                        sha256: r.get(0)?,
                        size: r.get::<_, i64>(1)?.unsigned_abs(),
                        width: r.get(2)?,
                        height: r.get(3)?,
                    })
                },
            )
            .optional()?)
        })
    }

    /// Whether a record that `person_id` may see refers to the blob.
    pub fn blob_referenced_for(&self, person_id: &str, sha256: &str) -> Result<bool> {
        self.reading(|c| {
            Ok(c.query_row(
                &format!(
                    "SELECT EXISTS(SELECT 1 FROM document_blobs b
                        JOIN documents d ON d.document_id = b.document_id
                        WHERE b.sha256 = ?2 AND d.case_id IN ({VISIBLE_CASES}))"
                ),
                params![person_id, sha256],
                |r| r.get(0),
            )?)
        })
    }

    /// Whether a record of `case_id` may newly refer to the blob from
    /// `device_id`: the server does not hold it yet (the device sends its
    /// words first and its photos after), or this device sent it, or a
    /// record of the same case already refers to it. Never a photo of
    /// another case: a reference would make the server serve it.
    pub fn photo_may_join(&self, device_id: &str, case_id: &str, sha256: &str) -> Result<bool> {
        self.reading(|c| {
            Ok(c.query_row(
                "SELECT NOT EXISTS(SELECT 1 FROM blobs WHERE sha256 = ?1)
                     OR EXISTS(SELECT 1 FROM blobs WHERE sha256 = ?1 AND uploaded_by_device = ?2)
                     OR EXISTS(SELECT 1 FROM document_blobs b
                               JOIN documents d ON d.document_id = b.document_id
                               WHERE b.sha256 = ?1 AND d.case_id = ?3)",
                params![sha256, device_id, case_id],
                |r| r.get(0),
            )?)
        })
    }

    /// Whether this device uploaded the blob (it may read what it sent
    /// before the record that refers to it is indexed).
    pub fn blob_uploaded_by(&self, device_id: &str, sha256: &str) -> Result<bool> {
        self.reading(|c| {
            Ok(c.query_row(
                "SELECT EXISTS(SELECT 1 FROM blobs WHERE sha256 = ?1 AND uploaded_by_device = ?2)",
                params![sha256, device_id],
                |r| r.get(0),
            )?)
        })
    }

    /// Bytes received so far of this device's upload, and the length it
    /// declared; `None` when none is under way.
    pub fn upload(&self, sha256: &str, device_id: &str) -> Result<Option<(u64, u64)>> {
        self.reading(|c| {
            Ok(c.query_row(
                "SELECT received, size FROM blob_uploads WHERE sha256 = ?1 AND device_id = ?2",
                params![sha256, device_id],
                |r| {
                    let (received, size): (i64, i64) = (r.get(0)?, r.get(1)?);
                    Ok((received.unsigned_abs(), size.unsigned_abs()))
                },
            )
            .optional()?)
        })
    }

    pub fn set_upload(
        &self,
        sha256: &str,
        device_id: &str,
        size: u64,
        received: u64,
    ) -> Result<()> {
        self.with(|c| {
            c.execute(
                "INSERT INTO blob_uploads (sha256, device_id, size, received, started_at) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (sha256, device_id) DO UPDATE SET size = excluded.size, received = excluded.received",
                params![sha256, device_id, sql_int(size), sql_int(received), now()],
            )?;
            Ok(())
        })
    }

    pub fn drop_upload(&self, sha256: &str, device_id: &str) -> Result<()> {
        self.with(|c| {
            c.execute(
                "DELETE FROM blob_uploads WHERE sha256 = ?1 AND device_id = ?2",
                params![sha256, device_id],
            )?;
            Ok(())
        })
    }

    /// Records a blob stored (its file is in place), ends the upload, and
    /// audits who uploaded it, in one transaction.
    pub fn blob_stored(&self, blob: &BlobRow, device_id: &str, person_id: &str) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT OR IGNORE INTO blobs (sha256, size, width, height, uploaded_by_device, uploaded_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![blob.sha256, sql_int(blob.size), blob.width, blob.height, device_id, now()],
            )?;
            tx.execute(
                "DELETE FROM blob_uploads WHERE sha256 = ?1 AND device_id = ?2",
                params![blob.sha256, device_id],
            )?;
            let detail = format!(
                "{} ({} bytes, {} x {})",
                blob.sha256, blob.size, blob.width, blob.height
            );
            audit_tx(
                &tx,
                &Audit {
                    device_id: Some(device_id),
                    person_id: Some(person_id),
                    action: "blob_stored",
                    detail: &detail,
                    ..Default::default()
                },
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// How many uploads this device has under way, not counting `sha256`.
    pub fn uploads_under_way(&self, device_id: &str, sha256: &str) -> Result<u64> {
        self.reading(|c| {
            let n: i64 = c.query_row(
                "SELECT count(*) FROM blob_uploads WHERE device_id = ?1 AND sha256 != ?2",
                params![device_id, sha256],
                |r| r.get(0),
            )?;
            Ok(n.unsigned_abs())
        })
    }

    /// Uploads started before `before` (RFC 3339) and left: forgotten, with
    /// their (sha256, device) so their bytes can go too.
    pub fn drop_stale_uploads(&self, before: &str) -> Result<Vec<(String, String)>> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            let stale = {
                let mut stmt = tx.prepare_cached(
                    "SELECT sha256, device_id FROM blob_uploads WHERE started_at < ?1",
                )?;
                let rows = stmt.query_map([before], |r| Ok((r.get(0)?, r.get(1)?)))?;
                rows.collect::<rusqlite::Result<Vec<(String, String)>>>()?
            };
            tx.execute("DELETE FROM blob_uploads WHERE started_at < ?1", [before])?;
            tx.commit()?;
            Ok(stale)
        })
    }
}
