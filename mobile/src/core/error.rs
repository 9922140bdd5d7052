use fieldvisit_shared::api::{ErrorBody, ErrorCode};

#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    #[error("this device is not enrolled yet")]
    NotEnrolled,
    #[error("the server could not be reached: {0}")]
    Offline(String),
    #[error("the server refused: {} ({})", .0.message, .0.error)]
    Server(ErrorBody),
    #[error("the server answered something unexpected: {0}")]
    Protocol(String),
    /// The device's own files or the browser's storage failed (a folder
    /// that cannot be made, a store that cannot be deleted).
    #[error("this device's storage: {0}")]
    Files(String),
    /// What was typed as the server's address is not one.
    #[error("that is not a server address ({0})")]
    ServerAddress(String),
    /// A state the app should never reach (a fresh record's id already
    /// taken): a bug, said as one.
    #[error("something went wrong inside the app: {0}")]
    Internal(String),
    #[error("no case {0} on this device")]
    UnknownCase(String),
    #[error("the record {0} is not on this device")]
    UnknownDocument(String),
    #[error("local store: {0}")]
    Store(#[from] rusqlite::Error),
    #[error(transparent)]
    Record(#[from] fieldvisit_shared::Error),
    #[error("{0}")]
    Invalid(#[from] fieldvisit_shared::ValidationError),
    /// The record's rules do not allow this change to this person.
    #[error("{0}")]
    Refused(#[from] fieldvisit_shared::records::Refusal),
    /// A picture that cannot be a photo of the record.
    #[error("{0}")]
    Photo(#[from] fieldvisit_shared::photo::PhotoError),
    /// A sealed value of the store that does not open with this device's
    /// key (damaged, or not this device's).
    #[error("a value in this device's store does not open ({0})")]
    Sealed(String),
    /// `left` more wrong PINs and the device wipes itself; `unsent`: what
    /// it held that the server did not have, as last counted.
    #[error("that PIN is not this device's ({left} tries left)")]
    WrongPin { left: u32, unsent: Option<u64> },
    #[error("too many wrong PINs: everything this device stored has been deleted")]
    WipedAfterWrongPins,
    /// The vault refused: a PIN too weak to choose, a damaged stored key.
    #[error("{0}")]
    Vault(#[from] super::vault::VaultError),
    /// The platform's key that locks the data key is gone (the browser's
    /// site data was cleared, or the store was copied from elsewhere): what
    /// the device stored cannot be opened again, whatever the PIN.
    #[error("this device's own key is gone, so what it stored cannot be opened")]
    PlatformKeyLost,
    /// The platform's key store failed.
    #[error("the device's key store: {0}")]
    Keystore(String),
    /// A setting out of its choices.
    #[error("{0}")]
    Setting(String),
    #[error("the sync engine has stopped")]
    Stopped,
    #[error("timed out waiting for {0}")]
    Timeout(&'static str),
}

impl CoreError {
    /// The server's stable error code, when the server refused.
    pub fn server_code(&self) -> Option<ErrorCode> {
        match self {
            CoreError::Server(body) => body.code(),
            _ => None,
        }
    }
}
