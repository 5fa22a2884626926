//! The dialect's error type and the one place errors become HTTP statuses.

use crate::runtime::error::RuntimeError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: unparseable JSON ("Format error in JSON body: …") or wrong input for the collection.
    #[error("{0}")]
    BadRequest(String),
    /// 422: well-formed JSON that breaks a rule ("Validation error in JSON body: …").
    #[error("Validation error in JSON body: [{0}]")]
    Validation(String),
    #[error("{0}")]
    NotFound(String),
    /// 401: missing or wrong API key.
    #[error("{0}")]
    Unauthorized(String),
    /// 403: the key may not do this.
    #[error("Forbidden: {0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Method not allowed")]
    MethodNotAllowed,
    /// 503: the node cannot take this request now (failed storage, shutting down).
    #[error("{0}")]
    Unavailable(String),
    #[error("Service internal error: {0}")]
    Internal(String),
}

impl Error {
    pub fn status(&self) -> u16 {
        match self {
            Error::BadRequest(_) => 400,
            Error::Validation(_) => 422,
            Error::NotFound(_) => 404,
            Error::Unauthorized(_) => 401,
            Error::Forbidden(_) => 403,
            Error::Conflict(_) => 409,
            Error::MethodNotAllowed => 405,
            Error::Unavailable(_) => 503,
            Error::Internal(_) => 500,
        }
    }

    pub fn format(detail: impl std::fmt::Display) -> Error {
        Error::BadRequest(format!("Format error in JSON body: {detail}"))
    }

    pub fn wrong_input(detail: impl std::fmt::Display) -> Error {
        Error::BadRequest(format!("Wrong input: {detail}"))
    }

    /// A field Qdrant accepts that this server does not support yet: refused, never ignored.
    pub fn unsupported(what: &str) -> Error {
        Error::BadRequest(format!(
            "Wrong input: {what} is not supported by this server yet"
        ))
    }
}

impl From<RuntimeError> for Error {
    fn from(e: RuntimeError) -> Error {
        use vexfs_shard::Error as S;
        match e {
            RuntimeError::CollectionNotFound(_) | RuntimeError::NotFound(_) => {
                Error::NotFound(e.to_string())
            }
            RuntimeError::WrongInput(_) => Error::BadRequest(e.to_string()),
            RuntimeError::AlreadyExists(_) => Error::Conflict(e.to_string()),
            RuntimeError::Shard(s) => match s {
                S::WrongInput(_) | S::Dimension { .. } => Error::BadRequest(s.to_string()),
                S::PointNotFound(_) | S::Closed => Error::NotFound(s.to_string()),
                S::Wal(_) => Error::Unavailable(s.to_string()),
                S::Codec(_) | S::Io(_) | S::Segment(_) | S::Hnsw(_) | S::Quant(_) => {
                    Error::Internal(s.to_string())
                }
            },
            RuntimeError::CoreGone(_) | RuntimeError::Unavailable(_) => {
                Error::Unavailable(e.to_string())
            }
            RuntimeError::ShardOpen(_) | RuntimeError::Io(_) | RuntimeError::Internal(_) => {
                Error::Internal(e.to_string())
            }
        }
    }
}
