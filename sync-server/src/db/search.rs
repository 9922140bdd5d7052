//! The search index: every passage of every record, and a full-text query
//! that only ever looks inside the cases the searcher may see.

use fieldvisit_shared::api::ErrorCode;
use fieldvisit_shared::api::SearchHit;
use fieldvisit_shared::records::Passage;
use rusqlite::{OptionalExtension, params};

use super::cases::VISIBLE_CASES;
use super::{Db, now};
use crate::error::{Error, Result};

/// Marks around the matched words in a hit's snippet: control characters
/// no record can hold, so the app highlights them without parsing HTML.
pub const MATCH_START: char = '\u{2}';
pub const MATCH_END: char = '\u{3}';

/// The shortest start of a word searched for as such.
const MIN_PREFIX: usize = 3;

/// The most words a query may have: each is one more term to match.
const MAX_TERMS: usize = 12;

impl Db {
    /// Replaces what the index holds of one document by `passages` and the
    /// blobs it refers to, and notes the heads they were read at.
    pub fn index_document(
        &self,
        document_id: &str,
        case_id: &str,
        heads: &str,
        passages: &[Passage],
        blobs: &[String],
    ) -> Result<()> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
            tx.execute(
                "DELETE FROM passages WHERE rowid IN (SELECT id FROM passage_rows WHERE document_id = ?1)",
                [document_id],
            )?;
            tx.execute("DELETE FROM passage_rows WHERE document_id = ?1", [document_id])?;
            {
                let mut row = tx.prepare_cached(
                    "INSERT INTO passage_rows (document_id, case_id, passage, label) VALUES (?1, ?2, ?3, ?4)",
                )?;
                let mut words = tx.prepare_cached("INSERT INTO passages (rowid, text) VALUES (?1, ?2)")?;
                for p in passages.iter().filter(|p| !p.text.trim().is_empty()) {
                    row.execute(params![document_id, case_id, p.key, p.label])?;
                    // The snippet's marks must be the server's own.
                    let text = p.text.replace([MATCH_START, MATCH_END], " ");
                    words.execute(params![tx.last_insert_rowid(), text])?;
                }
            }
            tx.execute("DELETE FROM document_blobs WHERE document_id = ?1", [document_id])?;
            {
                let mut refers = tx.prepare_cached(
                    "INSERT OR IGNORE INTO document_blobs (document_id, sha256) VALUES (?1, ?2)",
                )?;
                for sha in blobs {
                    refers.execute(params![document_id, sha])?;
                }
            }
            tx.execute(
                "INSERT INTO indexed_documents (document_id, heads, indexed_at) VALUES (?1, ?2, ?3)
                 ON CONFLICT (document_id) DO UPDATE SET heads = excluded.heads, indexed_at = excluded.indexed_at",
                params![document_id, heads, now()],
            )?;
            tx.commit()?;
            Ok(())
        })
    }

    /// The heads the index last read a document at.
    pub fn indexed_heads(&self, document_id: &str) -> Result<Option<String>> {
        self.with(|c| {
            Ok(c.query_row(
                "SELECT heads FROM indexed_documents WHERE document_id = ?1",
                [document_id],
                |r| r.get(0),
            )
            .optional()?)
        })
    }

    /// Registered documents the index is behind on, with kind and case:
    /// never read (a case the admin command line made while the server
    /// ran), or with a change received after it was last read (the server
    /// stopped in between).
    pub fn documents_to_index(&self) -> Result<Vec<(String, String, String)>> {
        self.reading(|c| {
            let mut stmt = c.prepare_cached(
                "SELECT d.document_id, d.kind, d.case_id FROM documents d
                 LEFT JOIN indexed_documents i ON i.document_id = d.document_id
                 WHERE i.document_id IS NULL
                    OR EXISTS (SELECT 1 FROM change_receipts r
                               WHERE r.document_id = d.document_id AND r.received_at > i.indexed_at)
                 ORDER BY d.rowid LIMIT 1000",
            )?;
            let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }

    /// Passages matching every word of `query`, from the cases `person_id`
    /// may see and no others, newest record first. Not FTS5's `rank`: its
    /// bm25 weighs each word by how often it appears in every case of the
    /// practice, so the order of one's own hits would tell how common a
    /// word is in cases one may not see. Every hit holds every word, so
    /// little relevance is lost.
    pub fn search(&self, person_id: &str, query: &str, limit: u32) -> Result<Vec<SearchHit>> {
        let Some(fts) = fts_query(query) else {
            return Err(Error::BadRequest(
                ErrorCode::BadQuery,
                "type at least one word to search for".into(),
            ));
        };
        self.reading(|c| {
            let mut stmt = c.prepare_cached(&format!(
                "SELECT r.case_id, c.reference, c.person_name, r.document_id, d.kind, r.passage, r.label,
                        snippet(passages, 0, char(2), char(3), '…', 16)
                 FROM passages
                 JOIN passage_rows r ON r.id = passages.rowid
                 JOIN cases c ON c.id = r.case_id
                 JOIN documents d ON d.document_id = r.document_id
                 WHERE passages MATCH ?2 AND r.case_id IN ({VISIBLE_CASES})
                 ORDER BY d.registered_at DESC, r.document_id, r.id LIMIT ?3"
            ))?;
            let rows = stmt.query_map(params![person_id, fts, limit], |r| {
                Ok(SearchHit {
                    case_id: r.get(0)?,
                    case_reference: r.get(1)?,
                    person_name: r.get(2)?,
                    document_id: r.get(3)?,
                    kind: r.get(4)?,
                    passage: r.get(5)?,
                    label: r.get(6)?,
                    snippet: r.get(7)?,
                })
            })?;
            Ok(rows.collect::<rusqlite::Result<_>>()?)
        })
    }
}

/// A person's words as an FTS5 query that can only mean "all of these
/// words" (the last may be the start of a word): FTS5's own syntax (NEAR,
/// column filters, quotes) is never passed through. `None` when no word is
/// left.
pub fn fts_query(query: &str) -> Option<String> {
    let words: Vec<&str> = query
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .take(MAX_TERMS)
        .collect();
    let (last, rest) = words.split_last()?;
    let mut terms: Vec<String> = rest.iter().map(|w| format!("\"{w}\"")).collect();
    // A word's start only from three letters: "a" * would rank every
    // passage in the practice.
    if last.chars().count() >= MIN_PREFIX {
        terms.push(format!("\"{last}\" *"));
    } else {
        terms.push(format!("\"{last}\""));
    }
    Some(terms.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_are_words_and_nothing_else() {
        assert_eq!(fts_query("marmalade").as_deref(), Some("\"marmalade\" *"));
        assert_eq!(
            fts_query("  Tea, \"NEAR(x y)\" OR case_id:1 ").as_deref(),
            Some("\"Tea\" \"NEAR\" \"x\" \"y\" \"OR\" \"case\" \"id\" \"1\"")
        );
        assert_eq!(fts_query(" *:() "), None);
        assert_eq!(
            fts_query("an").as_deref(),
            Some("\"an\""),
            "too short to be a start"
        );
        assert_eq!(
            fts_query(&"w ".repeat(100)).map(|q| q.matches('"').count()),
            Some(24)
        );
    }
}
