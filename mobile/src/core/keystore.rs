//! The platform's key: a second lock on the PIN-wrapped data key, held
//! where the platform keeps keys rather than in the store's files.
//!
//! In the browser it is a WebCrypto AES-GCM key made with
//! `extractable: false` and kept, as a `CryptoKey` object, in its own
//! IndexedDB database (`keystore.js`). Script can use it but never read it,
//! so the wrapped key in the store, copied out on its own, cannot even be
//! put to a PIN guesser. (The key's bytes still lie in the profile
//! directory, in Chromium's own serialisation: a copy of the whole profile
//! is guarded by the PIN and Argon2id alone, which is why those stay.)
//! Forgetting it is the first step of a wipe: one small delete and nothing
//! sealed opens again.
//!
//! Natively there is none yet: the Android Keystore and the iOS Keychain
//! belong here once those builds exist; the desktop build stores the
//! PIN-wrapped key as it is.
//!
//! The vault row holds either the wrapped key as it is (natively, or a page
//! without WebCrypto) or `FVPK`, a version, a 12-byte IV and the AES-GCM
//! seal of it. The framing is pure and tested here; the cryptography is the
//! browser's and is tested in Chromium (`tests/web/devices.spec.mjs`).

use super::error::CoreError;

const MAGIC: &[u8; 4] = b"FVPK";
const VERSION: u8 = 1;
const IV_LEN: usize = 12;
/// AES-GCM's tag: the least a seal can be.
const TAG_LEN: usize = 16;
/// Bound into the seal, so the platform key opens this and nothing else.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
const CONTEXT: &[u8] = b"fieldvisit: the PIN-wrapped data key, under the platform key";

/// What the vault row holds.
#[derive(Debug, PartialEq, Eq)]
enum Stored<'a> {
    /// The PIN-wrapped key with no platform lock.
    Plain(&'a [u8]),
    Sealed {
        iv: &'a [u8],
        sealed: &'a [u8],
    },
}

fn parse(stored: &[u8]) -> Result<Stored<'_>, CoreError> {
    let Some(rest) = stored.strip_prefix(MAGIC) else {
        return Ok(Stored::Plain(stored));
    };
    match rest.split_first() {
        Some((&VERSION, rest)) if rest.len() >= IV_LEN + TAG_LEN => {
            let (iv, sealed) = rest.split_at(IV_LEN);
            Ok(Stored::Sealed { iv, sealed })
        }
        Some((&VERSION, _)) | None => Err(CoreError::Keystore(
            "the stored key is cut short".to_owned(),
        )),
        Some((version, _)) => Err(CoreError::Keystore(format!(
            "the stored key is of an unknown kind ({version})"
        ))),
    }
}

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
fn frame(iv: &[u8; IV_LEN], sealed: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(MAGIC.len() + 1 + IV_LEN + sealed.len());
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.extend_from_slice(iv);
    out.extend_from_slice(sealed);
    out
}

/// Locks a newly wrapped key under a new platform key (replacing any
/// other), which is on disk when this returns.
pub async fn seal_new(wrapped: &[u8]) -> Result<Vec<u8>, CoreError> {
    #[cfg(target_arch = "wasm32")]
    if browser::available() {
        let key = browser::key(true)
            .await?
            .ok_or_else(|| CoreError::Keystore("the browser kept no key".to_owned()))?;
        let iv: [u8; IV_LEN] = rand::random();
        let sealed = browser::seal(&key, &iv, wrapped).await?;
        return Ok(frame(&iv, &sealed));
    }
    #[cfg(target_arch = "wasm32")]
    tracing::warn!(
        "no WebCrypto on this page (not a secure context): the PIN alone guards the key"
    );
    Ok(wrapped.to_vec())
}

/// The PIN-wrapped key out of what the vault row holds.
pub async fn open(stored: &[u8]) -> Result<Vec<u8>, CoreError> {
    match parse(stored)? {
        Stored::Plain(wrapped) => Ok(wrapped.to_vec()),
        #[cfg(target_arch = "wasm32")]
        Stored::Sealed { iv, sealed } => {
            let key = browser::key(false)
                .await?
                .ok_or(CoreError::PlatformKeyLost)?;
            browser::open(&key, iv, sealed).await
        }
        #[cfg(not(target_arch = "wasm32"))]
        Stored::Sealed { .. } => Err(CoreError::PlatformKeyLost),
    }
}

