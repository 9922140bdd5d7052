//! When the server first received each change, and from which device.

use std::collections::HashMap;

use rusqlite::params;

use super::Db;
use crate::error::Result;

/// Changes of one document received in one message.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub document_id: String,
    pub change_hashes: Vec<String>,
    pub device_id: Option<String>,
    pub received_at: String,
}

impl Db {
    /// Records receipts in one transaction; a change already received keeps
    /// its first time.
    pub fn record_receipts(&self, receipts: &[Receipt]) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            {
                let mut insert = tx.prepare_cached(
                    "INSERT OR IGNORE INTO change_receipts (document_id, change_hash, received_at, device_id)
                     VALUES (?1, ?2, ?3, ?4)",
                )?;
                for r in receipts {
                    for hash in &r.change_hashes {
                        insert.execute(params![r.document_id, hash, r.received_at, r.device_id])?;
                    }
                }
            }
            tx.commit()?;
            Ok(())
        })
    }

    /// When the server first received each change of a document, by hash.
    pub fn receipts_of(&self, document_id: &str) -> Result<HashMap<String, String>> {
        self.reading(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT change_hash, received_at FROM change_receipts WHERE document_id = ?1",
            )?;
            let rows = stmt.query_map([document_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }
}
