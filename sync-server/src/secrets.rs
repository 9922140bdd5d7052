//! Tokens, tickets, enrolment codes and ids. Only hashes of secrets are
//! stored; a secret is shown once, to the one who needs it.

use fieldvisit_shared::provenance;
use rand::Rng;
use sha2::{Digest, Sha256};

pub fn hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// 256 random bits in hex: device tokens and sync tickets.
pub fn token() -> String {
    let bytes: [u8; 32] = rand::rng().random();
    hex::encode(bytes)
}

/// An id with a readable prefix, e.g. `case-3f9a1c2e`.
pub fn id(prefix: &str) -> String {
    let bytes: [u8; 5] = rand::rng().random();
    format!("{prefix}-{}", hex::encode(bytes))
}

/// Letters and digits that cannot be mistaken for one another when read
/// aloud or copied from a screen (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";

/// A one-time enrolment code, `XXXXX-XXXXX` (about 49 bits; single use and
/// short-lived, which is what makes it enough).
pub fn enrolment_code() -> String {
    let mut rng = rand::rng();
    let mut code = String::with_capacity(11);
    for i in 0..10 {
        if i == 5 {
            code.push('-');
        }
        code.push(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())] as char);
    }
    code
}

/// People type codes by hand: ignore case, spaces and dashes.
pub fn normalise_code(code: &str) -> String {
    let clean: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_uppercase())
        .collect();
    if clean.len() == 10 {
        format!("{}-{}", &clean[..5], &clean[5..])
    } else {
        clean
    }
}

/// Whether `document_id` is the id that the device whose token hashes to
/// `token_hash` makes from `nonce` (see `fieldvisit_shared::provenance`:
/// the stored hash is that device's creator key).
pub fn created_by(
    token_hash: &str,
    nonce: &[u8; provenance::NONCE_LEN],
    document_id: &str,
) -> bool {
    let mut key = [0u8; 32];
    if hex::decode_to_slice(token_hash, &mut key).is_err() {
        return false;
    }
    let made = provenance::document_id(&key, nonce);
    samod::DocumentId::try_from(made.to_vec()).is_ok_and(|id| id.to_string() == document_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_id_proves_only_its_creator() {
        let (mine, theirs) = (token(), token());
        let nonce = [3u8; provenance::NONCE_LEN];
        let id = provenance::document_id(&provenance::creator_key(&mine), &nonce);
        let id = samod::DocumentId::try_from(id.to_vec())
            .unwrap()
            .to_string();
        assert!(created_by(&hash(&mine), &nonce, &id));
        assert!(!created_by(&hash(&theirs), &nonce, &id));
        assert!(!created_by(
            &hash(&mine),
            &[4u8; provenance::NONCE_LEN],
            &id
        ));
        assert!(!created_by("not hex", &nonce, &id));
    }

    #[test]
    fn codes_are_forgiving_to_type() {
        let code = enrolment_code();
        assert_eq!(code.len(), 11);
        assert_eq!(normalise_code(&code.to_lowercase().replace('-', " ")), code);
    }

    #[test]
    fn tokens_differ_and_hash_stably() {
        assert_ne!(token(), token());
        assert_eq!(hash("a"), hash("a"));
        assert_eq!(hash("a").len(), 64);
    }
}
