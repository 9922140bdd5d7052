//! Document ids that prove which device created them.
//!
//! A new record's id is seen by colleagues (a visit is listed in its case
//! document) before the server may have heard of it, and whoever registers
//! an id first decides the case it joins. So the creating device derives the
//! id from a secret only it and the server hold, and registers it with the
//! nonce: the server recomputes the id for the device that asks and refuses
//! any other device, without learning from the refusal whether the id exists.
//!
//! The secret is the SHA-256 of the device's bearer token: the device has
//! the token and the server stores exactly that hash to authenticate it, so
//! nothing new is issued, stored or shown; a colleague has neither.
//!
//! Changes are attributed the same way: each device writes with one
//! automerge actor id, derived from its device id when it enrols, and the
//! server refuses changes a device sends under any other actor. So every
//! change in a document names the device, and so the person, that wrote it.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// Bytes of randomness a device draws for each new document.
pub const NONCE_LEN: usize = 16;

/// Bytes of an automerge document id.
pub const DOCUMENT_ID_LEN: usize = 16;

/// Separates these ids from any other use of the same key.
const DOMAIN: &[u8] = b"fieldvisit document id v1";

/// The creator key of the device whose bearer token this is.
pub fn creator_key(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// The document id a device with `creator_key` makes from `nonce`.
pub fn document_id(creator_key: &[u8; 32], nonce: &[u8; NONCE_LEN]) -> [u8; DOCUMENT_ID_LEN] {
    // HMAC takes keys of any length; 32 bytes cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(creator_key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts any key length"));
    mac.update(DOMAIN);
    mac.update(nonce);
    let full = mac.finalize().into_bytes();
    let mut id = [0u8; DOCUMENT_ID_LEN];
    id.copy_from_slice(&full[..DOCUMENT_ID_LEN]);
    id
}

/// The automerge actor a device writes with, bound to it at enrolment.
pub fn device_actor(device_id: &str) -> automerge::ActorId {
    actor(b"fieldvisit device actor v1", device_id)
}

/// The actor of what the server itself writes (a new case document, the
/// demo practice).
pub fn server_actor() -> automerge::ActorId {
    actor(b"fieldvisit server actor v1", "")
}

fn actor(domain: &[u8], id: &str) -> automerge::ActorId {
    let digest = Sha256::new()
        .chain_update(domain)
        .chain_update([0])
        .chain_update(id.as_bytes())
        .finalize();
    automerge::ActorId::from(&digest[..16])
}

/// Reads a nonce as the API carries it: lowercase hex, 32 digits.
pub fn parse_nonce(hex_nonce: &str) -> Option<[u8; NONCE_LEN]> {
    if hex_nonce.len() != NONCE_LEN * 2 || hex_nonce.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut nonce = [0u8; NONCE_LEN];
    hex::decode_to_slice(hex_nonce, &mut nonce).ok()?;
    Some(nonce)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_nonce_gives_each_device_its_own_id() {
        let nonce = [7u8; NONCE_LEN];
        let mine = document_id(&creator_key("token-a"), &nonce);
        assert_eq!(mine, document_id(&creator_key("token-a"), &nonce));
        assert_ne!(mine, document_id(&creator_key("token-b"), &nonce));
        assert_ne!(
            mine,
            document_id(&creator_key("token-a"), &[8u8; NONCE_LEN])
        );
    }

    #[test]
    fn each_device_has_its_own_actor() {
        assert_eq!(device_actor("device-1"), device_actor("device-1"));
        assert_ne!(device_actor("device-1"), device_actor("device-2"));
        assert_ne!(device_actor(""), server_actor());
    }

    #[test]
    fn nonces_are_canonical_hex() {
        let nonce = [0xabu8; NONCE_LEN];
        assert_eq!(parse_nonce(&hex::encode(nonce)), Some(nonce));
        assert_eq!(parse_nonce(&hex::encode(nonce).to_uppercase()), None);
        assert_eq!(parse_nonce("ab"), None);
        assert_eq!(parse_nonce(&"zz".repeat(NONCE_LEN)), None);
    }
}
