//! The batch engine's error.

/// What went wrong in a batch as a whole (a task's own failure stays with the task).
#[non_exhaustive]
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The job store could not be opened, migrated, read or written.
    #[error("the job store failed: {0}")]
    Store(String),
    /// The manifest could not be read at all (a bad row is a [`crate::Problem`] instead).
    #[error("cannot read the manifest: {0}")]
    Manifest(String),
    /// A local file could not be read.
    #[error("{0}")]
    Io(#[from] std::io::Error),
    /// An upload-level error outside any task (e.g. a provider that cannot be built).
    #[error(transparent)]
    Upload(#[from] marketmedia_core::Error),
}

/// The batch engine's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

// sqlx's messages name the table, column or server error, never the connection URL's
// password, so they are kept as they are.
impl From<sqlx::Error> for Error {
    fn from(e: sqlx::Error) -> Self {
        Error::Store(e.to_string())
    }
}

impl From<sqlx::migrate::MigrateError> for Error {
    fn from(e: sqlx::migrate::MigrateError) -> Self {
        Error::Store(format!("migration failed: {e}"))
    }
}

impl From<serde_json::Error> for Error {
    fn from(e: serde_json::Error) -> Self {
        Error::Store(format!("a stored value is not valid JSON: {e}"))
    }
}
