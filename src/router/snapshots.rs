//! Paths of Qdrant's Snapshots tag: collection snapshots, full (storage) snapshots and shard
//! snapshots. Names are percent-decoded here like every other path segment.

use super::decode;
use crate::http::Method;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SnapshotRoute {
    /// `POST /collections/{c}/snapshots`
    Create(String),
    /// `GET /collections/{c}/snapshots`
    List(String),
    /// `GET /collections/{c}/snapshots/{name}`
    Download(String, String),
    /// `DELETE /collections/{c}/snapshots/{name}`
    Delete(String, String),
    /// `PUT /collections/{c}/snapshots/recover`
    Recover(String),
    /// `POST /collections/{c}/snapshots/upload`
    Upload(String),
    /// `POST /snapshots`
    CreateFull,
    /// `GET /snapshots`
    ListFull,
    /// `GET /snapshots/{name}`
    DownloadFull(String),
    /// `DELETE /snapshots/{name}`
    DeleteFull(String),
    /// Any `/collections/{c}/shards/{id}/snapshot…` route; `true` when it would change data.
    Shard(String, bool),
}

impl SnapshotRoute {
    pub fn is_write(&self) -> bool {
        match self {
            SnapshotRoute::Create(_)
            | SnapshotRoute::Delete(..)
            | SnapshotRoute::Recover(_)
            | SnapshotRoute::Upload(_)
            | SnapshotRoute::CreateFull
            | SnapshotRoute::DeleteFull(_) => true,
            SnapshotRoute::Shard(_, write) => *write,
            SnapshotRoute::List(_)
            | SnapshotRoute::Download(..)
            | SnapshotRoute::ListFull
            | SnapshotRoute::DownloadFull(_) => false,
        }
    }
}

/// `None`: not a snapshot path. `Some(None)`: the path exists with other methods.
pub(super) fn match_path(m: Method, segs: &[&str]) -> Option<Option<SnapshotRoute>> {
    use Method::*;
    use SnapshotRoute as R;
    let r = match segs {
        ["snapshots"] => match m {
            Get => Some(R::ListFull),
            Post => Some(R::CreateFull),
            _ => None,
        },
        ["snapshots", name] => {
            let name = decode(name)?;
            match m {
                Get => Some(R::DownloadFull(name)),
                Delete => Some(R::DeleteFull(name)),
                _ => None,
            }
        }
        ["collections", c, "snapshots"] => {
            let c = decode(c)?;
            match m {
                Get => Some(R::List(c)),
                Post => Some(R::Create(c)),
                _ => None,
            }
        }
        ["collections", c, "snapshots", name] => {
            let (c, name) = (decode(c)?, decode(name)?);
            match (m, name.as_str()) {
                (Put, "recover") => Some(R::Recover(c)),
                (Post, "upload") => Some(R::Upload(c)),
                (Get, _) => Some(R::Download(c, name)),
                (Delete, _) => Some(R::Delete(c, name)),
                _ => None,
            }
        }
        ["collections", c, "shards", _, "snapshot"] => {
            let c = decode(c)?;
            (m == Get).then_some(R::Shard(c, false))
        }
        ["collections", c, "shards", _, "snapshots"] => {
            let c = decode(c)?;
            match m {
                Get => Some(R::Shard(c, false)),
                Post => Some(R::Shard(c, true)),
                _ => None,
            }
        }
        ["collections", c, "shards", _, "snapshots", name] => {
            let c = decode(c)?;
            match (m, *name) {
                (Put, "recover") | (Post, "upload") | (Delete, _) => Some(R::Shard(c, true)),
                (Get, _) => Some(R::Shard(c, false)),
                _ => None,
            }
        }
        _ => return None,
    };
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::{route, Route};
    use Method::*;

    #[test]
    fn routes_snapshot_paths() {
        let s = |r| Route::Snapshot(r);
        assert_eq!(
            route(Post, "/collections/c/snapshots"),
            s(SnapshotRoute::Create("c".into()))
        );
        assert_eq!(
            route(Get, "/collections/c/snapshots/a%20b.snapshot"),
            s(SnapshotRoute::Download("c".into(), "a b.snapshot".into()))
        );
        assert_eq!(
            route(Put, "/collections/c/snapshots/recover"),
            s(SnapshotRoute::Recover("c".into()))
        );
        assert_eq!(
            route(Post, "/collections/c/snapshots/upload"),
            s(SnapshotRoute::Upload("c".into()))
        );
        assert_eq!(route(Post, "/snapshots"), s(SnapshotRoute::CreateFull));
        assert_eq!(
            route(Delete, "/snapshots/x.snapshot"),
            s(SnapshotRoute::DeleteFull("x.snapshot".into()))
        );
        assert_eq!(
            route(Post, "/collections/c/shards/0/snapshots/upload"),
            s(SnapshotRoute::Shard("c".into(), true))
        );
        assert_eq!(route(Put, "/snapshots"), Route::MethodNotAllowed);
        assert_eq!(
            route(Post, "/collections/c/snapshots/x"),
            Route::MethodNotAllowed
        );
    }
}
