//! Errors of the runtime layer (routing, catalog, shard calls).

use super::core::CoreGone;

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error("Not found: Collection `{0}` doesn't exist!")]
    CollectionNotFound(String),
    #[error("Wrong input: Collection `{0}` already exists!")]
    AlreadyExists(String),
    /// Something else that does not exist (an index, an alias); the text is the message.
    #[error("{0}")]
    NotFound(String),
    /// The node refuses the work for now (quota reached); the text is the message.
    #[error("{0}")]
    Unavailable(String),
    /// Input the collection cannot take; the text is the message.
    #[error("{0}")]
    WrongInput(String),
    #[error(transparent)]
    Shard(#[from] vexfs_shard::Error),
    #[error("cannot open shard {0}")]
    ShardOpen(String),
    #[error("storage error: {0}")]
    Io(#[from] vexfs_io::Error),
    #[error(transparent)]
    CoreGone(#[from] CoreGone),
    #[error("internal error: {0}")]
    Internal(String),
}