/// Deletes the platform key, after which the vault row never opens.
pub async fn forget() -> Result<(), CoreError> {
    #[cfg(target_arch = "wasm32")]
    if browser::available() {
        return browser::forget().await;
    }
    Ok(())
}

#[cfg(target_arch = "wasm32")]
mod browser {
    use js_sys::Uint8Array;
    use wasm_bindgen::prelude::*;

    use super::{CONTEXT, CoreError};

    #[wasm_bindgen(module = "/src/core/keystore.js")]
    extern "C" {
        fn platform_key_available() -> bool;
        #[wasm_bindgen(catch)]
        async fn platform_key(create: bool) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch)]
        async fn platform_seal(
            key: &JsValue,
            iv: &[u8],
            plain: &[u8],
            context: &[u8],
        ) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch)]
        async fn platform_open(
            key: &JsValue,
            iv: &[u8],
            sealed: &[u8],
            context: &[u8],
        ) -> Result<JsValue, JsValue>;
        #[wasm_bindgen(catch)]
        async fn forget_platform_key() -> Result<JsValue, JsValue>;
    }

    fn failed(what: &str, e: JsValue) -> CoreError {
        CoreError::Keystore(format!("{what}: {e:?}"))
    }

    pub fn available() -> bool {
        platform_key_available()
    }

    pub async fn key(create: bool) -> Result<Option<JsValue>, CoreError> {
        let key = platform_key(create)
            .await
            .map_err(|e| failed("the browser's key store is not available", e))?;
        Ok((!key.is_null() && !key.is_undefined()).then_some(key))
    }

    pub async fn seal(key: &JsValue, iv: &[u8], plain: &[u8]) -> Result<Vec<u8>, CoreError> {
        let sealed = platform_seal(key, iv, plain, CONTEXT)
            .await
            .map_err(|e| failed("the browser could not lock the key", e))?;
        Ok(Uint8Array::new(&sealed).to_vec())
    }

    /// A seal that does not open is damage or another profile's key, never
    /// a wrong PIN: the PIN has not been tried yet.
    pub async fn open(key: &JsValue, iv: &[u8], sealed: &[u8]) -> Result<Vec<u8>, CoreError> {
        let plain = platform_open(key, iv, sealed, CONTEXT)
            .await
            .map_err(|_| CoreError::PlatformKeyLost)?;
        Ok(Uint8Array::new(&plain).to_vec())
    }

    pub async fn forget() -> Result<(), CoreError> {
        forget_platform_key()
            .await
            .map(|_| ())
            .map_err(|e| failed("the browser's key could not be deleted", e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_wrapped_key_passes_through() {
        let wrapped = b"FVWK\x02 and the rest";
        assert_eq!(parse(wrapped).unwrap(), Stored::Plain(wrapped));
    }

    #[test]
    fn a_framed_seal_parses_back() {
        let iv = [7u8; IV_LEN];
        let sealed = [9u8; 40];
        let framed = frame(&iv, &sealed);
        assert_eq!(
            parse(&framed).unwrap(),
            Stored::Sealed {
                iv: &iv,
                sealed: &sealed
            }
        );
    }

    #[test]
    fn a_cut_or_unknown_frame_is_damage() {
        let framed = frame(&[1; IV_LEN], &[2; TAG_LEN]);
        for cut in [4, 5, 5 + IV_LEN, framed.len() - 1] {
            let err = parse(&framed[..cut]).unwrap_err();
            assert!(matches!(err, CoreError::Keystore(_)), "{cut}: {err}");
        }
        let mut other = framed.clone();
        other[4] = 9;
        assert!(matches!(parse(&other), Err(CoreError::Keystore(_))));
    }

    #[tokio::test]
    async fn natively_the_key_is_stored_as_wrapped_and_a_browser_seal_is_refused() {
        let wrapped = b"FVWK\x02 natively".to_vec();
        let stored = seal_new(&wrapped).await.unwrap();
        assert_eq!(stored, wrapped);
        assert_eq!(open(&stored).await.unwrap(), wrapped);
        let sealed = frame(&[0; IV_LEN], &[0; TAG_LEN]);
        assert!(matches!(
            open(&sealed).await,
            Err(CoreError::PlatformKeyLost)
        ));
        forget().await.unwrap();
    }
}
