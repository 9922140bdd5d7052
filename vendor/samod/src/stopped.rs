/// An error representing the fact that the repository has been stopped
pub struct Stopped;

impl std::fmt::Display for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "the Samod instance has been stopped")
    }
}

impl std::fmt::Debug for Stopped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self}")
    }
}

impl std::error::Error for Stopped {}

/// Why [`Repo::create_with_id`](crate::Repo::create_with_id) made nothing.
#[derive(Debug)]
pub enum CreateError {
    /// The repository has been stopped.
    Stopped,
    /// A document with this id is already loaded.
    Exists(crate::DocumentId),
}

impl std::fmt::Display for CreateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CreateError::Stopped => write!(f, "{Stopped}"),
            CreateError::Exists(id) => write!(f, "document {id} already exists"),
        }
    }
}

impl std::error::Error for CreateError {}
