use thiserror::Error;

/// The one error type of the shared crate.
#[derive(Debug, Error)]
pub enum Error {
    #[error(
        "this record was written by a newer Fieldvisit (schema {found}, this app reads up to {supported}); update the app to open it"
    )]
    NewerSchema { found: u64, supported: u64 },
    #[error("this document has no schema version, so it is not a Fieldvisit record")]
    MissingSchema,
    #[error("the record could not be read: {0}")]
    Hydrate(Box<autosurgeon::HydrateError>),
    #[error("the record could not be written: {0}")]
    Reconcile(Box<autosurgeon::ReconcileError>),
    #[error("automerge refused the change: {0}")]
    Automerge(Box<automerge::AutomergeError>),
    #[error("{0}")]
    Invalid(#[from] ValidationError),
    #[error("{role} cannot move a visit from {from} to {to}")]
    ReviewTransition {
        role: &'static str,
        from: &'static str,
        to: &'static str,
    },
}

// Boxed: these errors are large and rare; the common path stays small.
impl From<autosurgeon::HydrateError> for Error {
    fn from(e: autosurgeon::HydrateError) -> Self {
        Error::Hydrate(Box::new(e))
    }
}

impl From<autosurgeon::ReconcileError> for Error {
    fn from(e: autosurgeon::ReconcileError) -> Self {
        Error::Reconcile(Box::new(e))
    }
}

impl From<automerge::AutomergeError> for Error {
    fn from(e: automerge::AutomergeError) -> Self {
        Error::Automerge(Box::new(e))
    }
}

/// Why a record or an input is not acceptable. Each variant names the field
/// so a form can put the message beside it.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ValidationError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is too long ({len} characters; at most {max})")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error(
        "{field} is not a valid date and time (expected RFC 3339, e.g. 2026-11-25T14:30:00Z): {value}"
    )]
    BadTimestamp { field: &'static str, value: String },
    #[error("{field} is not a valid date (expected YYYY-MM-DD): {value}")]
    BadDate { field: &'static str, value: String },
    #[error("{field} is not a SHA-256 in lower-case hex: {value}")]
    BadSha256 { field: &'static str, value: String },
    #[error("{field} may only hold letters, digits, '-' and '_' (1 to 64 of them): {value}")]
    BadId { field: &'static str, value: String },
    #[error(
        "photo {sha256} is referenced by a creative-method observation but is not among the visit's photos"
    )]
    UnknownPhoto { sha256: String },
    #[error("annotation {id} is anchored outside its text")]
    BadAnchor { id: String },
    #[error("{field} has a duplicate id: {id}")]
    DuplicateId { field: &'static str, id: String },
}
